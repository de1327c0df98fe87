// The libcurl transport against the real receiver: what goes on the wire, what comes back,
// connection errors, cutting a request at a deadline, and Retry-After parsing.
#include <gtest/gtest.h>

#include "export/gzip.hpp"
#include "export/otlp_encoder.hpp"
#include "export_test_util.hpp"
#include "net/http_transport.hpp"

namespace logfire::test {
namespace {

using detail::http_header;

std::string encoded_spans(std::size_t n) {
  record_factory f;
  auto records = f.spans(n);
  std::string body;
  detail::encode_traces_protobuf(records, test_resource(), body);
  return body;
}

TEST(Transport, PostsTheBodyWithItsHeaders) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  auto t = detail::make_http_transport();
  ASSERT_TRUE(t);
  std::string plain = encoded_spans(3);
  std::string gz;
  ASSERT_TRUE(detail::gzip_compress(plain, gz, 1));
  const std::string url = rx.traces_url();
  std::vector<http_header> headers = {
      {"Content-Type", "application/x-protobuf"}, {"Content-Encoding", "gzip"}, {"Authorization", "pylf_v1_us_secret"}};
  auto r = t->post(request(url, headers, gz));
  EXPECT_EQ(r.status, 200) << r.error;
  // A second request on the same transport (the connection is reused when possible).
  r = t->post(request(url, headers, gz));
  EXPECT_EQ(r.status, 200) << r.error;
  auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 2u);
  const auto& info = reqs[0].info;
  EXPECT_TRUE(info.decoded) << info.decode_error;
  EXPECT_EQ(info.span_count, 3u);
  EXPECT_EQ(info.header("User-Agent"), "logfire-cpp/" LOGFIRE_VERSION);
  EXPECT_EQ(info.header("Authorization"), "pylf_v1_us_secret");
  EXPECT_EQ(info.content_encoding, "gzip");
  EXPECT_EQ(info.content_type, "application/x-protobuf");
  EXPECT_EQ(info.wire_bytes, gz.size());
  EXPECT_EQ(info.header("Expect"), "");  // no 100-continue round trip
}

TEST(Transport, ReportsStatusRetryAfterAndTheStartOfTheAnswer) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  rx.queue_replies({answer(429, {{"Retry-After", "7"}}, std::string(500, 'q'))});
  auto t = detail::make_http_transport();
  std::string body = encoded_spans(1);
  std::vector<http_header> headers = {{"Content-Type", "application/x-protobuf"}};
  auto r = t->post(request(rx.traces_url(), headers, body));
  EXPECT_EQ(r.status, 429);
  ASSERT_TRUE(r.retry_after);
  EXPECT_EQ(*r.retry_after, "7");
  EXPECT_EQ(r.body_prefix, std::string(200, 'q'));  // the first 200 bytes only
  r = t->post(request(rx.traces_url(), headers, body));
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.retry_after);  // not carried over from the previous answer
}

TEST(Transport, ARefusedConnectionIsStatusZeroAndNotSent) {
  auto t = detail::make_http_transport();
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1/traces";
  auto r = t->post(request(url, {}, "x"));
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());
  EXPECT_FALSE(r.request_sent);
}

TEST(Transport, OnlyHttpAndHttpsAreSpoken) {
  auto t = detail::make_http_transport();
  auto r = t->post(request("file:///etc/passwd", {}, "x"));
  EXPECT_EQ(r.status, 0);
}

TEST(Transport, ASlowAnswerIsCutAtTheTimeoutOrTheAbortDeadline) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  rx.set_responder([](const request_info&) { return delayed(5s); });
  auto t = detail::make_http_transport();
  std::string body = encoded_spans(1);
  std::vector<http_header> headers = {{"Content-Type", "application/x-protobuf"}};

  auto start = std::chrono::steady_clock::now();
  auto r = t->post(request(rx.traces_url(), headers, body, 300ms));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(r.request_sent);  // the server has the body: a retry may duplicate it
  EXPECT_LT(took, 4s);          // far from the server's 5 s

  std::atomic<std::int64_t> abort_at{std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         (std::chrono::steady_clock::now() + 300ms).time_since_epoch())
                                         .count()};
  start = std::chrono::steady_clock::now();
  r = t->post(request(rx.traces_url(), headers, body, 10s, &abort_at));
  took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("deadline"), std::string::npos) << r.error;
  EXPECT_LT(took, 4s);
  rx.stop();  // answers the delayed requests at once
}

TEST(Transport, RetryAfterParsing) {
  using std::chrono::milliseconds;
  // Sun, 06 Nov 1994 08:49:37 GMT
  const auto now = std::chrono::system_clock::from_time_t(784111777) - std::chrono::seconds(30);
  EXPECT_EQ(detail::parse_retry_after("2", now), milliseconds(2000));
  EXPECT_EQ(detail::parse_retry_after(" 0 ", now), milliseconds(0));
  EXPECT_EQ(detail::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), milliseconds(30000));
  EXPECT_EQ(detail::parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now), milliseconds(30000));
  EXPECT_EQ(detail::parse_retry_after("Sun Nov  6 08:49:37 1994", now), milliseconds(30000));
  EXPECT_EQ(detail::parse_retry_after("Sun, 06 Nov 1994 08:48:37 GMT", now), milliseconds(0));  // past
  EXPECT_FALSE(detail::parse_retry_after("", now));
  EXPECT_FALSE(detail::parse_retry_after("soon", now));
  EXPECT_FALSE(detail::parse_retry_after("-5", now));
  EXPECT_FALSE(detail::parse_retry_after("Sun, 32 Nov 1994 08:49:37 GMT", now));
  EXPECT_FALSE(detail::parse_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", now));
}

}  // namespace
}  // namespace logfire::test
