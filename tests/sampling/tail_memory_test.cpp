// Tail sampling's memory under load: about 10,000 traces a second of four spans each, every
// trace held open for a while so that the buffer sits at its byte cap, for a few seconds
// (LOGFIRE_TAIL_MEMORY_SECONDS, default 3). Reports the peak bytes held against the cap and
// asserts the cap, the bound's counter and the ledger; no wall-clock assertion.
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <thread>

#include "sampling/tail.hpp"
#include "sampling/tail_support.hpp"

using namespace tail_test;

TEST(tail_sampling_memory, ten_thousand_traces_a_second_stay_within_the_byte_cap) {
  const char* env = std::getenv("LOGFIRE_TAIL_MEMORY_SECONDS");
  const int seconds = env ? std::max(1, std::atoi(env)) : 3;
  constexpr std::size_t cap = 4u << 20;
  lt::otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  auto o = to_receiver(rx, logfire::level_or_duration(1.0, logfire::level::error, std::chrono::hours(1), 0.01));
  o.sampling.max_bytes = cap;
  o.limits.ring_bytes = 8u << 20;
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);

  // Each root stays open while the next 3000 traces start (about 0.3 s at the target rate).
  std::deque<logfire::span> open;
  const auto start = std::chrono::steady_clock::now();
  const auto stop = start + std::chrono::seconds(seconds);
  std::size_t traces = 0;
  std::size_t peak_seen = 0;
  while (std::chrono::steady_clock::now() < stop) {
    // 10 traces per millisecond, paced against the clock (catching up when behind).
    const auto due = start + std::chrono::microseconds(100 * (traces + 10));
    for (int i = 0; i < 10; ++i, ++traces) {
      open.emplace_back("request {n}", std::initializer_list<logfire::arg>{{"n", static_cast<std::int64_t>(traces)}},
                        logfire::span_options{.current = false});
      const auto parent = open.back().context();
      for (int c = 0; c < 3; ++c) {
        logfire::span child("step {c}", {{"c", c}}, {.parent = parent, .current = false});
      }
      if (open.size() > 3000) open.pop_front();
    }
    peak_seen = std::max(peak_seen, logfire::detail::tail_memory_figures().held_bytes);
    std::this_thread::sleep_until(due);
  }
  open.clear();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(logfire::shutdown(std::chrono::seconds(20)));
  const auto mem = logfire::detail::tail_memory_figures();
  const auto s = logfire::stats();
  std::printf(
      "tail memory: %zu traces in %.2f s (%.0f traces/s, 4 spans each); peak held %zu bytes (%.1f%% of the "
      "%zu-byte cap; %zu sampled while running); %s\n",
      traces, elapsed, static_cast<double>(traces) / elapsed, mem.peak_bytes,
      100.0 * static_cast<double>(mem.peak_bytes) / static_cast<double>(cap), cap, peak_seen, s.summary().c_str());
  EXPECT_LE(mem.peak_bytes, cap);
  EXPECT_GT(mem.peak_bytes, cap / 2);  // the load did reach the cap
  EXPECT_GT(dropped(s, logfire::drop_reason::tail_bound), 0u) << s.summary();
  EXPECT_EQ(s.produced, 4 * traces);
  expect_identity(s);
}
