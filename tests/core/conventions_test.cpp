// Logfire's attribute conventions, field by field, as an exporter receives them
// (reference/logfire-wire.md, "Spans and logs").
#include <chrono>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/core_support.hpp"

using namespace core_test;
using logfire::level;
using logfire::span_kind;
using logfire::status_code;

// A user-defined exception type, at namespace scope so its demangled name is plain.
struct card_declined : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class conventions : public memory_sdk {};

TEST_F(conventions, span_type_of_spans_and_logs) {
  { logfire::span s("a span"); }
  logfire::info("a log");
  auto recs = flushed();
  ASSERT_EQ(recs.size(), 2u);
  const auto* s = find(recs, "a span");
  const auto* l = find_log(recs, "a log");
  ASSERT_TRUE(s && l);
  EXPECT_EQ(s->string_attr("logfire.span_type"), "span");
  EXPECT_EQ(l->string_attr("logfire.span_type"), "log");
  // A log is a zero-duration span.
  EXPECT_EQ(l->start_unix_nano, l->end_unix_nano);
  EXPECT_GT(l->start_unix_nano, 0u);
  EXPECT_LE(s->start_unix_nano, s->end_unix_nano);
}

TEST_F(conventions, level_num_per_level) {
  logfire::trace("t");
  logfire::debug("d");
  logfire::info("i");
  logfire::notice("n");
  logfire::warn("w");
  logfire::error("e");
  logfire::fatal("f");
  { logfire::span s("default span"); }
  { logfire::span s("warn span", {}, {.level = level::warn}); }
  auto recs = flushed();
  ASSERT_EQ(recs.size(), 9u);
  const std::pair<const char*, std::int64_t> expected[] = {{"t", 1},  {"d", 5},  {"i", 9}, {"n", 10},
                                                           {"w", 13}, {"e", 17}, {"f", 21}};
  for (const auto& [name, num] : expected) {
    const auto* r = find_log(recs, name);
    ASSERT_TRUE(r) << name;
    EXPECT_EQ(int_attr(*r, "logfire.level_num"), num) << name;
    EXPECT_EQ(static_cast<std::int64_t>(r->level), num) << name;
  }
  EXPECT_EQ(int_attr(*find(recs, "default span"), "logfire.level_num"), 9);
  EXPECT_EQ(int_attr(*find(recs, "warn span"), "logfire.level_num"), 13);
}

TEST_F(conventions, name_is_template_msg_is_formatted) {
  logfire::info("charged {user_id} {amount}", {{"user_id", 42}, {"amount", 9.5}});
  { logfire::span s("checkout {cart}", {{"cart", "c-1"}}); }
  auto recs = flushed();
  const auto* l = find_log(recs, "charged {user_id} {amount}");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->string_attr("logfire.msg_template"), "charged {user_id} {amount}");
  EXPECT_EQ(l->string_attr("logfire.msg"), "charged 42 9.5");
  EXPECT_EQ(l->message, "charged 42 9.5");
  // The arguments are attributes with their own types.
  EXPECT_EQ(int_attr(*l, "user_id"), 42);
  ASSERT_TRUE(l->find("amount") && l->find("amount")->float64());
  EXPECT_EQ(*l->find("amount")->float64(), 9.5);
  const auto* s = find(recs, "checkout {cart}");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->string_attr("logfire.msg"), "checkout c-1");
  EXPECT_EQ(s->string_attr("cart"), "c-1");
}

TEST_F(conventions, json_schema_for_scalars) {
  logfire::info("scalars", {{"i", 1}, {"s", "x"}, {"b", true}, {"d", 1.5}, {"u", 7u}});
  auto recs = flushed();
  const auto* r = find_log(recs, "scalars");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->string_attr("logfire.json_schema"),
            R"({"type":"object","properties":{"i":{},"s":{},"b":{},"d":{},"u":{}}})");
  EXPECT_EQ(r->find("b")->boolean(), true);
  EXPECT_EQ(int_attr(*r, "u"), 7);
}

TEST_F(conventions, no_arguments_no_json_schema) {
  logfire::info("plain");
  auto recs = flushed();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].find("logfire.json_schema"), nullptr);
  EXPECT_EQ(recs[0].find("logfire.tags"), nullptr);
}

TEST_F(conventions, typed_arrays_stay_arrays_with_a_schema) {
  const std::vector<int> ids{1, 2, 3};
  const std::vector<std::string> names{"a", "b"};
  const std::vector<double> ratios{0.5, 0.25};
  logfire::info("arrays", {{"ids", ids}, {"names", names}, {"ratios", ratios}});
  auto recs = flushed();
  const auto* r = find_log(recs, "arrays");
  ASSERT_TRUE(r);
  const auto* v = r->find("ids");
  ASSERT_TRUE(v && v->array());
  ASSERT_EQ(v->array()->size(), 3u);
  EXPECT_EQ((*v->array())[2].int64(), 3);
  EXPECT_EQ(string_array(*r, "names"), (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(r->find("ratios") && r->find("ratios")->array());
  EXPECT_EQ((*r->find("ratios")->array())[1].float64(), 0.25);
  EXPECT_EQ(r->string_attr("logfire.json_schema"),
            R"({"type":"object","properties":{"ids":{"type":"array"},"names":{"type":"array"},)"
            R"("ratios":{"type":"array"}}})");
}

TEST_F(conventions, nested_values_are_json_strings_with_schema) {
  logfire::info("nested", {{"card", logfire::object{{"last4", "4242"}, {"exp", 12}, {"ok", true}}},
                           {"mixed", logfire::array{1, "two", logfire::object{{"k", logfire::null}}}}});
  auto recs = flushed();
  const auto* r = find_log(recs, "nested");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->string_attr("card"), R"({"last4":"4242","exp":12,"ok":true})");
  EXPECT_EQ(r->string_attr("mixed"), R"([1,"two",{"k":null}])");
  EXPECT_EQ(r->string_attr("logfire.json_schema"),
            R"({"type":"object","properties":{"card":{"type":"object"},"mixed":{"type":"array"}}})");
}

TEST_F(conventions, null_values_are_listed_in_null_args) {
  logfire::info("with null {a}", {{"a", 1}, {"gone", logfire::null}});
  auto recs = flushed();
  const auto* r = find_log(recs, "with null {a}");
  ASSERT_TRUE(r);
  EXPECT_EQ(string_array(*r, "logfire.null_args"), std::vector<std::string>{"gone"});
  EXPECT_EQ(r->find("gone"), nullptr);
  EXPECT_EQ(r->string_attr("logfire.msg"), "with null 1");
}

TEST_F(conventions, tags_deduplicated_in_order) {
  { logfire::span s("tagged span", {}, {.tags = {"b", "a", "b", "c", "a"}}); }
  logfire::info("tagged log", {}, {.tags = {"x", "x"}});
  auto recs = flushed();
  const auto* s = find(recs, "tagged span");
  const auto* l = find_log(recs, "tagged log");
  ASSERT_TRUE(s && l);
  EXPECT_EQ(string_array(*s, "logfire.tags"), (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_EQ(string_array(*l, "logfire.tags"), std::vector<std::string>{"x"});
}

TEST_F(conventions, code_location_from_the_call_site) {
  logfire::info("where");
  const std::int64_t log_line = __LINE__ - 1;
  { logfire::span s("where span"); }
  const std::int64_t span_line = __LINE__ - 1;
  auto recs = flushed();
  const auto* l = find_log(recs, "where");
  const auto* s = find(recs, "where span");
  ASSERT_TRUE(l && s);
  EXPECT_EQ(int_attr(*l, "code.lineno"), log_line);
  EXPECT_EQ(int_attr(*s, "code.lineno"), span_line);
  for (const auto* r : {l, s}) {
    const std::string file = r->string_attr("code.filepath");
    EXPECT_TRUE(file.ends_with("conventions_test.cpp")) << file;
    EXPECT_NE(r->string_attr("code.function").find("TestBody"), std::string::npos) << r->string_attr("code.function");
  }
}

class conventions_pending : public memory_sdk {
 protected:
  bool with_pending() const override { return true; }
};

TEST_F(conventions_pending, pending_span_at_start) {
  logfire::span_context outer_ctx, inner_ctx;
  {
    logfire::span outer("outer");
    outer_ctx = outer.context();
    ASSERT_TRUE(logfire::force_flush());
    {
      logfire::span inner("inner {x}", {{"x", 1}}, {.tags = {"t"}});
      inner_ctx = inner.context();
      ASSERT_TRUE(logfire::force_flush());
      // The start arrived before the span ended.
      const auto recs = mem->records();
      EXPECT_EQ(count_type(recs, record_type::pending_span), 2u);
      EXPECT_EQ(count_type(recs, record_type::span), 0u);
    }
  }
  auto recs = flushed();
  ASSERT_EQ(recs.size(), 4u);
  const auto* p_outer = find(recs, "outer", record_type::pending_span);
  const auto* p_inner = find(recs, "inner {x}", record_type::pending_span);
  ASSERT_TRUE(p_outer && p_inner);

  EXPECT_EQ(p_outer->string_attr("logfire.span_type"), "pending_span");
  EXPECT_EQ(p_outer->context.trace, outer_ctx.trace);
  EXPECT_NE(p_outer->context.span, outer_ctx.span);
  EXPECT_TRUE(p_outer->context.span.valid());
  EXPECT_EQ(p_outer->parent, outer_ctx.span);
  EXPECT_EQ(p_outer->string_attr("logfire.pending_parent_id"), "0000000000000000");
  EXPECT_EQ(p_outer->start_unix_nano, p_outer->end_unix_nano);

  EXPECT_EQ(p_inner->parent, inner_ctx.span);
  EXPECT_NE(p_inner->context.span, inner_ctx.span);
  EXPECT_EQ(p_inner->string_attr("logfire.pending_parent_id"), outer_ctx.span.to_hex());
  // Attributes are copied.
  EXPECT_EQ(int_attr(*p_inner, "x"), 1);
  EXPECT_EQ(p_inner->string_attr("logfire.msg"), "inner 1");
  EXPECT_EQ(string_array(*p_inner, "logfire.tags"), std::vector<std::string>{"t"});

  // The real spans keep their own ids and parents.
  const auto* inner = find(recs, "inner {x}");
  ASSERT_TRUE(inner);
  EXPECT_EQ(inner->context.span, inner_ctx.span);
  EXPECT_EQ(inner->parent, outer_ctx.span);
  EXPECT_EQ(inner->string_attr("logfire.span_type"), "span");

  // Pending spans are not counted as delivered records.
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, 2u);
  EXPECT_EQ(st.exported, 2u);
}

TEST_F(conventions, no_pending_spans_for_exporters_that_do_not_want_them) {
  { logfire::span s("only the end"); }
  auto recs = flushed();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].type, record_type::span);
}

TEST_F(conventions, exception_on_a_span) {
  {
    logfire::span s("pay");
    s.record_exception(card_declined("insufficient funds"));
  }
  auto recs = flushed();
  const auto* r = find(recs, "pay");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->events.size(), 1u);
  const auto& ev = r->events[0];
  EXPECT_EQ(ev.name, "exception");
  ASSERT_TRUE(ev.find("exception.type") && ev.find("exception.message") && ev.find("exception.escaped"));
  EXPECT_EQ(*ev.find("exception.type")->string(), "card_declined");
  EXPECT_EQ(*ev.find("exception.message")->string(), "insufficient funds");
  EXPECT_EQ(ev.find("exception.escaped")->boolean(), false);
  EXPECT_GE(ev.time_unix_nano, r->start_unix_nano);
  EXPECT_LE(ev.time_unix_nano, r->end_unix_nano);
  // Caught and handled (not escaped): an event only, as in Logfire Python; the span stays info.
  EXPECT_EQ(r->status, status_code::unset);
  EXPECT_EQ(r->status_message, "");
  EXPECT_EQ(r->level, level::info);
  EXPECT_EQ(int_attr(*r, "logfire.level_num"), 9);
}

TEST_F(conventions, escaped_exception_from_strings) {
  {
    logfire::span s("job", {}, {.level = level::debug});
    s.record_exception("ValueError", "bad input", "frame 1\nframe 2", true);
  }
  auto recs = flushed();
  const auto* r = find(recs, "job");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->events.size(), 1u);
  const auto& ev = r->events[0];
  EXPECT_EQ(*ev.find("exception.type")->string(), "ValueError");
  ASSERT_TRUE(ev.find("exception.stacktrace"));
  EXPECT_EQ(*ev.find("exception.stacktrace")->string(), "frame 1\nframe 2");
  EXPECT_EQ(ev.find("exception.escaped")->boolean(), true);
  EXPECT_EQ(r->status, status_code::error);
  EXPECT_EQ(r->status_message, "ValueError: bad input");
  // Escaped: level error even though the span asked for debug.
  EXPECT_EQ(int_attr(*r, "logfire.level_num"), 17);
}

TEST_F(conventions, exception_log) {
  try {
    throw std::out_of_range("index 9");
  } catch (const std::exception& e) {
    logfire::exception("lookup failed {key}", e, {{"key", "k"}});
  }
  logfire::warn("warned", {}, {.exception = nullptr});
  const std::runtime_error retried("timeout");
  logfire::warn("retrying", {}, {.exception = &retried});
  logfire::error("gave up", {}, {.exception = &retried});
  auto recs = flushed();
  const auto* r = find_log(recs, "lookup failed {key}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->string_attr("logfire.msg"), "lookup failed k");
  EXPECT_EQ(int_attr(*r, "logfire.level_num"), 17);
  EXPECT_EQ(r->status, status_code::error);
  EXPECT_EQ(r->status_message, "std::out_of_range: index 9");
  ASSERT_EQ(r->events.size(), 1u);
  EXPECT_EQ(*r->events[0].find("exception.type")->string(), "std::out_of_range");
  const auto* w = find_log(recs, "warned");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->status, status_code::unset);
  EXPECT_TRUE(w->events.empty());
  // A log's exception makes it an error only at error level and above (Logfire Python).
  const auto* retrying = find_log(recs, "retrying");
  ASSERT_TRUE(retrying);
  EXPECT_EQ(retrying->events.size(), 1u);
  EXPECT_EQ(retrying->status, status_code::unset);
  EXPECT_EQ(retrying->level, level::warn);
  const auto* gave_up = find_log(recs, "gave up");
  ASSERT_TRUE(gave_up);
  EXPECT_EQ(gave_up->status, status_code::error);
  EXPECT_EQ(gave_up->status_message, "std::runtime_error: timeout");
}

TEST_F(conventions, status_and_level_rules) {
  {
    logfire::span s("error status, no level");
    s.set_status(status_code::error, "it broke");
  }
  {
    logfire::span s("error status, explicit warn");
    s.set_level(level::warn);
    s.set_status(status_code::error, "it broke");
  }
  {
    logfire::span s("level error");
    s.set_level(level::error);
  }
  { logfire::span s("fatal at start", {}, {.level = level::fatal}); }
  {
    logfire::span s("ok status");
    s.set_status(status_code::ok, "ignored description");
  }
  logfire::error("error log");
  logfire::warn("warn log");
  auto recs = flushed();

  const auto* a = find(recs, "error status, no level");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, status_code::error);
  EXPECT_EQ(a->status_message, "it broke");
  EXPECT_EQ(int_attr(*a, "logfire.level_num"), 17);

  const auto* b = find(recs, "error status, explicit warn");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->status, status_code::error);
  EXPECT_EQ(int_attr(*b, "logfire.level_num"), 13);

  for (const char* name : {"level error", "fatal at start"}) {
    const auto* r = find(recs, name);
    ASSERT_TRUE(r) << name;
    EXPECT_EQ(r->status, status_code::error) << name;
    EXPECT_GE(int_attr(*r, "logfire.level_num"), 17) << name;
  }

  const auto* ok = find(recs, "ok status");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, status_code::ok);
  EXPECT_EQ(ok->status_message, "");

  EXPECT_EQ(find_log(recs, "error log")->status, status_code::error);
  EXPECT_EQ(find_log(recs, "warn log")->status, status_code::unset);
}

TEST_F(conventions, set_attribute_after_start_feeds_the_template) {
  {
    logfire::span s("charged {amount} to {user}", {{"user", "ann"}, {"n", 1}});
    s.set_attribute("amount", 12);
    s.set_attribute("n", 2);  // replaces
    s.set_attribute("extra", logfire::object{{"k", "v"}});
  }
  auto recs = flushed();
  const auto* r = find(recs, "charged {amount} to {user}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->string_attr("logfire.msg"), "charged 12 to ann");
  EXPECT_EQ(int_attr(*r, "amount"), 12);
  EXPECT_EQ(int_attr(*r, "n"), 2);
  std::size_t n_count = 0;
  for (const auto& [k, v] : r->attributes) n_count += k == "n" ? 1 : 0;
  EXPECT_EQ(n_count, 1u);
  EXPECT_EQ(r->string_attr("extra"), R"({"k":"v"})");
  EXPECT_EQ(r->string_attr("logfire.json_schema"),
            R"({"type":"object","properties":{"user":{},"n":{},"amount":{},"extra":{"type":"object"}}})");
}

// Spans of one call site that set the same new keys after they started (built from the site's
// layout after the first) and spans with more updates than the background thread looks through
// for a leaf span's end (built through the open-span table): each keeps its own values.
TEST_F(conventions, spans_that_set_attributes_after_start_keep_their_own_values) {
  constexpr int k_spans = 64;
  for (int i = 0; i < k_spans; ++i) {
    logfire::span s("request {id} -> {http.response.status_code}", {{"id", i}});
    s.set_attribute("http.response.status_code", 200 + i);
    s.set_attribute("outcome", i % 2 ? "failed" : "ok");
  }
  {
    logfire::span s("many updates");
    for (int k = 0; k < 20; ++k) s.set_attribute("k" + std::to_string(k), k);
    s.set_status(status_code::error, "late");
  }
  auto recs = flushed();
  int seen = 0;
  for (const auto& r : recs) {
    if (r.name != "request {id} -> {http.response.status_code}") continue;
    const std::int64_t id = int_attr(r, "id");
    EXPECT_EQ(int_attr(r, "http.response.status_code"), 200 + id);
    EXPECT_EQ(r.string_attr("outcome"), id % 2 ? "failed" : "ok");
    EXPECT_EQ(r.string_attr("logfire.msg"), "request " + std::to_string(id) + " -> " + std::to_string(200 + id));
    ++seen;
  }
  EXPECT_EQ(seen, k_spans);
  const auto* many = find(recs, "many updates");
  ASSERT_TRUE(many);
  for (int k = 0; k < 20; ++k) EXPECT_EQ(int_attr(*many, "k" + std::to_string(k)), k);
  EXPECT_EQ(many->status, status_code::error);
  EXPECT_EQ(many->status_message, "late");
}

// Every kind of value set after the start arrives as set, a key past 256 bytes cut and counted.
TEST_F(conventions, values_of_every_kind_set_after_start) {
  const std::string long_key(300, 'k');
  {
    logfire::span s("set after start");
    s.set_attribute("yes", true);
    s.set_attribute("no", false);
    s.set_attribute("count", std::int64_t{-7});
    s.set_attribute("big", std::numeric_limits<std::uint64_t>::max());
    s.set_attribute("small", std::uint64_t{42});
    s.set_attribute("ratio", 0.25);
    s.set_attribute("nan", std::numeric_limits<double>::quiet_NaN());
    s.set_attribute("text", "t");
    s.set_attribute(long_key, 5);
  }
  auto recs = flushed();
  const auto* r = find(recs, "set after start");
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->find("yes") && r->find("yes")->boolean());
  EXPECT_TRUE(*r->find("yes")->boolean());
  ASSERT_TRUE(r->find("no") && r->find("no")->boolean());
  EXPECT_FALSE(*r->find("no")->boolean());
  EXPECT_EQ(int_attr(*r, "count"), -7);
  EXPECT_EQ(r->string_attr("big"), "18446744073709551615");
  EXPECT_EQ(int_attr(*r, "small"), 42);
  ASSERT_TRUE(r->find("ratio") && r->find("ratio")->float64());
  EXPECT_EQ(*r->find("ratio")->float64(), 0.25);
  EXPECT_EQ(r->string_attr("nan"), "NaN");
  EXPECT_EQ(r->string_attr("text"), "t");
  EXPECT_EQ(int_attr(*r, long_key.substr(0, 256)), 5);
  EXPECT_EQ(logfire::stats().count_of(logfire::event_counter::attributes_truncated), 1u);
}

TEST_F(conventions, events_on_a_span) {
  {
    logfire::span s("with events");
    s.add_event("retry", {{"attempt", 2}});
  }
  auto recs = flushed();
  const auto* r = find(recs, "with events");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->events.size(), 1u);
  EXPECT_EQ(r->events[0].name, "retry");
  ASSERT_TRUE(r->events[0].find("attempt"));
  EXPECT_EQ(r->events[0].find("attempt")->int64(), 2);
  EXPECT_EQ(r->status, status_code::unset);
}

TEST_F(conventions, links) {
  logfire::span_context other;
  {
    logfire::span o("other", {}, {.new_trace = true});
    other = o.context();
  }
  { logfire::span s("linked", {}, {.new_trace = true, .links = {{other, {{"why", "batch"}}}, {other}}}); }
  auto recs = flushed();
  const auto* r = find(recs, "linked");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->links.size(), 2u);
  EXPECT_EQ(r->links[0].context.trace, other.trace);
  EXPECT_EQ(r->links[0].context.span, other.span);
  EXPECT_EQ(r->links[0].context.flags, other.flags);
  ASSERT_EQ(r->links[0].attributes.size(), 1u);
  EXPECT_EQ(r->links[0].attributes[0].first, "why");
  EXPECT_EQ(*r->links[0].attributes[0].second.string(), "batch");
  EXPECT_TRUE(r->links[1].attributes.empty());
  // Link attributes are not span attributes.
  EXPECT_EQ(r->find("why"), nullptr);
}

// A null value in an event's or a link's attributes is left out of that list. It is not one of
// the record's own null arguments: `logfire.null_args` and the schema stay the record's.
TEST_F(conventions, a_null_in_an_event_or_a_link_stays_out_of_the_records_null_args) {
  logfire::span_context other;
  {
    logfire::span o("other", {}, {.new_trace = true});
    other = o.context();
  }
  {
    logfire::span s("nulls {own}", {{"own", nullptr}, {"n", 1}},
                    {.new_trace = true, .links = {{other, {{"why", nullptr}, {"batch", 3}}}}});
    s.add_event("retry", {{"attempt", 2}, {"reason", nullptr}});
  }
  {
    logfire::span s("no nulls of its own");
    s.add_event("retry", {{"reason", nullptr}});
  }
  auto recs = flushed();
  const auto* r = find(recs, "nulls {own}");
  ASSERT_TRUE(r);
  EXPECT_EQ(string_array(*r, "logfire.null_args"), (std::vector<std::string>{"own"}));
  EXPECT_EQ(r->string_attr("logfire.json_schema"), R"({"type":"object","properties":{"n":{},"own":{"type":"null"}}})");
  ASSERT_EQ(r->events.size(), 1u);
  ASSERT_EQ(r->events[0].attributes.size(), 1u);
  EXPECT_EQ(r->events[0].attributes[0].first, "attempt");
  ASSERT_EQ(r->links.size(), 1u);
  ASSERT_EQ(r->links[0].attributes.size(), 1u);
  EXPECT_EQ(r->links[0].attributes[0].first, "batch");

  const auto* plain = find(recs, "no nulls of its own");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->find("logfire.null_args"), nullptr);
  EXPECT_EQ(plain->find("logfire.json_schema"), nullptr);
  ASSERT_EQ(plain->events.size(), 1u);
  EXPECT_TRUE(plain->events[0].attributes.empty());
}

TEST_F(conventions, span_kind) {
  { logfire::span s("server", {}, {.kind = span_kind::server}); }
  { logfire::span s("client", {}, {.kind = span_kind::client}); }
  { logfire::span s("internal"); }
  logfire::info("log");
  auto recs = flushed();
  EXPECT_EQ(find(recs, "server")->kind, span_kind::server);
  EXPECT_EQ(find(recs, "client")->kind, span_kind::client);
  EXPECT_EQ(find(recs, "internal")->kind, span_kind::internal);
  EXPECT_EQ(find_log(recs, "log")->kind, span_kind::internal);
}

TEST_F(conventions, otlp_flags) {
  logfire::span_context remote;
  remote.trace = {0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  remote.span.value = 0x1111222233334444ULL;
  remote.flags = logfire::trace_flags::sampled;
  remote.is_remote = true;
  {
    logfire::span root("root");
    logfire::info("child log");
  }
  { logfire::span r("remote child", {}, {.parent = remote}); }
  auto recs = flushed();
  const auto* root = find(recs, "root");
  const auto* child = find_log(recs, "child log");
  const auto* rc = find(recs, "remote child");
  ASSERT_TRUE(root && child && rc);
  // New trace: sampled + W3C random flag, plus 0x100 (is_remote known).
  EXPECT_EQ(root->context.flags, logfire::trace_flags::sampled | logfire::trace_flags::random);
  EXPECT_EQ(root->otlp_flags, 0x103u);
  EXPECT_EQ(child->otlp_flags, 0x103u);
  EXPECT_FALSE(root->parent.valid());
  // Remote parent: 0x200, and the parent's flags (no random flag: that trace id is not ours).
  EXPECT_TRUE(rc->parent_is_remote);
  EXPECT_EQ(rc->parent, remote.span);
  EXPECT_EQ(rc->context.trace, remote.trace);
  EXPECT_EQ(rc->otlp_flags, 0x301u);
}

TEST_F(conventions, trace_ids_are_ulid_like) {
  using namespace std::chrono;
  const auto before = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  logfire::span_context a, b;
  {
    logfire::span s("first", {}, {.new_trace = true});
    a = s.context();
  }
  {
    logfire::span s("second", {}, {.new_trace = true});
    b = s.context();
  }
  const auto after = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  for (const auto& c : {a, b}) {
    const auto ms = static_cast<std::int64_t>(c.trace.hi >> 16);
    EXPECT_GE(ms, before);
    EXPECT_LE(ms, after);
    EXPECT_NE(c.trace.lo, 0u);
    EXPECT_TRUE(c.span.valid());
  }
  EXPECT_NE(a.trace, b.trace);
  EXPECT_NE(a.span, b.span);
  auto recs = flushed();
  EXPECT_EQ(find(recs, "first")->context.trace, a.trace);
}
