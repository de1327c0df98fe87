// How often the background thread wakes while records flow steadily: pipeline::run() paces
// its sleeps by the rate the rings fill (a wake-up when the fastest ring would be a quarter
// full), not a fixed 50 µs sleep, which cost thousands of wake-ups a second at any rate.
#include <chrono>
#include <thread>

#include "core_support.hpp"
#include "support/thread_wakeups.hpp"

namespace {

class background_wakeups : public core_test::memory_sdk {};

TEST_F(background_wakeups, a_steady_flow_wakes_the_background_thread_about_once_per_quarter_ring) {
  // Configured, with a first record so that the background thread has started.
  logfire::info("start");
  ASSERT_TRUE(logfire::force_flush());
  const auto before = logfire::test::thread_wakeups("logfire-drain");
  ASSERT_TRUE(before.has_value()) << "no thread named logfire-drain";
  // 100 logs every 5 ms, 0.6 s: 20,000 records/s, about 4 MB/s into a 1 MiB ring, so a
  // quarter of it every 60 ms.
  constexpr int k_chunks = 120;
  for (int c = 0; c < k_chunks; ++c) {
    for (int i = 0; i < 100; ++i) logfire::info("item {n} of chunk {c}", {{"n", i}, {"c", c}, {"pad", "0123456789"}});
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto after = logfire::test::thread_wakeups("logfire-drain");
  ASSERT_TRUE(after.has_value());
  // About 10 here. Fixed 50 µs sleeps while records flowed: 1,500 and more. A producer that
  // judged its ring half full by a stale view of the consumer's tail woke it for nearly every
  // chunk: about 100.
  EXPECT_LT(*after - *before, 60u);
  // Nothing was lost to the longer sleeps.
  const auto records = flushed();
  EXPECT_EQ(records.size(), 1u + k_chunks * 100u);
  const auto st = logfire::stats();
  EXPECT_EQ(st.dropped_total(), 0u) << st.summary();
}

}  // namespace
