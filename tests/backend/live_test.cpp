// Live updates (GET /api/live): a server-sent events stream over real HTTP on loopback tells a
// subscriber about every committed export, after the commit; the number of streams is bounded,
// and a client that stops reading is dropped instead of slowing ingest.
#include "backend/live.hpp"

#include <gtest/gtest.h>

#include "backend/backend_support.hpp"

namespace logfire::backend_test {
namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

constexpr const char* kTrace = "0badc0de0badc0de0badc0de0badc0de";

std::string one_span_request() {
  span_spec s;
  s.trace_id = kTrace;
  s.span_id = "bbbbbbbbbbbbbbb1";
  s.name = "arrives later";
  return trace_request({s}, "live-svc").SerializeAsString();
}

TEST(live_updates, a_subscriber_hears_of_a_committed_export_and_can_read_it) {
  temp_dir dir;
  serve_process serve(dir.file("live.db"));
  ASSERT_TRUE(serve.started()) << serve.output();
  raw_connection sse(serve.port());
  ASSERT_TRUE(sse.connected());
  ASSERT_TRUE(sse.send("GET /api/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  std::string hello = sse.read_until("event: hello");
  ASSERT_TRUE(contains(hello, "200")) << hello;
  EXPECT_TRUE(contains(hello, "text/event-stream")) << hello;
  EXPECT_FALSE(contains(get(serve.port(), "/api/traces").body, kTrace));

  ASSERT_EQ(post(serve.port(), "/v1/traces", one_span_request()).status, 200);
  std::string events = sse.read_until("\"records\":1}");
  EXPECT_TRUE(contains(events, "event: records\ndata: {\"signal\":\"traces\",\"records\":1}\n\n")) << events;
  // The event leaves after the commit: what it announces is there to read.
  EXPECT_TRUE(contains(get(serve.port(), "/api/traces").body, kTrace));
  auto stats = get(serve.port(), "/api/stats").body;
  EXPECT_TRUE(contains(stats, R"("live":{"subscribers":1,"events_sent":1,"slow_dropped":0,"refused":0})")) << stats;
}

TEST(live_updates, streams_beyond_the_limit_are_refused_with_the_option_named) {
  temp_dir dir;
  serve_process serve(dir.file("live.db"), {"--max-live-clients", "1"});
  ASSERT_TRUE(serve.started()) << serve.output();
  raw_connection first(serve.port());
  ASSERT_TRUE(first.send("GET /api/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  ASSERT_TRUE(contains(first.read_until("event: hello"), "event: hello"));
  auto second = get(serve.port(), "/api/live");
  EXPECT_EQ(second.status, 503);
  EXPECT_TRUE(contains(second.body, "--max-live-clients")) << second.body;
  EXPECT_TRUE(contains(get(serve.port(), "/api/stats").body, R"("refused":1)"));
  // Ingest goes on, and the first stream still hears of it.
  ASSERT_EQ(post(serve.port(), "/v1/traces", one_span_request()).status, 200);
  EXPECT_TRUE(contains(first.read_until("\"records\":1}"), "event: records"));
}

TEST(live_updates, a_client_that_does_not_read_is_dropped_and_publishing_goes_on) {
  // A stream no connection takes from (as when the client stopped reading and the socket's
  // buffers are full): its queue fills, then the feed ends it and counts it.
  backend::live_feed feed(4, 1024);
  auto stalled = feed.subscribe();
  ASSERT_NE(stalled, nullptr);
  for (int i = 0; i < 100; ++i) feed.publish("traces", 1);
  EXPECT_TRUE(stalled->closed());
  EXPECT_EQ(feed.slow_dropped.load(), 1u);
  EXPECT_EQ(feed.subscribers(), 0u);
  EXPECT_GT(feed.events_sent.load(), 0u);
  // Its place is free again.
  auto next = feed.subscribe();
  ASSERT_NE(next, nullptr);
  feed.publish("logs", 3);
  EXPECT_EQ(feed.subscribers(), 1u);
}

}  // namespace
}  // namespace logfire::backend_test
