// The distributed_tracing modes, through attach_context and the memory exporter.
#include <gtest/gtest.h>

#include <cstdlib>

#include "logfire/config.hpp"
#include "logfire/handoff.hpp"
#include "logfire/memory_exporter.hpp"

namespace {

constexpr const char* k_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* k_parent = "00f067aa0ba902b7";

logfire::header_list incoming(bool sampled) {
  return {{"traceparent", std::string("00-") + k_trace + "-" + k_parent + (sampled ? "-01" : "-00")},
          {"tracestate", "vendor=abc"}};
}

struct handoff : ::testing::Test {
  std::shared_ptr<logfire::memory_exporter> mem = std::make_shared<logfire::memory_exporter>();
  logfire::setup start(std::optional<logfire::distributed_tracing> mode) {
    return logfire::configure(
        {.console = {.enabled = false}, .distributed_tracing = mode, .exporters = {mem}, .read_environment = false});
  }
  void serve_one(bool sampled) {
    logfire::attach_context in(incoming(sampled), {.third_party = true});
    logfire::span s("GET /orders", {}, {.kind = logfire::span_kind::server});
    logfire::info("looking up orders");
  }
};

TEST_F(handoff, on_obeys_remote_not_sampled_and_counts_it) {
  auto lf = start(logfire::distributed_tracing::on);
  for (int i = 0; i < 10; ++i) serve_one(false);
  ASSERT_TRUE(logfire::force_flush());
  EXPECT_EQ(mem->size(), 0u);
  auto st = logfire::stats();
  EXPECT_EQ(st.dropped_by(logfire::drop_reason::remote_parent_not_sampled), 10u);
  EXPECT_EQ(st.dropped_by(logfire::drop_reason::parent_not_recorded), 10u);
  EXPECT_EQ(st.produced, st.exported + st.dropped_total());
}

TEST_F(handoff, on_continues_a_sampled_trace_with_tracestate) {
  auto lf = start(logfire::distributed_tracing::on);
  serve_one(true);
  ASSERT_TRUE(logfire::force_flush());
  auto recs = mem->records();
  ASSERT_EQ(recs.size(), 2u);
  const auto& server = recs[1];
  EXPECT_EQ(server.context.trace.to_hex(), k_trace);
  EXPECT_EQ(server.parent.to_hex(), k_parent);
  EXPECT_TRUE(server.parent_is_remote);
  EXPECT_EQ(server.otlp_flags & 0x300u, 0x300u);
  EXPECT_EQ(server.trace_state, "vendor=abc");
  EXPECT_EQ(recs[0].parent, server.context.span);
}

TEST_F(handoff, off_ignores_incoming_context) {
  auto lf = start(logfire::distributed_tracing::off);
  serve_one(false);
  ASSERT_TRUE(logfire::force_flush());
  auto recs = mem->records();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_NE(recs[1].context.trace.to_hex(), k_trace);
  EXPECT_FALSE(recs[1].parent.valid());
}

TEST_F(handoff, link_starts_a_new_trace_linked_to_the_incoming_one) {
  auto lf = start(logfire::distributed_tracing::link);
  serve_one(false);
  ASSERT_TRUE(logfire::force_flush());
  auto recs = mem->records();
  ASSERT_EQ(recs.size(), 2u);
  const auto& server = recs[1];
  EXPECT_NE(server.context.trace.to_hex(), k_trace);
  ASSERT_EQ(server.links.size(), 1u);
  EXPECT_EQ(server.links[0].context.trace.to_hex(), k_trace);
  EXPECT_EQ(server.links[0].context.span.to_hex(), k_parent);
}

TEST_F(handoff, get_context_injects_the_current_span) {
  auto lf = start(std::nullopt);
  logfire::span s("outgoing");
  auto headers = logfire::get_context();
  ASSERT_FALSE(headers.empty());
  EXPECT_EQ(headers[0].first, "traceparent");
  EXPECT_EQ(headers[0].second, "00-" + s.context().trace.to_hex() + "-" + s.context().span.to_hex() + "-03");
}

TEST_F(handoff, own_services_handoff_always_continues) {
  auto lf = start(logfire::distributed_tracing::off);
  {
    logfire::attach_context in(incoming(true));  // not third party: the setting does not apply
    logfire::info("continued");
  }
  ASSERT_TRUE(logfire::force_flush());
  auto recs = mem->records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].context.trace.to_hex(), k_trace);
}

}  // namespace
