#include "metrics/exponential.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <numbers>

namespace logfire::detail::expo {
namespace {

constexpr std::uint64_t k_mant_mask = (std::uint64_t{1} << 52) - 1;
constexpr int k_table_size = 1 << k_table_scale;

// Boundaries of the 1024 buckets of one power-of-two range at scale 10, as significands:
// bound[j] = floor((2^(j/1024) - 1) * 2^52) for j >= 1. first[s] is the index within the range
// of the smallest significand of linear segment s (its top 10 bits): bucket widths (>= 6.8e-4 of
// the range) exceed half a segment (9.8e-4), so a segment holds at most two boundaries and the
// lookup ends after at most two comparisons.
struct boundary_table {
  std::uint64_t bound[k_table_size + 1];
  std::uint16_t first[k_table_size];
};

const boundary_table& table() noexcept {
  static const boundary_table t = [] {
    boundary_table b{};
    for (int j = 1; j < k_table_size; ++j) {
      const long double x = ::exp2l(static_cast<long double>(j) / k_table_size) - 1.0L;
      b.bound[j] = static_cast<std::uint64_t>(std::floor(std::ldexp(x, 52)));
    }
    b.bound[k_table_size] = k_mant_mask + 1;  // the top of the range: never below a significand
    int j = 0;
    for (int s = 0; s < k_table_size; ++s) {
      const std::uint64_t start = static_cast<std::uint64_t>(s) << (52 - k_table_scale);
      while (j + 1 < k_table_size && b.bound[j + 1] < start) ++j;
      b.first[s] = static_cast<std::uint16_t>(j);
    }
    return b;
  }();
  return t;
}

// The bucket within its power-of-two range of a significand (not 0) at scale 10.
inline int sub_index_10(std::uint64_t mant) noexcept {
  const boundary_table& t = table();
  // Branch-free: the segment holds at most two boundaries (bound[1024] is above every
  // significand, so j never passes 1023).
  int j = t.first[mant >> (52 - k_table_scale)];
  j += mant > t.bound[j + 1] ? 1 : 0;
  j += mant > t.bound[j + 1] ? 1 : 0;
  return j;
}

}  // namespace

std::int32_t map_to_index(double value, int scale) noexcept {
  const std::uint64_t bits = std::bit_cast<std::uint64_t>(value);
  std::int64_t exp = static_cast<std::int64_t>((bits >> 52) & 0x7FF);
  std::uint64_t mant = bits & k_mant_mask;
  if (exp == 0) {
    // Subnormal (value > 0, so mant != 0): normalize to 1.f * 2^exp, exactly.
    const int top = 63 - std::countl_zero(mant);
    exp = top - 1074;
    mant = (mant << (52 - top)) & k_mant_mask;
  } else {
    exp -= 1023;
  }
  if (scale <= 0) {
    // Powers of two close the bucket below them (buckets are upper-inclusive).
    const std::int64_t i0 = mant == 0 ? exp - 1 : exp;
    return static_cast<std::int32_t>(i0 >> -scale);
  }
  const std::int64_t per_range = std::int64_t{1} << scale;
  if (mant == 0) return static_cast<std::int32_t>(exp * per_range - 1);
  const int j10 = sub_index_10(mant);
  if (scale <= k_table_scale) return static_cast<std::int32_t>(exp * per_range + (j10 >> (k_table_scale - scale)));
  // Finer than the table: the logarithm, kept inside the scale-10 bucket found exactly above so
  // that every coarser index derived from this one is exact.
  const double f = std::log1p(std::ldexp(static_cast<double>(mant), -52)) * std::ldexp(std::numbers::log2e, scale);
  const std::int64_t width = std::int64_t{1} << (scale - k_table_scale);
  const std::int64_t lo = std::int64_t{j10} * width;
  const std::int64_t sub = std::clamp(static_cast<std::int64_t>(f), lo, lo + width - 1);
  return static_cast<std::int32_t>(exp * per_range + sub);
}

long double lower_boundary(std::int64_t index, int scale) noexcept {
  if (scale <= 0) return ::ldexpl(1.0L, static_cast<int>(index * (std::int64_t{1} << -scale)));
  const std::int64_t per_range = std::int64_t{1} << scale;
  const std::int64_t q = index >= 0 ? index / per_range : -((-index + per_range - 1) / per_range);
  const std::int64_t r = index - q * per_range;
  return ::ldexpl(::exp2l(static_cast<long double>(r) / static_cast<long double>(per_range)), static_cast<int>(q));
}

int buckets::needed_downscale(std::int64_t lo, std::int64_t hi) const noexcept {
  int d = 0;
  while (scale - d > k_min_scale && (hi >> d) - (lo >> d) + 1 > static_cast<std::int64_t>(cap)) ++d;
  return d;
}

void buckets::place(std::int32_t index, std::uint64_t n) noexcept {
  if (len == 0) {
    offset = index;
    counts[0] = n;
    len = 1;
    return;
  }
  if (index < offset) {
    const auto shift = static_cast<std::uint32_t>(offset - index);
    std::memmove(counts + shift, counts, len * sizeof(std::uint64_t));
    std::memset(counts, 0, shift * sizeof(std::uint64_t));
    offset = index;
    len += shift;
  } else if (static_cast<std::int64_t>(index) >= static_cast<std::int64_t>(offset) + len) {
    const auto new_len = static_cast<std::uint32_t>(index - offset + 1);
    std::memset(counts + len, 0, (new_len - len) * sizeof(std::uint64_t));
    len = new_len;
  }
  counts[index - offset] += n;
}

void buckets::add_index(std::int32_t index, int at_scale, std::uint64_t n) noexcept {
  std::int64_t idx = index;
  if (at_scale > scale) idx >>= (at_scale - scale);
  if (len != 0) {
    const std::int64_t lo = std::min<std::int64_t>(offset, idx);
    const std::int64_t hi = std::max<std::int64_t>(static_cast<std::int64_t>(offset) + len - 1, idx);
    if (const int d = needed_downscale(lo, hi); d > 0) {
      downscale(d);
      idx >>= d;
    }
  }
  place(static_cast<std::int32_t>(idx), n);
}

void buckets::add_value(double value, std::uint64_t n) noexcept {
  add_index(map_to_index(value, scale), scale, n);
}

void buckets::downscale(int by) noexcept {
  if (by <= 0) return;
  if (len == 0) {
    scale -= by;
    return;
  }
  // In place, ascending: every bucket moves to a position at or below its own.
  const std::int64_t new_offset = static_cast<std::int64_t>(offset) >> by;
  for (std::uint32_t k = 0; k < len; ++k) {
    const std::uint64_t c = counts[k];
    counts[k] = 0;
    counts[((static_cast<std::int64_t>(offset) + k) >> by) - new_offset] += c;
  }
  const std::int64_t last = (static_cast<std::int64_t>(offset) + len - 1) >> by;
  len = static_cast<std::uint32_t>(last - new_offset + 1);
  offset = static_cast<std::int32_t>(new_offset);
  scale -= by;
}

void buckets::merge(const buckets& other) noexcept {
  if (other.len == 0) return;
  if (other.scale < scale) downscale(scale - other.scale);
  const int shift = other.scale - scale;
  std::int64_t lo = static_cast<std::int64_t>(other.offset) >> shift;
  std::int64_t hi = (static_cast<std::int64_t>(other.offset) + other.len - 1) >> shift;
  if (len != 0) {
    lo = std::min<std::int64_t>(lo, offset);
    hi = std::max<std::int64_t>(hi, static_cast<std::int64_t>(offset) + len - 1);
  }
  downscale(needed_downscale(lo, hi));
  for (std::uint32_t k = 0; k < other.len; ++k)
    if (other.counts[k])
      add_index(static_cast<std::int32_t>(other.offset + static_cast<std::int64_t>(k)), other.scale, other.counts[k]);
}

void buckets::reset(int start_scale) noexcept {
  scale = start_scale;
  offset = 0;
  len = 0;
}

}  // namespace logfire::detail::expo
