// The HTTP side of `logfire-cpp serve`: the OTLP/HTTP receiver (POST /v1/traces, /v1/logs,
// /v1/metrics in protobuf or JSON, gzip/deflate or plain, fixed-length or chunked), the web view
// (/ and its assets) and the JSON API behind it (/api/traces, /api/trace/<id>, /api/query,
// /api/stats). Requests run on cpp-httplib's worker threads; each export waits for the store's
// commit before it is answered 200.
//
//   server srv(*db, {.port = 0});
//   if (!srv.bind(error)) ...;
//   std::thread t([&] { srv.run(); });   // until srv.stop()
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "store.hpp"

namespace httplib {
class Server;
}

namespace logfire::backend {

struct server_options {
  std::string host = "127.0.0.1";  // loopback unless asked otherwise
  int port = 4318;                 // OTLP/HTTP's port; 0 picks a free one
  // When set, /v1/* and /api/* require `Authorization: <token>` (or "Bearer <token>"); the web
  // page passes it from its URL (?token=...). Default none; env LOGFIRE_LOCAL_TOKEN.
  std::optional<std::string> token{};
  // Largest request body accepted, before and after decompression. Default 64 MiB.
  std::size_t max_body_bytes = 64u << 20;
  // Worker threads answering HTTP requests. Default 16.
  int threads = 16;
  bool log_requests = false;  // one line per request on stderr
};

// Counters of what the server received and refused, by reason (all monotonic).
struct server_stats {
  std::atomic<std::uint64_t> export_requests{0};   // answered 200 (including partial success)
  std::atomic<std::uint64_t> records_received{0};  // spans and log records stored
  std::atomic<std::uint64_t> metric_points_received{0};
  std::atomic<std::uint64_t> items_rejected{0};          // partial success: spans/logs/points refused
  std::atomic<std::uint64_t> unauthorized{0};            // 401
  std::atomic<std::uint64_t> unsupported_media_type{0};  // 415: content type or encoding
  std::atomic<std::uint64_t> too_large{0};               // 413
  std::atomic<std::uint64_t> malformed{0};               // 400: body not an OTLP request
  std::atomic<std::uint64_t> unreadable{0};              // 400: bad gzip, broken chunks, cut short
  std::atomic<std::uint64_t> not_found{0};               // 404
  std::atomic<std::uint64_t> method_not_allowed{0};      // 405
  std::atomic<std::uint64_t> unavailable{0};             // 503: store busy or failing
  std::atomic<std::uint64_t> bad_queries{0};             // /api/query errors
};

class server {
 public:
  server(store& db, server_options options);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds the listening socket. Fails with a message naming the address.
  bool bind(std::string& error);
  // Serves until stop(); call after bind(), from one thread.
  void run();
  // Any thread (e.g. a signal handler thread).
  void stop();

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] const server_options& options() const { return options_; }
  [[nodiscard]] const server_stats& stats() const { return stats_; }
  // {"export_requests":..., "rejected":{"unauthorized":...}, "store":{...}}
  [[nodiscard]] std::string stats_json() const;

 private:
  void install_routes();

  store& store_;
  server_options options_;
  std::unique_ptr<httplib::Server> http_;
  server_stats stats_;
  int port_ = 0;
};

}  // namespace logfire::backend
