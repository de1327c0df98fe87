// W3C tracestate rules: combination of several headers, member grammar, limits, and the strict
// reading (any invalid member or more than 32 members drops the whole tracestate).
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "logfire/propagation.hpp"
#include "propagation/parse.hpp"

namespace {

using headers = std::vector<std::pair<std::string, std::string>>;
constexpr const char* k_tp = "00-12345678901234567890123456789012-1234567890123456-00";

// The tracestate kept for these tracestate header values ("<dropped>" if none).
std::string kept(const std::vector<std::string>& values) {
  headers h{{"traceparent", k_tp}};
  for (const auto& v : values) h.emplace_back("tracestate", v);
  logfire::header_list_carrier c{h};
  const auto ctx = logfire::extract_context(logfire::trace_context_propagator{}, c);
  EXPECT_TRUE(ctx.has_trace()) << "the traceparent survives whatever the tracestate";
  return ctx.trace_state;
}

struct tracestate_case {
  const char* name;
  std::vector<std::string> values;
  std::string expected;  // "" = dropped or empty
};

class tracestate_table : public ::testing::TestWithParam<tracestate_case> {};

TEST_P(tracestate_table, extract) {
  const auto& tc = GetParam();
  EXPECT_EQ(kept(tc.values), tc.expected);
}

std::string numbered_members(int from, int to) {
  std::string s;
  for (int i = from; i <= to; ++i) {
    if (!s.empty()) s += ',';
    char buf[16];
    std::snprintf(buf, sizeof buf, "bar%02d=%02d", i, i);
    s += buf;
  }
  return s;
}

const std::string all_key_chars = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
std::string all_value_chars() {
  std::string v;
  for (int c = 0x20; c <= 0x7e; ++c)
    if (c != ',' && c != '=') v += static_cast<char>(c);
  return v;
}

INSTANTIATE_TEST_SUITE_P(
    rules, tracestate_table,
    ::testing::Values(
        tracestate_case{"single", {"foo=1"}, "foo=1"}, tracestate_case{"two_members", {"foo=1,bar=2"}, "foo=1,bar=2"},
        tracestate_case{"multiple_headers_joined_in_order",
                        {"foo=1,bar=2", "rojo=1,congo=2", "baz=3"},
                        "foo=1,bar=2,rojo=1,congo=2,baz=3"},
        tracestate_case{"empty_header", {""}, ""}, tracestate_case{"empty_then_member", {"", "foo=1"}, "foo=1"},
        tracestate_case{"member_then_empty", {"foo=1", ""}, "foo=1"},
        tracestate_case{"empty_members_allowed", {",foo=1,,  ,bar=2,"}, "foo=1,bar=2"},
        tracestate_case{"ows_around_members", {"foo=1 \t , \t bar=2, \t baz=3"}, "foo=1,bar=2,baz=3"},
        tracestate_case{"ows_tabs", {"foo=1\t \t,\t \tbar=2,\t \tbaz=3"}, "foo=1,bar=2,baz=3"},
        tracestate_case{"ows_leading", {" foo=1"}, "foo=1"}, tracestate_case{"ows_leading_tab", {"\tfoo=1"}, "foo=1"},
        tracestate_case{"ows_trailing", {"foo=1 "}, "foo=1"}, tracestate_case{"ows_trailing_tab", {"foo=1\t"}, "foo=1"},
        tracestate_case{"ows_both", {"\t foo=1 \t"}, "foo=1"},
        tracestate_case{"all_key_and_value_chars",
                        {all_key_chars + "=" + all_value_chars()},
                        all_key_chars + "=" + all_value_chars()},
        tracestate_case{"all_chars_with_vendor",
                        {all_key_chars + "@a-z0-9_-*/=" + all_value_chars()},
                        all_key_chars + "@a-z0-9_-*/=" + all_value_chars()},
        tracestate_case{"key_starts_with_digit", {"0foo=1"}, "0foo=1"},
        tracestate_case{"value_with_inner_space", {"foo=a b"}, "foo=a b"},
        // Limits.
        tracestate_case{
            "32_members_kept",
            {numbered_members(1, 10), numbered_members(11, 20), numbered_members(21, 30), numbered_members(31, 32)},
            numbered_members(1, 32)},
        tracestate_case{
            "33_members_dropped",
            {numbered_members(1, 10), numbered_members(11, 20), numbered_members(21, 30), numbered_members(31, 33)},
            ""},
        tracestate_case{
            "key_256_kept", {"foo=1", std::string(256, 'z') + "=1"}, "foo=1," + std::string(256, 'z') + "=1"},
        tracestate_case{"key_257_dropped", {"foo=1", std::string(257, 'z') + "=1"}, ""},
        tracestate_case{"tenant_241_system_14_kept",
                        {"foo=1", std::string(241, 't') + "@" + std::string(14, 'v') + "=1"},
                        "foo=1," + std::string(241, 't') + "@" + std::string(14, 'v') + "=1"},
        tracestate_case{"tenant_242_dropped", {"foo=1", std::string(242, 't') + "@v=1"}, ""},
        tracestate_case{"system_15_dropped", {"foo=1", "t@" + std::string(15, 'v') + "=1"}, ""},
        tracestate_case{"value_256_kept", {"foo=" + std::string(256, 'v')}, "foo=" + std::string(256, 'v')},
        tracestate_case{"value_257_dropped", {"foo=" + std::string(257, 'v')}, ""},
        // Key grammar: any invalid member drops everything.
        tracestate_case{"key_space_before_eq", {"foo =1"}, ""}, tracestate_case{"key_uppercase", {"FOO=1"}, ""},
        tracestate_case{"key_dot", {"foo.bar=1"}, ""}, tracestate_case{"key_empty", {"=1,bar=2"}, ""},
        tracestate_case{"vendor_empty_system", {"foo@=1,bar=2"}, ""},
        tracestate_case{"vendor_empty_tenant", {"@foo=1,bar=2"}, ""},
        tracestate_case{"vendor_double_at", {"foo@@bar=1,bar=2"}, ""},
        tracestate_case{"vendor_two_ats", {"foo@bar@baz=1,bar=2"}, ""},
        tracestate_case{"vendor_system_digit_first", {"foo@1bar=1"}, ""},
        tracestate_case{"invalid_member_in_second_header", {"foo=1", "BAR=2"}, ""},
        // Value grammar.
        tracestate_case{"value_with_eq", {"foo=bar=baz"}, ""}, tracestate_case{"value_empty", {"foo=,bar=3"}, ""},
        tracestate_case{"value_trailing_space_inside", {"foo=a \x01"}, ""},
        tracestate_case{"value_non_ascii", {"foo=caf\xc3\xa9"}, ""},
        tracestate_case{"value_control_char", {"foo=a\x7f"}, ""}, tracestate_case{"member_without_eq", {"foo"}, ""},
        // Duplicated keys drop the tracestate (the conformance harness's default strictness).
        tracestate_case{"duplicate_in_one_header", {"foo=1,foo=1"}, ""},
        tracestate_case{"duplicate_different_values", {"foo=1,foo=2"}, ""},
        tracestate_case{"duplicate_across_headers", {"foo=1", "foo=2"}, ""},
        tracestate_case{"prefix_is_not_duplicate", {"foo=1,foobar=2,fo=3"}, "foo=1,foobar=2,fo=3"}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(tracestate, header_name_is_case_insensitive) {
  for (const char* name : {"TraceState", "TrAcEsTaTe", "TRACESTATE"}) {
    headers h{{"traceparent", k_tp}, {name, "foo=1"}};
    logfire::header_list_carrier c{h};
    EXPECT_EQ(logfire::extract_context(logfire::trace_context_propagator{}, c).trace_state, "foo=1") << name;
  }
}

TEST(tracestate, wrong_header_names_are_ignored) {
  for (const char* name : {"trace-state", "trace.state"}) {
    headers h{{"traceparent", k_tp}, {name, "foo=1"}};
    logfire::header_list_carrier c{h};
    EXPECT_EQ(logfire::extract_context(logfire::trace_context_propagator{}, c).trace_state, "") << name;
  }
}

TEST(tracestate, value_last_char_must_not_be_space) {
  // Trailing spaces are optional whitespace around the member, so they are trimmed; the grammar
  // check itself rejects a value ending in a space.
  EXPECT_FALSE(logfire::detail::valid_tracestate_value("abc "));
  EXPECT_TRUE(logfire::detail::valid_tracestate_value(" abc"));
  EXPECT_FALSE(logfire::detail::valid_tracestate_value(""));
  EXPECT_FALSE(logfire::detail::valid_tracestate_value(" "));
}

TEST(tracestate, parse_helper_matches_propagator) {
  std::string out;
  EXPECT_TRUE(logfire::detail::parse_tracestate("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE", out));
  EXPECT_EQ(out, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  EXPECT_FALSE(logfire::detail::parse_tracestate("rojo=1,rojo=2", out));
  EXPECT_EQ(out, "");
}

}  // namespace
