// Message templates through the whole pipeline: what ends up in `logfire.msg` (and the
// record's message) for the template forms users write, and how bad templates are counted.
#include <string>

#include "core/core_support.hpp"

using namespace core_test;
using logfire::event_counter;

class templates : public memory_sdk {
 protected:
  // Logs `tmpl` with `args` and returns the exported message.
  std::string message_of(std::string_view tmpl, std::initializer_list<logfire::arg> args) {
    mem->clear();
    logfire::info(tmpl, args);
    auto recs = flushed();
    EXPECT_EQ(recs.size(), 1u);
    if (recs.empty()) return "<no record>";
    EXPECT_EQ(recs[0].name, tmpl);  // the name stays the unformatted template
    EXPECT_EQ(recs[0].string_attr("logfire.msg_template"), tmpl);
    EXPECT_EQ(recs[0].string_attr("logfire.msg"), recs[0].message);
    return recs[0].message;
  }
  std::uint64_t template_errors() { return logfire::stats().count_of(event_counter::template_errors); }
};

TEST_F(templates, plain_field) {
  EXPECT_EQ(message_of("user {id} paid", {{"id", 7}}), "user 7 paid");
  EXPECT_EQ(message_of("no fields at all", {{"id", 7}}), "no fields at all");
  EXPECT_EQ(template_errors(), 0u);
}

TEST_F(templates, self_documenting_field) {
  EXPECT_EQ(message_of("{x=} and {name=}", {{"x", 5}, {"name", "ann"}}), "x=5 and name=ann");
}

TEST_F(templates, format_specs) {
  EXPECT_EQ(message_of("{x:.2f}", {{"x", 3.14159}}), "3.14");
  EXPECT_EQ(message_of("[{n:>5}]", {{"n", 42}}), "[   42]");
  EXPECT_EQ(message_of("{n:05d}", {{"n", 42}}), "00042");
  EXPECT_EQ(message_of("{n:,}", {{"n", 1234567}}), "1,234,567");
  EXPECT_EQ(message_of("{s:<4}|", {{"s", "ab"}}), "ab  |");
  EXPECT_EQ(template_errors(), 0u);
}

TEST_F(templates, literal_braces) {
  EXPECT_EQ(message_of("{{literal}} {x}", {{"x", 1}}), "{literal} 1");
  EXPECT_EQ(message_of("a {{ b }} c", {}), "a { b } c");
  EXPECT_EQ(template_errors(), 0u);
}

TEST_F(templates, dotted_names_are_plain_keys) {
  EXPECT_EQ(message_of("GET {http.route}", {{"http.route", "/users/{id}"}}), "GET /users/{id}");
}

TEST_F(templates, missing_field_falls_back_to_the_template) {
  EXPECT_EQ(message_of("hello {nobody}", {{"somebody", 1}}), "hello {nobody}");
  EXPECT_EQ(template_errors(), 1u);
}

TEST_F(templates, long_values_are_cut_in_the_middle) {
  std::string value;
  for (int i = 0; i < 300; ++i) value.push_back(static_cast<char>('a' + i % 26));
  const std::string msg = message_of("v={v}!", {{"v", value}});
  // 62 characters, "...", the last 62 characters.
  EXPECT_EQ(msg, "v=" + value.substr(0, 62) + "..." + value.substr(value.size() - 62) + "!");
  // The attribute itself is kept whole.
  auto recs = mem->records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].string_attr("v"), value);
  // A value of exactly 128 characters is not cut.
  const std::string exact(128, 'x');
  EXPECT_EQ(message_of("{v}", {{"v", exact}}), exact);
  EXPECT_EQ(template_errors(), 0u);
}

TEST_F(templates, long_multibyte_values_are_cut_by_code_points) {
  std::string value;
  for (int i = 0; i < 200; ++i) value += "\xc3\xa9";  // U+00E9, 2 bytes each
  const std::string msg = message_of("{v}", {{"v", value}});
  std::string expected;
  for (int i = 0; i < 62; ++i) expected += "\xc3\xa9";
  expected += "...";
  for (int i = 0; i < 62; ++i) expected += "\xc3\xa9";
  EXPECT_EQ(msg, expected);
}

TEST_F(templates, malformed_templates_fall_back_and_are_counted) {
  const char* bad[] = {"unclosed {x", "stray } brace", "empty {} field", "bad spec {x:zz}", "bad conv {x!q}"};
  std::uint64_t expected_errors = 0;
  for (const char* t : bad) {
    EXPECT_EQ(message_of(t, {{"x", 1}}), t);
    ++expected_errors;
    EXPECT_EQ(template_errors(), expected_errors) << t;
  }
  // A malformed template loses nothing: the record is exported.
  const auto st = logfire::stats();
  EXPECT_EQ(st.exported, std::size(bad));
  expect_accounted(st);
}

TEST_F(templates, span_templates_are_formatted_at_the_end) {
  {
    logfire::span s("order {id} is {state}", {{"id", 3}});
    s.set_attribute("state", "paid");
  }
  auto recs = flushed();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].message, "order 3 is paid");
  EXPECT_EQ(recs[0].name, "order {id} is {state}");
  EXPECT_EQ(template_errors(), 0u);
}
