#include "serve_options.hpp"

#include <cstdlib>
#include <functional>
#include <iostream>
#include <limits>

#include "args.hpp"
#include "backend/db.hpp"
#include "backend/http/server.hpp"

namespace logfire::cli {
namespace {

using apply_fn = std::function<bool(const std::string& value, serve_config& c, std::string& error)>;

struct serve_option {
  option_spec spec;
  apply_fn apply;  // null for flags read directly
};

// A size such as 64MiB within [min, max] bytes.
apply_fn size(std::int64_t min, std::int64_t max, std::function<void(serve_config&, std::int64_t)> set,
              std::string example) {
  return [=](const std::string& v, serve_config& c, std::string& error) {
    auto bytes = parse_size(v);
    if (!bytes || *bytes < min || *bytes > max) {
      error = "must be a size from " + backend::human_bytes(static_cast<std::uint64_t>(min)) + " to " +
              backend::human_bytes(static_cast<std::uint64_t>(max)) + " such as " + example + ", got '" + v + "'";
      return false;
    }
    set(c, *bytes);
    return true;
  };
}

// A duration such as 10s within [min, max].
apply_fn duration(std::chrono::milliseconds min, std::chrono::milliseconds max,
                  std::function<void(serve_config&, std::chrono::milliseconds)> set, std::string example) {
  return [=](const std::string& v, serve_config& c, std::string& error) {
    auto d = parse_duration(v);
    if (!d || *d < min || *d > max) {
      error = "must be a duration such as " + example + " (at least " + std::to_string(min.count()) + " ms), got '" +
              v + "'";
      return false;
    }
    set(c, *d);
    return true;
  };
}

// A whole number within [min, max].
apply_fn count(long long min, long long max, std::function<void(serve_config&, long long)> set) {
  return [=](const std::string& v, serve_config& c, std::string& error) {
    auto n = parse_count(v, min, max);
    if (!n) {
      error = "must be a number from " + std::to_string(min) + " to " + std::to_string(max) + ", got '" + v + "'";
      return false;
    }
    set(c, *n);
    return true;
  };
}

constexpr std::int64_t KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;
using ms = std::chrono::milliseconds;

// One entry per option, in --help order: long because it is the table, not because it does much.
std::vector<serve_option> option_table() {
  return {
      {{"host", "ADDRESS",
        "IP address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 or :: accept\n"
        "other machines, see docs/security.md)"},
       [](const std::string& v, serve_config& c, std::string& error) {
         std::string host = v == "localhost" ? "127.0.0.1" : v;
         if (!backend::http::is_ip_address(host)) {
           error =
               "must be an IP address such as 127.0.0.1, ::1 or 0.0.0.0 (host names are not resolved), got '" + v + "'";
           return false;
         }
         if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
         c.server.host = host;
         return true;
       }},
      {{"port", "PORT", "OTLP/HTTP's and the web view's port (default 4318; 0 picks a free one)"},
       count(0, 65535, [](serve_config& c, long long n) { c.server.port = static_cast<int>(n); })},
      {{"grpc-port", "PORT", "OTLP/gRPC's port (default 4317; 0 picks a free one)"},
       count(0, 65535,
             [](serve_config& c, long long n) {
               c.grpc.port = static_cast<int>(n);
               c.grpc_port_set = true;
             })},
      {{"no-http", "", "no OTLP/HTTP port (and so no web view and no /api): OTLP/gRPC only"}, nullptr},
      {{"no-grpc", "", "no OTLP/gRPC port: OTLP/HTTP only"}, nullptr},
      {{"db", "PATH",
        "database file, created if missing; :memory: keeps it in this process only\n"
        "(default $LOGFIRE_LOCAL_DB, else $XDG_DATA_HOME/logfire-cpp/logfire.db)"},
       [](const std::string& v, serve_config& c, std::string& error) {
         if (v.empty()) return error = "needs a path", false;
         c.store.path = v;
         return true;
       }},
      {{"token", "TOKEN",
        "require `Authorization: Bearer TOKEN` (or the bare TOKEN) on /v1/* and /api/*\n"
        "(default none; env LOGFIRE_LOCAL_TOKEN)"},
       [](const std::string& v, serve_config& c, std::string& error) {
         if (v.empty()) return error = "must not be empty", false;
         c.server.token = v;
         return true;
       }},
      {{"max-body-size", "SIZE", "largest request body as sent, gzip or not (default 64MiB) -> 413"},
       size(
           KiB, 4 * GiB,
           [](serve_config& c, std::int64_t n) { c.server.http.max_body_bytes = static_cast<std::uint64_t>(n); },
           "64MiB")},
      {{"max-decompressed-size", "SIZE", "largest request body after gzip/deflate (default: --max-body-size) -> 413"},
       size(
           KiB, 4 * GiB,
           [](serve_config& c, std::int64_t n) { c.server.max_decompressed_bytes = static_cast<std::size_t>(n); },
           "64MiB")},
      {{"max-request-line", "SIZE", "longest request line, e.g. `POST /v1/traces HTTP/1.1` (default 8KiB) -> 414"},
       size(
           256, MiB,
           [](serve_config& c, std::int64_t n) { c.server.http.head.max_request_line = static_cast<std::size_t>(n); },
           "8KiB")},
      {{"max-header-size", "SIZE", "request line and header fields together (default 64KiB) -> 431"},
       size(
           KiB, 16 * MiB,
           [](serve_config& c, std::int64_t n) { c.server.http.head.max_header_bytes = static_cast<std::size_t>(n); },
           "64KiB")},
      {{"max-header-count", "N", "header fields per request (default 100) -> 431"},
       count(8, 100'000,
             [](serve_config& c, long long n) { c.server.http.head.max_header_count = static_cast<std::size_t>(n); })},
      {{"max-request-rows", "N", "spans, log records or metric data points in one request (default 1000000) -> 413"},
       count(1, 100'000'000,
             [](serve_config& c, long long n) { c.server.decode.max_rows = static_cast<std::size_t>(n); })},
      {{"max-nesting", "N", "nesting of attribute values, arrays and maps in values (default 32, at most 100) -> 400"},
       count(1, 100, [](serve_config& c, long long n) { c.server.decode.max_nesting = static_cast<int>(n); })},
      {{"max-memory", "SIZE",
        "request bodies, decompressed bodies and decoded rows of all requests in flight\n"
        "together (default 512MiB) -> 429 with Retry-After"},
       size(
           16 * MiB, 64 * GiB,
           [](serve_config& c, std::int64_t n) { c.server.max_memory_bytes = static_cast<std::size_t>(n); }, "512MiB")},
      {{"max-connections", "N", "connections open at once (default 1024) -> 503 with Retry-After"},
       count(1, 1'000'000,
             [](serve_config& c, long long n) { c.server.http.max_connections = static_cast<std::size_t>(n); })},
      {{"listen-backlog", "N",
        "connections waiting to be accepted (default 1024; the kernel caps it at\nnet.core.somaxconn)"},
       count(1, 65535, [](serve_config& c, long long n) { c.server.http.listen_backlog = static_cast<int>(n); })},
      {{"header-timeout", "DURATION", "time from a request's first byte to the end of its head (default 10s) -> 408"},
       duration(
           ms(100), ms(3'600'000), [](serve_config& c, ms d) { c.server.http.header_timeout = d; }, "10s")},
      {{"body-timeout", "DURATION", "time from the head to the end of the body (default 60s) -> 408"},
       duration(
           ms(100), ms(3'600'000), [](serve_config& c, ms d) { c.server.http.body_timeout = d; }, "60s")},
      {{"idle-timeout", "DURATION", "a kept-alive connection without a request is closed after (default 60s)"},
       duration(
           ms(100), ms(86'400'000), [](serve_config& c, ms d) { c.server.http.idle_timeout = d; }, "60s")},
      {{"write-timeout", "DURATION", "a client must take its answer within (default 30s), else it is dropped"},
       duration(
           ms(100), ms(3'600'000), [](serve_config& c, ms d) { c.server.http.write_timeout = d; }, "30s")},
      {{"max-future-skew", "DURATION",
        "spans, logs and points dated further ahead of this machine's clock are refused\n"
        "(partial success; default 1h, as Logfire)"},
       duration(
           ms(0), ms(3'153'600'000'000LL),
           [](serve_config& c, ms d) { c.server.decode.max_future_ns = d.count() * 1'000'000; }, "1h")},
      {{"query-max-rows", "N", "rows of a /api/query result (default 1000; more are cut, \"truncated\")"},
       count(1, 10'000'000,
             [](serve_config& c, long long n) { c.server.query_max_rows = static_cast<std::size_t>(n); })},
      {{"query-max-bytes", "SIZE",
        "bytes of a /api/query or /api/trace result, and of any value a query computes\n"
        "(default 16MiB)"},
       size(
           64 * KiB, 4 * GiB,
           [](serve_config& c, std::int64_t n) { c.server.query_max_bytes = static_cast<std::size_t>(n); }, "16MiB")},
      {{"query-timeout", "DURATION", "a /api/query runs at most this long (default 10s)"},
       duration(
           ms(10), ms(3'600'000), [](serve_config& c, ms d) { c.server.query_timeout = d; }, "10s")},
      {{"query-concurrency", "N", "API reads (queries, trace list, traces) at once (default 4) -> 429"},
       count(1, 256, [](serve_config& c, long long n) { c.server.query_concurrency = static_cast<int>(n); })},
      {{"search-window", "N",
        "records one answer of a search in the web view reads at most; it says where it\n"
        "stopped (\"next\"), and the page goes on from there (default 100000)"},
       count(1, 100'000'000,
             [](serve_config& c, long long n) { c.server.search_window = static_cast<std::size_t>(n); })},
      {{"max-live-clients", "N", "web views following live updates (/api/live) at once (default 32) -> 503"},
       count(1, 4096, [](serve_config& c, long long n) { c.server.max_live_clients = static_cast<std::size_t>(n); })},
      {{"live-queue-size", "SIZE", "bytes queued for one live client before it is dropped as too slow (default 64KiB)"},
       size(
           1 * KiB, 64 * MiB,
           [](serve_config& c, std::int64_t n) { c.server.live_queue_bytes = static_cast<std::size_t>(n); }, "64KiB")},
      {{"retention-age", "DURATION", "delete records and metrics older than this, e.g. 7d (default: keep all)"},
       duration(
           ms(1000), ms(std::numeric_limits<std::int64_t>::max() / 2),
           [](serve_config& c, ms d) { c.store.retention_age = std::chrono::duration_cast<std::chrono::seconds>(d); },
           "7d")},
      {{"retention-size", "SIZE", "delete the oldest rows once the data exceed this, e.g. 1GiB (default: no limit)"},
       size(
           1, std::numeric_limits<std::int64_t>::max(),
           [](serve_config& c, std::int64_t n) { c.store.retention_bytes = n; }, "1GiB")},
      {{"retention-interval", "DURATION", "how often retention runs (default 60s)"},
       duration(
           ms(10), ms(86'400'000), [](serve_config& c, ms d) { c.store.retention_interval = d; }, "60s")},
      {{"durable", "",
        "fsync every commit, so acknowledged data also survive power loss (default off:\n"
        "they survive a crash or kill of this process)"},
       nullptr},
      {{"threads", "N", "worker threads for requests (default 16)"},
       count(2, 256, [](serve_config& c, long long n) { c.server.http.workers = static_cast<int>(n); })},
      {{"verbose", "", "log every request on stderr"}, nullptr},
  };
}

}  // namespace

int parse_serve_options(int argc, char** argv, serve_config& config) {
  auto table = option_table();
  std::vector<option_spec> specs;
  for (const auto& o : table) specs.push_back(o.spec);
  args a("serve", "[options]",
         "Receive OTLP/HTTP (protobuf or JSON, gzip or plain) on POST /v1/traces, /v1/logs and /v1/metrics,\n"
         "and OTLP/gRPC (TraceService, LogsService, MetricsService) on --grpc-port,\n"
         "store every span, log and metric point in SQLite (tables `records` and `metrics`), and serve a\n"
         "web view of recent traces with a SQL box at http://HOST:PORT/. A request is answered 200 only\n"
         "after its records are committed. Every limit below is refused with its own status and a message\n"
         "naming the option that raises it. Stop with Ctrl-C (SIGINT) or SIGTERM.",
         specs);
  std::string error;
  if (!a.parse(argc, argv, 2, error)) {
    std::cerr << "logfire-cpp serve: " << error << "\n";
    return 2;
  }
  if (a.help_requested()) {
    std::cout << a.help_text();
    return 0;
  }
  config.store.path = backend::default_database_path();
  if (const char* env = std::getenv("LOGFIRE_LOCAL_TOKEN"); env && *env) config.server.token = std::string(env);
  for (const auto& o : table) {
    auto value = a.get(o.spec.name);
    if (!value || !o.apply) continue;
    if (!o.apply(*value, config, error)) {
      std::cerr << "logfire-cpp serve: --" << o.spec.name << " " << error << "\n";
      return 2;
    }
  }
  if (!a.get("max-decompressed-size")) {
    config.server.max_decompressed_bytes = static_cast<std::size_t>(config.server.http.max_body_bytes);
  }
  config.http_enabled = !a.flag("no-http");
  config.grpc_enabled = !a.flag("no-grpc");
  if (!config.http_enabled && !config.grpc_enabled) {
    std::cerr << "logfire-cpp serve: --no-http and --no-grpc together leave nothing to serve\n";
    return 2;
  }
  config.grpc.host = config.server.host;
  config.store.durable = a.flag("durable");
  config.server.log_requests = a.flag("verbose");
  return -1;
}

}  // namespace logfire::cli
