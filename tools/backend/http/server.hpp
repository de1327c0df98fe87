// A small HTTP/1.1 server for `logfire-cpp serve`, built so that every limit is enforced and
// answered with a message the application words (docs/local-backend.md says why it replaced
// cpp-httplib here).
//
// Threads:
//   * one I/O thread (run()) owns every connection: it accepts, reads request heads and bodies
//     (non-blocking, epoll), enforces the limits and deadlines, and writes responses. A slow or
//     idle client costs a connection slot and its buffered bytes, never a worker.
//   * `workers` threads run the application's handler on complete requests (decode, wait for
//     the store's commit, run SQL) and hand the response back to the I/O thread.
// Per request: the head is parsed under head_limits within header_timeout; the application then
// sees the head (on_head, on the I/O thread) and may answer at once — before the body is read,
// which is also when `Expect: 100-continue` is answered — or name the body limit for its route;
// the body is read within body_timeout, held against the shared memory budget, and passed to a
// worker. Responses leave in request order; a connection serves one request at a time. A
// response may also stream its body (body_stream), written from any thread after the handler
// returns: server-sent events need no thread of their own.
//
//   http::server srv(limits, {.on_head = ..., .on_request = ..., .on_refusal = ...}, budget);
//   if (!srv.listen("127.0.0.1", 0, error)) ...;
//   std::thread io([&] { srv.run(); });   // until srv.stop()
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "memory_budget.hpp"
#include "request_parser.hpp"

namespace logfire::backend::http {

struct server_limits {
  head_limits head;
  std::uint64_t max_body_bytes = 64u << 20;          // default for a route that names none
  std::chrono::milliseconds header_timeout{10'000};  // first byte of a request -> end of its head
  std::chrono::milliseconds body_timeout{60'000};    // end of the head -> end of the body
  std::chrono::milliseconds idle_timeout{60'000};    // keep-alive connection with no request
  std::chrono::milliseconds write_timeout{30'000};   // a response must be taken within this
  std::size_t max_connections = 1024;                // open at once; beyond: 503 and close
  int listen_backlog = 1024;                         // capped by net.core.somaxconn
  int workers = 16;                                  // handler threads
};

// A response body written over time, from any thread: server-sent events, a long download. The
// head leaves when the handler returns, without Content-Length; the body is every write() in
// order, and ends, closing the connection, at end() (an HTTP/1.1 body delimited by the close).
// Bytes wait here, at most `max_buffered`, until the I/O thread sends them; a client that does
// not take them within server_limits::write_timeout is dropped, as for any answer.
//
//   http::response r;                              // in a handler
//   r.content_type = "text/event-stream";
//   r.stream = std::make_shared<http::body_stream>();
//   subscribers.add(r.stream);                      // someone calls write() as events happen
//   return r;
class body_stream {
 public:
  explicit body_stream(std::size_t max_buffered = 1u << 20) : max_buffered_(max_buffered) {}
  body_stream(const body_stream&) = delete;
  body_stream& operator=(const body_stream&) = delete;

  // Any thread. False, and nothing written, when the bytes would pass max_buffered (the client
  // reads more slowly than they come: skip or end, the producer decides) or the stream is over.
  bool write(std::string_view bytes);
  // Any thread: no more bytes; the connection closes once the buffered ones are sent.
  void end();
  // Any thread: the client went away, the server stopped or end() was called; a producer's cue
  // to stop.
  [[nodiscard]] bool closed() const;

 private:
  friend class server;
  // I/O thread: the server starts sending (`wake` tells it there is more), takes what is
  // buffered, and lets go when the connection closes.
  void attach(std::function<void()> wake);
  bool take(std::string& out, bool& ended);
  void detach();

  const std::size_t max_buffered_;
  mutable std::mutex mu_;
  std::string pending_;
  bool ended_ = false;     // end() was called
  bool detached_ = false;  // the connection is gone: writes fail
  std::function<void()> wake_;
};

struct response {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool close = false;  // close the connection after this response
  // When set, the body is this stream's bytes instead of `body` (and the connection closes
  // after it ends).
  std::shared_ptr<body_stream> stream;
};

// A text/plain answer (the message and a newline).
[[nodiscard]] response text_response(int status, std::string message);

struct request {
  request_head head;
  std::string body;                        // de-chunked, not decompressed
  memory_budget::reservation body_memory;  // the body's share of the budget
};

// What the application decides from a request's head (I/O thread).
struct head_decision {
  std::optional<response> reply;  // answer now, without reading the body
  std::uint64_t max_body = 0;     // the body limit for this route (0: server_limits::max_body_bytes)
};

struct handlers {
  // I/O thread, once per request head. Quick checks only (routing, token, media type): it must
  // not block, or every connection waits.
  std::function<head_decision(const request_head&)> on_head;
  // A worker thread, with the complete request. May block (e.g. until a commit).
  std::function<response(request&)> on_request;
  // I/O thread: the answer to a refusal of the HTTP layer; `head` is null when the head was not
  // parsed. The status is status_of(kind) whatever the response says; the connection closes.
  std::function<response(refusal kind, const request_head* head, const std::string& detail)> on_refusal;
  // After each response is written or queued (I/O thread); optional (request logs).
  std::function<void(const request_head& head, int status, std::size_t body_bytes)> on_response;
};

// Counters of what the connection layer did by itself (all monotonic).
struct connection_counters {
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> refused_connections{0};  // over max_connections
  std::atomic<std::uint64_t> idle_closed{0};          // keep-alive connections closed after idle_timeout
  std::atomic<std::uint64_t> write_timeouts{0};       // clients that did not read their response
};

class server {
 public:
  server(server_limits limits, handlers h, memory_budget& budget);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds and listens. `host` is an IP address (IPv4, or IPv6 with or without brackets). Fails
  // with a message that names the address and the reason (in use, not permitted, not local).
  bool listen(const std::string& host, int port, std::string& error);
  [[nodiscard]] int port() const { return port_; }

  // The I/O loop; call once, after listen(), from one thread. Returns after stop(): requests
  // being handled finish and are answered (bounded by write_timeout), the others are closed.
  void run();
  // Any thread (a signal handler thread, a test).
  void stop();

  [[nodiscard]] const connection_counters& counters() const { return counters_; }
  [[nodiscard]] std::size_t open_connections() const { return open_.load(std::memory_order_relaxed); }

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
  connection_counters counters_;
  std::atomic<std::size_t> open_{0};
  int port_ = 0;
};

// Parses an address for listen(): "127.0.0.1", "::1", "[::1]", "0.0.0.0", "::". False when it
// is not a numeric IP address (host names are not resolved: what a name resolves to can change).
[[nodiscard]] bool is_ip_address(const std::string& host);

}  // namespace logfire::backend::http
