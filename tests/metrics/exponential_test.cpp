// The base-2 exponential bucket mapping against the OpenTelemetry data model: bucket i at scale s
// holds (2^(i/2^s), 2^((i+1)/2^s)]. Powers of two, their neighbours, both neighbours of every
// scale-10 boundary (decided exactly), subnormals, the extremes of double, boundaries from the
// specification's scale-3 table, and the scale adjusting down to fit 160 buckets (and no further).
#include "metrics/exponential.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace {

using logfire::detail::expo::buckets;
using logfire::detail::expo::lower_boundary;
using logfire::detail::expo::map_to_index;

std::int64_t power_of_two_index(int k, int scale) {
  // 2^k closes the bucket below it: at scale s >= 0 that is k * 2^s - 1.
  if (scale >= 0) return static_cast<std::int64_t>(k) * (std::int64_t{1} << scale) - 1;
  return (static_cast<std::int64_t>(k) - 1) >> -scale;
}

TEST(exponential_mapping, powers_of_two_at_every_scale) {
  for (int scale = -10; scale <= 20; ++scale) {
    for (int k : {-1074, -1022, -100, -1, 0, 1, 2, 10, 100, 1023}) {
      const double v = std::ldexp(1.0, k);
      EXPECT_EQ(map_to_index(v, scale), power_of_two_index(k, scale)) << "2^" << k << " scale " << scale;
    }
  }
}

TEST(exponential_mapping, neighbours_of_powers_of_two) {
  for (int scale = -10; scale <= 20; ++scale) {
    for (int k : {-1021, -50, -1, 0, 1, 7, 64, 1000}) {
      const double p = std::ldexp(1.0, k);
      const double above = std::nextafter(p, INFINITY);
      const double below = std::nextafter(p, 0.0);
      // Just above 2^k: the first bucket of the next range; just below: the same bucket as 2^k.
      const std::int64_t first_above =
          scale >= 0 ? static_cast<std::int64_t>(k) * (std::int64_t{1} << scale) : std::int64_t{k} >> -scale;
      EXPECT_EQ(map_to_index(above, scale), first_above) << "above 2^" << k << " scale " << scale;
      EXPECT_EQ(map_to_index(below, scale), power_of_two_index(k, scale)) << "below 2^" << k << " scale " << scale;
    }
  }
}

TEST(exponential_mapping, subnormals_are_mapped_exactly) {
  const double smallest = std::numeric_limits<double>::denorm_min();  // 2^-1074
  EXPECT_EQ(map_to_index(smallest, 0), -1075);
  EXPECT_EQ(map_to_index(smallest, 20), -1074LL * (1 << 20) - 1);
  EXPECT_EQ(map_to_index(3 * smallest, 0), -1073);  // 1.5 * 2^-1073
  const double largest_subnormal = std::nextafter(DBL_MIN, 0.0);
  EXPECT_EQ(map_to_index(largest_subnormal, 0), -1023);
  EXPECT_EQ(map_to_index(largest_subnormal, 20), -1022LL * (1 << 20) - 1);
  EXPECT_EQ(map_to_index(DBL_MIN, 0), -1023);  // 2^-1022 closes bucket -1023
  EXPECT_EQ(map_to_index(DBL_MIN, -10), (-1023) >> 10);
  // A subnormal at a positive scale lies inside its bucket.
  for (int scale : {1, 5, 10, 14, 20}) {
    const double v = 5 * smallest;
    const std::int64_t i = map_to_index(v, scale);
    EXPECT_LT(lower_boundary(i, scale), static_cast<long double>(v));
    EXPECT_GE(lower_boundary(i + 1, scale), static_cast<long double>(v));
  }
}

TEST(exponential_mapping, extremes_of_double) {
  EXPECT_EQ(map_to_index(DBL_MAX, 0), 1023);
  EXPECT_EQ(map_to_index(DBL_MAX, 20), 1024LL * (1 << 20) - 1);
  EXPECT_EQ(map_to_index(DBL_MAX, -10), 0);
  EXPECT_EQ(map_to_index(std::numeric_limits<double>::denorm_min(), -10), -2);
}

TEST(exponential_mapping, boundaries_of_the_specifications_scale_3_table) {
  // Lower boundaries of buckets 1..7 at scale 3 (data model, "Exponential Buckets").
  const double lower[] = {1.09051, 1.18921, 1.29684, 1.41421, 1.54221, 1.68179, 1.83401};
  for (int i = 1; i <= 7; ++i) {
    EXPECT_NEAR(static_cast<double>(lower_boundary(i, 3)), lower[i - 1], 5e-6);
    const double b = static_cast<double>(lower_boundary(i, 3));
    EXPECT_EQ(map_to_index(b * (1 + 1e-9), 3), i);
    EXPECT_EQ(map_to_index(b * (1 - 1e-9), 3), i - 1);
  }
}

TEST(exponential_mapping, values_close_to_every_boundary_map_to_their_bucket) {
  // Within 1e-12 (relative) of a boundary, on both sides, at every positive scale.
  for (int scale = 1; scale <= 20; ++scale) {
    const std::int64_t per = std::int64_t{1} << scale;
    for (std::int64_t i : {per / 3, per / 2 + 1, per - 1, 5 * per + per / 7, -3 * per + 1}) {
      const long double b = lower_boundary(i, scale);
      const double above = static_cast<double>(b * (1 + 1e-12L));
      const double below = static_cast<double>(b * (1 - 1e-12L));
      EXPECT_EQ(map_to_index(above, scale), i) << "scale " << scale << " index " << i;
      EXPECT_EQ(map_to_index(below, scale), i - 1) << "scale " << scale << " index " << i;
    }
  }
}

#if defined(__SIZEOF_FLOAT128__)
// (1 + m / 2^52)^1024 in binary128, by ten squarings of an exact start: relative error about
// 2^-103, against 2^j that is exact.
__float128 pow1024(std::uint64_t m) {
  __float128 v = 1 + static_cast<__float128>(m) / static_cast<__float128>(std::uint64_t{1} << 52);
  for (int k = 0; k < 10; ++k) v *= v;
  return v;
}
#endif

TEST(exponential_mapping, both_neighbours_of_every_scale_10_boundary) {
  // Boundary j of a power-of-two range at scale 10 is 2^(j/1024) (irrational for 0 < j < 1024):
  // the largest double below it belongs to bucket j - 1, the smallest above it to bucket j, at
  // scale 10 and at every scale whose boundaries are among these (1..9), and inside that scale-10
  // bucket at the finer scales. Which doubles those are is decided exactly: m is the largest
  // significand with (1 + m/2^52)^1024 < 2^j, both powers at least 2^-90 away from 2^j relative
  // to it, far more than the arithmetic's error (the test fails rather than guess).
#if !defined(__SIZEOF_FLOAT128__)
  GTEST_SKIP() << "needs binary128 arithmetic";
#else
  __float128 two_j = 1;
  const __float128 margin = static_cast<__float128>(std::ldexp(1.0, -90));
  for (int j = 1; j < 1024; ++j) {
    two_j *= 2;
    auto m = static_cast<std::uint64_t>(std::floor(std::ldexp(std::exp2(j / 1024.0) - 1, 52)));
    while (pow1024(m) > two_j) --m;
    while (pow1024(m + 1) < two_j) ++m;
    ASSERT_GT((two_j - pow1024(m)) / two_j, margin) << "boundary " << j;
    ASSERT_GT((pow1024(m + 1) - two_j) / two_j, margin) << "boundary " << j;
    for (int k : {-1000, -1, 0, 1, 1000}) {
      const double below = std::ldexp(1 + std::ldexp(static_cast<double>(m), -52), k);
      const double above = std::ldexp(1 + std::ldexp(static_cast<double>(m + 1), -52), k);
      for (int scale = 1; scale <= 20; ++scale) {
        const std::int64_t base = static_cast<std::int64_t>(k) << scale;
        const int d = scale - 10;
        const std::int64_t lo = map_to_index(below, scale) - base;
        const std::int64_t hi = map_to_index(above, scale) - base;
        if (d <= 0) {
          ASSERT_EQ(lo, (j - 1) >> -d) << "below boundary " << j << " at 2^" << k << ", scale " << scale;
          ASSERT_EQ(hi, j >> -d) << "above boundary " << j << " at 2^" << k << ", scale " << scale;
        } else {
          ASSERT_EQ(lo >> d, j - 1) << "below boundary " << j << " at 2^" << k << ", scale " << scale;
          ASSERT_EQ(hi >> d, j) << "above boundary " << j << " at 2^" << k << ", scale " << scale;
        }
      }
    }
  }
#endif
}

TEST(exponential_mapping, random_values_lie_inside_their_bucket_and_subset_exactly) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> mantissa(1.0, 2.0);
  std::uniform_int_distribution<int> exponent(-1020, 1020);
  for (int n = 0; n < 20000; ++n) {
    const double v = std::ldexp(mantissa(rng), exponent(rng));
    for (int scale : {-10, -3, 0, 1, 4, 7, 10, 13, 16, 20}) {
      const std::int64_t i = map_to_index(v, scale);
      ASSERT_LT(lower_boundary(i, scale), static_cast<long double>(v) * (1 + 1e-15L)) << v << " scale " << scale;
      ASSERT_GE(lower_boundary(i + 1, scale), static_cast<long double>(v) * (1 - 1e-15L)) << v << " scale " << scale;
    }
    // Perfect subsetting: the index at a lower scale is the higher index shifted.
    const std::int64_t i20 = map_to_index(v, 20);
    for (int scale = 19; scale >= -10; --scale) ASSERT_EQ(map_to_index(v, scale), i20 >> (20 - scale)) << v;
  }
}

struct owned_buckets {
  std::vector<std::uint64_t> storage;
  buckets b;
  explicit owned_buckets(std::uint32_t cap = 160, int scale = 20) : storage(cap) {
    b.counts = storage.data();
    b.cap = cap;
    b.scale = scale;
  }
  std::uint64_t total() const {
    std::uint64_t t = 0;
    for (std::uint32_t k = 0; k < b.len; ++k) t += b.counts[k];
    return t;
  }
};

TEST(exponential_buckets, a_single_value_keeps_the_maximum_scale) {
  owned_buckets h;
  h.b.add_value(12.5);
  h.b.add_value(12.5);
  EXPECT_EQ(h.b.scale, 20);
  EXPECT_EQ(h.b.len, 1u);
  EXPECT_EQ(h.b.counts[0], 2u);
  EXPECT_EQ(h.b.offset, map_to_index(12.5, 20));
}

TEST(exponential_buckets, the_scale_goes_down_only_as_far_as_160_buckets_need) {
  owned_buckets h;
  for (int v = 1; v <= 1000; ++v) h.b.add_value(v);
  EXPECT_EQ(h.total(), 1000u);
  ASSERT_LE(h.b.len, 160u);
  // The ideal scale: one more and the range 1..1000 would need more than 160 buckets.
  const int up = h.b.scale + 1;
  EXPECT_GT(map_to_index(1000.0, up) - map_to_index(1.0, up) + 1, 160);
  // 1.0 closes bucket -1, so 1..1000 needs 161 buckets at scale 4: scale 3.
  EXPECT_EQ(h.b.scale, 3);
  EXPECT_EQ(h.b.offset, map_to_index(1.0, h.b.scale));
}

TEST(exponential_buckets, the_specifications_ideal_scale_table) {
  // Input range -> ideal scale for 160 buckets ("Base2 Exponential Bucket Histogram Aggregation").
  struct row {
    double lo, hi;
    int scale;
  } rows[] = {{1e-3, 4e-3, 6}, {1e-3, 20e-3, 5}, {1e-3, 1, 4}, {1e-3, 100, 3}, {1e-6, 10, 2}};
  for (const row& r : rows) {
    owned_buckets h;
    for (int n = 0; n < 1000; ++n) h.b.add_value(std::min(r.hi, r.lo * std::pow(r.hi / r.lo, n / 999.0)));
    h.b.add_value(r.hi);
    EXPECT_EQ(h.b.scale, r.scale) << r.lo << ".." << r.hi;
  }
}

TEST(exponential_buckets, merging_equals_recording_everything_in_one) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(0.0, 3.0);
  owned_buckets all, a, b;
  for (int n = 0; n < 5000; ++n) {
    const double v = dist(rng);
    all.b.add_value(v);
    (n % 3 ? a : b).b.add_value(v);
  }
  a.b.merge(b.b);
  // The merged histogram may sit at a lower scale than the one built directly; bring the
  // direct one down to it and compare bucket by bucket.
  ASSERT_LE(a.b.scale, all.b.scale);
  all.b.downscale(all.b.scale - a.b.scale);
  EXPECT_EQ(a.b.offset, all.b.offset);
  ASSERT_EQ(a.b.len, all.b.len);
  for (std::uint32_t k = 0; k < a.b.len; ++k) EXPECT_EQ(a.b.counts[k], all.b.counts[k]) << k;
  EXPECT_EQ(a.total(), 5000u);
}

TEST(exponential_buckets, values_far_apart_fit_at_the_minimum_scale) {
  owned_buckets h(4);
  h.b.add_value(std::numeric_limits<double>::denorm_min());
  h.b.add_value(DBL_MAX);
  h.b.add_value(1.0);
  EXPECT_GE(h.b.scale, -10);
  EXPECT_LE(h.b.len, 4u);
  EXPECT_EQ(h.total(), 3u);
}

}  // namespace
