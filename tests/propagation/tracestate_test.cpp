// W3C tracestate rules as the current specification writes them: combination of several
// headers, the member grammar (a key of up to 256 characters with '@' allowed anywhere after the
// first), limits, the strict reading (any invalid member or more than 32 members drops the whole
// tracestate), and duplicated keys (the first member of a key is kept, later ones discarded).
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
        // '@' is a key character like any other after the first (no tenant/system split).
        tracestate_case{"tenant_241_system_14_kept",
                        {"foo=1", std::string(241, 't') + "@" + std::string(14, 'v') + "=1"},
                        "foo=1," + std::string(241, 't') + "@" + std::string(14, 'v') + "=1"},
        tracestate_case{"key_256_with_at_at_242_kept",
                        {"foo=1", std::string(242, 't') + "@" + std::string(13, 'v') + "=1"},
                        "foo=1," + std::string(242, 't') + "@" + std::string(13, 'v') + "=1"},
        tracestate_case{"key_256_ending_in_at_kept",
                        {"foo=1", std::string(255, 't') + "@=1"},
                        "foo=1," + std::string(255, 't') + "@=1"},
        tracestate_case{
            "key_257_with_at_dropped", {"foo=1", std::string(242, 't') + "@" + std::string(14, 'v') + "=1"}, ""},
        tracestate_case{
            "system_15_kept", {"foo=1", "t@" + std::string(15, 'v') + "=1"}, "foo=1,t@" + std::string(15, 'v') + "=1"},
        tracestate_case{"value_256_kept", {"foo=" + std::string(256, 'v')}, "foo=" + std::string(256, 'v')},
        tracestate_case{"value_257_dropped", {"foo=" + std::string(257, 'v')}, ""},
        // Key grammar: any invalid member drops everything.
        tracestate_case{"key_space_before_eq", {"foo =1"}, ""}, tracestate_case{"key_uppercase", {"FOO=1"}, ""},
        tracestate_case{"key_dot", {"foo.bar=1"}, ""}, tracestate_case{"key_empty", {"=1,bar=2"}, ""},
        tracestate_case{"at_first_dropped", {"@foo=1,bar=2"}, ""},
        tracestate_case{"at_last_kept", {"foo@=1,bar=2"}, "foo@=1,bar=2"},
        tracestate_case{"two_ats_in_a_row_kept", {"foo@@bar=1,bar=2"}, "foo@@bar=1,bar=2"},
        tracestate_case{"two_ats_kept", {"foo@bar@baz=1,bar=2"}, "foo@bar@baz=1,bar=2"},
        tracestate_case{"digit_after_at_kept", {"foo@1bar=1"}, "foo@1bar=1"},
        tracestate_case{"digit_key_with_at_kept", {"0@=1"}, "0@=1"},
        tracestate_case{"invalid_member_in_second_header", {"foo=1", "BAR=2"}, ""},
        // Value grammar.
        tracestate_case{"value_with_eq", {"foo=bar=baz"}, ""}, tracestate_case{"value_empty", {"foo=,bar=3"}, ""},
        tracestate_case{"value_trailing_space_inside", {"foo=a \x01"}, ""},
        tracestate_case{"value_non_ascii", {"foo=caf\xc3\xa9"}, ""},
        tracestate_case{"value_control_char", {"foo=a\x7f"}, ""}, tracestate_case{"member_without_eq", {"foo"}, ""},
        tracestate_case{"value_quote_backslash_percent_verbatim",
                        {R"(q="x\y",pct=50%25%,esc=%22%5C)"},
                        R"(q="x\y",pct=50%25%,esc=%22%5C)"},
        tracestate_case{"value_leading_spaces_kept", {"foo=  a b,bar=2"}, "foo=  a b,bar=2"},
        // Duplicated keys: only one entry per key is allowed and the left-most is the vendor's
        // latest position, so later ones are discarded alone; every other vendor's entry stays.
        tracestate_case{"duplicate_in_one_header", {"foo=1,foo=1"}, "foo=1"},
        tracestate_case{"duplicate_different_values", {"foo=1,foo=2"}, "foo=1"},
        tracestate_case{"duplicate_across_headers", {"foo=1", "foo=2"}, "foo=1"},
        tracestate_case{"duplicates_among_others", {"foo=1,bar=2,foo=3", "bar=4", "baz=5,foo=6"}, "foo=1,bar=2,baz=5"},
        tracestate_case{"duplicates_count_toward_32", {numbered_members(1, 32), "bar01=again"}, ""},
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

TEST(tracestate, key_grammar) {
  using logfire::detail::valid_tracestate_key;
  for (char c = 'a'; c <= 'z'; ++c) EXPECT_TRUE(valid_tracestate_key(std::string(1, c)));
  for (char c = '0'; c <= '9'; ++c) EXPECT_TRUE(valid_tracestate_key(std::string(1, c)));
  // Every byte after the first: exactly a-z 0-9 _ - * / @ are key characters.
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const bool keychar =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' || c == '/' || c == '@';
    EXPECT_EQ(valid_tracestate_key(std::string("k") + c), keychar) << b;
    EXPECT_EQ(valid_tracestate_key(std::string(1, c) + "k"), (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) << b;
  }
  EXPECT_TRUE(valid_tracestate_key(std::string(256, 'a')));
  EXPECT_FALSE(valid_tracestate_key(std::string(257, 'a')));
  EXPECT_FALSE(valid_tracestate_key(""));
}

TEST(tracestate, parse_helper_matches_propagator) {
  std::string out;
  EXPECT_TRUE(logfire::detail::parse_tracestate("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE", out));
  EXPECT_EQ(out, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  EXPECT_TRUE(logfire::detail::parse_tracestate("rojo=1,rojo=2", out));
  EXPECT_EQ(out, "rojo=1");
  EXPECT_FALSE(logfire::detail::parse_tracestate("rojo=1,ROJO=2", out));
  EXPECT_EQ(out, "");
}

}  // namespace
