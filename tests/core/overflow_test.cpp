// Overflow: a tiny ring, a burst from several threads and a slow exporter. Records that do not
// fit are dropped (never blocking the callers), counted exactly under ring_full, and
// explained by one line on stderr — not one line per record.
#include <thread>
#include <vector>

#include "core/core_support.hpp"

using namespace core_test;
using logfire::drop_reason;

TEST(overflow, burst_into_a_tiny_ring_is_counted_exactly) {
  constexpr int k_threads = 4;
  constexpr int k_logs_per_thread = 3000;
  auto slow = std::make_shared<counting_exporter>(std::chrono::milliseconds(2));
  logfire::options o = quiet_options({slow});
  o.limits.ring_bytes = 4096;
  o.limits.max_ring_bytes = 4096;         // no growth: the ring fills
  o.batching.max_export_batch_size = 16;  // many batches, each one slow

  stderr_capture capture;
  {
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard guard(lf);  // the summary and the loss line are out when the scope ends
    std::vector<std::thread> threads;
    for (int t = 0; t < k_threads; ++t) {
      threads.emplace_back([t] {
        for (int i = 0; i < k_logs_per_thread; ++i) {
          logfire::info("burst {t} {i} {payload}", {{"t", t}, {"i", i}, {"payload", "0123456789abcdef"}});
          if (i % 15 == 0) {
            logfire::span s("span {i}", {{"i", i}});
            s.set_attribute("late", i);
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    // Records were lost, so the flush may report that not everything was delivered.
    (void)logfire::force_flush(std::chrono::seconds(30));

    const auto st = logfire::stats();
    const std::uint64_t spans = k_threads * (k_logs_per_thread / 15);
    EXPECT_EQ(st.produced, static_cast<std::uint64_t>(k_threads * k_logs_per_thread) + spans);
    EXPECT_GT(st.dropped_by(drop_reason::ring_full), 0u) << st.summary();
    EXPECT_GT(st.exported, 0u) << st.summary();
    EXPECT_EQ(st.produced, st.exported + st.dropped_by(drop_reason::ring_full)) << st.summary();
    expect_accounted(st);
    // What the exporter received is what stats() calls exported.
    EXPECT_EQ(slow->received.load(), st.exported);
    // Spans that made it in got their end even when the ring was full at that moment.
    EXPECT_EQ(st.dropped_by(drop_reason::open_at_shutdown), 0u);
  }
  const std::string err = capture.take();
  // One explanatory line for the reason, naming the setting to change.
  EXPECT_EQ(occurrences(err, "(ring_full)"), 1u) << err;
  EXPECT_NE(err.find("ring_bytes"), std::string::npos) << err;
  // And far fewer lines than dropped records.
  EXPECT_LT(occurrences(err, "\n"), 10u) << err;
}

TEST(overflow, after_a_burst_the_pipeline_recovers) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  logfire::options o = quiet_options({mem});
  o.limits.ring_bytes = 4096;
  o.limits.max_ring_bytes = 4096;  // no growth: the ring fills
  stderr_capture capture;
  {
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard guard(lf);  // the summary and the loss line are out when the scope ends
    for (int i = 0; i < 2000; ++i) logfire::info("flood {i}", {{"i", i}});
    (void)logfire::force_flush();
    const auto before = logfire::stats();
    EXPECT_GT(before.dropped_by(drop_reason::ring_full), 0u);
    mem->clear();
    // Paced writes fit: nothing more is lost.
    for (int i = 0; i < 20; ++i) {
      logfire::info("calm {i}", {{"i", i}});
      ASSERT_TRUE(logfire::force_flush());
    }
    EXPECT_EQ(mem->size(), 20u);
    const auto after = logfire::stats();
    EXPECT_EQ(after.dropped_by(drop_reason::ring_full), before.dropped_by(drop_reason::ring_full));
    expect_accounted(after);
  }
}

TEST(overflow, a_record_larger_than_the_ring_is_dropped_and_counted) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  logfire::options o = quiet_options({mem});
  o.limits.ring_bytes = 4096;
  o.limits.max_ring_bytes = 4096;  // no growth: the ring fills
  stderr_capture capture;
  {
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard guard(lf);  // the summary and the loss line are out when the scope ends
    const std::string big(8192, 'x');
    logfire::info("big {v}", {{"v", big}});
    logfire::info("small");
    (void)logfire::force_flush();
    const auto st = logfire::stats();
    EXPECT_EQ(st.dropped_by(drop_reason::ring_full), 1u);
    EXPECT_EQ(mem->size(), 1u);
    expect_accounted(st);
  }
}
