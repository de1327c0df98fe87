// Message templates as a Logfire user sees them in `logfire.msg`: fields, {x=}, Python format
// specs (expected strings produced by CPython's format()), literal braces, dotted names,
// missing fields and malformed templates falling back to the template, and the 128-character
// cut of each value.
#include "formatting/message_template.hpp"

#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "logfire/record.hpp"

namespace {

using logfire::attribute;
using logfire::attribute_value;
using logfire::detail::append_message;
using logfire::detail::append_planned_message;
using logfire::detail::format_message;
using logfire::detail::is_plain_template;
using logfire::detail::make_template_plan;
using logfire::detail::template_error;
using logfire::detail::template_plan;
using logfire::detail::template_problem;
using kind = attribute_value::kind;

attribute_value S(std::string_view s) {
  attribute_value v;
  v.type = kind::string;
  v.s = s;
  return v;
}
attribute_value I(std::int64_t i) {
  attribute_value v;
  v.type = kind::int64;
  v.i = i;
  return v;
}
attribute_value D(double d) {
  attribute_value v;
  v.type = kind::float64;
  v.d = d;
  return v;
}
attribute_value B(bool b) {
  attribute_value v;
  v.type = kind::boolean;
  v.b = b;
  return v;
}
attribute_value A(std::span<const attribute_value> items) {
  attribute_value v;
  v.type = kind::array;
  v.items = items;
  return v;
}

// The message, by format_message; and when the template has a plan (a call site's, reused for
// its records), the plan must give the same bytes.
std::string fmt(std::string_view tmpl, std::vector<attribute> attrs, bool expect_ok = true) {
  std::string out = "garbage that format_message must replace";
  const bool ok = format_message(tmpl, attrs, out);
  EXPECT_EQ(ok, expect_ok) << tmpl;
  if (template_plan plan; make_template_plan(tmpl, attrs, plan)) {
    EXPECT_TRUE(ok) << "a plan for a template that does not format: " << tmpl;
    std::string planned = "kept|";
    append_planned_message(plan, attrs, planned);
    EXPECT_EQ(planned, "kept|" + out) << tmpl;
  }
  return out;
}

// Whether a template gets a plan for these attributes.
bool planned(std::string_view tmpl, const std::vector<attribute>& attrs) {
  template_plan plan;
  return make_template_plan(tmpl, attrs, plan);
}

// A template that must fall back: returns the problem and checks out == template.
template_problem fails(std::string_view tmpl, std::vector<attribute> attrs = {}) {
  std::string out;
  template_problem p;
  EXPECT_FALSE(format_message(tmpl, attrs, out, &p)) << tmpl;
  EXPECT_EQ(out, tmpl);
  EXPECT_NE(p.error, template_error::none) << tmpl;
  return p;
}

struct int_case {
  std::int64_t v;
  const char* spec;
  const char* expected;
};
struct double_case {
  double v;
  const char* spec;
  const char* expected;
};
struct string_case {
  const char* v;
  const char* spec;
  const char* expected;
};
#include "python_format_cases.inc"

TEST(MessageTemplate, PlainTextIsCopied) {
  EXPECT_EQ(fmt("hello world", {}), "hello world");
  EXPECT_EQ(fmt("", {}), "");
  EXPECT_TRUE(is_plain_template("no fields here"));
  EXPECT_FALSE(is_plain_template("one {field}"));
  EXPECT_FALSE(is_plain_template("brace }"));
}

TEST(MessageTemplate, FieldsTakeTheAttributeValues) {
  EXPECT_EQ(fmt("charged {user}", {{"user", S("alice")}}), "charged alice");
  EXPECT_EQ(fmt("{n} items", {{"n", I(-3)}}), "-3 items");
  EXPECT_EQ(fmt("ratio {r}", {{"r", D(0.5)}}), "ratio 0.5");
  EXPECT_EQ(fmt("whole {r}", {{"r", D(3.0)}}), "whole 3.0");
  EXPECT_EQ(fmt("big {r}", {{"r", D(1e20)}}), "big 1e+20");
  EXPECT_EQ(fmt("odd {r} {s} {t}", {{"r", D(std::nan(""))},
                                    {"s", D(std::numeric_limits<double>::infinity())},
                                    {"t", D(-std::numeric_limits<double>::infinity())}}),
            "odd nan inf -inf");
  EXPECT_EQ(fmt("{a} {b}", {{"a", B(true)}, {"b", B(false)}}), "true false");
  EXPECT_EQ(fmt("none {x}", {{"x", attribute_value{}}}), "none null");
  EXPECT_EQ(fmt("{a}{b}", {{"a", S("x")}, {"b", S("y")}}), "xy");
}

TEST(MessageTemplate, ArraysAndJsonValues) {
  const attribute_value ints[] = {I(1), I(2), I(3)};
  const attribute_value strs[] = {S("a"), S("b\"c")};
  const attribute_value mixed[] = {D(1.5), B(true), attribute_value{}};
  EXPECT_EQ(fmt("ids {ids}", {{"ids", A(ints)}}), "ids [1, 2, 3]");
  EXPECT_EQ(fmt("tags {t}", {{"t", A(strs)}}), "tags [\"a\", \"b\\\"c\"]");
  EXPECT_EQ(fmt("{m}", {{"m", A(mixed)}}), "[1.5, true, null]");
  EXPECT_EQ(fmt("{e}", {{"e", A({})}}), "[]");
  // Nested objects arrive as their JSON text and print as it.
  EXPECT_EQ(fmt("card {card}", {{"card", S("{\"last4\":\"4242\"}")}}), "card {\"last4\":\"4242\"}");
}

TEST(MessageTemplate, EqualsSignPrintsTheName) {
  EXPECT_EQ(fmt("{user_id=}", {{"user_id", I(42)}}), "user_id=42");
  EXPECT_EQ(fmt("paid {amount=:.2f} by {who=}", {{"amount", D(3.14159)}, {"who", S("bob")}}),
            "paid amount=3.14 by who=bob");
  EXPECT_EQ(fmt("{s=!r}", {{"s", S("x")}}), "s='x'");
}

TEST(MessageTemplate, DottedNamesAreWholeKeys) {
  EXPECT_EQ(
      fmt("GET {http.route} -> {http.status_code}", {{"http.route", S("/users/{id}")}, {"http.status_code", I(200)}}),
      "GET /users/{id} -> 200");
}

TEST(MessageTemplate, KeysSharingLongPrefixesAreToldApart) {
  const std::vector<attribute> attrs = {{"http.request.header", S("h")},
                                        {"http.request.method", S("GET")},
                                        {"http.request.methods", S("many")},
                                        {"http.request.method_", S("under")}};
  EXPECT_EQ(fmt("{http.request.method}", attrs), "GET");
  EXPECT_EQ(fmt("{http.request.method_}", attrs), "under");
  fails("{http.request.metho}", attrs);
}

TEST(MessageTemplate, FirstMatchingAttributeWins) {
  EXPECT_EQ(fmt("{k}", {{"k", S("first")}, {"k", S("second")}}), "first");
  EXPECT_EQ(fmt("{k} {k}", {{"k", I(7)}}), "7 7");
}

TEST(MessageTemplate, DoubledBracesAreLiteral) {
  EXPECT_EQ(fmt("{{literal}}", {}), "{literal}");
  EXPECT_EQ(fmt("a}}b{{c", {}), "a}b{c");
  EXPECT_EQ(fmt("{{{x}}}", {{"x", I(42)}}), "{42}");
  EXPECT_EQ(fmt("set {{{a}, {b}}}", {{"a", I(1)}, {"b", I(2)}}), "set {1, 2}");
}

TEST(MessageTemplate, IntegerSpecsMatchPython) {
  for (const int_case& c : k_int_cases) {
    const std::string tmpl = std::string("{v:") + c.spec + "}";
    EXPECT_EQ(fmt(tmpl, {{"v", I(c.v)}}), c.expected) << "spec '" << c.spec << "' value " << c.v;
  }
}

TEST(MessageTemplate, FloatSpecsMatchPython) {
  for (const double_case& c : k_double_cases) {
    const std::string tmpl = std::string("{v:") + c.spec + "}";
    EXPECT_EQ(fmt(tmpl, {{"v", D(c.v)}}), c.expected) << "spec '" << c.spec << "' value " << c.v;
  }
}

TEST(MessageTemplate, StringSpecsMatchPython) {
  for (const string_case& c : k_string_cases) {
    const std::string tmpl = std::string("{v:") + c.spec + "}";
    EXPECT_EQ(fmt(tmpl, {{"v", S(c.v)}}), c.expected) << "spec '" << c.spec << "' value " << c.v;
  }
}

// ".Nf" is the most common spec and has a shortcut; it must round exactly like the general
// algorithm (correctly rounded, ties to even on the exact binary value).
TEST(MessageTemplate, FixedPrecisionMatchesCorrectRounding) {
  std::mt19937_64 rng(4242);
  std::string tmpl;
  for (int k = 0; k < 100000; ++k) {
    const int p = static_cast<int>(rng() % 16);
    double d;
    switch (k % 4) {
      case 0:
        d = static_cast<double>(rng() % 100000) / 1000.0;
        break;  // 3 decimals, ties at .5
      case 1:
        d = static_cast<double>(rng() % 1000) / 8.0;
        break;  // exact binary ties
      case 2:
        d = std::ldexp(static_cast<double>(rng() >> 11), -static_cast<int>(rng() % 60));
        break;
      default:
        d = static_cast<double>(rng() % 100000000000ull) / 7.0;
        break;
    }
    if (rng() % 2) d = -d;
    char expected[600];
    char* end = std::to_chars(expected, expected + sizeof expected, d, std::chars_format::fixed, p).ptr;
    tmpl = "{v:." + std::to_string(p) + "f}";
    ASSERT_EQ(fmt(tmpl, {{"v", D(d)}}), std::string(expected, end)) << tmpl << ' ' << d;
  }
}

TEST(MessageTemplate, BooleansAndArraysWithSpecs) {
  EXPECT_EQ(fmt("{b:d}", {{"b", B(true)}}), "1");
  EXPECT_EQ(fmt("{b:.1f}", {{"b", B(true)}}), "1.0");
  EXPECT_EQ(fmt("[{b:>6}]", {{"b", B(true)}}), "[  true]");
  const attribute_value ints[] = {I(1), I(2)};
  EXPECT_EQ(fmt("[{a:>8}]", {{"a", A(ints)}}), "[  [1, 2]]");
}

TEST(MessageTemplate, NestedFieldsInsideSpecs) {
  EXPECT_EQ(fmt("[{x:>{w}}]", {{"x", S("ab")}, {"w", I(5)}}), "[   ab]");
  EXPECT_EQ(fmt("{x:.{p}f}", {{"x", D(2.0 / 3)}, {"p", I(3)}}), "0.667");
}

TEST(MessageTemplate, Conversions) {
  EXPECT_EQ(fmt("{s!r}", {{"s", S("it's")}}), "\"it's\"");
  EXPECT_EQ(fmt("{s!r}", {{"s", S("say \"hi\"")}}), "'say \"hi\"'");
  EXPECT_EQ(fmt("{s!r}", {{"s", S("tab\there\n")}}), "'tab\\there\\n'");
  EXPECT_EQ(fmt("{s!a}", {{"s", S("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80")}}), "'caf\\xe9 \\u20ac \\U0001f600'");
  EXPECT_EQ(fmt("{s!s}", {{"s", S("as is")}}), "as is");
  EXPECT_EQ(fmt("{n!r:>4}", {{"n", I(7)}}), "   7");
}

TEST(MessageTemplate, MissingFieldFallsBackToTheTemplate) {
  // As Logfire's Python SDK: the whole message is the raw template and a warning is counted.
  const template_problem p = fails("hello {name}, you owe {amount}", {{"name", S("x")}});
  EXPECT_EQ(p.error, template_error::missing_field);
  EXPECT_EQ(p.field, "amount");
  EXPECT_EQ(fails("{user=}").field, "user");
  EXPECT_EQ(fails("{x:>{width}}", {{"x", I(1)}}).error, template_error::missing_field);
}

TEST(MessageTemplate, MalformedTemplatesFallBack) {
  const std::vector<attribute> attrs = {{"x", I(5)}, {"s", S("text")}};
  EXPECT_EQ(fails("{", attrs).error, template_error::unmatched_open_brace);
  EXPECT_EQ(fails("oops {x", attrs).error, template_error::unmatched_open_brace);
  EXPECT_EQ(fails("{x:{w}", attrs).error, template_error::unmatched_open_brace);
  EXPECT_EQ(fails("}", attrs).error, template_error::unmatched_close_brace);
  EXPECT_EQ(fails("a } b {x}", attrs).error, template_error::unmatched_close_brace);
  EXPECT_EQ(fails("{x}}", attrs).error, template_error::unmatched_close_brace);
  EXPECT_EQ(fails("}{", attrs).error, template_error::unmatched_close_brace);
  EXPECT_EQ(fails("empty {}", attrs).error, template_error::empty_field);
  EXPECT_EQ(fails("{:>3}", attrs).error, template_error::empty_field);
  EXPECT_EQ(fails("{x!}", attrs).error, template_error::bad_conversion);
  EXPECT_EQ(fails("{x!q}", attrs).error, template_error::bad_conversion);
  EXPECT_EQ(fails("{x!rr}", attrs).error, template_error::bad_conversion);
  EXPECT_EQ(fails("{x:q}", attrs).error, template_error::bad_spec);      // unknown type
  EXPECT_EQ(fails("{x:.f}", attrs).error, template_error::bad_spec);     // precision without digits
  EXPECT_EQ(fails("{x:.2d}", attrs).error, template_error::bad_spec);    // precision on an int
  EXPECT_EQ(fails("{x:,x}", attrs).error, template_error::bad_spec);     // ',' with hex
  EXPECT_EQ(fails("{x:s}", attrs).error, template_error::bad_spec);      // 's' on a number
  EXPECT_EQ(fails("{x:>5>}", attrs).error, template_error::bad_spec);    // trailing junk
  EXPECT_EQ(fails("{x:99999}", attrs).error, template_error::bad_spec);  // width over the limit
  EXPECT_EQ(fails("{s:d}", attrs).error, template_error::bad_spec);      // int type on a string
  EXPECT_EQ(fails("{s:+}", attrs).error, template_error::bad_spec);      // sign on a string
  EXPECT_EQ(fails("{s:=9}", attrs).error, template_error::bad_spec);     // '=' on a string
  EXPECT_EQ(fails("{s:,}", attrs).error, template_error::bad_spec);      // grouping on a string
  EXPECT_EQ(fails("{x:{s}}", attrs).error, template_error::bad_spec);    // nested value is no spec
  EXPECT_EQ(fails("{x:c}", {{"x", I(-1)}}).error, template_error::bad_spec);
  EXPECT_EQ(fails("{x:.2f}", {{"x", attribute_value{}}}).error, template_error::bad_spec);
}

TEST(MessageTemplate, FallbackKeepsWhatWasAlreadyInTheBuffer) {
  std::string out = "prefix|";
  EXPECT_FALSE(append_message("a {x} b {missing}", std::vector<attribute>{{"x", I(1)}}, out));
  EXPECT_EQ(out, "prefix|a {x} b {missing}");
  EXPECT_TRUE(append_message(" {x}", std::vector<attribute>{{"x", I(1)}}, out));
  EXPECT_EQ(out, "prefix|a {x} b {missing} 1");
}

TEST(MessageTemplate, LongValuesAreCutInTheMiddle) {
  const std::string exactly_128(128, 'x');
  EXPECT_EQ(fmt("[{v}]", {{"v", S(exactly_128)}}), "[" + exactly_128 + "]");

  const std::string v129 = std::string(64, 'a') + std::string(65, 'b');
  EXPECT_EQ(fmt("[{v}]", {{"v", S(v129)}}), "[" + std::string(62, 'a') + "..." + std::string(62, 'b') + "]");

  const std::string v200 = std::string(100, 'a') + std::string(100, 'b');
  const std::string cut = std::string(62, 'a') + "..." + std::string(62, 'b');
  EXPECT_EQ(fmt("{v}", {{"v", S(v200)}}), cut);
  EXPECT_EQ(cut.size(), 127u);
  // The "name=" label and the literal text are not part of the value.
  EXPECT_EQ(fmt("{v=} end", {{"v", S(v200)}}), "v=" + cut + " end");
  const std::string long_literal(300, '-');
  EXPECT_EQ(fmt(long_literal + "{x}", {{"x", I(1)}}), long_literal + "1");
  // Padding counts as part of the formatted value.
  EXPECT_EQ(fmt("{x:>200}", {{"x", I(7)}}), std::string(62, ' ') + "..." + std::string(61, ' ') + "7");
}

TEST(MessageTemplate, UnicodeValuesAndCutsNeverSplitACharacter) {
  EXPECT_EQ(fmt("caf\xC3\xA9 {v}", {{"v", S("\xE2\x82\xAC 5 \xF0\x9F\x98\x80")}}),
            "caf\xC3\xA9 \xE2\x82\xAC 5 \xF0\x9F\x98\x80");

  std::string e100, euro100, e62, euro62;
  for (int k = 0; k < 100; ++k) e100 += "\xC3\xA9", euro100 += "\xE2\x82\xAC";
  for (int k = 0; k < 62; ++k) e62 += "\xC3\xA9", euro62 += "\xE2\x82\xAC";
  EXPECT_EQ(fmt("{v}", {{"v", S(e100 + euro100)}}), e62 + "..." + euro62);

  // 128 four-byte characters are 512 bytes but exactly the limit: unchanged.
  std::string emoji128;
  for (int k = 0; k < 128; ++k) emoji128 += "\xF0\x9F\x98\x80";
  EXPECT_EQ(fmt("{v}", {{"v", S(emoji128)}}), emoji128);
}

TEST(MessageTemplate, FormatMessageReplacesAndReportsNothingOnSuccess) {
  std::string out = "old";
  template_problem p;
  p.error = template_error::bad_spec;
  EXPECT_TRUE(format_message("n={n}", std::vector<attribute>{{"n", I(1)}}, out, &p));
  EXPECT_EQ(out, "n=1");
  EXPECT_EQ(p.error, template_error::bad_spec);  // untouched on success
}

TEST(MessageTemplate, PlansAreMadeForPlainFieldsOnlyAndFormatLikeTheTemplate) {
  const std::vector<attribute> attrs{{"user", S("ann")}, {"n", I(3)}, {"http.route", S("/a/{id}")}, {"n", I(9)}};
  EXPECT_TRUE(planned("no fields", attrs));
  EXPECT_TRUE(planned("", attrs));
  EXPECT_TRUE(planned("{user} did {n} at {http.route} {{literal}} }}", attrs));
  EXPECT_FALSE(planned("{user=}", attrs));    // the name is printed: format_message
  EXPECT_FALSE(planned("{n:>4}", attrs));     // a spec
  EXPECT_FALSE(planned("{user!r}", attrs));   // a conversion
  EXPECT_FALSE(planned("{n:{n}}", attrs));    // a nested field
  EXPECT_FALSE(planned("{missing}", attrs));  // names no attribute: counted by format_message
  EXPECT_FALSE(planned("{}", attrs));         // malformed
  EXPECT_FALSE(planned("{user", attrs));      // malformed
  EXPECT_FALSE(planned("user}", attrs));      // malformed
  // The first attribute with the key, as format_message takes it; literal braces kept.
  EXPECT_EQ(fmt("{user} did {n} at {http.route} {{literal}} }}", attrs), "ann did 3 at /a/{id} {literal} }");
  // Values cut at 128 code points, as format_message cuts them.
  const std::string long_value(300, 'x');
  EXPECT_EQ(fmt("v={v}.", {{"v", S(long_value)}}), "v=" + std::string(62, 'x') + "..." + std::string(62, 'x') + ".");
  // A plan holds positions: it formats other values under the same keys.
  template_plan plan;
  ASSERT_TRUE(make_template_plan("{a}-{b}", std::vector<attribute>{{"b", I(1)}, {"a", I(2)}}, plan));
  std::string out;
  append_planned_message(plan, std::vector<attribute>{{"b", S("B")}, {"a", B(true)}}, out);
  EXPECT_EQ(out, "true-B");
}

}  // namespace
