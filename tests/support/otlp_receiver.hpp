// A real OTLP/HTTP trace receiver for tests: cpp-httplib listening on 127.0.0.1, decoding every
// POST /v1/traces with libprotobuf (application/x-protobuf) or libprotobuf's JSON parser
// (application/json, with OTLP's hex ids), gzip and chunked bodies included. Each test scripts
// how it answers (status, Retry-After, delays, outages by stop()/start()) and asserts on copies
// of the decoded messages.
//
//   logfire::test::otlp_receiver rx;
//   ASSERT_TRUE(rx.start());                               // a free port on 127.0.0.1
//   rx.queue_replies({logfire::test::reply::of(429).with_header("Retry-After", "2")});  // 1st request
//   ... configure the SDK with rx.endpoint(), produce spans ...
//   ASSERT_TRUE(rx.wait_for_spans(10, std::chrono::seconds(30)));
//   EXPECT_EQ(rx.count_status(429), 1u);
//   auto span = rx.span_named("charged {user_id}");
//   EXPECT_EQ(logfire::test::find_attribute(*span, "user_id")->int_value(), 42);
//
// Outage: rx.stop(); ...; ASSERT_TRUE(rx.start(rx.port()));  // same port, refuses meanwhile
// Slow backend: rx.set_responder([](const auto&) { return logfire::test::reply::of(200).with_delay(5s); });
//
// All methods are thread-safe. Spans count as delivered only when their request was answered
// with a 2xx status. The receiver stops by itself when destroyed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace logfire::test {

namespace otlp {
using export_request = opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using span = opentelemetry::proto::trace::v1::Span;
using any_value = opentelemetry::proto::common::v1::AnyValue;
using key_value = opentelemetry::proto::common::v1::KeyValue;
using metrics_request = opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest;
using metric = opentelemetry::proto::metrics::v1::Metric;
}  // namespace otlp

// What the receiver saw of one request; handed to the responder before it answers.
struct request_info {
  std::string method;
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;  // as received
  std::string content_type;      // media type without parameters, e.g. "application/x-protobuf"
  std::string content_encoding;  // "gzip" or empty
  bool chunked = false;          // Transfer-Encoding: chunked
  std::size_t wire_bytes = 0;    // Content-Length as sent (compressed size); 0 when chunked
  std::size_t body_bytes = 0;    // body size after gzip decoding
  bool decoded = false;          // the body parsed as an ExportTraceServiceRequest
  std::string decode_error;      // why not, when !decoded
  std::size_t span_count = 0;    // spans in the decoded request
  std::size_t point_count = 0;   // data points in a decoded POST /v1/metrics
  std::size_t sequence = 0;      // 0 for the first request since start() or clear()

  // First value of header `name` (case-insensitive), or "" when absent.
  [[nodiscard]] std::string header(std::string_view name) const;
};

// How to answer one request.
struct reply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. {{"Retry-After", "2"}}
  // Response body; when empty a 2xx gets an empty ExportTraceServiceResponse in the request's
  // format, and other statuses get a short text.
  std::string body;
  // Wait this long before answering. stop() cuts the wait short and the request is then
  // answered 503 (its spans are not counted as delivered).
  std::chrono::milliseconds delay{0};

  // Builders, since designated initializers that skip members warn under -Wextra with g++ 12:
  //   reply::of(429).with_header("Retry-After", "2"),  reply::of(200).with_delay(5s)
  [[nodiscard]] static reply of(int status_code) {
    reply r;
    r.status = status_code;
    return r;
  }
  [[nodiscard]] reply with_header(std::string name, std::string value) && {
    headers.emplace_back(std::move(name), std::move(value));
    return std::move(*this);
  }
  [[nodiscard]] reply with_body(std::string text) && {
    body = std::move(text);
    return std::move(*this);
  }
  [[nodiscard]] reply with_delay(std::chrono::milliseconds wait) && {
    delay = wait;
    return std::move(*this);
  }
};

struct received_request {
  request_info info;
  int status = 0;                 // the status the receiver answered with
  std::string body;               // the decoded (gunzipped) body bytes
  otlp::export_request message;   // empty when !info.decoded or for /v1/metrics
  otlp::metrics_request metrics;  // POST /v1/metrics (protobuf only), empty otherwise
};

class otlp_receiver {
 public:
  using responder = std::function<reply(const request_info&)>;

  otlp_receiver();
  ~otlp_receiver();
  otlp_receiver(const otlp_receiver&) = delete;
  otlp_receiver& operator=(const otlp_receiver&) = delete;

  // Listens on 127.0.0.1:`port`; 0 picks a free port. Returns false if it cannot bind.
  // After stop(), start(port()) listens again on the same port (for outage tests).
  // Recorded requests are kept across stop()/start(); see clear().
  [[nodiscard]] bool start(std::uint16_t port = 0);
  // Closes the listening socket and waits for in-flight requests (at most ~1 s for idle
  // keep-alive connections). New connections are refused until start().
  void stop();
  [[nodiscard]] bool running() const;

  [[nodiscard]] std::uint16_t port() const;
  [[nodiscard]] std::string endpoint() const;     // "http://127.0.0.1:PORT"
  [[nodiscard]] std::string traces_url() const;   // endpoint() + "/v1/traces"
  [[nodiscard]] std::string metrics_url() const;  // endpoint() + "/v1/metrics"

  // Decides every answer from now on (after any queued replies). The responder runs on the
  // receiver's worker threads, possibly concurrently.
  void set_responder(responder r);
  // Answers every request with `status` and `headers`.
  void set_status(int status, std::vector<std::pair<std::string, std::string>> headers = {});
  // The next requests get these replies, one each, in order; then the responder answers again.
  void queue_replies(std::vector<reply> replies);
  // Back to the default: 200 for a decodable request, 400 for a body that does not parse,
  // 415 for another content type.
  void reset_responder();

  // Copies of what arrived since start() or clear().
  [[nodiscard]] std::vector<received_request> requests() const;
  [[nodiscard]] std::size_t request_count() const;
  // Spans of the requests answered with 2xx, in arrival order.
  [[nodiscard]] std::vector<otlp::span> spans() const;
  [[nodiscard]] std::size_t span_count() const;
  // The first accepted span with this name.
  [[nodiscard]] std::optional<otlp::span> span_named(std::string_view name) const;
  // Number of requests answered with `status`, and all such counts.
  [[nodiscard]] std::size_t count_status(int status) const;
  [[nodiscard]] std::map<int, std::size_t> status_counts() const;

  // Metrics of the /v1/metrics requests answered with 2xx, in arrival order, and the number of
  // their data points.
  [[nodiscard]] std::vector<otlp::metric> metrics() const;
  [[nodiscard]] std::size_t point_count() const;
  bool wait_for_points(std::size_t n, std::chrono::milliseconds timeout) const;

  // Block until at least `n` spans were accepted (or `n` requests answered), or `timeout`.
  bool wait_for_spans(std::size_t n, std::chrono::milliseconds timeout) const;
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const;

  // Forgets recorded requests and counts (not the responder).
  void clear();

 private:
  void handle(const httplib::Request& req, httplib::Response& res);
  reply decide(const request_info& info);

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;  // a request was recorded, or stopping
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::uint16_t port_ = 0;
  bool stopping_ = false;
  responder responder_;
  std::deque<reply> queued_;
  std::vector<received_request> requests_;
  std::size_t accepted_spans_ = 0;
  std::size_t accepted_points_ = 0;
  std::size_t next_sequence_ = 0;
};

// The attribute `key` of a span (or nullptr).
[[nodiscard]] const otlp::any_value* find_attribute(const otlp::span& s, std::string_view key);
[[nodiscard]] const otlp::any_value* find_attribute(const google::protobuf::RepeatedPtrField<otlp::key_value>& attrs,
                                                    std::string_view key);

// The string value of a resource attribute of the request's first resource ("" when absent).
[[nodiscard]] inline std::string resource_attr(const otlp::export_request& req, std::string_view key) {
  if (req.resource_spans_size() == 0) return {};
  const auto* v = find_attribute(req.resource_spans(0).resource().attributes(), key);
  return v ? v->string_value() : std::string();
}

// Lowercase hex of bytes (OTLP trace and span ids as W3C headers write them).
[[nodiscard]] inline std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 0xF]);
  }
  return out;
}

// OTLP/JSON carries trace and span ids as hex, generic proto3 JSON as base64: rewrites the
// values of "traceId", "spanId" and "parentSpanId" so JsonStringToMessage reads OTLP/JSON.
[[nodiscard]] std::string otlp_json_ids_to_base64(std::string_view json);

// Parses an OTLP/JSON ExportTraceServiceRequest; returns an error message, empty on success.
[[nodiscard]] std::string parse_otlp_json(std::string_view json, otlp::export_request& out);

}  // namespace logfire::test
