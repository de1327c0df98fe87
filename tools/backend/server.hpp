// The HTTP side of `logfire-cpp serve`: the OTLP/HTTP receiver (POST /v1/traces, /v1/logs,
// /v1/metrics in protobuf or JSON, gzip/deflate or plain, fixed-length or chunked), the web view
// (/ and its assets) and the JSON API behind it (/api/traces, /api/trace/<id>, /api/query,
// /api/stats, /api/live), on the HTTP layer in http/server.hpp. Every limit below is a `serve` option;
// each refusal names the limit and the option that raises it. An export is answered 200 only
// after its rows are committed.
//
//   server srv(*db, {.port = 0});
//   if (!srv.bind(error)) ...;
//   std::thread t([&] { srv.run(); });   // until srv.stop()
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "http/memory_budget.hpp"
#include "http/server.hpp"
#include "live.hpp"
#include "otlp_decode.hpp"
#include "store.hpp"

namespace logfire::backend {
namespace detail {
class grpc_receiver_impl;
}

struct server_options {
  std::string host = "127.0.0.1";  // loopback unless asked otherwise (--host)
  int port = 4318;                 // OTLP/HTTP's port; 0 picks a free one (--port)
  // When set, /v1/* and /api/* require `Authorization: <token>` or `Authorization: Bearer
  // <token>` (scheme case-insensitive). Default none; --token, env LOGFIRE_LOCAL_TOKEN.
  std::optional<std::string> token{};
  // Request line, header size and count, body size, the four timeouts, connections, listen
  // backlog and worker threads (--max-request-line, --max-header-size, --max-header-count,
  // --max-body-size, --header-timeout, --body-timeout, --idle-timeout, --write-timeout,
  // --max-connections, --listen-backlog, --threads).
  http::server_limits http{};
  // Largest body after gzip/deflate. Default 64 MiB (--max-decompressed-size; serve's default
  // is its --max-body-size).
  std::size_t max_decompressed_bytes = 64u << 20;
  // Request bodies, their decompressed form and decoded rows of every request in flight
  // together; a request that does not fit is answered 429 with Retry-After. Default 512 MiB
  // (--max-memory).
  std::size_t max_memory_bytes = 512u << 20;
  // Nesting of attribute values, rows per commit chunk, future skew (--max-nesting,
  // --max-future-skew); chunks of 10 000 rows or 16 MiB.
  decode_options decode{};
  // The SQL door (/api/query): rows and bytes of a result, time, queries at once (--query-max-rows,
  // --query-max-bytes, --query-timeout, --query-concurrency).
  std::size_t query_max_rows = 1000;
  std::size_t query_max_bytes = 16u << 20;
  std::chrono::milliseconds query_timeout{10'000};
  int query_concurrency = 4;
  // Records one answer of /api/traces?q= or /api/records reads at most where it has to read them
  // one by one (search.hpp's kScanWindow); an answer that stops there says where to go on
  // ("next"). Default 100 000 (--search-window).
  std::size_t search_window = 100'000;
  // Live updates (GET /api/live): streams open at once, and bytes queued per stream before a
  // slow client is dropped. Defaults 32 and 64 KiB (--max-live-clients, --live-queue-size).
  std::size_t max_live_clients = 32;
  std::size_t live_queue_bytes = 64u << 10;
  bool log_requests = false;  // one line per request on stderr (--verbose)
};

// Counters of what the server received and refused, by reason (all monotonic).
struct server_stats {
  std::atomic<std::uint64_t> export_requests{0};       // answered 200 (including partial success)
  std::atomic<std::uint64_t> grpc_export_requests{0};  // of which over OTLP/gRPC
  std::atomic<std::uint64_t> records_received{0};      // spans and log records stored
  std::atomic<std::uint64_t> metric_points_received{0};
  std::atomic<std::uint64_t> items_rejected{0};          // partial success: spans/logs/points refused
  std::atomic<std::uint64_t> chunked_requests{0};        // exports committed in more than one chunk
  std::atomic<std::uint64_t> unauthorized{0};            // 401
  std::atomic<std::uint64_t> forbidden_host{0};          // 403: a foreign Host on a loopback server
  std::atomic<std::uint64_t> unsupported_media_type{0};  // 415: content type or encoding
  std::atomic<std::uint64_t> too_large{0};               // 413: body, before or after decompression
  std::atomic<std::uint64_t> malformed{0};               // 400: body not an OTLP request
  std::atomic<std::uint64_t> unreadable{0};              // 400: bad gzip/deflate data
  std::atomic<std::uint64_t> bad_request{0};             // 400: HTTP syntax or framing; 417, 501, 505
  std::atomic<std::uint64_t> header_too_large{0};        // 431 (size or count) and 414 (request line)
  std::atomic<std::uint64_t> timed_out{0};               // 408: head or body too slow
  std::atomic<std::uint64_t> too_many_requests{0};       // 429: memory budget, queries at once
  std::atomic<std::uint64_t> not_found{0};               // 404
  std::atomic<std::uint64_t> method_not_allowed{0};      // 405
  std::atomic<std::uint64_t> unavailable{0};             // 503: store busy/failing, connections, stopping
  std::atomic<std::uint64_t> bad_queries{0};             // /api/query errors
  std::atomic<std::uint64_t> truncated_queries{0};       // /api/query results cut by a limit
};

class server {
 public:
  server(store& db, server_options options);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds the listening socket. Fails with a message naming the address and the reason.
  bool bind(std::string& error);
  // Serves until stop(); call after bind(), from one thread (it becomes the I/O thread).
  void run();
  // Any thread (e.g. a signal handler thread).
  void stop();

  [[nodiscard]] int port() const { return http_->port(); }
  [[nodiscard]] const server_options& options() const { return options_; }
  [[nodiscard]] const server_stats& stats() const { return stats_; }
  [[nodiscard]] const http::memory_budget& memory() const { return budget_; }
  [[nodiscard]] const live_feed& live() const { return live_; }
  [[nodiscard]] std::uint64_t requests_refused() const;
  // {"export_requests":..., "rejected_requests":{...}, "memory":{...}, "connections":{...}, "store":{...}}
  [[nodiscard]] std::string stats_json() const;

 private:
  friend class detail::grpc_receiver_impl;  // shares the store, limits, stats and memory budget
  http::head_decision on_head(const http::request_head& head);
  http::response on_request(http::request& req);
  http::response on_refusal(http::refusal kind, const http::request_head* head, const std::string& detail);

  store& store_;
  server_options options_;
  server_stats stats_;
  http::memory_budget budget_;
  std::atomic<int> queries_running_{0};
  live_feed live_;
  std::unique_ptr<http::server> http_;
};

// "64 MiB", "512 KiB", "100 bytes": sizes in messages, as the options are written.
[[nodiscard]] std::string human_bytes(std::uint64_t n);

}  // namespace logfire::backend
