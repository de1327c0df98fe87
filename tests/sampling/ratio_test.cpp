// Head ratio sampling: trace_id.lo < rate * 2^64, with exact edges, and the rate parser's errors.
#include "sampling/ratio.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "context/ids.hpp"

namespace {

using logfire::detail::ratio_keeps;
using logfire::detail::ratio_sampler;

logfire::trace_id with_lo(std::uint64_t lo) {
  return logfire::trace_id{0x0123456789abcdefull, lo};
}

constexpr std::uint64_t k_max = std::numeric_limits<std::uint64_t>::max();

TEST(ratio_sampler, rate_one_keeps_everything) {
  for (std::uint64_t lo : {std::uint64_t{0}, std::uint64_t{1}, k_max / 2, k_max - 1, k_max})
    EXPECT_TRUE(ratio_keeps(with_lo(lo), 1.0)) << lo;
}

TEST(ratio_sampler, rate_zero_keeps_nothing) {
  for (std::uint64_t lo : {std::uint64_t{0}, std::uint64_t{1}, k_max})
    EXPECT_FALSE(ratio_keeps(with_lo(lo), 0.0)) << lo;
}

TEST(ratio_sampler, out_of_range_rates_are_clamped) {
  EXPECT_TRUE(ratio_keeps(with_lo(k_max), 2.0));
  EXPECT_TRUE(ratio_keeps(with_lo(k_max), std::numeric_limits<double>::infinity()));
  EXPECT_FALSE(ratio_keeps(with_lo(0), -0.5));
  EXPECT_FALSE(ratio_keeps(with_lo(0), std::numeric_limits<double>::quiet_NaN()));
  EXPECT_EQ(ratio_sampler(7.0).rate(), 1.0);
  EXPECT_EQ(ratio_sampler(-1.0).rate(), 0.0);
}

TEST(ratio_sampler, half_splits_at_two_to_the_63) {
  const std::uint64_t half = std::uint64_t{1} << 63;
  EXPECT_TRUE(ratio_keeps(with_lo(half - 1), 0.5));
  EXPECT_FALSE(ratio_keeps(with_lo(half), 0.5));
  EXPECT_TRUE(ratio_keeps(with_lo(0), 0.5));
  EXPECT_FALSE(ratio_keeps(with_lo(k_max), 0.5));
}

TEST(ratio_sampler, bound_is_exact_for_power_of_two_rates) {
  const double r = std::ldexp(1.0, -20);  // 2^-20 -> bound 2^44
  const std::uint64_t bound = std::uint64_t{1} << 44;
  EXPECT_TRUE(ratio_keeps(with_lo(bound - 1), r));
  EXPECT_FALSE(ratio_keeps(with_lo(bound), r));
}

TEST(ratio_sampler, largest_rate_below_one_has_no_overflow) {
  const double r = std::nextafter(1.0, 0.0);  // 1 - 2^-53 -> bound 2^64 - 2^11
  const std::uint64_t bound = k_max - 2047;   // 2^64 - 2048
  EXPECT_TRUE(ratio_keeps(with_lo(bound - 1), r));
  EXPECT_FALSE(ratio_keeps(with_lo(bound), r));
  EXPECT_FALSE(ratio_keeps(with_lo(k_max), r));
}

TEST(ratio_sampler, smallest_positive_rate_keeps_only_zero) {
  const double r = std::numeric_limits<double>::denorm_min();
  EXPECT_FALSE(ratio_keeps(with_lo(0), r)) << "rate*2^64 < 1, so nothing is below it";
  EXPECT_FALSE(ratio_keeps(with_lo(1), r));
}

TEST(ratio_sampler, only_the_low_half_decides) {
  EXPECT_EQ(ratio_keeps(logfire::trace_id{0, 5}, 0.5), ratio_keeps(logfire::trace_id{k_max, 5}, 0.5));
}

TEST(ratio_sampler, kept_fraction_matches_rate_over_random_ids) {
  // The ids are random, so this is statistical, but with 200k draws the 0.25 estimate's
  // standard deviation is ~0.001: a 0.01 tolerance is ten of them.
  const ratio_sampler s(0.25);
  int kept = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) kept += s.keeps(logfire::detail::new_trace_id(0)) ? 1 : 0;
  EXPECT_NEAR(static_cast<double>(kept) / n, 0.25, 0.01);
}

TEST(parse_sample_rate, accepts_numbers_in_range) {
  std::string err;
  EXPECT_EQ(logfire::detail::parse_sample_rate("0.25", "LOGFIRE_TRACE_SAMPLE_RATE", err), 0.25);
  EXPECT_EQ(logfire::detail::parse_sample_rate(" 1 ", "LOGFIRE_TRACE_SAMPLE_RATE", err), 1.0);
  EXPECT_EQ(logfire::detail::parse_sample_rate("0", "LOGFIRE_TRACE_SAMPLE_RATE", err), 0.0);
  EXPECT_EQ(logfire::detail::parse_sample_rate("1e-3", "LOGFIRE_TRACE_SAMPLE_RATE", err), 0.001);
  EXPECT_EQ(logfire::detail::parse_sample_rate("+.5", "LOGFIRE_TRACE_SAMPLE_RATE", err), 0.5);
  EXPECT_EQ(logfire::detail::parse_sample_rate("1.0\n", "OTEL_TRACES_SAMPLER_ARG", err), 1.0);
  EXPECT_TRUE(err.empty());
}

struct bad_rate {
  const char* text;
  const char* error;
};

TEST(parse_sample_rate, errors_name_the_variable_and_value) {
  const bad_rate cases[] = {
      {"abc", "LOGFIRE_TRACE_SAMPLE_RATE is not a number: 'abc'"},
      {"", "LOGFIRE_TRACE_SAMPLE_RATE is not a number: ''"},
      {"0.5x", "LOGFIRE_TRACE_SAMPLE_RATE is not a number: '0.5x'"},
      {"0,5", "LOGFIRE_TRACE_SAMPLE_RATE is not a number: '0,5'"},
      {"nan", "LOGFIRE_TRACE_SAMPLE_RATE is not a number: 'nan'"},
      {"1.5", "LOGFIRE_TRACE_SAMPLE_RATE must be between 0 and 1: '1.5'"},
      {"-0.1", "LOGFIRE_TRACE_SAMPLE_RATE must be between 0 and 1: '-0.1'"},
      {"inf", "LOGFIRE_TRACE_SAMPLE_RATE must be between 0 and 1: 'inf'"},
      {"1e999", "LOGFIRE_TRACE_SAMPLE_RATE must be between 0 and 1: '1e999'"},
  };
  for (const auto& c : cases) {
    std::string err;
    EXPECT_FALSE(logfire::detail::parse_sample_rate(c.text, "LOGFIRE_TRACE_SAMPLE_RATE", err)) << c.text;
    EXPECT_EQ(err, c.error);
  }
}

TEST(validate_sample_rate, option_in_code) {
  EXPECT_EQ(logfire::detail::validate_sample_rate(0.5, "trace_sample_rate"), "");
  EXPECT_EQ(logfire::detail::validate_sample_rate(1.5, "trace_sample_rate"),
            "trace_sample_rate must be between 0 and 1: '1.5'");
  EXPECT_NE(logfire::detail::validate_sample_rate(std::nan(""), "trace_sample_rate"), "");
}

}  // namespace
