// Google X-Cloud-Trace-Context: every partial form, decimal span ids, options, and the
// optional inject.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "logfire/propagation.hpp"
#include "propagation/parse.hpp"

namespace {

using headers = std::vector<std::pair<std::string, std::string>>;
constexpr const char* k_trace = "105445aa7843bc8bf206b12000100000";

struct xctc_case {
  const char* name;
  std::string value;
  bool valid;
  std::uint64_t span = 0;  // 0: no parent span
  bool sampled = false;
};

class xctc_table : public ::testing::TestWithParam<xctc_case> {};

TEST_P(xctc_table, extract) {
  const auto& tc = GetParam();
  headers h{{"X-Cloud-Trace-Context", tc.value}};
  logfire::header_list_carrier c{h};
  const auto ctx = logfire::extract_context(logfire::cloud_trace_propagator{}, c);
  if (!tc.valid) {
    EXPECT_FALSE(ctx.has_trace()) << tc.value;
    return;
  }
  ASSERT_TRUE(ctx.has_trace()) << tc.value;
  EXPECT_EQ(ctx.span.trace.to_hex(), k_trace);
  EXPECT_EQ(ctx.span.span.value, tc.span);
  EXPECT_EQ(ctx.span.sampled(), tc.sampled);
  EXPECT_TRUE(ctx.span.is_remote);
  EXPECT_EQ(ctx.source, logfire::propagator_kind::xcloudtrace);
  EXPECT_EQ(ctx.span.valid(), tc.span != 0);
}

const std::string T = k_trace;

INSTANTIATE_TEST_SUITE_P(
    forms, xctc_table,
    ::testing::Values(
        xctc_case{"full_sampled", T + "/1;o=1", true, 1, true},
        xctc_case{"full_not_sampled", T + "/12345;o=0", true, 12345, false},
        xctc_case{"trace_and_span", T + "/12345", true, 12345, false},
        xctc_case{"trace_empty_span_options", T + "/;o=1", true, 0, true},
        xctc_case{"trace_options", T + ";o=1", true, 0, true}, xctc_case{"trace_only", T, true, 0, false},
        xctc_case{"trace_slash", T + "/", true, 0, false},
        xctc_case{"span_max_u64", T + "/18446744073709551615;o=1", true, 18446744073709551615ull, true},
        xctc_case{"span_zero_means_none", T + "/0;o=1", true, 0, true},
        xctc_case{"options_bitmask", T + "/7;o=3", true, 7, true},
        xctc_case{"options_bit0_clear", T + "/7;o=2", true, 7, false},
        xctc_case{"uppercase_hex", "105445AA7843BC8BF206B12000100000/1;o=1", true, 1, true},
        xctc_case{"ows", " \t" + T + "/1;o=1 ", true, 1, true},
        xctc_case{"span_overflow", T + "/18446744073709551616;o=1", false},
        xctc_case{"span_21_digits", T + "/000000000000000000001", false},
        xctc_case{"span_hex_not_decimal", T + "/00f067aa0ba902b7;o=1", false},
        xctc_case{"span_negative", T + "/-1;o=1", false}, xctc_case{"trace_short", T.substr(1) + "/1;o=1", false},
        xctc_case{"trace_long", T + "0/1;o=1", false}, xctc_case{"trace_zero", std::string(32, '0') + "/1;o=1", false},
        xctc_case{"trace_not_hex", "z" + T.substr(1) + "/1;o=1", false},
        xctc_case{"options_bad_name", T + "/1;x=1", false}, xctc_case{"options_empty", T + "/1;o=", false},
        xctc_case{"options_not_number", T + "/1;o=yes", false}, xctc_case{"trailing_garbage", T + "/1;o=1;z", false},
        xctc_case{"empty", "", false}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(xcloudtrace, more_than_one_header_is_ignored) {
  headers h{{"x-cloud-trace-context", T + "/1;o=1"}, {"X-Cloud-Trace-Context", T + "/2;o=1"}};
  logfire::header_list_carrier c{h};
  EXPECT_FALSE(logfire::extract_context(logfire::cloud_trace_propagator{}, c).has_trace());
}

logfire::propagation_context outgoing(bool sampled) {
  logfire::propagation_context ctx;
  ctx.span.trace = logfire::trace_id::from_hex(k_trace);
  ctx.span.span.value = 0x00f067aa0ba902b7ull;
  ctx.span.flags = sampled ? 0x01 : 0x00;
  return ctx;
}

TEST(xcloudtrace, inject_is_off_by_default) {
  std::map<std::string, std::string> out;
  logfire::map_carrier c{out};
  logfire::cloud_trace_propagator{}.inject(outgoing(true), c);
  EXPECT_TRUE(out.empty());
}

TEST(xcloudtrace, inject_when_enabled_writes_decimal_span) {
  std::map<std::string, std::string> out;
  logfire::map_carrier c{out};
  logfire::cloud_trace_propagator{true}.inject(outgoing(true), c);
  EXPECT_EQ(out.at("x-cloud-trace-context"), T + "/67667974448284343;o=1");
  logfire::cloud_trace_propagator{true}.inject(outgoing(false), c);
  EXPECT_EQ(out.at("x-cloud-trace-context"), T + "/67667974448284343;o=0");
}

TEST(xcloudtrace, round_trip) {
  const auto ctx = outgoing(true).span;
  char buf[64];
  const std::size_t n = logfire::detail::format_cloud_trace_context(ctx, buf);
  logfire::span_context back;
  ASSERT_TRUE(logfire::detail::parse_cloud_trace_context(std::string_view(buf, n), back));
  EXPECT_EQ(back.trace, ctx.trace);
  EXPECT_EQ(back.span, ctx.span);
  EXPECT_TRUE(back.sampled());
}

TEST(xcloudtrace, fields) {
  const auto f = logfire::cloud_trace_propagator{}.fields();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0], "x-cloud-trace-context");
}

}  // namespace
