// A thread's ring grows in a burst (options.limits.max_ring_bytes, ring_growth_budget): a batch
// job's loop right after configure() loses nothing with the default settings; a ring grows no
// further than its bound or the process's budget, beyond which records are dropped and counted
// as ring_full with a line that names the growth settings; every added segment is counted.
#include <cstdlib>
#include <optional>
#include <thread>

#include "accounting/accounting_support.hpp"
#include "pipeline/ring.hpp"

using namespace accounting_test;
using logfire::event_counter;

namespace {

// Configures with `exp`, a 4 KiB ring that may grow to `segments` of it, and holds the
// background thread in the exporter.
logfire::shutdown_guard configure_stalled(const std::shared_ptr<stalling_exporter>& exp, std::size_t segments,
                                          std::size_t budget = 64u << 20,
                                          std::optional<std::size_t> max_open_spans = {}) {
  logfire::options o = quiet_options({exp});
  o.limits.ring_bytes = 4096;
  o.limits.max_ring_bytes = 4096 * segments;
  o.limits.ring_growth_budget = budget;
  o.limits.max_open_spans = max_open_spans;
  auto lf = logfire::configure(std::move(o));
  EXPECT_TRUE(lf) << lf.error();
  logfire::info("first");
  EXPECT_FALSE(logfire::force_flush(100ms));  // the background thread is held in the exporter
  EXPECT_TRUE(exp->stalled.load());
  return logfire::shutdown_guard(lf);
}

}  // namespace

TEST(ring_growth, a_burst_of_100000_spans_right_after_configure_loses_nothing) {
  auto exp = std::make_shared<counting_exporter>();
  logfire::options o = quiet_options({exp});  // the default ring (1 MiB, growing to 32 MiB)
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  burst(100'000);
  ASSERT_TRUE(logfire::force_flush(60s));
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, 100'000u);
  EXPECT_EQ(st.dropped_total(), 0u) << st.summary();
  EXPECT_EQ(st.exported, 100'000u) << st.summary();
  expect_balanced(st);
}

TEST(ring_growth, a_ring_grows_to_its_bound_then_drops_and_counts_with_a_line_naming_it) {
  auto exp = std::make_shared<stalling_exporter>();
  stderr_capture capture;
  {
    auto guard = configure_stalled(exp, 4);
    burst(3000);  // far more than 4 x 4 KiB
    const auto held = logfire::stats();
    EXPECT_EQ(held.count_of(event_counter::ring_grown), 3u) << held.summary();
    EXPECT_GT(dropped_named(held, "ring_full"), 0u) << held.summary();
    exp->release = true;
    (void)logfire::force_flush(30s);  // false: records were dropped
    const auto st = logfire::stats();
    EXPECT_EQ(st.produced, 3001u);
    // What the four segments held was delivered: more span starts (176 bytes at least) than one
    // 4 KiB ring holds.
    EXPECT_GT(st.exported, 2u * (4096 / 176)) << st.summary();
    expect_balanced(st);
  }
  const std::string err = capture.take();
  EXPECT_EQ(occurrences(err, "(ring_full)"), 1u) << err;
  EXPECT_NE(err.find("LOGFIRE_MAX_RING_BYTES (options.limits.max_ring_bytes, now 16 KiB per thread"), std::string::npos)
      << err;
  EXPECT_NE(err.find("LOGFIRE_RING_GROWTH_BUDGET"), std::string::npos) << err;
}

TEST(ring_growth, the_process_budget_bounds_the_rings_of_all_threads_together) {
  auto exp = std::make_shared<stalling_exporter>();
  // Each thread may grow to 16 segments, all of them together by 2.
  auto guard = configure_stalled(exp, 16, logfire::detail::ring_growth_bytes() + 2 * 4096);
  burst(3000);
  burst(3000);
  const auto held = logfire::stats();
  EXPECT_EQ(held.count_of(event_counter::ring_grown), 2u) << held.summary();
  exp->release = true;
  (void)logfire::force_flush(30s);  // false: records were dropped
  expect_balanced(logfire::stats());
}

TEST(ring_growth, settings_come_from_the_environment_and_bad_values_fail_configure) {
  {
    ::setenv("LOGFIRE_MAX_RING_BYTES", "4096", 1);
    auto exp = std::make_shared<stalling_exporter>();
    logfire::options o = quiet_options({exp});
    o.read_environment = true;
    o.limits.ring_bytes = 4096;
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard guard(lf);
    logfire::info("first");
    EXPECT_FALSE(logfire::force_flush(100ms));
    burst(3000);
    EXPECT_EQ(logfire::stats().count_of(event_counter::ring_grown), 0u);  // 4096: no growth
    exp->release = true;
    (void)logfire::force_flush(30s);
    expect_balanced(logfire::stats());
  }
  ::unsetenv("LOGFIRE_MAX_RING_BYTES");
  {
    ::setenv("LOGFIRE_RING_GROWTH_BUDGET", "lots", 1);
    logfire::options o = quiet_options({std::make_shared<logfire::memory_exporter>()});
    o.read_environment = true;
    auto lf = logfire::configure(std::move(o));
    ASSERT_FALSE(lf);
    EXPECT_NE(lf.error().find("LOGFIRE_RING_GROWTH_BUDGET"), std::string::npos) << lf.error();
  }
  ::unsetenv("LOGFIRE_RING_GROWTH_BUDGET");
}

// A pass that reads a long backlog (a grown ring) sees every span's start before the pass
// ends. A span ended on the thread that started it, with every update from that thread, is
// finished as soon as its end is read, so the open-span table holds only spans still open.
TEST(ring_growth, a_backlog_of_spans_ended_on_their_own_thread_does_not_fill_the_open_span_table) {
  auto exp = std::make_shared<stalling_exporter>();
  auto guard = configure_stalled(exp, 1024, 64u << 20, 16);  // 4 MiB of segments, 16 open spans
  ASSERT_TRUE(exp->stalled.load());
  std::thread([] {
    for (int i = 0; i < 2000; ++i) {
      logfire::span s("step {i}", {{"i", i}});
      s.set_attribute("done", true);
    }
  }).join();
  EXPECT_GT(logfire::stats().count_of(event_counter::ring_grown), 10u);
  exp->release = true;
  ASSERT_TRUE(logfire::force_flush(30s));
  const auto st = logfire::stats();
  EXPECT_EQ(st.dropped_total(), 0u) << st.summary();
  EXPECT_EQ(st.exported, 2001u) << st.summary();
  expect_balanced(st);
}
