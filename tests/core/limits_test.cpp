// Limits and bad input: attribute count and value length limits (counted), UTF-8 never split
// by a cut, invalid UTF-8 anywhere repaired with U+FFFD (counted) before any exporter sees it.
#include <string>

#include "core/core_support.hpp"
#include "text/utf8.hpp"

using namespace core_test;
using logfire::event_counter;

namespace {
std::uint64_t truncations() {
  return logfire::stats().count_of(event_counter::attributes_truncated);
}
std::uint64_t repairs() {
  return logfire::stats().count_of(event_counter::invalid_utf8_repaired);
}
// Every string of the record (name, message, keys, values, tags, events) is valid UTF-8.
void expect_all_valid_utf8(const logfire::stored_record& r) {
  EXPECT_TRUE(logfire::detail::is_valid_utf8(r.name)) << r.name;
  EXPECT_TRUE(logfire::detail::is_valid_utf8(r.message)) << r.message;
  auto check_value = [](const logfire::stored_value& v, const std::string& key) {
    if (const auto* s = v.string()) {
      EXPECT_TRUE(logfire::detail::is_valid_utf8(*s)) << key;
    }
    if (const auto* a = v.array()) {
      for (const auto& item : *a) {
        if (const auto* s = item.string()) {
          EXPECT_TRUE(logfire::detail::is_valid_utf8(*s)) << key;
        }
      }
    }
  };
  for (const auto& [k, v] : r.attributes) {
    EXPECT_TRUE(logfire::detail::is_valid_utf8(k)) << k;
    check_value(v, k);
  }
  for (const auto& e : r.events) {
    EXPECT_TRUE(logfire::detail::is_valid_utf8(e.name));
    for (const auto& [k, v] : e.attributes) check_value(v, k);
  }
}
}  // namespace

class limits : public memory_sdk {
 protected:
  void adjust(logfire::options& o) override {
    o.limits.max_attributes = 4;
    o.limits.max_value_length = 10;
  }
};

TEST_F(limits, attribute_count_limit) {
  logfire::info("six {a}", {{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}, {"e", 5}, {"f", 6}});
  auto recs = flushed();
  ASSERT_EQ(recs.size(), 1u);
  const auto& r = recs[0];
  for (const char* k : {"a", "b", "c", "d"}) EXPECT_TRUE(r.find(k)) << k;
  for (const char* k : {"e", "f"}) EXPECT_FALSE(r.find(k)) << k;
  // Logfire's own attributes are not part of the user's budget.
  EXPECT_EQ(r.string_attr("logfire.msg"), "six 1");
  EXPECT_TRUE(r.find("logfire.json_schema"));
  EXPECT_TRUE(r.find("code.lineno"));
  EXPECT_EQ(truncations(), 1u);
}

TEST_F(limits, attributes_within_the_limit_are_not_counted) {
  logfire::info("four", {{"a", 1}, {"b", 2}, {"c", 3}, {"d", "0123456789"}});
  auto recs = flushed();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].string_attr("d"), "0123456789");
  EXPECT_EQ(truncations(), 0u);
}

TEST_F(limits, value_length_limit) {
  logfire::info("long {v}", {{"v", "abcdefghijklmnop"}});
  { logfire::span s("span {w}", {{"w", "ABCDEFGHIJKLMNOP"}}); }
  auto recs = flushed();
  ASSERT_EQ(recs.size(), 2u);
  const auto* l = find_log(recs, "long {v}");
  const auto* s = find(recs, "span {w}");
  ASSERT_TRUE(l && s);
  EXPECT_EQ(l->string_attr("v"), "abcdefghij");
  EXPECT_EQ(l->message, "long abcdefghij");
  EXPECT_EQ(s->string_attr("w"), "ABCDEFGHIJ");
  EXPECT_EQ(truncations(), 2u);
}

TEST_F(limits, value_cut_never_splits_a_utf8_sequence) {
  // "é" is 2 bytes, "€" is 3 bytes: 10 bytes end inside a sequence in both cases.
  logfire::info("utf8", {{"two", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"},
                         {"three", "a\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"}});
  auto recs = flushed();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].string_attr("two"), "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");  // 10 bytes: 5 whole
  EXPECT_EQ(recs[0].string_attr("three"), "a\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac");   // 10 bytes: a + 3 whole
  // Cuts at a sequence boundary never need repair.
  EXPECT_EQ(repairs(), 0u);
  expect_all_valid_utf8(recs[0]);
}

TEST_F(limits, set_attribute_and_arrays_obey_the_limits) {
  const std::vector<std::string> names{"0123456789xyz", "short"};
  {
    logfire::span s("limited");
    s.set_attribute("late", "0123456789abc");
    s.set_attribute("names", names);
  }
  auto recs = flushed();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].string_attr("late"), "0123456789");
  EXPECT_EQ(string_array(recs[0], "names"), (std::vector<std::string>{"0123456789", "short"}));
  EXPECT_EQ(truncations(), 2u);
}

class bad_input : public memory_sdk {};

TEST_F(bad_input, invalid_utf8_is_repaired_everywhere_and_counted) {
  logfire::info("bad \xff template {k\xfe}", {{"k\xfe", "v\xc3"}, {"ok", "fine"}}, {.tags = {"t\x80"}});
  auto recs = flushed();
  ASSERT_EQ(recs.size(), 1u);
  const auto& r = recs[0];
  expect_all_valid_utf8(r);
  EXPECT_EQ(r.name, "bad \xef\xbf\xbd template {k\xef\xbf\xbd}");
  EXPECT_EQ(r.string_attr("k\xef\xbf\xbd"), "v\xef\xbf\xbd");
  EXPECT_EQ(r.message, "bad \xef\xbf\xbd template v\xef\xbf\xbd");
  EXPECT_EQ(string_array(r, "logfire.tags"), std::vector<std::string>{"t\xef\xbf\xbd"});
  EXPECT_EQ(r.string_attr("ok"), "fine");
  // Template, key, value and tag: four strings repaired.
  EXPECT_EQ(repairs(), 4u);
}

TEST_F(bad_input, invalid_utf8_in_nested_values_events_and_exceptions) {
  {
    logfire::span s("nested");
    s.set_attribute("obj", logfire::object{{"k\xff", "v\xfe"}});
    s.add_event("ev\xc0", {{"a", "b\xc1"}});
    s.record_exception("Type\xf5", "msg\xf8", {}, /*escaped=*/true);
  }
  auto recs = flushed();
  ASSERT_EQ(recs.size(), 1u);
  expect_all_valid_utf8(recs[0]);
  EXPECT_EQ(recs[0].string_attr("obj"), "{\"k\xef\xbf\xbd\":\"v\xef\xbf\xbd\"}");
  EXPECT_EQ(recs[0].status_message, "Type\xef\xbf\xbd: msg\xef\xbf\xbd");
  EXPECT_GE(repairs(), 6u);
}

TEST_F(bad_input, valid_utf8_is_untouched) {
  logfire::info("héllo {name} 😀", {{"name", "wörld"}}, {.tags = {"тег"}});
  auto recs = flushed();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].message, "héllo wörld 😀");
  EXPECT_EQ(repairs(), 0u);
}

TEST_F(bad_input, embedded_nul_and_control_bytes_survive) {
  const std::string with_nul("a\0b", 3);
  logfire::info("nul {v}", {{"v", with_nul}});
  auto recs = flushed();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].string_attr("v"), with_nul);
}

TEST_F(bad_input, non_finite_and_huge_numbers) {
  const double inf = std::numeric_limits<double>::infinity();
  logfire::info("numbers", {{"nan", std::numeric_limits<double>::quiet_NaN()},
                            {"inf", inf},
                            {"ninf", -inf},
                            {"big", std::numeric_limits<std::uint64_t>::max()}});
  auto recs = flushed();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].string_attr("nan"), "NaN");
  EXPECT_EQ(recs[0].string_attr("inf"), "Infinity");
  EXPECT_EQ(recs[0].string_attr("ninf"), "-Infinity");
  EXPECT_EQ(recs[0].string_attr("big"), "18446744073709551615");
}

TEST_F(limits, events_and_exceptions_obey_the_limits) {
  {
    logfire::span s("with event");
    s.add_event("many", {{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}, {"e", 5}});
    s.record_exception("Error", "a message longer than ten bytes");
  }
  auto recs = flushed();
  ASSERT_EQ(recs.size(), 1u);
  ASSERT_EQ(recs[0].events.size(), 2u);
  EXPECT_EQ(recs[0].events[0].attributes.size(), 4u);
  EXPECT_EQ(*recs[0].events[1].find("exception.message")->string(), "a message ");
  EXPECT_EQ(truncations(), 2u);
}

// A span start or a log of plain values (null, booleans, numbers, texts) is written into the
// ring in one pass, into space reserved for a bound of its size (body_bound(), pipeline/api.cpp).
// Every part the bound counts arrives whole when within its limit and cut when past it: the
// template, the keys, the values of each kind, the call's tags and a handle's. In debug builds
// (the sanitizer run) a record that writes more than its bound stops the test at the write.
TEST_F(limits, plain_values_of_every_kind_at_and_past_each_limit) {
  const std::string long_key(300, 'k');                                         // cut at 256
  const std::string key_across = std::string(255, 'x') + "\xe2\x82\xac" + "y";  // "€" spans byte 256
  const std::string long_tag(300, 't');
  const std::string tag_across = std::string(254, 'g') + "\xe2\x82\xac";  // "€" ends at byte 257
  logfire::info("scalars", {{"nil", logfire::null},
                            {"b", true},
                            {"i", std::int64_t{-5}},
                            {"u", std::uint64_t{7}},
                            {"past", 1},
                            {"limit", 2}});
  logfire::info("texts", {{"d", 2.5}, {"empty", ""}, {"ten", "0123456789"}, {"eleven", "0123456789a"}});
  {
    logfire::span s("a template past ten bytes",
                    {{long_key, 1}, {key_across, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"}},
                    {.tags = {long_tag, "t"}});
  }
  logfire::with_tags({tag_across, "h"}).warn("tagged", {{"ok", false}}, {.tags = {"own"}});
  auto recs = flushed();
  ASSERT_EQ(recs.size(), 4u);

  const auto* scalars = find_log(recs, "scalars");
  ASSERT_TRUE(scalars);
  EXPECT_FALSE(scalars->find("nil"));  // a null is named in logfire.null_args, as Logfire does
  EXPECT_EQ(string_array(*scalars, "logfire.null_args"), (std::vector<std::string>{"nil"}));
  EXPECT_EQ(scalars->find("b")->boolean(), true);
  EXPECT_EQ(scalars->find("i")->int64(), -5);
  EXPECT_EQ(scalars->find("u")->int64(), 7);
  EXPECT_FALSE(scalars->find("past"));  // beyond max_attributes = 4
  EXPECT_EQ(scalars->dropped_attributes_count, 2u);

  const auto* texts = find_log(recs, "texts");
  ASSERT_TRUE(texts);
  EXPECT_EQ(texts->find("d")->float64(), 2.5);
  EXPECT_EQ(texts->string_attr("empty"), "");
  EXPECT_EQ(texts->string_attr("ten"), "0123456789");
  EXPECT_EQ(texts->string_attr("eleven"), "0123456789");

  const auto* span = find(recs, "a template");  // the template is cut at 10 bytes too
  ASSERT_TRUE(span);
  EXPECT_EQ(span->find(std::string(256, 'k'))->int64(), 1);
  EXPECT_EQ(span->string_attr(std::string(255, 'x')), "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
  EXPECT_EQ(string_array(*span, "logfire.tags"), (std::vector<std::string>{std::string(256, 't'), "t"}));

  const auto* tagged = find_log(recs, "tagged");
  ASSERT_TRUE(tagged);
  EXPECT_EQ(tagged->find("ok")->boolean(), false);
  EXPECT_EQ(string_array(*tagged, "logfire.tags"), (std::vector<std::string>{std::string(254, 'g'), "h", "own"}));
  for (const auto& r : recs) expect_all_valid_utf8(r);
  EXPECT_EQ(repairs(), 0u);
}

// A text's length takes one byte in a thread's ring below 255 bytes, five from 255 on
// (wire.hpp). Records of one call site whose keys, values and templates cross that size from
// one call to the next: each arrives whole, whether built the long way or from the site's
// layout (a later record of a site seen before).
class wire_texts : public memory_sdk {};

TEST_F(wire_texts, texts_on_both_sides_of_the_one_byte_length_from_one_call_site) {
  const std::size_t sizes[] = {0, 1, 254, 255, 256, 254, 255, 256, 4000, 255, 254, 1};
  for (int round = 0; round < 2; ++round) {
    for (const std::size_t n : sizes) {
      const std::string key = "k" + std::string(n < 256 ? n : 255, 'k');  // keys are cut at 256 bytes
      const std::string value(n, 'v');
      const std::string tmpl = "t" + std::string(n, 't');
      logfire::span s(tmpl, {{key, value}, {"n", static_cast<std::int64_t>(n)}, {"short", "s"}});
      logfire::info(tmpl, {{"n", static_cast<std::int64_t>(n)}, {key, value}});
    }
  }
  const auto recs = flushed();
  ASSERT_EQ(recs.size(), 4 * std::size(sizes));
  std::size_t spans = 0;
  std::size_t logs = 0;
  for (const auto& r : recs) {
    const auto* n = r.find("n");
    ASSERT_TRUE(n);
    const auto size = static_cast<std::size_t>(n->int64().value_or(-1));
    const std::string key = "k" + std::string(size < 256 ? size : 255, 'k');
    EXPECT_EQ(r.name, "t" + std::string(size, 't'));
    EXPECT_EQ(r.string_attr(key), std::string(size, 'v')) << size;
    if (r.type == record_type::span) {
      ++spans;
      EXPECT_EQ(r.string_attr("short"), "s") << size;
    } else {
      ++logs;
    }
    EXPECT_EQ(r.dropped_attributes_count, 0u);
  }
  EXPECT_EQ(spans, 2 * std::size(sizes));
  EXPECT_EQ(logs, 2 * std::size(sizes));
  EXPECT_EQ(truncations(), 0u);
  EXPECT_EQ(repairs(), 0u);
}
