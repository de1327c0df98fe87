// The record builder's short way (build_from_site(): a record of a call site seen before, built
// from the site's layout) against the long way (every key, tag and Logfire attribute decoded and
// assembled): for the same ring bytes and updates, the two must make the same record, field by
// field, and count the same repairs and template errors. Ring records are written here byte by
// byte, as the caller's encoder writes them (record/wire.hpp), and a span's updates as the
// pipeline joins them to its start ([u8 kind][u32 size][body] each).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "formatting/message_template.hpp"
#include "logfire/scrubbing.hpp"
#include "record/arena.hpp"
#include "record/records.hpp"
#include "record/wire.hpp"
#include "scrub/scrubber.hpp"

namespace {

using namespace logfire;
using namespace logfire::detail;

struct null_value {};
using value = std::variant<null_value, bool, std::int64_t, std::uint64_t, double, std::string>;

struct ring_input {
  std::string tmpl = "charge {user} {amount}";
  std::string trace_state;
  std::vector<std::string> tags;
  std::vector<std::pair<std::string, value>> attrs = {
      {"user", std::string("u-42")}, {"amount", 12.5}, {"attempt", std::int64_t{7}}, {"ok", true}};
  level lvl = level::info;
  std::uint32_t line = 42;
  std::uint64_t span = 0x1111;
  std::uint32_t dropped = 0;
  // A span's set_attribute updates, in order, then a set_level(warn) when `then_set_level`.
  std::vector<std::pair<std::string, value>> updates;
  bool then_set_level = false;
};

// The location's strings have static storage, as source_location's do.
const char* const k_file = "src/checkout.cpp";
const char* const k_function = "void checkout()";

void write_value(byte_writer& w, const value& v) {
  if (std::holds_alternative<null_value>(v)) {
    w.u8(static_cast<std::uint8_t>(vtag::null));
  } else if (const bool* b = std::get_if<bool>(&v)) {
    w.u8(static_cast<std::uint8_t>(vtag::boolean));
    w.u8(*b ? 1 : 0);
  } else if (const auto* i = std::get_if<std::int64_t>(&v)) {
    w.u8(static_cast<std::uint8_t>(vtag::int64));
    w.pod(*i);
  } else if (const auto* u = std::get_if<std::uint64_t>(&v)) {
    w.u8(static_cast<std::uint8_t>(vtag::uint64));
    w.pod(*u);
  } else if (const auto* d = std::get_if<double>(&v)) {
    w.u8(static_cast<std::uint8_t>(vtag::float64));
    w.pod(*d);
  } else {
    w.u8(static_cast<std::uint8_t>(vtag::string));
    w.str(std::get<std::string>(v));
  }
}

// The span's updates as the pipeline hands them to the builder.
std::string updates_of(const ring_input& in) {
  std::string out;
  const auto add = [&out](rec kind, const std::vector<std::byte>& body, std::size_t size) {
    out.push_back(static_cast<char>(kind));
    const auto n = static_cast<std::uint32_t>(size);
    out.append(reinterpret_cast<const char*>(&n), sizeof n);
    out.append(reinterpret_cast<const char*>(body.data()), size);
  };
  std::vector<std::byte> body(1 << 16);
  for (const auto& [key, v] : in.updates) {
    byte_writer w(body.data());
    w.pod(span_ref{in.span, 1'700'000'000'000'000'500ull, 0, 1});
    w.str(key);
    write_value(w, v);
    add(rec::set_attribute, body, w.size());
  }
  if (in.then_set_level) {
    byte_writer w(body.data());
    w.pod(span_ref{in.span, 0, static_cast<std::uint32_t>(level::warn), 0});
    add(rec::set_level, body, w.size());
  }
  return out;
}

std::vector<std::byte> ring_record(const ring_input& in) {
  record_fixed f{};
  f.trace_hi = 0x0123456789abcdefull;
  f.trace_lo = 0xfedcba9876543210ull;
  f.span = in.span;
  f.parent = 0x2222;
  f.start_ns = 1'700'000'000'000'000'000ull;
  f.file = k_file;
  f.function = k_function;
  f.line = in.line;
  f.depth = 1;
  f.flags = 1;
  f.kind = static_cast<std::uint8_t>(span_kind::internal);
  f.lvl = static_cast<std::uint8_t>(in.lvl);
  f.n_tags = static_cast<std::uint16_t>(in.tags.size());
  f.n_attrs = static_cast<std::uint16_t>(in.attrs.size());
  f.dropped_attrs = in.dropped;
  std::vector<std::byte> out(1 << 16);
  byte_writer w(out.data());
  w.pod(f);
  w.str(in.tmpl);
  w.str(in.trace_state);
  for (const auto& t : in.tags) w.str(t);
  for (const auto& [key, v] : in.attrs) {
    w.str(key);
    write_value(w, v);
  }
  out.resize(w.size());
  return out;
}

// The type and the member it names; a double exactly (as hex), so a last bit differing shows.
std::string describe_value(const attribute_value& v) {
  std::string s = std::to_string(static_cast<int>(v.type)) + "|";
  switch (v.type) {
    case attribute_value::kind::boolean:
      return s + (v.b ? "true" : "false");
    case attribute_value::kind::int64:
      return s + std::to_string(v.i);
    case attribute_value::kind::float64: {
      char hex[64];
      std::snprintf(hex, sizeof hex, "%a", v.d);
      return s + hex;
    }
    case attribute_value::kind::string:
      return s + std::string(v.s);
    case attribute_value::kind::array:
      s += "[";
      for (const auto& item : v.items) s += describe_value(item) + ",";
      return s + "]";
    case attribute_value::kind::empty:
      break;
  }
  return s;
}

// Every field of a record, but the variant's id (unique to each builder).
std::string describe(const span_record& r) {
  std::string s;
  const auto add = [&s](std::string_view name, const std::string& v) {
    s.append(name).append("=").append(v).append("\n");
  };
  add("type", std::to_string(static_cast<int>(r.type)));
  add("trace", std::to_string(r.context.trace.hi) + "/" + std::to_string(r.context.trace.lo));
  // A pending span's own id is new each time.
  if (r.type != record_type::pending_span) add("span", std::to_string(r.context.span.value));
  add("flags", std::to_string(r.context.flags));
  add("parent", std::to_string(r.parent.value) + (r.parent_is_remote ? " remote" : ""));
  add("trace_state", std::string(r.trace_state));
  add("name", std::string(r.name));
  add("message", std::string(r.message));
  add("kind", std::to_string(static_cast<int>(r.kind)));
  add("level", std::to_string(static_cast<int>(r.level)));
  add("times", std::to_string(r.start_unix_nano) + ".." + std::to_string(r.end_unix_nano));
  add("status", std::to_string(static_cast<int>(r.status)) + " " + std::string(r.status_message));
  add("dropped", std::to_string(r.dropped_attributes_count));
  add("depth", std::to_string(r.depth));
  add("printed_at_call", std::to_string(r.printed_at_call));
  std::string tags;
  for (const auto& t : r.tags) tags += describe_value(t) + ";";
  add("tags", tags);
  add("events", std::to_string(r.events.size()));
  add("links", std::to_string(r.links.size()));
  for (const auto& a : r.attributes) add("attribute " + std::string(a.key), describe_value(a.value));
  add("shared", std::to_string(r.shared.first) + "+" + std::to_string(r.shared.count) +
                    (r.shared.of == r.attributes.data() ? " of these" : " of others") +
                    (r.shared.site ? " site" : " no site"));
  return s;
}

struct built {
  std::string record;
  std::uint64_t site_builds = 0;
  std::uint64_t utf8_repaired = 0;
  std::uint64_t template_errors = 0;
};

// The scrubber of the default options (Logfire's patterns), shared by every builder here.
const scrubber& default_scrubber() {
  static const auto s = [] {
    std::string error;
    auto made = scrubber::create(scrubbing_options{}, error);
    EXPECT_TRUE(made) << error;
    return made;
  }();
  return *s;
}

// A scrubber with an extra pattern and a scan budget of 24 bytes per record.
const scrubber& small_budget_scrubber() {
  static const auto s = [] {
    std::string error;
    scrubbing_options o;
    o.extra_patterns = {"iban"};
    o.max_scan_bytes = 24;
    auto made = scrubber::create(o, error);
    EXPECT_TRUE(made) << error;
    return made;
  }();
  return *s;
}

// A scrubber with extra patterns that match texts a number becomes: an unsigned value past
// int64 ("18446744073709551615") and a non-finite double ("Infinity").
const scrubber& number_text_scrubber() {
  static const auto s = [] {
    std::string error;
    scrubbing_options o;
    o.extra_patterns = {"18446744", "Infinity"};
    auto made = scrubber::create(o, error);
    EXPECT_TRUE(made) << error;
    return made;
  }();
  return *s;
}

enum class made_as { span, log, pending_span };

// `records` built in order by one new builder; what the last one made and the builder's counts.
// Updates are a span's: a log or a pending span is built from its start alone.
built build_all(const std::vector<ring_input>& records, made_as as, const scrubber* scrub) {
  decode_counters counters;
  record_builder b(counters);
  b.set_scrubber(scrub, nullptr);
  arena memory;
  built out;
  for (const auto& in : records) {
    const auto bytes = ring_record(in);
    const std::string updates = as == made_as::span ? updates_of(in) : std::string();
    const span_record r = as == made_as::pending_span ? b.build_pending(bytes.data(), bytes.size(), memory)
                                                      : b.build(bytes.data(), bytes.size(), as == made_as::log, updates,
                                                                1'700'000'000'000'001'000ull, memory);
    out.record = describe(r);
  }
  out.site_builds = b.site_builds();
  out.utf8_repaired = counters.utf8_repaired.load();
  out.template_errors = counters.template_errors.load();
  return out;
}

// `in` built the long way (first of its builder) and the short way (after `before`, a record
// of the same call site with other values), as a span, a log and a pending span; only as a span
// when either has updates (a log has none, and a pending span is its start alone).
void expect_both_ways_alike(const ring_input& before, const ring_input& in, bool short_way,
                            const scrubber* scrub = &default_scrubber()) {
  const bool updated = !before.updates.empty() || before.then_set_level || !in.updates.empty() || in.then_set_level;
  for (const made_as as : {made_as::span, made_as::log, made_as::pending_span}) {
    if (updated && as != made_as::span) continue;
    SCOPED_TRACE(as == made_as::span ? "span" : as == made_as::log ? "log" : "pending span");
    const built long_way = build_all({in}, as, scrub);
    const built both = build_all({before, in}, as, scrub);
    const built before_alone = build_all({before}, as, scrub);
    EXPECT_EQ(long_way.site_builds, 0u);
    EXPECT_EQ(both.site_builds, short_way ? 1u : 0u);
    EXPECT_EQ(both.record, long_way.record);
    // Repairs and template errors are counted for each record, whichever way it was built.
    EXPECT_EQ(both.utf8_repaired, before_alone.utf8_repaired + long_way.utf8_repaired);
    EXPECT_EQ(both.template_errors, before_alone.template_errors + long_way.template_errors);
  }
}

ring_input with_values(std::vector<value> values) {
  ring_input in;
  in.span = 0x3333;
  for (std::size_t i = 0; i < values.size() && i < in.attrs.size(); ++i) in.attrs[i].second = values[i];
  return in;
}

TEST(RecordBuilder, a_record_built_from_its_call_sites_layout_equals_one_built_the_long_way) {
  const ring_input before;
  // Other values of the same types, the edge cases of each type among them.
  expect_both_ways_alike(before, with_values({std::string("u-7"), 0.5, std::int64_t{-3}, false}), true);
  expect_both_ways_alike(before, with_values({std::string(""), -0.0, std::int64_t{0}, true}), true);
  expect_both_ways_alike(before,
                         with_values({std::string("caf\xC3\xA9 \xF0\x9F\x94\xA5"), std::nan(""),
                                      std::numeric_limits<std::int64_t>::min(), true}),
                         true);
  expect_both_ways_alike(before, with_values({std::string("bad \xC3\x28 utf-8"), INFINITY, std::int64_t{1}, true}),
                         true);
  // A value the scrubber redacts: logfire.scrubbed is added and the message shows the redaction.
  expect_both_ways_alike(before, with_values({std::string("password=hunter2"), 1.0, std::int64_t{1}, true}), true);
  // A long text value.
  expect_both_ways_alike(before, with_values({std::string(5000, 'x'), 1.0, std::int64_t{1}, true}), true);

  // A call site first seen with a non-finite double, which goes as a text: the layout holds a
  // text where later records bring a number, and a finite one is a float64 again.
  const ring_input not_finite_first = with_values({std::string("u-1"), std::nan("")});
  expect_both_ways_alike(not_finite_first, with_values({std::string("u-2"), 0.5}), true);
  expect_both_ways_alike(not_finite_first, with_values({std::string("u-3"), -INFINITY}), true);

  // Unsigned values: a large one goes as a text, as Logfire does.
  ring_input u_before;
  u_before.attrs = {{"n", std::uint64_t{1}}};
  u_before.tmpl = "n={n}";
  ring_input u = u_before;
  u.attrs[0].second = std::numeric_limits<std::uint64_t>::max();
  expect_both_ways_alike(u_before, u, true);

  // Tags, a trace state, an error level (which sets the error status), dropped attributes.
  ring_input rich = before;
  rich.tags = {"billing", "web"};
  rich.lvl = level::error;
  rich.dropped = 3;
  ring_input rich_now = rich;
  rich_now.trace_state = "vendor=abc";
  rich_now.attrs[0].second = std::string("u-9");
  expect_both_ways_alike(rich, rich_now, true);

  // A template the plan does not take (a format spec), and one that cannot be formatted.
  ring_input spec = before;
  spec.tmpl = "charge {amount:>10} for {user!r}";
  ring_input spec_now = spec;
  spec_now.attrs[1].second = 99.25;
  expect_both_ways_alike(spec, spec_now, true);
  ring_input broken = before;
  broken.tmpl = "charge {nobody}";
  ring_input broken_now = broken;
  broken_now.attrs[0].second = std::string("u-1");
  expect_both_ways_alike(broken, broken_now, true);

  // No attributes at all.
  ring_input bare;
  bare.attrs.clear();
  bare.tmpl = "tick";
  ring_input bare_now = bare;
  bare_now.span = 0x4444;
  expect_both_ways_alike(bare, bare_now, true);
}

// Keys on both sides of the ring's one-byte text length (wire.hpp: texts of 255 bytes and more
// take the byte 255 and a u32), as the record's last attribute, where a longer read would run
// past the record: a key the layout holds is built from it; a key one byte shorter, or one byte
// longer whose last byte is the layout's value tag (the same bytes after the length), stops at
// its length and takes the long way, to the same record.
TEST(RecordBuilder, keys_of_255_bytes_and_more_are_compared_with_their_length) {
  for (const std::size_t size : {std::size_t{253}, std::size_t{254}, std::size_t{255}}) {
    SCOPED_TRACE(size);
    ring_input before;
    before.attrs[3].first = std::string(size, 'k');  // "ok", a boolean
    ring_input same = before;
    same.attrs[3].second = false;
    same.attrs[0].second = std::string("u-7");
    expect_both_ways_alike(before, same, true);
    ring_input shorter = same;
    shorter.attrs[3].first = std::string(size - 1, 'k');
    expect_both_ways_alike(before, shorter, false);
    ring_input longer = same;
    longer.attrs[3].first = std::string(size, 'k') + static_cast<char>(vtag::boolean);
    expect_both_ways_alike(before, longer, false);
  }
}

TEST(RecordBuilder, scrubbing_is_the_same_either_way) {
  const ring_input before;
  // Without a scrubber; with keys that are safe or match a pattern; past the scan budget; an
  // extra pattern.
  expect_both_ways_alike(before, with_values({std::string("password=hunter2")}), true, nullptr);
  ring_input keyed = before;
  keyed.attrs[0].first = "http.method";
  keyed.attrs[1] = {"api_key", std::string("abc")};
  keyed.tmpl = "{http.method} {api_key}";
  ring_input keyed_now = keyed;
  keyed_now.attrs[0].second = std::string("password=x");
  keyed_now.attrs[1].second = std::string("def");
  expect_both_ways_alike(keyed, keyed_now, true);
  const scrubber* small = &small_budget_scrubber();
  expect_both_ways_alike(before, with_values({std::string("short")}), true, small);
  expect_both_ways_alike(before, with_values({std::string("a text longer than the budget")}), true, small);
  expect_both_ways_alike(before, with_values({std::string("my iban")}), true, small);
  // Numbers that arrive as texts where the site's first record had numbers: an unsigned value
  // past int64 and a non-finite double are searched (and charged) as the texts they become.
  ring_input numbers = before;
  numbers.attrs = {{"n", std::uint64_t{1}}, {"ratio", 0.5}};
  numbers.tmpl = "n={n}";
  ring_input huge = numbers;
  huge.attrs[0].second = std::numeric_limits<std::uint64_t>::max();
  expect_both_ways_alike(numbers, huge, true, &number_text_scrubber());
  ring_input infinite = numbers;
  infinite.attrs[1].second = INFINITY;
  expect_both_ways_alike(numbers, infinite, true, &number_text_scrubber());
  // Past the scan budget only because of such a text (24 bytes: "n", "ratio", 20 digits).
  expect_both_ways_alike(numbers, huge, true, small);
}

// Each record's message against format_message() over the same values, for the second record of
// a site (built from its layout): texts up to the size kept whole, just past it (cut to 62 +
// "..." + 62), long in bytes but short in code points; numbers and booleans of every kind; more
// scalar fields than the message written in place takes (8).
TEST(RecordBuilder, a_records_message_is_its_template_formatted_from_its_values) {
  const std::string cafe_x40 = [] {
    std::string s;
    for (int i = 0; i < 40; ++i) s += "caf\xC3\xA9";  // 200 bytes, 160 code points
    return s;
  }();
  const std::string e_x100 = [] {
    std::string s;
    for (int i = 0; i < 100; ++i) s += "\xC3\xA9";  // 200 bytes, 100 code points
    return s;
  }();
  const std::vector<std::string> texts = {"",       "u",   "u-42", std::string(128, 'a'), std::string(129, 'b'),
                                          cafe_x40, e_x100};
  const std::vector<double> amounts = {12.5, 0.1, -0.0, 1e20, 1e-7, std::nan(""), -INFINITY};
  const std::vector<std::int64_t> attempts = {0, -7, std::numeric_limits<std::int64_t>::min()};
  const std::vector<std::string> templates = {
      "charge {user}",
      "{user}",
      "{user}{user} and {user}!",
      "charge {user} {amount}",
      "{attempt} {ok} {amount}",
      "{amount}{amount}{amount}{amount}{amount}{amount}{amount}{amount}",
      "{amount}{amount}{amount}{amount}{amount}{amount}{amount}{amount}{attempt}"};
  std::size_t cases = 0;
  for (const std::string& tmpl : templates) {
    for (std::size_t k = 0; k < texts.size(); ++k) {
      const std::string& text = texts[k];
      const double amount = amounts[k % amounts.size()];
      const std::int64_t attempt = attempts[k % attempts.size()];
      const bool ok = k % 2 == 0;
      SCOPED_TRACE(tmpl + " / " + std::to_string(text.size()) + " bytes / case " + std::to_string(k));
      ring_input first;
      first.tmpl = tmpl;
      ring_input in = first;
      in.span = 0x5555;
      in.attrs = {{"user", text}, {"amount", amount}, {"attempt", attempt}, {"ok", ok}};
      decode_counters counters;
      record_builder b(counters);
      arena memory;
      const auto first_bytes = ring_record(first);
      (void)b.build(first_bytes.data(), first_bytes.size(), false, {}, 1'700'000'000'000'001'000ull, memory);
      const auto bytes = ring_record(in);
      const span_record r = b.build(bytes.data(), bytes.size(), false, {}, 1'700'000'000'000'001'000ull, memory);
      EXPECT_EQ(b.site_builds(), 1u);
      attribute_value values[4];
      values[0].type = attribute_value::kind::string;
      values[0].s = text;
      if (std::isfinite(amount)) {
        values[1].type = attribute_value::kind::float64;
        values[1].d = amount;
      } else {  // the builder sends them as texts, as Logfire does
        values[1].type = attribute_value::kind::string;
        values[1].s = std::isnan(amount) ? "NaN" : amount > 0 ? "Infinity" : "-Infinity";
      }
      values[2].type = attribute_value::kind::int64;
      values[2].i = attempt;
      values[3].type = attribute_value::kind::boolean;
      values[3].b = ok;
      const attribute attrs[] = {{"user", values[0]}, {"amount", values[1]}, {"attempt", values[2]}, {"ok", values[3]}};
      std::string expected;
      ASSERT_TRUE(format_message(tmpl, attrs, expected));
      EXPECT_EQ(r.message, expected);
      ++cases;
    }
  }
  EXPECT_EQ(cases, templates.size() * texts.size());
}

TEST(RecordBuilder, a_record_unlike_its_call_sites_layout_is_built_the_long_way) {
  const ring_input before;
  // Another type for a key, another key of the same size, a null, a repeated key.
  expect_both_ways_alike(before, with_values({std::int64_t{1}, 0.5, std::int64_t{3}, true}), false);
  // A text that needs repair, then another type: the repair is counted once, by the long way.
  expect_both_ways_alike(before, with_values({std::string("bad \xC3\x28"), std::int64_t{2}, std::int64_t{3}, true}),
                         false);
  ring_input renamed = before;
  renamed.attrs[0].first = "USER";
  expect_both_ways_alike(before, renamed, false);
  expect_both_ways_alike(before, with_values({null_value{}, 0.5, std::int64_t{3}, true}), false);
  ring_input repeated = before;
  repeated.attrs[1].first = "user";
  expect_both_ways_alike(before, repeated, false);
  // Another template of the same size, other tags, another level, another line.
  ring_input other_template = before;
  other_template.tmpl = "CHARGE {user} {amount}";
  expect_both_ways_alike(before, other_template, false);
  ring_input tagged = before;
  tagged.tags = {"x"};
  expect_both_ways_alike(before, tagged, false);
  ring_input warned = before;
  warned.lvl = level::warn;
  expect_both_ways_alike(before, warned, false);
  ring_input moved = before;
  moved.line = 43;
  expect_both_ways_alike(before, moved, false);
}

// One call site whose records alternate between two variants (another key in one place, as a
// site that builds its arguments at run time makes): both share the memo's hash, so each
// record's hint (the variant this hash matched last) is the other one, and the memo is
// searched. Each record is still built from its own variant's layout, as the long way builds it.
TEST(RecordBuilder, records_alternating_between_two_variants_of_one_call_site_are_built_from_their_layouts) {
  decode_counters counters;
  record_builder b(counters);
  b.set_scrubber(&default_scrubber(), nullptr);
  arena memory;
  std::uint64_t expected_site_builds = 0;
  for (int i = 0; i < 8; ++i) {
    SCOPED_TRACE(i);
    ring_input in = with_values({std::string("u-" + std::to_string(i)), 0.25 * i});
    if (i % 2) in.attrs[2].first = "retries";  // not "attempt"
    const auto bytes = ring_record(in);
    const span_record r = b.build(bytes.data(), bytes.size(), false, {}, 1'700'000'000'000'001'000ull, memory);
    if (i >= 2) ++expected_site_builds;  // the first of each variant is built the long way
    EXPECT_EQ(b.site_builds(), expected_site_builds);
    EXPECT_EQ(describe(r), build_all({in}, made_as::span, &default_scrubber()).record);
  }
}

// A span that sets new keys after it started (a server span's status code): the layout made from
// the first such span of a call site fixes the updates' keys and value types too, and later ones
// are built from it.
ring_input served(value status, value outcome) {
  ring_input in;
  in.updates = {{"http.response.status_code", std::move(status)}, {"outcome", std::move(outcome)}};
  return in;
}

TEST(RecordBuilder, a_span_whose_updates_set_new_keys_is_built_from_its_layout_as_the_long_way_builds_it) {
  const ring_input before = served(std::int64_t{200}, std::string("ok"));
  expect_both_ways_alike(before, served(std::int64_t{500}, std::string("failed")), true);
  expect_both_ways_alike(before, served(std::int64_t{0}, std::string("")), true);
  // A value that needs repair, one the scrubber redacts, a long one.
  expect_both_ways_alike(before, served(std::int64_t{404}, std::string("bad Ã( utf-8")), true);
  expect_both_ways_alike(before, served(std::int64_t{401}, std::string("password=hunter2")), true);
  expect_both_ways_alike(before, served(std::int64_t{200}, std::string(5000, 'x')), true);
  // Start values change too.
  ring_input other_start = served(std::int64_t{201}, std::string("created"));
  other_start.span = 0x3333;
  other_start.attrs[0].second = std::string("u-7");
  other_start.attrs[1].second = -0.0;
  expect_both_ways_alike(before, other_start, true);

  // A template that names an updated key: the message is formatted from the update's value.
  ring_input named = before;
  named.tmpl = "charge {user}: {outcome} ({http.response.status_code})";
  ring_input named_now = named;
  named_now.updates[1].second = std::string("declined");
  named_now.updates[0].second = std::int64_t{402};
  expect_both_ways_alike(named, named_now, true);

  // Numbers that arrive as texts (an unsigned value past int64, a non-finite double).
  ring_input numbers = before;
  numbers.updates = {{"bytes", std::uint64_t{1}}, {"ratio", 0.5}};
  ring_input huge = numbers;
  huge.updates[0].second = std::numeric_limits<std::uint64_t>::max();
  huge.updates[1].second = INFINITY;
  expect_both_ways_alike(numbers, huge, true, &number_text_scrubber());
  expect_both_ways_alike(numbers, huge, true);

  // A start without attributes, tags and an error level, no scrubber.
  ring_input bare = served(true, 1.5);
  bare.attrs.clear();
  bare.tmpl = "tick";
  bare.tags = {"billing"};
  bare.lvl = level::error;
  ring_input bare_now = bare;
  bare_now.updates = {{"http.response.status_code", false}, {"outcome", 2.5}};
  expect_both_ways_alike(bare, bare_now, true, nullptr);
}

TEST(RecordBuilder, a_span_whose_updates_are_unlike_its_layouts_is_built_the_long_way) {
  const ring_input before = served(std::int64_t{200}, std::string("ok"));
  // Another key, another value type, a null, one more update, one fewer, none.
  ring_input renamed = before;
  renamed.updates[1].first = "OUTCOME";
  expect_both_ways_alike(before, renamed, false);
  expect_both_ways_alike(before, served(std::string("200"), std::string("ok")), false);
  expect_both_ways_alike(before, served(std::int64_t{200}, null_value{}), false);
  ring_input more = before;
  more.updates.push_back({"retries", std::int64_t{1}});
  expect_both_ways_alike(before, more, false);
  ring_input fewer = before;
  fewer.updates.pop_back();
  expect_both_ways_alike(before, fewer, false);
  ring_input none = before;
  none.updates.clear();
  expect_both_ways_alike(before, none, false);
  expect_both_ways_alike(none, before, false);
  // An update that is not a new attribute: a replaced start key, a level.
  ring_input replaced = before;
  replaced.updates[0] = {"user", std::string("u-8")};
  expect_both_ways_alike(before, replaced, false);
  ring_input leveled = before;
  leveled.then_set_level = true;
  expect_both_ways_alike(before, leveled, false);
  // The same keys, one moved from the start to an update: another layout, the long way.
  ring_input moved = before;
  moved.updates.insert(moved.updates.begin(), moved.attrs.back());
  moved.attrs.pop_back();
  ring_input moved_back = before;
  moved_back.attrs.push_back(moved_back.updates.front());
  moved_back.updates.erase(moved_back.updates.begin());
  expect_both_ways_alike(moved_back, moved, false);
}

TEST(RecordBuilder, a_call_site_first_seen_with_updates_that_are_not_new_keys_gets_no_layout) {
  // Its records are all built the long way, and alike.
  ring_input replaced = served(std::int64_t{200}, std::string("ok"));
  replaced.updates[1].first = "user";
  expect_both_ways_alike(replaced, replaced, false);
  ring_input twice = served(std::int64_t{200}, std::string("ok"));
  twice.updates[1].first = "http.response.status_code";
  expect_both_ways_alike(twice, twice, false);
  ring_input leveled = served(std::int64_t{200}, std::string("ok"));
  leveled.then_set_level = true;
  expect_both_ways_alike(leveled, leveled, false);
  ring_input repaired_key = served(std::int64_t{200}, std::string("ok"));
  repaired_key.updates[1].first = "out\xFF";
  expect_both_ways_alike(repaired_key, repaired_key, false);
  ring_input with_null = served(std::int64_t{200}, null_value{});
  expect_both_ways_alike(with_null, with_null, false);
}

// Updates past max_attributes are dropped and counted in the record, the same either way: a call
// site whose updates were dropped gets no layout from that record.
TEST(RecordBuilder, updates_past_max_attributes_are_dropped_alike_either_way) {
  const auto build_with_limit = [](const std::vector<ring_input>& records) {
    decode_counters counters;
    record_builder b(counters);
    b.set_max_attributes(5);
    arena memory;
    std::pair<std::string, std::uint64_t> out;
    for (const auto& in : records) {
      const auto bytes = ring_record(in);
      out.first =
          describe(b.build(bytes.data(), bytes.size(), false, updates_of(in), 1'700'000'000'000'001'000ull, memory));
    }
    out.second = b.site_builds();
    return out;
  };
  // 4 start attributes and 2 new keys: the second update is dropped.
  const ring_input before = served(std::int64_t{200}, std::string("ok"));
  const ring_input now = served(std::int64_t{500}, std::string("failed"));
  const auto alone = build_with_limit({now});
  const auto both = build_with_limit({before, now});
  EXPECT_NE(alone.first.find("dropped=1\n"), std::string::npos) << alone.first;
  EXPECT_EQ(alone.first.find("attribute outcome"), std::string::npos) << alone.first;
  EXPECT_EQ(both.first, alone.first);
  EXPECT_EQ(both.second, 0u);
  // Within the limit: built from the layout.
  ring_input one = before;
  one.updates.pop_back();
  ring_input one_now = now;
  one_now.updates.pop_back();
  const auto one_alone = build_with_limit({one_now});
  const auto one_both = build_with_limit({one, one_now});
  EXPECT_EQ(one_both.first, one_alone.first);
  EXPECT_EQ(one_both.second, 1u);
}

TEST(RecordBuilder, a_call_site_first_seen_with_a_repair_or_a_null_gets_no_layout) {
  // Its records are all built the long way, and alike.
  ring_input repaired_key = with_values({});
  repaired_key.attrs[0].first = "us\xFF";
  expect_both_ways_alike(repaired_key, repaired_key, false);
  ring_input repaired_tag;
  repaired_tag.tags = {"t\xFF"};
  expect_both_ways_alike(repaired_tag, repaired_tag, false);
  ring_input with_null = with_values({null_value{}});
  expect_both_ways_alike(with_null, with_null, false);
  ring_input repeated_tag;
  repeated_tag.tags = {"a", "a"};
  expect_both_ways_alike(repeated_tag, repeated_tag, false);
}

// Records of a few call sites with random values (types that change now and then, nulls,
// repeated keys, texts that need repair or hold a secret, huge numbers, levels, tags; spans with
// updates that set keys, now and then one fewer or a level more), built in turn by one builder:
// each must equal the record a new builder makes of it the long way.
TEST(RecordBuilder, random_records_of_a_few_call_sites_are_built_alike_either_way) {
  std::mt19937_64 rng(20261206);
  const auto pick = [&rng](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  const std::vector<std::string> templates = {"charge {user} {amount}", "tick", "{a}-{b} {user!r}", "bad \xFF {user}",
                                              "{n:>5}"};
  const std::vector<std::string> keys = {"user", "amount", "a", "b", "n", "password", "http.method", "us\xFF"};
  const auto random_value = [&](std::size_t type) -> value {
    switch (type) {
      case 0:
        return null_value{};
      case 1:
        return pick(2) == 0;
      case 2:
        return static_cast<std::int64_t>(rng());
      case 3:
        return pick(2) ? std::uint64_t{5} : std::numeric_limits<std::uint64_t>::max();
      case 4:
        return pick(4) ? static_cast<double>(rng() % 1000) / 8 : std::nan("");
      default: {
        const std::size_t kind = pick(5);
        if (kind == 0) return std::string("token=abc123");
        if (kind == 1) return std::string("caf\xC3");
        if (kind == 2) return std::string(40, 'z');
        return "v" + std::to_string(pick(100));
      }
    }
  };
  struct site {
    ring_input base;
    std::vector<std::size_t> types;
    std::vector<std::size_t> update_types;  // of base.updates, as a span
  };
  std::vector<site> sites;
  for (std::uint32_t i = 0; i < 6; ++i) {
    site s;
    s.base.tmpl = templates[pick(templates.size())];
    s.base.line = 100 + i;
    s.base.attrs.clear();
    const std::size_t n = pick(5);
    for (std::size_t k = 0; k < n; ++k) {
      s.base.attrs.push_back({keys[pick(keys.size())], null_value{}});
      s.types.push_back(1 + pick(5));
    }
    const std::size_t n_updates = pick(3);
    for (std::size_t k = 0; k < n_updates; ++k) {
      s.base.updates.push_back({pick(2) ? "status." + std::to_string(k) : keys[pick(keys.size())], null_value{}});
      s.update_types.push_back(1 + pick(5));
    }
    if (pick(3) == 0) s.base.tags = {"x", pick(2) ? "y" : "x"};
    s.base.lvl = pick(4) == 0 ? level::error : level::info;
    sites.push_back(s);
  }

  // `b` as the pipeline's builder; `ref` the same without layouts: every record the long way.
  decode_counters counters;
  record_builder b(counters);
  b.set_scrubber(&default_scrubber(), nullptr);
  decode_counters ref_counters;
  record_builder ref(ref_counters);
  ref.set_site_layouts(false);
  ref.set_scrubber(&default_scrubber(), nullptr);
  arena memory;
  constexpr int k_records = 3000;
  for (int i = 0; i < k_records; ++i) {
    const site& s = sites[pick(sites.size())];
    ring_input in = s.base;
    in.span = 0x10000 + static_cast<std::uint64_t>(i);
    for (std::size_t k = 0; k < in.attrs.size(); ++k)
      in.attrs[k].second = random_value(pick(20) == 0 ? pick(6) : s.types[k]);
    const auto as = static_cast<made_as>(pick(3));
    if (as == made_as::span) {
      for (std::size_t k = 0; k < in.updates.size(); ++k)
        in.updates[k].second = random_value(pick(20) == 0 ? pick(6) : s.update_types[k]);
      if (!in.updates.empty() && pick(20) == 0) in.updates.pop_back();
      in.then_set_level = pick(20) == 0;
    }
    const auto bytes = ring_record(in);
    const std::string updates = as == made_as::span ? updates_of(in) : std::string();
    const auto build = [&](record_builder& with) {
      return as == made_as::pending_span ? with.build_pending(bytes.data(), bytes.size(), memory)
                                         : with.build(bytes.data(), bytes.size(), as == made_as::log, updates,
                                                      1'700'000'000'000'001'000ull, memory);
    };
    const span_record long_way = build(ref);
    const span_record r = build(b);
    ASSERT_EQ(describe(r), describe(long_way)) << "record " << i;
    if (i % 256 == 255) memory.reset();
  }
  EXPECT_EQ(ref.site_builds(), 0u);
  EXPECT_EQ(counters.utf8_repaired.load(), ref_counters.utf8_repaired.load());
  EXPECT_EQ(counters.template_errors.load(), ref_counters.template_errors.load());
  EXPECT_GT(counters.utf8_repaired.load(), 0u);
  EXPECT_GT(counters.template_errors.load(), 0u);
  // Both ways were taken, many times each.
  EXPECT_GT(b.site_builds(), std::uint64_t{k_records / 4});
  EXPECT_LT(b.site_builds(), std::uint64_t{k_records});
}

}  // namespace
