// Id generation: a fast per-thread generator (wyrand), seeded from the OS and reseeded in a
// child process after fork() so parent and child never produce the same ids.
// Runs on the caller's thread; no locks, no allocation.
#pragma once

#include <cstdint>
#include <ctime>

#include "logfire/context.hpp"

namespace logfire::detail {

// Wall clock in nanoseconds since the Unix epoch (vDSO clock_gettime, ~20 ns).
inline std::uint64_t now_unix_nano() noexcept {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

// 64 random bits from this thread's generator.
std::uint64_t random_u64() noexcept;

// ULID-like: 48-bit milliseconds since the epoch, then 80 random bits.
inline trace_id new_trace_id(std::uint64_t unix_nano) noexcept {
  const std::uint64_t ms = unix_nano / 1'000'000u;
  trace_id id;
  id.hi = (ms << 16) | (random_u64() & 0xFFFFu);
  do {
    id.lo = random_u64();
  } while (id.lo == 0);
  return id;
}

inline span_id new_span_id() noexcept {
  span_id id;
  do {
    id.value = random_u64();
  } while (id.value == 0);
  return id;
}

// Hex helpers shared by the id types and the propagators. `from_hex` accepts lowercase only.
void write_hex_u64(std::uint64_t v, char* out16) noexcept;
bool parse_hex_u64(const char* in16, std::uint64_t& out) noexcept;

}  // namespace logfire::detail
