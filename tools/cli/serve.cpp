// `logfire-cpp serve`: the receiver, the store and the web view in one process. The main thread
// runs the HTTP server; a dedicated thread waits for SIGINT/SIGTERM and stops it, after which the
// store commits what is queued and closes the database.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "args.hpp"
#include "backend/db.hpp"
#include "backend/otlp_decode.hpp"
#include "backend/server.hpp"
#include "backend/store.hpp"
#include "commands.hpp"

namespace logfire::cli {

int serve_command(int argc, char** argv) {
  args a(
      "serve", "[options]",
      "Receive OTLP/HTTP (protobuf or JSON, gzip or plain) on POST /v1/traces, /v1/logs and /v1/metrics,\n"
      "store every span, log and metric point in SQLite (tables `records` and `metrics`), and serve a\n"
      "web view of recent traces with a SQL box at http://HOST:PORT/. A request is answered 200 only\n"
      "after its records are committed. Stop with Ctrl-C (SIGINT) or SIGTERM.",
      {
          {"host", "HOST", "address to listen on (default 127.0.0.1; use 0.0.0.0 to accept other machines)"},
          {"port", "PORT", "port to listen on (default 4318, OTLP/HTTP's; 0 picks a free one)"},
          {"db", "PATH",
           "database file, created if missing; :memory: keeps it in this process only\n"
           "(default $LOGFIRE_LOCAL_DB, else $XDG_DATA_HOME/logfire-cpp/logfire.db)"},
          {"token", "TOKEN",
           "require `Authorization: TOKEN` on /v1/* and /api/* (default none; env LOGFIRE_LOCAL_TOKEN)"},
          {"max-body-size", "SIZE", "largest request body, also after gzip (default 64MiB)"},
          {"retention-age", "DURATION", "delete records and metrics older than this, e.g. 7d (default: keep all)"},
          {"retention-size", "SIZE", "delete the oldest rows once the data exceed this, e.g. 1GiB (default: no limit)"},
          {"retention-interval", "DURATION", "how often retention runs (default 60s)"},
          {"durable", "",
           "fsync every commit, so acknowledged data also survive power loss (default off:\n"
           "they survive a crash or kill of this process)"},
          {"threads", "N", "HTTP worker threads (default 16)"},
          {"verbose", "", "log every request on stderr"},
      });
  std::string error;
  if (!a.parse(argc, argv, 2, error)) {
    std::cerr << "logfire-cpp serve: " << error << "\n";
    return 2;
  }
  if (a.help_requested()) {
    std::cout << a.help_text();
    return 0;
  }

  backend::store_options store_opts;
  store_opts.path = a.get("db").value_or(backend::default_database_path());
  store_opts.durable = a.flag("durable");
  backend::server_options server_opts;
  server_opts.host = a.get("host").value_or("127.0.0.1");
  server_opts.log_requests = a.flag("verbose");
  if (auto p = a.get("port")) {
    char* end = nullptr;
    long port = std::strtol(p->c_str(), &end, 10);
    if (p->empty() || *end != '\0' || port < 0 || port > 65535) {
      std::cerr << "logfire-cpp serve: --port must be a number from 0 to 65535, got '" << *p << "'\n";
      return 2;
    }
    server_opts.port = static_cast<int>(port);
  }
  if (auto t = a.get("token")) {
    server_opts.token = *t;
  } else if (const char* env = std::getenv("LOGFIRE_LOCAL_TOKEN"); env && *env) {
    server_opts.token = env;
  }
  if (auto s = a.get("max-body-size")) {
    auto bytes = parse_size(*s);
    if (!bytes || *bytes < 1024) {
      std::cerr << "logfire-cpp serve: --max-body-size must be a size of at least 1KiB such as 64MiB, got '" << *s
                << "'\n";
      return 2;
    }
    server_opts.max_body_bytes = static_cast<std::size_t>(*bytes);
  }
  if (auto s = a.get("retention-age")) {
    auto d = parse_duration(*s);
    if (!d || d->count() <= 0) {
      std::cerr << "logfire-cpp serve: --retention-age must be a duration such as 7d or 12h, got '" << *s << "'\n";
      return 2;
    }
    store_opts.retention_age = std::chrono::duration_cast<std::chrono::seconds>(*d);
    if (store_opts.retention_age->count() == 0) store_opts.retention_age = std::chrono::seconds(1);
  }
  if (auto s = a.get("retention-size")) {
    auto bytes = parse_size(*s);
    if (!bytes || *bytes <= 0) {
      std::cerr << "logfire-cpp serve: --retention-size must be a size such as 1GiB or 500MB, got '" << *s << "'\n";
      return 2;
    }
    store_opts.retention_bytes = *bytes;
  }
  if (auto s = a.get("retention-interval")) {
    auto d = parse_duration(*s);
    if (!d || d->count() <= 0) {
      std::cerr << "logfire-cpp serve: --retention-interval must be a duration such as 60s, got '" << *s << "'\n";
      return 2;
    }
    store_opts.retention_interval = *d;
  }
  if (auto s = a.get("threads")) {
    int n = std::atoi(s->c_str());
    if (n < 2 || n > 256) {
      std::cerr << "logfire-cpp serve: --threads must be from 2 to 256, got '" << *s << "'\n";
      return 2;
    }
    server_opts.threads = n;
  }

  // Block the stop signals in every thread created from here on; one thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill the server
  backend::silence_protobuf_logging();

  auto db = backend::store::open(store_opts, error);
  if (!db) {
    std::cerr << "logfire-cpp serve: " << error << "\n";
    return 1;
  }
  int exit_code = 0;
  {
    backend::server srv(*db, server_opts);
    if (!srv.bind(error)) {
      std::cerr << "logfire-cpp serve: " << error << "\n";
      return 1;
    }
    std::string display_host =
        server_opts.host.find(':') != std::string::npos ? "[" + server_opts.host + "]" : server_opts.host;
    std::string base = "http://" + display_host + ":" + std::to_string(srv.port());
    std::string web = base + "/" + (server_opts.token ? "?token=" + *server_opts.token : "");
    std::printf(
        "logfire-cpp serve: listening on %s\n"
        "  OTLP/HTTP endpoint  %s  (POST /v1/traces, /v1/logs, /v1/metrics)\n"
        "  web view            %s\n"
        "  database            %s\n"
        "  send from an SDK    OTEL_EXPORTER_OTLP_ENDPOINT=%s\n",
        base.c_str(), base.c_str(), web.c_str(), store_opts.path.c_str(), base.c_str());
    std::fflush(stdout);

    std::thread signal_waiter([&] {
      int sig = 0;
      sigwait(&stop_signals, &sig);
      srv.stop();
    });
    srv.run();
    // run() also returns when the listening socket fails; wake the waiter either way.
    pthread_kill(signal_waiter.native_handle(), SIGTERM);
    signal_waiter.join();

    const auto& st = srv.stats();
    std::uint64_t refused =
        st.unauthorized + st.unsupported_media_type + st.too_large + st.malformed + st.unreadable + st.unavailable;
    std::fprintf(stderr,
                 "logfire-cpp serve: stopped; stored %llu records and %llu metric points from %llu requests; "
                 "refused %llu requests, %llu items (details: GET /api/stats while running)\n",
                 static_cast<unsigned long long>(st.records_received.load()),
                 static_cast<unsigned long long>(st.metric_points_received.load()),
                 static_cast<unsigned long long>(st.export_requests.load()), static_cast<unsigned long long>(refused),
                 static_cast<unsigned long long>(st.items_rejected.load()));
  }
  db.reset();  // commits anything queued, checkpoints the WAL
  return exit_code;
}

}  // namespace logfire::cli
