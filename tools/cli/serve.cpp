// `logfire-cpp serve`: the receiver, the store and the web view in one process. The main thread
// becomes the HTTP server's I/O thread; a dedicated thread waits for SIGINT/SIGTERM and stops it,
// after which the store commits what is queued and closes the database.
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <iostream>
#include <thread>

#include "backend/grpc_receiver.hpp"
#include "backend/otlp_decode.hpp"
#include "backend/server.hpp"
#include "backend/store.hpp"
#include "backend/text.hpp"
#include "commands.hpp"
#include "serve_options.hpp"

namespace logfire::cli {
namespace {

// Each connection holds a descriptor: raise the soft limit towards the hard one, and lower
// --max-connections (with a line saying so) when even that is not enough.
void fit_descriptors(backend::server_options& server) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  constexpr rlim_t kReserve = 64;  // database files, the listener, pipes
  rlim_t want = static_cast<rlim_t>(server.http.max_connections) + kReserve;
  if (lim.rlim_cur < want) {
    lim.rlim_cur = std::min(want, lim.rlim_max);
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
  }
  if (lim.rlim_cur < want && lim.rlim_cur > kReserve) {
    server.http.max_connections = static_cast<std::size_t>(lim.rlim_cur - kReserve);
    std::fprintf(stderr,
                 "logfire-cpp serve: only %llu file descriptors are allowed (ulimit -n); --max-connections lowered to "
                 "%zu\n",
                 static_cast<unsigned long long>(lim.rlim_cur), server.http.max_connections);
  }
}

// Ports are 0 when that door is off.
void print_banner(const serve_config& config, int http_port, int grpc_port) {
  const std::string& host = config.server.host;
  std::string display_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::string base = "http://" + display_host + ":" + std::to_string(http_port);
  std::string grpc_base = "http://" + display_host + ":" + std::to_string(grpc_port);
  std::printf("logfire-cpp serve: listening on %s\n", http_port > 0 ? base.c_str() : grpc_base.c_str());
  if (http_port > 0) {
    // The token rides in the fragment: browsers never send it to a server or put it in a
    // Referer, so it stays out of logs; the page reads it and sends it as a header.
    std::string web = base + "/" + (config.server.token ? "#token=" + *config.server.token : "");
    std::printf(
        "  OTLP/HTTP endpoint  %s  (POST /v1/traces, /v1/logs, /v1/metrics)\n"
        "  web view            %s\n",
        base.c_str(), web.c_str());
  }
  if (grpc_port > 0) {
    std::printf("  OTLP/gRPC endpoint  %s  (TraceService, LogsService, MetricsService)\n", grpc_base.c_str());
  }
  std::printf("  database            %s\n", backend::text::for_terminal(config.store.path).c_str());
  std::printf("  send from an SDK    OTEL_EXPORTER_OTLP_ENDPOINT=%s%s\n",
              http_port > 0 ? base.c_str() : grpc_base.c_str(),
              http_port > 0 ? "  (OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf)" : "  (OTEL_EXPORTER_OTLP_PROTOCOL=grpc)");
  if (host != "127.0.0.1" && host != "::1") {
    std::printf("  note                %s accepts connections from other machines%s (see docs/security.md)\n",
                display_host.c_str(), config.server.token ? "" : ", and no --token is set");
  }
  std::fflush(stdout);
}

void print_summary(const backend::server& srv) {
  const auto& st = srv.stats();
  std::fprintf(stderr,
               "logfire-cpp serve: stopped; stored %llu records and %llu metric points from %llu requests; "
               "refused %llu requests, %llu items (details: GET /api/stats while running)\n",
               static_cast<unsigned long long>(st.records_received.load()),
               static_cast<unsigned long long>(st.metric_points_received.load()),
               static_cast<unsigned long long>(st.export_requests.load()),
               static_cast<unsigned long long>(srv.requests_refused()),
               static_cast<unsigned long long>(st.items_rejected.load()));
}

}  // namespace

int serve_command(int argc, char** argv) {
  serve_config config;
  if (int code = parse_serve_options(argc, argv, config); code >= 0) return code;
  fit_descriptors(config.server);

  // Block the stop signals in every thread created from here on; one thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill the server
  backend::silence_protobuf_logging();

  std::string error;
  auto db = backend::store::open(config.store, error);
  if (!db) {
    std::cerr << "logfire-cpp serve: " << error << "\n";
    return 1;
  }
  {
    backend::server srv(*db, config.server);
    if (config.http_enabled && !srv.bind(error)) {
      std::cerr << "logfire-cpp serve: " << error << "\n";
      return 1;
    }
    // gRPC borrows the HTTP server's store, limits, stats and memory budget (even with --no-http).
    backend::grpc_receiver grpc(srv, config.grpc);
    int grpc_port = 0;
    if (config.grpc_enabled) {
      if (grpc.start(error)) {
        grpc_port = grpc.port();
      } else if (config.grpc_port_set || !config.http_enabled) {
        std::cerr << "logfire-cpp serve: " << error << "\n";
        return 1;
      } else {
        // The default port taken (e.g. by another serve or a Collector) must not stop OTLP/HTTP.
        std::fprintf(stderr, "logfire-cpp serve: OTLP/gRPC is off: %s; choose a port with --grpc-port, or --no-grpc\n",
                     error.c_str());
      }
    }
    print_banner(config, config.http_enabled ? srv.port() : 0, grpc_port);
    if (config.http_enabled) {
      std::thread signal_waiter([&] {
        int sig = 0;
        sigwait(&stop_signals, &sig);
        srv.stop();
      });
      srv.run();
      // run() also returns when the listening socket fails; wake the waiter either way.
      pthread_kill(signal_waiter.native_handle(), SIGTERM);
      signal_waiter.join();
    } else {
      int sig = 0;
      sigwait(&stop_signals, &sig);
    }
    grpc.stop();  // answers the calls in flight (their rows committed) before the store closes
    print_summary(srv);
  }
  db.reset();  // commits anything queued, checkpoints the WAL
  return 0;
}

}  // namespace logfire::cli
