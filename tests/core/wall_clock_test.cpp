// The wall clock of spans and logs (context/wall_clock.hpp): the anchor's upkeep with made-up
// counters (rate, steps, slewing, limits), and the real clock against clock_gettime() on
// several threads and in a fork() child.
#include "context/wall_clock.hpp"

#include <gtest/gtest.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using logfire::detail::wall_anchor;
using logfire::detail::wall_anchor_update;
using logfire::detail::wall_calibration;
using logfire::detail::wall_clock_limits;
using logfire::detail::wall_from_anchor;

constexpr std::uint64_t k_epoch = 1'780'000'000'000'000'000ull;  // 2026, in ns
constexpr std::uint64_t k_ms = 1'000'000;

// A made-up machine: a counter at `ticks_per_ns` and a system clock that reads `offset` ahead of
// true time and runs `ppm` fast.
struct machine {
  double ticks_per_ns = 2.5;
  std::uint64_t tick0 = 123'456'789;
  std::int64_t offset = 0;
  double ppm = 0;
  [[nodiscard]] std::uint64_t tick(std::uint64_t t) const {
    return tick0 + static_cast<std::uint64_t>(static_cast<double>(t) * ticks_per_ns);
  }
  [[nodiscard]] std::uint64_t system(std::uint64_t t) const {
    return k_epoch + static_cast<std::uint64_t>(static_cast<std::int64_t>(t) + offset +
                                                static_cast<std::int64_t>(static_cast<double>(t) * ppm * 1e-6));
  }
};

struct clock_under_test {
  wall_anchor a;
  wall_calibration c;
  machine m;
  wall_clock_limits limits;
  // The slow path at true time t: the system clock's reading, and a new anchor from it.
  std::uint64_t slow(std::uint64_t t) {
    wall_anchor_update(a, c, m.tick(t), m.system(t), limits);
    return m.system(t);
  }
  // A read at true time t: the anchor's answer, or the slow path.
  std::uint64_t read(std::uint64_t t) {
    const std::uint64_t ns = wall_from_anchor(a, m.tick(t));
    return ns != 0 ? ns : slow(t);
  }
  [[nodiscard]] bool extrapolates(std::uint64_t t) const { return wall_from_anchor(a, m.tick(t)) != 0; }
  [[nodiscard]] std::int64_t error(std::uint64_t t) const {
    return static_cast<std::int64_t>(wall_from_anchor(a, m.tick(t)) - m.system(t));
  }
};

TEST(WallClockUpkeep, NeedsTheMinimumBaselineThenExtrapolatesAtTheMeasuredRate) {
  clock_under_test k;
  k.slow(0);
  EXPECT_FALSE(k.extrapolates(1 * k_ms)) << "one pair gives no rate";
  k.slow(5 * k_ms);
  EXPECT_FALSE(k.extrapolates(6 * k_ms)) << "5 ms is below the 10 ms baseline";
  k.slow(10 * k_ms);
  ASSERT_TRUE(k.extrapolates(11 * k_ms));
  for (std::uint64_t t : {11 * k_ms, 50 * k_ms, 109 * k_ms}) EXPECT_LE(std::abs(k.error(t)), 2) << t;
  // Further than the anchor period from the anchor: the slow path, which anchors again.
  EXPECT_FALSE(k.extrapolates(111 * k_ms));
  EXPECT_EQ(k.read(111 * k_ms), k.m.system(111 * k_ms));
  EXPECT_TRUE(k.extrapolates(200 * k_ms));
}

TEST(WallClockUpkeep, AStepOfTheSystemClockShowsAtTheNextAnchorAndRestartsTheCalibration) {
  clock_under_test k;
  for (std::uint64_t t = 0; t <= 100 * k_ms; t += 10 * k_ms) k.slow(t);
  ASSERT_TRUE(k.extrapolates(150 * k_ms));
  k.m.offset = -3'600'000'000'000;  // the system clock goes back an hour (settimeofday, NTP step)
  // Until the anchor period runs out the extrapolation continues (at most 100 ms stale)...
  EXPECT_TRUE(k.extrapolates(190 * k_ms));
  // ...then the slow path returns the stepped clock, and reads stay on it while the rate is
  // measured again.
  EXPECT_EQ(k.read(201 * k_ms), k.m.system(201 * k_ms));
  EXPECT_FALSE(k.extrapolates(202 * k_ms));
  EXPECT_EQ(k.read(205 * k_ms), k.m.system(205 * k_ms));
  k.slow(212 * k_ms);
  ASSERT_TRUE(k.extrapolates(213 * k_ms));
  EXPECT_LE(std::abs(k.error(300 * k_ms)), 2);
}

TEST(WallClockUpkeep, FollowsASlewedSystemClock) {
  clock_under_test k;
  k.limits.max_baseline_ns = 1'000 * k_ms;
  for (std::uint64_t t = 0; t < 3'000 * k_ms; t += 50 * k_ms) k.read(t);
  k.slow(3'000 * k_ms);
  ASSERT_TRUE(k.extrapolates(3'050 * k_ms));
  EXPECT_LE(std::abs(k.error(3'050 * k_ms)), 2);
  // NTP slews the system clock 500 ppm fast (its limit) from here on.
  const std::uint64_t from = 3'000 * k_ms;
  const std::uint64_t at_from = k.m.system(from);
  k.m.ppm = 500;
  k.m.offset = static_cast<std::int64_t>(at_from - k_epoch) - static_cast<std::int64_t>(from) -
               static_cast<std::int64_t>(static_cast<double>(from) * 500e-6);
  for (std::uint64_t t = from; t < 6'000 * k_ms; t += 50 * k_ms) k.read(t);
  k.slow(6'000 * k_ms);
  // The rate is measured over the last 0.5 to 1 s, so the extrapolation follows the new rate.
  std::int64_t worst = 0;
  for (std::uint64_t t = 6'001 * k_ms; t < 6'100 * k_ms; t += 7 * k_ms) worst = std::max(worst, std::abs(k.error(t)));
  EXPECT_LE(worst, 1'000) << "ns off the slewed clock";
}

TEST(WallClockUpkeep, ACounterBehindTheAnchorOrAnImplausibleRateTakesTheSlowPath) {
  clock_under_test k;
  for (std::uint64_t t = 0; t <= 20 * k_ms; t += 10 * k_ms) k.slow(t);
  ASSERT_NE(k.a.mult, 0u);
  // Another core's counter a little behind the anchor's.
  EXPECT_EQ(wall_from_anchor(k.a, k.a.base_tick - 5), 0u);
  // A counter that stands still while the clock moves is no clock to extrapolate.
  clock_under_test frozen;
  frozen.m.ticks_per_ns = 0;
  for (std::uint64_t t = 0; t <= 30 * k_ms; t += 10 * k_ms) frozen.slow(t);
  EXPECT_EQ(frozen.a.mult, 0u);
  EXPECT_FALSE(frozen.extrapolates(31 * k_ms));
}

TEST(WallClockUpkeep, AReaderNeverUsesAnAnchorBeingRewritten) {
  clock_under_test k;
  for (std::uint64_t t = 0; t <= 20 * k_ms; t += 10 * k_ms) k.slow(t);
  ASSERT_TRUE(k.extrapolates(25 * k_ms));
  k.a.seq += 1;  // a writer is in the middle of an update
  EXPECT_FALSE(k.extrapolates(25 * k_ms));
  k.a.seq += 1;
  EXPECT_TRUE(k.extrapolates(25 * k_ms));
}

std::uint64_t system_ns() {
  return logfire::detail::now_unix_nano();
}

// Every read lies between the system clock's readings around it, give or take 20 µs (the
// extrapolation's error is a few µs at worst).
bool agrees_for(std::chrono::milliseconds how_long, std::int64_t& worst) {
  const auto until = std::chrono::steady_clock::now() + how_long;
  std::uint64_t n = 0;
  while (std::chrono::steady_clock::now() < until) {
    const std::uint64_t before = system_ns();
    const std::uint64_t w = logfire::detail::wall_now_ns();
    const std::uint64_t after = system_ns();
    const std::int64_t below = static_cast<std::int64_t>(before - w);
    const std::int64_t above = static_cast<std::int64_t>(w - after);
    worst = std::max({worst, below, above});
    if (below > 20'000 || above > 20'000) return false;
    if (++n % 1024 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
  }
  return true;
}

TEST(WallClock, AgreesWithTheSystemClockOnSeveralThreads) {
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  std::vector<std::int64_t> worst(3, 0);
  for (int i = 0; i < 3; ++i)
    threads.emplace_back([&, i] {
      if (!agrees_for(std::chrono::milliseconds(400), worst[i])) failures.fetch_add(1);
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0) << "worst distance (ns): " << worst[0] << " " << worst[1] << " " << worst[2];
}

TEST(WallClock, AgreesWithTheSystemClockInAForkChild) {
  std::int64_t worst = 0;
  ASSERT_TRUE(agrees_for(std::chrono::milliseconds(150), worst)) << worst;
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::int64_t w = 0;
    _exit(agrees_for(std::chrono::milliseconds(250), w) ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

bool invariant_counter() {
#if defined(__x86_64__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(0x80000000u, &a, &b, &c, &d) == 0 || a < 0x80000007u) return false;
  return __get_cpuid(0x80000007u, &a, &b, &c, &d) != 0 && (d & (1u << 8)) != 0;
#else
  return false;
#endif
}

// With an invariant counter, reads come from the anchor once it is calibrated; with
// LOGFIRE_CLOCK=system (ctest runs this binary again with it: core_wall_clock_system_test),
// never.
TEST(WallClock, UsesTheCounterUnlessToldToUseTheSystemClock) {
  const char* env = std::getenv("LOGFIRE_CLOCK");
  const bool system_only = (env != nullptr && std::string_view(env) == "system") || !invariant_counter();
  std::int64_t worst = 0;
  ASSERT_TRUE(agrees_for(std::chrono::milliseconds(60), worst)) << worst;
  const std::uint64_t mult = __atomic_load_n(&logfire::detail::g_wall_anchor.mult, __ATOMIC_RELAXED);
  if (system_only)
    EXPECT_EQ(mult, 0u);
  else
    EXPECT_NE(mult, 0u) << "the anchor was never calibrated: every read took clock_gettime()";
}

}  // namespace
