#include "context/wall_clock.hpp"

#include <pthread.h>

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace logfire::detail {

wall_anchor g_wall_anchor;

namespace {

// Writer-side state, guarded by g_wall_anchor.seq being odd (taken with a compare-exchange).
wall_calibration g_calibration;
// Whether the counter was checked (writer side only), and the answer: when it cannot be used,
// every read is clock_gettime() (read without the writer side: a word for the atomic builtins).
bool g_checked = false;
bool g_system_only = false;
// Set in a fork() child whose parent was writing the anchor: the next writer starts again.
bool g_restart = false;

// A pair is trusted only when clock_gettime() took less than this many ticks (no preemption,
// no interrupt between the two counter reads): 2,000 ticks (under 1 µs at 2.5 GHz) against its
// usual ~100. The pair's tick is the middle of the two, so it is off by at most half of this.
constexpr std::uint64_t k_max_pair_ticks = 2'000;

void on_fork_child() noexcept {
  const std::uint64_t seq = __atomic_load_n(&g_wall_anchor.seq, __ATOMIC_RELAXED);
  if ((seq & 1u) == 0) return;  // no writer at fork(): the anchor and its calibration are whole
  // A thread was writing the anchor; it does not exist in the child. Start a new calibration.
  __atomic_store_n(&g_wall_anchor.mult, 0, __ATOMIC_RELEASE);
  g_restart = true;
  __atomic_store_n(&g_wall_anchor.seq, seq + 1, __ATOMIC_RELEASE);
}

// The time-stamp counter is usable when it ticks at a constant rate in every power state
// (CPUID 8000_0007h EDX bit 8, "invariant TSC"), and the user did not ask for the system clock.
bool counter_usable() noexcept {
  const char* env = std::getenv("LOGFIRE_CLOCK");
  if (env != nullptr && std::strcmp(env, "system") == 0) return false;
#if defined(__x86_64__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(0x80000000u, &a, &b, &c, &d) == 0 || a < 0x80000007u) return false;
  if (__get_cpuid(0x80000007u, &a, &b, &c, &d) == 0) return false;
  return (d & (1u << 8)) != 0;
#else
  return false;
#endif
}

std::int64_t signed_diff(std::uint64_t a, std::uint64_t b) noexcept {
  return static_cast<std::int64_t>(a - b);
}

}  // namespace

void wall_anchor_update(wall_anchor& a, wall_calibration& c, std::uint64_t tick, std::uint64_t ns,
                        const wall_clock_limits& limits) noexcept {
  const auto store = [](std::uint64_t& word, std::uint64_t v) { __atomic_store_n(&word, v, __ATOMIC_RELEASE); };
  const auto restart = [&] {
    c = {true, tick, ns, false, 0, 0};
    store(a.mult, 0);
    store(a.max_ticks, 0);
  };
  if (!c.have_origin) return restart();
  const std::uint64_t mult = a.mult;
  if (mult != 0) {
    const std::uint64_t predicted =
        a.base_ns + static_cast<std::uint64_t>((static_cast<__uint128_t>(tick - a.base_tick) * mult) >> 32);
    const std::int64_t error = signed_diff(ns, predicted);
    if (signed_diff(tick, a.base_tick) < 0 || error > static_cast<std::int64_t>(limits.max_error_ns) ||
        error < -static_cast<std::int64_t>(limits.max_error_ns))
      return restart();
  }
  const std::int64_t baseline_ns = signed_diff(ns, c.origin_ns);
  const std::int64_t baseline_ticks = signed_diff(tick, c.origin_tick);
  if (baseline_ns <= 0 || baseline_ticks <= 0) return restart();  // the clock went back
  std::uint64_t new_mult = mult;
  if (static_cast<std::uint64_t>(baseline_ns) >= limits.min_baseline_ns) {
    new_mult = static_cast<std::uint64_t>((static_cast<__uint128_t>(baseline_ns) << 32) /
                                          static_cast<std::uint64_t>(baseline_ticks));
    // 0.01..100 ns per tick (100 GHz..10 MHz): anything else is not a clock to extrapolate.
    if (new_mult < (1ull << 32) / 100 || new_mult > (100ull << 32)) return restart();
    // The rate follows the system clock over the last max_baseline_ns / 2 to max_baseline_ns.
    if (static_cast<std::uint64_t>(baseline_ns) >= limits.max_baseline_ns / 2 && !c.have_next) {
      c.have_next = true;
      c.next_tick = tick;
      c.next_ns = ns;
    }
    if (static_cast<std::uint64_t>(baseline_ns) >= limits.max_baseline_ns && c.have_next) {
      c.origin_tick = c.next_tick;
      c.origin_ns = c.next_ns;
      c.have_next = false;
    }
  }
  if (new_mult == 0) return;  // still measuring the first baseline
  store(a.base_tick, tick);
  store(a.base_ns, ns);
  store(a.mult, new_mult);
  store(a.max_ticks, static_cast<std::uint64_t>((static_cast<__uint128_t>(limits.anchor_period_ns) << 32) / new_mult));
}

std::uint64_t wall_now_ns_slow() noexcept {
#if defined(__x86_64__)
  if (__atomic_load_n(&g_system_only, __ATOMIC_RELAXED)) return now_unix_nano();
  const std::uint64_t t0 = __rdtsc();
  const std::uint64_t ns = now_unix_nano();
  const std::uint64_t t1 = __rdtsc();
  wall_anchor& a = g_wall_anchor;
  std::uint64_t seq = __atomic_load_n(&a.seq, __ATOMIC_RELAXED);
  // One writer at a time; the others return the system clock's reading.
  if ((seq & 1u) != 0 || !__atomic_compare_exchange_n(&a.seq, &seq, seq + 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
    return ns;
  if (g_restart) {
    g_restart = false;
    g_calibration = wall_calibration{};
  }
  if (!g_checked) {
    g_checked = true;
    const bool system_only = !counter_usable();
    __atomic_store_n(&g_system_only, system_only, __ATOMIC_RELAXED);
    if (!system_only) pthread_atfork(nullptr, nullptr, on_fork_child);
  }
  // g_system_only is written only on this side: a plain read here.
  if (!g_system_only && t1 - t0 <= k_max_pair_ticks) wall_anchor_update(a, g_calibration, t0 + (t1 - t0) / 2, ns);
  __atomic_store_n(&a.seq, seq + 2, __ATOMIC_RELEASE);
  return ns;
#else
  return now_unix_nano();
#endif
}

}  // namespace logfire::detail
