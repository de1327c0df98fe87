// Base-2 exponential histogram buckets (OpenTelemetry data model, "ExponentialHistogram"): at
// scale s, bucket i holds values in (2^(i/2^s), 2^((i+1)/2^s)]. A histogram starts at the maximum
// scale and lowers it (merging neighbouring buckets, which is exact: "perfect subsetting") when
// its values need more than max_size buckets.
//
// Index mapping (map_to_index):
//   * scale <= 0: from the IEEE exponent alone, exact (subnormals included, exactly).
//   * 0 < scale <= 10: the exponent plus a 1024-entry table of the boundaries 2^(j/1024) as
//     52-bit significands (floor), compared with the value's significand: exact. The table is
//     computed in long double at first use; its 64-bit significand could in principle put a
//     boundary's last bit off by one, so the tests decide both neighbouring doubles of every
//     boundary in binary128 arithmetic (a C library whose exp2l did that fails them).
//   * 10 < scale <= 20: the logarithm of the significand, exact for powers of two and for the
//     first and last bucket of each power-of-two range; elsewhere within 1 of the exact index,
//     as the specification allows.
// Runs on the caller's thread under a shard lock, and on the collector thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace logfire::detail::expo {

inline constexpr int k_min_scale = -10;  // every double fits in 3 buckets at this scale
inline constexpr int k_max_scale = 20;
inline constexpr int k_table_scale = 10;
inline constexpr std::uint32_t k_default_max_size = 160;

// The bucket index of a positive, finite, non-zero value at `scale` (k_min_scale..k_max_scale).
std::int32_t map_to_index(double value, int scale) noexcept;

// The lower boundary of bucket `index` at `scale`, in long double (tests and diagnostics).
long double lower_boundary(std::int64_t index, int scale) noexcept;

// The positive range of a histogram: counts[k] is the count of bucket offset + k, for k < len.
// `counts` has room for `cap` buckets (the histogram's max_size); it is owned elsewhere.
struct buckets {
  int scale = k_max_scale;
  std::int32_t offset = 0;
  std::uint32_t len = 0;
  std::uint32_t cap = 0;
  std::uint64_t* counts = nullptr;

  // Adds `n` to the bucket holding `value` (> 0, finite), lowering the scale first if the
  // range would exceed cap.
  void add_value(double value, std::uint64_t n = 1) noexcept;
  // Adds `n` to bucket `index` given at `at_scale` (>= scale after any needed downscale).
  void add_index(std::int32_t index, int at_scale, std::uint64_t n) noexcept;
  // Lowers the scale by `by` (> 0), merging buckets.
  void downscale(int by) noexcept;
  // Adds every bucket of `other` (any scale), lowering the scale as needed.
  void merge(const buckets& other) noexcept;
  // Empties the range and returns to `start_scale`.
  void reset(int start_scale) noexcept;

 private:
  // How much to lower the scale so that indices lo..hi (at the current scale) fit in cap.
  [[nodiscard]] int needed_downscale(std::int64_t lo, std::int64_t hi) const noexcept;
  void place(std::int32_t index, std::uint64_t n) noexcept;  // index fits after the call
};

}  // namespace logfire::detail::expo
