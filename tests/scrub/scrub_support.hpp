// Helpers for the scrubbing tests: a sink that owns what the scrubber writes, value builders,
// and one call that scrubs a record's attributes the way the background thread will.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "logfire/record.hpp"
#include "logfire/scrubbing.hpp"
#include "scrub/scrubber.hpp"

namespace scrub_test {

using logfire::attribute;
using logfire::attribute_value;
using logfire::scrub_path_segment;
using logfire::scrubbing_options;
using logfire::detail::scrub_session;
using logfire::detail::scrubber;

// Owns every string and list the scrubber writes, for as long as the test needs them.
class owned_sink final : public logfire::detail::scrub_sink {
 public:
  std::string_view copy(std::string_view text) override { return strings_.emplace_back(text); }
  attribute_value* make_values(std::size_t n) override { return lists_.emplace_back(n).data(); }
  std::size_t writes() const noexcept { return strings_.size() + lists_.size(); }

 private:
  std::deque<std::string> strings_;
  std::deque<std::vector<attribute_value>> lists_;
};

inline attribute_value str(std::string_view s) {
  attribute_value v;
  v.type = attribute_value::kind::string;
  v.s = s;
  return v;
}
inline attribute_value i64(std::int64_t i) {
  attribute_value v;
  v.type = attribute_value::kind::int64;
  v.i = i;
  return v;
}
inline attribute_value f64(double d) {
  attribute_value v;
  v.type = attribute_value::kind::float64;
  v.d = d;
  return v;
}
inline attribute_value boolean(bool b) {
  attribute_value v;
  v.type = attribute_value::kind::boolean;
  v.b = b;
  return v;
}
// A list over `items`, which must outlive the value.
inline attribute_value list(const std::vector<attribute_value>& items) {
  attribute_value v;
  v.type = attribute_value::kind::array;
  v.items = items;
  return v;
}

inline std::unique_ptr<scrubber> make_scrubber(const scrubbing_options& o = {}) {
  std::string error;
  auto s = scrubber::create(o, error);
  EXPECT_TRUE(s) << error;
  return s;
}

// One record's outcome.
struct outcome {
  std::vector<attribute> attrs;
  std::string scrubbed;  // the logfire.scrubbed value ("" when nothing was noted)
  std::vector<std::string> lines;
};

// Scrubs `attrs` as a span's attributes (root ["attributes"]) in a new record of `session`.
inline outcome scrub_record(scrub_session& session, owned_sink& sink, std::vector<attribute> attrs) {
  static const scrub_path_segment root[] = {{.key = "attributes"}};
  session.begin_record();
  session.scrub_attributes(root, attrs, sink);
  outcome o;
  o.attrs = std::move(attrs);
  if (session.scrubbed()) session.write_notes_json(o.scrubbed);
  for (const auto& l : session.first_scrub_lines()) o.lines.push_back(l);
  return o;
}

// The string a scrubbed attribute holds ("<not a string>" otherwise).
inline std::string text_of(const attribute_value& v) {
  return v.type == attribute_value::kind::string ? std::string(v.s) : std::string("<not a string>");
}

}  // namespace scrub_test
