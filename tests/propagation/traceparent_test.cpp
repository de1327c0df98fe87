// W3C traceparent rules (trace-context reference), table-driven, through the propagator and a
// header list that keeps duplicates, as an HTTP server would see them.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "logfire/propagation.hpp"
#include "propagation/parse.hpp"

namespace {

using headers = std::vector<std::pair<std::string, std::string>>;

constexpr const char* k_trace = "12345678901234567890123456789012";
constexpr const char* k_span = "1234567890123456";

logfire::propagation_context extract(headers h) {
  logfire::header_list_carrier c{h};
  return logfire::extract_context(logfire::trace_context_propagator{}, c);
}

struct traceparent_case {
  const char* name;
  std::string value;
  bool valid;
  std::uint8_t flags = 0;
};

class traceparent_table : public ::testing::TestWithParam<traceparent_case> {};

TEST_P(traceparent_table, extract) {
  const auto& tc = GetParam();
  const auto ctx = extract({{"traceparent", tc.value}, {"tracestate", "foo=1"}});
  if (!tc.valid) {
    EXPECT_FALSE(ctx.has_trace()) << tc.value;
    EXPECT_TRUE(ctx.trace_state.empty()) << "an invalid traceparent drops the tracestate";
    EXPECT_EQ(ctx.source, logfire::propagator_kind::none);
    return;
  }
  ASSERT_TRUE(ctx.has_trace()) << tc.value;
  EXPECT_EQ(ctx.span.trace.to_hex(), k_trace);
  EXPECT_EQ(ctx.span.span.to_hex(), k_span);
  EXPECT_EQ(ctx.span.flags, tc.flags);
  EXPECT_TRUE(ctx.span.is_remote);
  EXPECT_EQ(ctx.trace_state, "foo=1");
  EXPECT_EQ(ctx.source, logfire::propagator_kind::tracecontext);
}

const std::string tp = std::string("00-") + k_trace + "-" + k_span + "-01";
const std::string tp_body = std::string(k_trace) + "-" + k_span;

INSTANTIATE_TEST_SUITE_P(
    rules, traceparent_table,
    ::testing::Values(
        traceparent_case{"valid_sampled", tp, true, 0x01},
        traceparent_case{"valid_unsampled", "00-" + tp_body + "-00", true, 0x00},
        traceparent_case{"random_flag_carried", "00-" + tp_body + "-03", true, 0x03},
        traceparent_case{"random_flag_alone", "00-" + tp_body + "-02", true, 0x02},
        traceparent_case{"reserved_bits_cleared", "00-" + tp_body + "-ff", true, 0x03},
        traceparent_case{"reserved_bits_only", "00-" + tp_body + "-fc", true, 0x00},
        // Optional whitespace (SP / HTAB) around the value.
        traceparent_case{"ows_leading_space", " " + tp, true, 0x01},
        traceparent_case{"ows_leading_tab", "\t" + tp, true, 0x01},
        traceparent_case{"ows_trailing_space", tp + " ", true, 0x01},
        traceparent_case{"ows_trailing_tab", tp + "\t", true, 0x01},
        traceparent_case{"ows_both", "\t " + tp + " \t", true, 0x01},
        // Versions.
        traceparent_case{"version_ff_invalid", "ff-" + tp_body + "-01", false},
        traceparent_case{"version_00_extra_char", tp + ".", false},
        traceparent_case{"version_00_extra_field", tp + "-what-the-future-will-be-like", false},
        traceparent_case{"version_cc_plain", "cc-" + tp_body + "-01", true, 0x01},
        traceparent_case{"version_cc_extra_field", "cc-" + tp_body + "-01-what-the-future-will-be-like", true, 0x01},
        traceparent_case{"version_cc_bad_separator", "cc-" + tp_body + "-01.what-the-future-will-be-like", false},
        traceparent_case{"version_01_short", "01-" + tp_body + "-0", false},
        traceparent_case{"version_illegal_1", ".0-" + tp_body + "-01", false},
        traceparent_case{"version_illegal_2", "0.-" + tp_body + "-01", false},
        traceparent_case{"version_uppercase", "0A-" + tp_body + "-01", false},
        traceparent_case{"version_too_long_3", "000-" + tp_body + "-01", false},
        traceparent_case{"version_too_long_4", "0000-" + tp_body + "-01", false},
        traceparent_case{"version_too_short", "0-" + tp_body + "-01", false},
        // Trace id.
        traceparent_case{"trace_id_all_zero", "00-00000000000000000000000000000000-" + std::string(k_span) + "-01",
                         false},
        traceparent_case{"trace_id_illegal_first", "00-.2345678901234567890123456789012-" + std::string(k_span) + "-01",
                         false},
        traceparent_case{"trace_id_illegal_last", "00-1234567890123456789012345678901.-" + std::string(k_span) + "-01",
                         false},
        traceparent_case{"trace_id_uppercase", "00-1234567890123456789012345678901A-" + std::string(k_span) + "-01",
                         false},
        traceparent_case{"trace_id_too_long", "00-123456789012345678901234567890123-" + std::string(k_span) + "-01",
                         false},
        traceparent_case{"trace_id_too_short", "00-1234567890123456789012345678901-" + std::string(k_span) + "-01",
                         false},
        // Parent id.
        traceparent_case{"parent_id_all_zero", "00-" + std::string(k_trace) + "-0000000000000000-01", false},
        traceparent_case{"parent_id_illegal_first", "00-" + std::string(k_trace) + "-.234567890123456-01", false},
        traceparent_case{"parent_id_illegal_last", "00-" + std::string(k_trace) + "-123456789012345.-01", false},
        traceparent_case{"parent_id_uppercase", "00-" + std::string(k_trace) + "-123456789012345A-01", false},
        traceparent_case{"parent_id_too_long", "00-" + std::string(k_trace) + "-12345678901234567-01", false},
        traceparent_case{"parent_id_too_short", "00-" + std::string(k_trace) + "-123456789012345-01", false},
        // Flags.
        traceparent_case{"flags_illegal_1", "00-" + tp_body + "-.0", false},
        traceparent_case{"flags_illegal_2", "00-" + tp_body + "-0.", false},
        traceparent_case{"flags_uppercase", "00-" + tp_body + "-0A", false},
        traceparent_case{"flags_too_long", "00-" + tp_body + "-001", false},
        traceparent_case{"flags_too_short", "00-" + tp_body + "-1", false},
        // Separators and shape.
        traceparent_case{"wrong_separator", "00_" + tp_body + "-01", false}, traceparent_case{"empty", "", false},
        traceparent_case{"whitespace_only", " \t ", false},
        traceparent_case{"inner_space", "00- " + tp_body.substr(1) + "-01", false},
        traceparent_case{"two_values_comma_joined", tp + "," + tp, false}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(traceparent, header_name_is_case_insensitive) {
  for (const char* name : {"traceparent", "TraceParent", "TrAcEpArEnT", "TRACEPARENT"}) {
    const auto ctx = extract({{name, tp}});
    EXPECT_TRUE(ctx.has_trace()) << name;
  }
}

TEST(traceparent, wrong_header_names_are_ignored) {
  for (const char* name : {"trace-parent", "trace.parent", "traceparent2"}) {
    const auto ctx = extract({{name, tp}});
    EXPECT_FALSE(ctx.has_trace()) << name;
  }
}

TEST(traceparent, more_than_one_is_invalid) {
  const std::string other = "00-12345678901234567890123456789011-" + std::string(k_span) + "-01";
  EXPECT_FALSE(extract({{"traceparent", other}, {"traceparent", tp}}).has_trace());
  // Also when the duplicates differ only in the header name's casing.
  EXPECT_FALSE(extract({{"traceparent", tp}, {"TraceParent", tp}}).has_trace());
  EXPECT_FALSE(extract({{"traceparent", tp}, {"tracestate", "a=1"}, {"traceparent", tp}}).has_trace());
}

TEST(traceparent, missing_traceparent_ignores_tracestate) {
  const auto ctx = extract({{"tracestate", "foo=1,bar=2"}});
  EXPECT_FALSE(ctx.has_trace());
  EXPECT_TRUE(ctx.trace_state.empty());
}

TEST(traceparent, map_carrier_finds_any_casing) {
  std::map<std::string, std::string> m{{"TraceParent", tp}};
  logfire::map_carrier c{m};
  EXPECT_TRUE(logfire::extract_context(logfire::trace_context_propagator{}, c).has_trace());
  // Two casings in one map are two values of the same header: invalid.
  m["traceparent"] = tp;
  EXPECT_FALSE(logfire::extract_context(logfire::trace_context_propagator{}, c).has_trace());
}

logfire::propagation_context outgoing(std::uint8_t flags, std::string trace_state = {}) {
  logfire::propagation_context ctx;
  ctx.span.trace = logfire::trace_id::from_hex("4bf92f3577b34da6a3ce929d0e0e4736");
  ctx.span.span = logfire::span_id::from_hex("00f067aa0ba902b7");
  ctx.span.flags = flags;
  ctx.trace_state = std::move(trace_state);
  return ctx;
}

TEST(traceparent, inject_writes_version_00_lowercase) {
  std::map<std::string, std::string> out;
  logfire::map_carrier c{out};
  logfire::trace_context_propagator{}.inject(outgoing(0x01), c);
  EXPECT_EQ(out.at("traceparent"), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_EQ(out.count("tracestate"), 0u) << "no tracestate of our own is added";
}

TEST(traceparent, inject_even_when_not_sampled) {
  std::map<std::string, std::string> out;
  logfire::map_carrier c{out};
  logfire::trace_context_propagator{}.inject(outgoing(0x00), c);
  EXPECT_EQ(out.at("traceparent"), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
}

TEST(traceparent, inject_zeroes_reserved_bits_and_carries_random) {
  std::map<std::string, std::string> out;
  logfire::map_carrier c{out};
  logfire::trace_context_propagator{}.inject(outgoing(0xff), c);
  EXPECT_EQ(out.at("traceparent").substr(53), "03");
  logfire::trace_context_propagator{}.inject(outgoing(0x02 | 0x80), c);
  EXPECT_EQ(out.at("traceparent").substr(53), "02");
}

TEST(traceparent, inject_nothing_for_invalid_context) {
  std::map<std::string, std::string> out;
  logfire::map_carrier c{out};
  logfire::propagation_context ctx;
  logfire::trace_context_propagator{}.inject(ctx, c);
  EXPECT_TRUE(out.empty());
}

TEST(traceparent, inject_passes_tracestate_unchanged) {
  std::map<std::string, std::string> out;
  logfire::map_carrier c{out};
  logfire::trace_context_propagator{}.inject(outgoing(0x01, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"), c);
  EXPECT_EQ(out.at("tracestate"), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
}

TEST(traceparent, inject_refuses_control_characters_in_a_hand_made_tracestate) {
  std::map<std::string, std::string> out;
  logfire::map_carrier c{out};
  logfire::trace_context_propagator{}.inject(outgoing(0x01, "a=1\r\nx-evil: 1"), c);
  EXPECT_EQ(out.count("tracestate"), 0u);
  EXPECT_EQ(out.count("traceparent"), 1u);
}

TEST(traceparent, continue_replaces_parent_id_keeps_trace_and_flags) {
  // What a service does: extract, then inject with its own span id; the harness checks the
  // trace id is kept and the parent id differs.
  auto in = extract({{"traceparent", "00-" + tp_body + "-03"}, {"tracestate", "foo=1"}});
  ASSERT_TRUE(in.has_trace());
  in.span.span = logfire::span_id::from_hex("00f067aa0ba902b7");
  headers out;
  logfire::header_list_carrier c{out};
  logfire::trace_context_propagator{}.inject(in, c);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].second, std::string("00-") + k_trace + "-00f067aa0ba902b7-03");
  EXPECT_EQ(out[1].second, "foo=1");
}

TEST(traceparent, inject_replaces_existing_header_of_any_casing) {
  headers out{{"TraceParent", "stale"}, {"x", "y"}, {"TRACEPARENT", "stale2"}};
  logfire::header_list_carrier c{out};
  logfire::trace_context_propagator{}.inject(outgoing(0x01), c);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].first, "traceparent");
  EXPECT_EQ(out[0].second, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
}

TEST(traceparent, format_parse_round_trip) {
  const auto ctx = outgoing(0x03).span;
  char buf[logfire::detail::traceparent_size];
  logfire::detail::format_traceparent(ctx, buf);
  logfire::span_context back;
  ASSERT_TRUE(logfire::detail::parse_traceparent(std::string_view(buf, sizeof buf), back));
  EXPECT_EQ(back.trace, ctx.trace);
  EXPECT_EQ(back.span, ctx.span);
  EXPECT_EQ(back.flags, 0x03);
  EXPECT_TRUE(back.is_remote);
}

TEST(traceparent, fields) {
  const auto f = logfire::trace_context_propagator{}.fields();
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0], "traceparent");
  EXPECT_EQ(f[1], "tracestate");
}

}  // namespace
