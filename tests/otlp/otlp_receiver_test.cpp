// The test receiver behaves as the fault tests rely on: scripted statuses and headers reach the
// client, outages refuse connections and end on the same port, slow answers end at stop(),
// undecodable or unsupported bodies are refused, and only 2xx requests count as delivered.
#include "support/otlp_receiver.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "otlp/otlp_test_data.hpp"

namespace logfire::test {
namespace {

using namespace std::chrono_literals;

std::string sample_body(std::size_t* spans = nullptr) {
  record_set rs;
  fill_sample_records(rs);
  if (spans) *spans = rs.records.size();
  std::string body;
  detail::encode_traces_protobuf(rs.records, sample_resource(), body);
  return body;
}

TEST(otlp_receiver, binds_a_free_loopback_port_and_reports_its_endpoint) {
  otlp_receiver a;
  otlp_receiver b;
  ASSERT_TRUE(a.start());
  ASSERT_TRUE(b.start());
  EXPECT_NE(a.port(), 0);
  EXPECT_NE(a.port(), b.port());
  EXPECT_EQ(a.endpoint(), "http://127.0.0.1:" + std::to_string(a.port()));
  EXPECT_EQ(a.traces_url(), a.endpoint() + "/v1/traces");
  EXPECT_TRUE(a.running());
}

TEST(otlp_receiver, scripted_replies_reach_the_client_then_default_resumes) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  std::size_t n = 0;
  const std::string body = sample_body(&n);
  rx.queue_replies({reply::of(429).with_header("Retry-After", "2"), reply::of(503)});

  httplib::Client cli("127.0.0.1", rx.port());
  auto r1 = cli.Post("/v1/traces", body, "application/x-protobuf");
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 429);
  EXPECT_EQ(r1->get_header_value("Retry-After"), "2");
  auto r2 = cli.Post("/v1/traces", body, "application/x-protobuf");
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 503);
  auto r3 = cli.Post("/v1/traces", body, "application/x-protobuf");
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->status, 200);

  EXPECT_EQ(rx.count_status(429), 1u);
  EXPECT_EQ(rx.count_status(503), 1u);
  EXPECT_EQ(rx.count_status(200), 1u);
  EXPECT_EQ(rx.span_count(), n) << "only the accepted request counts";
  EXPECT_EQ(rx.spans().size(), n);
  const auto all = rx.requests();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].info.span_count, n) << "refused requests are still decoded and kept";
  EXPECT_EQ(all[2].info.sequence, 2u);
  EXPECT_EQ(all[0].info.header("content-type"), "application/x-protobuf");
}

TEST(otlp_receiver, responder_sees_the_request) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  rx.set_responder([](const request_info& info) {
    reply r;
    // A backend with a small size limit: 413 above 1000 bytes.
    if (info.body_bytes > 1000) r.status = 413;
    if (info.header("Authorization") != "pylf_v1_us_token") r.status = 401;
    return r;
  });
  httplib::Client cli("127.0.0.1", rx.port());
  const std::string body = sample_body();
  ASSERT_GT(body.size(), 1000u);
  auto big = cli.Post("/v1/traces", {{"Authorization", "pylf_v1_us_token"}}, body, "application/x-protobuf");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  auto unauthorized = cli.Post("/v1/traces", "", "application/x-protobuf");
  ASSERT_TRUE(unauthorized);
  EXPECT_EQ(unauthorized->status, 401);
  EXPECT_EQ(rx.span_count(), 0u);
}

TEST(otlp_receiver, refuses_bodies_it_cannot_decode) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  httplib::Client cli("127.0.0.1", rx.port());
  auto garbage = cli.Post("/v1/traces", std::string("\xff\xff\xff\xff", 4), "application/x-protobuf");
  ASSERT_TRUE(garbage);
  EXPECT_EQ(garbage->status, 400);
  auto bad_json = cli.Post("/v1/traces", R"({"resourceSpans":[{"resource":{"atributes":[]}}]})", "application/json");
  ASSERT_TRUE(bad_json);
  EXPECT_EQ(bad_json->status, 400) << "misspelt field names fail";
  auto text = cli.Post("/v1/traces", "hello", "text/plain");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->status, 415);
  const auto all = rx.requests();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_FALSE(all[0].info.decoded);
  EXPECT_FALSE(all[0].info.decode_error.empty());
}

TEST(otlp_receiver, outage_refuses_connections_then_resumes_on_the_same_port) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  const std::uint16_t port = rx.port();
  const std::string body = sample_body();
  {
    httplib::Client cli("127.0.0.1", port);
    auto ok = cli.Post("/v1/traces", body, "application/x-protobuf");
    ASSERT_TRUE(ok);
  }
  rx.stop();
  EXPECT_FALSE(rx.running());
  {
    httplib::Client cli("127.0.0.1", port);
    cli.set_connection_timeout(2);
    auto down = cli.Post("/v1/traces", body, "application/x-protobuf");
    EXPECT_FALSE(down);
    EXPECT_EQ(down.error(), httplib::Error::Connection);
  }
  ASSERT_TRUE(rx.start(port));
  EXPECT_EQ(rx.port(), port);
  {
    httplib::Client cli("127.0.0.1", port);
    auto back = cli.Post("/v1/traces", body, "application/x-protobuf");
    ASSERT_TRUE(back);
    EXPECT_EQ(back->status, 200);
  }
  EXPECT_EQ(rx.request_count(), 2u) << "requests are kept across restarts";
  rx.clear();
  EXPECT_EQ(rx.request_count(), 0u);
  EXPECT_EQ(rx.span_count(), 0u);
}

TEST(otlp_receiver, stop_ends_a_delayed_answer_with_503) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  std::atomic<int> arrived{0};
  rx.set_responder([&arrived](const request_info&) {
    ++arrived;
    return reply::of(200).with_delay(60s);
  });
  const std::string body = sample_body();
  httplib::Client cli("127.0.0.1", rx.port());
  cli.set_read_timeout(120);
  std::thread client([&] {
    auto r = cli.Post("/v1/traces", body, "application/x-protobuf");
    if (r) {
      EXPECT_EQ(r->status, 503);
    }
  });
  // The responder runs once the request is in; the answer then waits until stop().
  for (int i = 0; i < 1000 && arrived.load() == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(arrived.load(), 1);
  rx.stop();
  client.join();
  ASSERT_EQ(rx.request_count(), 1u);
  EXPECT_EQ(rx.count_status(503), 1u);
  EXPECT_EQ(rx.span_count(), 0u);
}

TEST(otlp_receiver, wait_for_spans_gives_up_at_its_timeout) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  EXPECT_FALSE(rx.wait_for_spans(1, 10ms));
}

}  // namespace
}  // namespace logfire::test
