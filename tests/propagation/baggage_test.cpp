// W3C baggage: member grammar, percent-encoding both ways, properties, limits (64 members,
// 8192 bytes, whole members dropped) and malformed members dropped.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "logfire/propagation.hpp"
#include "propagation/parse.hpp"

namespace {

using headers = std::vector<std::pair<std::string, std::string>>;
using logfire::baggage_member;

std::vector<baggage_member> extract(const std::vector<std::string>& values) {
  headers h;
  for (const auto& v : values) h.emplace_back("baggage", v);
  logfire::header_list_carrier c{h};
  return logfire::extract_context(logfire::baggage_propagator{}, c).baggage;
}

std::string inject(std::vector<baggage_member> members) {
  logfire::propagation_context ctx;
  ctx.baggage = std::move(members);
  headers out;
  logfire::header_list_carrier c{out};
  logfire::baggage_propagator{}.inject(ctx, c);
  if (out.empty()) return "<none>";
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].first, "baggage");
  return out[0].second;
}

struct baggage_case {
  const char* name;
  std::string header;
  std::vector<baggage_member> expected;
};

class baggage_table : public ::testing::TestWithParam<baggage_case> {};

TEST_P(baggage_table, extract) {
  const auto& tc = GetParam();
  EXPECT_EQ(extract({tc.header}), tc.expected) << tc.header;
}

INSTANTIATE_TEST_SUITE_P(
    rules, baggage_table,
    ::testing::Values(baggage_case{"single", "userId=alice", {{"userId", "alice", ""}}},
                      baggage_case{
                          "several",
                          "userId=alice,serverNode=DF%2028,isProduction=false",
                          {{"userId", "alice", ""}, {"serverNode", "DF 28", ""}, {"isProduction", "false", ""}}},
                      baggage_case{"ows_everywhere", " a = 1 , b\t=\t2 ", {{"a", "1", ""}, {"b", "2", ""}}},
                      baggage_case{"empty_value", "a=", {{"a", "", ""}}},
                      baggage_case{"percent_decoding", "k=%E2%9C%93%20ok%2C%3B%25", {{"k", "\xE2\x9C\x93 ok,;%", ""}}},
                      baggage_case{"percent_lowercase_hex", "k=%c3%a9", {{"k", "\xC3\xA9", ""}}},
                      baggage_case{"properties_kept", "k=v;ttl=30;secure", {{"k", "v", "ttl=30;secure"}}},
                      baggage_case{"properties_ows_removed", "k=v ; ttl = 30 ; secure ", {{"k", "v", "ttl=30;secure"}}},
                      baggage_case{"empty_members_skipped", ",a=1,,b=2,", {{"a", "1", ""}, {"b", "2", ""}}},
                      baggage_case{"duplicate_key_last_wins", "a=1,b=2,a=3", {{"a", "3", ""}, {"b", "2", ""}}},
                      // Malformed members are dropped, the others kept.
                      baggage_case{"no_eq_dropped", "a,b=2", {{"b", "2", ""}}},
                      baggage_case{"empty_key_dropped", "=1,b=2", {{"b", "2", ""}}},
                      baggage_case{"key_not_token_dropped", "a b=1,c(d)=2,e=3", {{"e", "3", ""}}},
                      baggage_case{"value_with_space_dropped", "a=x y,b=2", {{"b", "2", ""}}},
                      baggage_case{"value_with_quote_dropped", "a=\"x\",b=2", {{"b", "2", ""}}},
                      baggage_case{"value_with_backslash_dropped", "a=x\\y,b=2", {{"b", "2", ""}}},
                      baggage_case{"value_non_ascii_dropped", "a=caf\xC3\xA9,b=2", {{"b", "2", ""}}},
                      baggage_case{"bad_percent_escape_dropped", "a=%zz,b=%4,c=%,d=ok", {{"d", "ok", ""}}},
                      baggage_case{"bad_property_dropped", "a=1;,b=2;p q,c=3;p=v", {{"c", "3", "p=v"}}},
                      baggage_case{"property_value_bad_dropped", "a=1;p=x\\y,b=2", {{"b", "2", ""}}}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(baggage, several_headers_are_combined) {
  const auto got = extract({"a=1", "b=2,c=3"});
  const std::vector<baggage_member> want{{"a", "1", ""}, {"b", "2", ""}, {"c", "3", ""}};
  EXPECT_EQ(got, want);
}

TEST(baggage, header_name_is_case_insensitive) {
  headers h{{"Baggage", "a=1"}};
  logfire::header_list_carrier c{h};
  EXPECT_EQ(logfire::extract_context(logfire::baggage_propagator{}, c).baggage.size(), 1u);
}

TEST(baggage, at_most_64_members) {
  std::string h;
  for (int i = 0; i < 70; ++i) h += (i ? "," : "") + std::string("k") + std::to_string(i) + "=v";
  const auto got = extract({h});
  ASSERT_EQ(got.size(), 64u);
  EXPECT_EQ(got.front().key, "k0");
  EXPECT_EQ(got.back().key, "k63");
}

TEST(baggage, at_most_8192_bytes_whole_members) {
  // Three members of 3000 bytes: the third would pass 8192, so it is dropped whole; a small
  // one after it still fits.
  const std::string big(2996, 'x');  // "kN=" + 2996 = 2999 bytes + comma
  const std::string h = "k1=" + big + ",k2=" + big + ",k3=" + big + ",small=1";
  const auto got = extract({h});
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].key, "k1");
  EXPECT_EQ(got[1].key, "k2");
  EXPECT_EQ(got[2].key, "small");
  EXPECT_EQ(got[0].value.size(), big.size()) << "never a part of a member";
}

TEST(baggage, limits_span_several_headers) {
  std::vector<std::string> values;
  for (int i = 0; i < 70; ++i) values.push_back("k" + std::to_string(i) + "=v");
  EXPECT_EQ(extract(values).size(), 64u);
}

TEST(baggage, a_single_member_over_8192_is_dropped) {
  EXPECT_TRUE(extract({"k=" + std::string(8191, 'x')}).empty());
  EXPECT_EQ(extract({"k=" + std::string(8190, 'x')}).size(), 1u);
}

TEST(baggage, inject_percent_encodes_values) {
  EXPECT_EQ(inject({{"userId", "alice", ""}, {"serverNode", "DF 28", ""}}), "userId=alice,serverNode=DF%2028");
  EXPECT_EQ(inject({{"k", "a,b;c\\d\"e%f", ""}}), "k=a%2Cb%3Bc%5Cd%22e%25f");
  EXPECT_EQ(inject({{"k", "\xE2\x9C\x93", ""}}), "k=%E2%9C%93");
  EXPECT_EQ(inject({{"k", "", ""}}), "k=");
}

TEST(baggage, inject_keeps_properties) {
  EXPECT_EQ(inject({{"k", "v", "ttl=30;secure"}}), "k=v;ttl=30;secure");
}

TEST(baggage, inject_skips_invalid_keys_and_bad_properties) {
  EXPECT_EQ(inject({{"bad key", "1", ""}, {"ok", "2", "p q"}}), "ok=2");
  EXPECT_EQ(inject({{"", "1", ""}}), "<none>");
}

TEST(baggage, inject_nothing_without_members) {
  EXPECT_EQ(inject({}), "<none>");
}

TEST(baggage, inject_applies_limits) {
  std::vector<baggage_member> many;
  for (int i = 0; i < 70; ++i) many.push_back({"k" + std::to_string(i), "v", ""});
  const std::string out = inject(many);
  EXPECT_EQ(std::count(out.begin(), out.end(), ','), 63);

  std::vector<baggage_member> big{{"a", std::string(5000, 'x'), ""}, {"b", std::string(5000, 'y'), ""}, {"c", "1", ""}};
  const std::string out2 = inject(big);
  EXPECT_EQ(out2, "a=" + std::string(5000, 'x') + ",c=1");
  EXPECT_LE(out2.size(), logfire::baggage_max_bytes);
}

TEST(baggage, round_trip) {
  const std::vector<baggage_member> members{
      {"user", "J\xC3\xB6rg M\xC3\xBCller", ""}, {"tenant", "a=b,c", "ttl=5"}, {"empty", "", ""}};
  EXPECT_EQ(extract({inject(members)}), members);
}

TEST(baggage, extract_merges_into_existing_members) {
  logfire::propagation_context ctx;
  ctx.baggage = {{"a", "old", ""}, {"keep", "1", ""}};
  headers h{{"baggage", "a=new,b=2"}};
  logfire::header_list_carrier c{h};
  logfire::baggage_propagator{}.extract(c, ctx);
  const std::vector<baggage_member> want{{"a", "new", ""}, {"keep", "1", ""}, {"b", "2", ""}};
  EXPECT_EQ(ctx.baggage, want);
}

TEST(baggage, does_not_touch_trace_context) {
  headers h{{"baggage", "a=1"}, {"traceparent", "00-12345678901234567890123456789012-1234567890123456-01"}};
  logfire::header_list_carrier c{h};
  const auto ctx = logfire::extract_context(logfire::baggage_propagator{}, c);
  EXPECT_FALSE(ctx.has_trace());
  EXPECT_EQ(ctx.baggage.size(), 1u);
}

TEST(baggage, find_baggage) {
  const auto ctx = [] {
    headers h{{"baggage", "a=1,b=2"}};
    logfire::header_list_carrier c{h};
    return logfire::extract_context(logfire::baggage_propagator{}, c);
  }();
  ASSERT_NE(ctx.find_baggage("b"), nullptr);
  EXPECT_EQ(ctx.find_baggage("b")->value, "2");
  EXPECT_EQ(ctx.find_baggage("c"), nullptr);
}

}  // namespace
