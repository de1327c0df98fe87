// The wall clock of spans, logs and events: CLOCK_REALTIME in nanoseconds since the Unix epoch,
// read on the caller's thread from the CPU's time-stamp counter and one anchor that all threads
// share, as the kernel's vDSO does, without the vDSO's per-read work (kvm-clock's pvclock page,
// a serialising rdtscp): about 11 ns a read instead of 25 on the 2-core KVM machine of the
// README's tables (docs/architecture.md, "The wall clock").
//
//   const std::uint64_t t = logfire::detail::wall_now_ns();
//
// The anchor is (tick, ns, ns per tick). A read whose counter is more than 100 ms past the
// anchor takes the slow path: clock_gettime(), whose result it returns, and (one thread at a
// time) a new anchor from that pair. So every read is within one 100 ms extrapolation of the
// system clock, the estimate of the counter's rate follows the system clock (NTP slewing
// included), and a step of the system clock (settimeofday, NTP step) shows within 100 ms.
// After fork() the child keeps the anchor (or starts again if a thread was writing it).
// Without an invariant counter (not x86-64, or the CPU does not say so), or with
// LOGFIRE_CLOCK=system, every read is clock_gettime().
#pragma once

#include <cstdint>

#include "context/ids.hpp"

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace logfire::detail {

// The shared anchor. Plain words accessed with the atomic builtins (a seqlock: `seq` is odd
// while one thread writes a new anchor), so that this header needs no <atomic>.
struct wall_anchor {
  std::uint64_t seq = 0;
  std::uint64_t base_tick = 0;
  std::uint64_t base_ns = 0;
  std::uint64_t mult = 0;       // ns per tick in 32.32 fixed point; 0: not calibrated (slow path)
  std::uint64_t max_ticks = 0;  // reads further than this past base_tick take the slow path
};
extern wall_anchor g_wall_anchor;

// clock_gettime(), and a new anchor from it when this thread can take the writer's side.
std::uint64_t wall_now_ns_slow() noexcept;

// The anchor's extrapolation to `tick`, or 0 when this anchor cannot give it (not calibrated,
// too far from the tick, or being rewritten): the caller then takes the slow path.
[[nodiscard]] inline std::uint64_t wall_from_anchor(const wall_anchor& a, std::uint64_t tick) noexcept {
  // The seqlock without fences (ThreadSanitizer does not model them): the writer stores with
  // release, the reader loads with acquire (plain moves on x86), so a reader that sees any of
  // a writer's new words then sees `seq` odd or moved on.
  const std::uint64_t seq = __atomic_load_n(&a.seq, __ATOMIC_ACQUIRE);
  const std::uint64_t mult = __atomic_load_n(&a.mult, __ATOMIC_ACQUIRE);
  const std::uint64_t base_tick = __atomic_load_n(&a.base_tick, __ATOMIC_ACQUIRE);
  const std::uint64_t base_ns = __atomic_load_n(&a.base_ns, __ATOMIC_ACQUIRE);
  const std::uint64_t max_ticks = __atomic_load_n(&a.max_ticks, __ATOMIC_ACQUIRE);
  // A tick before the anchor (another core's counter a little behind) wraps to a huge distance.
  const std::uint64_t d = tick - base_tick;
  if (mult == 0 || (seq & 1u) != 0 || d > max_ticks || __atomic_load_n(&a.seq, __ATOMIC_RELAXED) != seq) return 0;
  return base_ns + static_cast<std::uint64_t>((static_cast<__uint128_t>(d) * mult) >> 32);
}

[[nodiscard]] inline std::uint64_t wall_now_ns() noexcept {
#if defined(__x86_64__)
  if (const std::uint64_t ns = wall_from_anchor(g_wall_anchor, __rdtsc())) [[likely]]
    return ns;
  return wall_now_ns_slow();
#else
  return now_unix_nano();
#endif
}

// ---- the anchor's upkeep (wall_clock.cpp), exposed for tests with made-up counters ----

// What the writer keeps between anchors: the pair the rate is measured from, and the one that
// replaces it when the baseline reaches max_baseline_ns (taken at half of it).
struct wall_calibration {
  bool have_origin = false;
  std::uint64_t origin_tick = 0;
  std::uint64_t origin_ns = 0;
  bool have_next = false;
  std::uint64_t next_tick = 0;
  std::uint64_t next_ns = 0;
};

// Tunables of the upkeep. Defaults: the running process's.
struct wall_clock_limits {
  std::uint64_t anchor_period_ns = 100'000'000;    // at most this far from an anchor (100 ms)
  std::uint64_t min_baseline_ns = 10'000'000;      // a rate is measured over at least 10 ms
  std::uint64_t max_baseline_ns = 10'000'000'000;  // and over the last 5 to 10 s (it follows slewing)
  std::uint64_t max_error_ns = 200'000;            // a prediction further off than this: the clock stepped
};

// Writer side, with the anchor's write side held (or in a test): takes a (tick, ns) pair read
// together and moves the anchor to it, measuring the rate once the baseline is long enough. A
// pair the current anchor predicts more than max_error_ns wrong (the system clock stepped, or
// the counter misbehaved) starts the calibration again from that pair, with reads on the slow
// path meanwhile. A rate outside 0.01..100 ns per tick leaves the anchor uncalibrated.
void wall_anchor_update(wall_anchor& a, wall_calibration& c, std::uint64_t tick, std::uint64_t ns,
                        const wall_clock_limits& limits = {}) noexcept;

}  // namespace logfire::detail
