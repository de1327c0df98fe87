// The HTTP transport: one POST in, one answer out (the OTLP exporter's), and several GETs at
// once with one deadline (the GCP metadata client's). The implementation is chosen in CMake
// (LOGFIRE_HTTP_TRANSPORT): `curl` (curl_transport.cpp, curl_get.cpp: the default and the only
// one the tests run) or `none` (none_transport.cpp: every request fails with a line saying the
// library was built without a transport). libcurl is used nowhere else in the library.
// A transport object has one caller thread (an exporter's sender); tests and other transports
// replace it through this interface (otlp_exporter_config::make_transport).
//
//   auto t = logfire::detail::make_http_transport({});
//   auto r = t->post({.url = url, .headers = hdrs, .body = bytes, .timeout = 10s});
//   if (r.status == 0) { /* connection error: r.error */ }
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace logfire::detail {

struct http_header {
  std::string name;
  std::string value;
};

struct http_request {
  std::string_view url;
  std::span<const http_header> headers;
  std::string_view body;
  // Whole-request limit (connect + send + answer). The connect phase alone is limited to 3 s.
  std::chrono::milliseconds timeout{10'000};
  // When set, the transfer is aborted as soon as steady_clock's count passes this value
  // (nanoseconds since the clock's epoch); shutdown uses it to cut a request at its deadline.
  const std::atomic<std::int64_t>* abort_at_ns = nullptr;
};

struct http_response {
  // The HTTP status, or 0 when no answer came (connection refused, DNS, TLS, timeout, abort).
  int status = 0;
  // Why there was no answer (status 0), for diagnostics.
  std::string error;
  // The SDK itself cut the request (a flush or shutdown deadline), not the network or the server.
  bool cut_by_deadline = false;
  // Whether the whole body went out before the failure: the server may have processed it,
  // so a retry can create duplicates.
  bool request_sent = false;
  // The raw Retry-After header, when the server sent one.
  std::optional<std::string> retry_after;
  // The first bytes of the answer's body (at most 200), shown when a backend rejects data.
  std::string body_prefix;
};

// Bytes of the answer's body kept in http_response::body_prefix.
inline constexpr std::size_t k_response_prefix_bytes = 200;

class http_transport {
 public:
  virtual ~http_transport() = default;
  // Blocks the calling (sender) thread until the answer, a failure or the timeout. Never throws.
  virtual http_response post(const http_request& request) noexcept = 0;
};

struct http_transport_options {
  std::chrono::milliseconds connect_timeout{3'000};
  // "logfire-cpp/<version>" when empty.
  std::string user_agent;
};

// The transport this build was made with. curl: one easy handle reused across calls
// (keep-alive), TLS verification on, proxies from the standard environment variables, no
// signals; null only when libcurl cannot be initialised.
std::unique_ptr<http_transport> make_http_transport(const http_transport_options& options = {});

// Several GETs at once (the GCP metadata server's three answers), on the calling thread, with
// one deadline and no proxy. Each `http_get` gets its status (0: no answer) and up to
// `max_body` bytes of its body (a longer answer fails). Never throws.
struct http_get {
  std::string url;
  std::string body;
  int status = 0;
};

// Stops an http_get_all() in progress from another thread, at once (it wakes the wait).
class http_get_canceller {
 public:
  void cancel() noexcept;
  [[nodiscard]] bool cancelled() const noexcept { return cancelled_.load(std::memory_order_relaxed); }

 private:
  friend void http_get_all(std::span<http_get>, std::span<const http_header>, std::chrono::milliseconds, std::size_t,
                           http_get_canceller&) noexcept;
  std::mutex mutex_;
  void* in_flight_ = nullptr;  // the transport's wait handle while requests run; under mutex_
  std::atomic<bool> cancelled_{false};
};

void http_get_all(std::span<http_get> gets, std::span<const http_header> headers, std::chrono::milliseconds timeout,
                  std::size_t max_body, http_get_canceller& canceller) noexcept;

// Parses a Retry-After value: delta-seconds or an HTTP date (RFC 9110, IMF-fixdate and the two
// obsolete forms). Returns the wait from `now`, clamped at zero; nullopt when unparsable.
std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) noexcept;

}  // namespace logfire::detail
