// Live updates for the web view: GET /api/live is a server-sent events stream; after every
// committed export the store's writer-side caller (store_export, on a worker or gRPC thread)
// publishes one `records` event to each subscriber, naming the traces the export touched so an
// open trace reloads only for its own. Bounded twice: at most `max_subscribers` streams at once
// (more are answered 503), and each stream buffers at most `queue_bytes`; a client that falls
// that far behind is ended and counted, so ingest never waits for a browser.
//
//   live_feed feed(32, 64 << 10);
//   auto stream = feed.subscribe();          // nullptr: full
//   feed.publish("traces", 12, &traces);    // any thread, never blocks on a client
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "http/server.hpp"

namespace logfire::backend {

// The distinct trace ids of one export, in order of first appearance: the first kMax of them,
// and whether there were more. Bounded so that an export of many traces makes a short event
// (a page with a trace open reloads it when `more` is set, as it cannot tell).
struct live_trace_ids {
  static constexpr std::size_t kMax = 32;
  std::vector<std::string> ids;
  bool more = false;
  void add(std::string_view trace_id);
};

class live_feed {
 public:
  live_feed(std::size_t max_subscribers, std::size_t queue_bytes)
      : max_subscribers_(max_subscribers), queue_bytes_(queue_bytes) {}
  ~live_feed();
  live_feed(const live_feed&) = delete;
  live_feed& operator=(const live_feed&) = delete;

  // Any thread. A new stream (its first bytes already queued), or nullptr when max_subscribers
  // streams are open.
  [[nodiscard]] std::shared_ptr<http::body_stream> subscribe();
  // Any thread: `records` rows of `signal` ("traces", "logs", "metrics") were committed, of the
  // traces `traces` names (nullptr: rows of no trace, as metrics). The event's data is
  // {"signal":"traces","records":N,"trace_ids":[...],"more_traces":false}; without `traces`,
  // just {"signal":"metrics","records":N}.
  void publish(std::string_view signal, std::uint64_t records, const live_trace_ids* traces = nullptr);

  [[nodiscard]] std::size_t subscribers() const;
  [[nodiscard]] std::size_t max_subscribers() const { return max_subscribers_; }
  std::atomic<std::uint64_t> events_sent{0};   // events written to a stream
  std::atomic<std::uint64_t> slow_dropped{0};  // streams ended because their queue was full
  std::atomic<std::uint64_t> refused{0};       // subscriptions refused: max_subscribers open

 private:
  const std::size_t max_subscribers_;
  const std::size_t queue_bytes_;
  mutable std::mutex mu_;  // guards streams_; held only for non-blocking writes
  std::vector<std::shared_ptr<http::body_stream>> streams_;
};

}  // namespace logfire::backend
