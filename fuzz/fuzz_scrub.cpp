// Fuzzes the scrubbing engine with records of arbitrary attributes: nested JSON strings, lists,
// numbers, any bytes. Input: one byte choosing the options, then attributes separated by 0x1E,
// each "key 0x1F type value" with type s (string), i (int), b (bool), f (double) or l (strings
// separated by 0x1D). Properties beyond "no crash":
//  * the ASCII pair filter finds exactly what the automaton finds, and on ASCII text both find
//    what std::regex finds for Logfire's own regular expressions (leftmost, first alternative);
//  * may_hold() is true wherever the automaton finds something;
//  * the reason in `logfire.scrubbed` for a default pattern is a keyword match and nothing more
//    (no echo); for an extra pattern it is the pattern's text;
//  * `logfire.scrubbed` is valid JSON and so is every JSON string written back;
//  * valid UTF-8 in gives valid UTF-8 out;
//  * with the defaults, scrubbing what was scrubbed changes nothing;
//  * the scan budget holds.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "scrub/json_tree.hpp"
#include "scrub/keywords.hpp"
#include "scrub/scrubber.hpp"
#include "text/utf8.hpp"

namespace {

using namespace logfire;
using namespace logfire::detail;

class owned_sink final : public scrub_sink {
 public:
  std::string_view copy(std::string_view text) override { return strings_.emplace_back(text); }
  attribute_value* make_values(std::size_t n) override { return lists_.emplace_back(n).data(); }

 private:
  std::deque<std::string> strings_;
  std::deque<std::vector<attribute_value>> lists_;
};

const std::vector<std::string> k_extra = {"iban", "(a+)+$", "://[^@/]+@", "x'y\"z", "[0-9]{4}-[0-9]{4}"};

std::unique_ptr<scrubber> make(std::uint8_t choice) {
  scrubbing_options o;
  if (choice & 1) o.extra_patterns = k_extra;
  if (choice & 2) o.disabled_patterns = {"session", "auth"};
  if (choice & 4) o.safe_keys = {"note", "app.*"};
  if (choice & 8) o.max_scan_bytes = 64 + (choice >> 4) * 16;
  if (choice & 16 && !(choice & 8))
    o.callback = [](const scrub_match& m) {
      if (m.pattern == "cookie") return scrub_action::keep();
      if (m.pattern == "jwt") return scrub_action::replace("<jwt>");
      return scrub_action::redact();
    };
  std::string error;
  auto s = scrubber::create(o, error);
  if (!s) __builtin_trap();
  return s;
}

// Logfire's alternation, as Python compiles it (ECMAScript has the same lookahead, \b and
// leftmost-first alternation for ASCII text).
const std::regex& logfire_regex() {
  static const std::regex re(
      "(password)|(passwd)|(mysql_pwd)|(secret)|(auth(?!ors?\\b))|(credential)|(private[._ -]?key)|"
      "(api[._ -]?key)|(session)|(cookie)|(social[._ -]?security)|(credit[._ -]?card)|(logfire[._ -]?token)|"
      "(pylf_v\\d+_)|((?:\\b|_)csrf(?:\\b|_))|((?:\\b|_)xsrf(?:\\b|_))|((?:\\b|_)jwt(?:\\b|_))|((?:\\b|_)ssn(?:\\b|_))",
      std::regex::ECMAScript | std::regex::icase);
  return re;
}

void check_matchers(std::string_view text) {
  static const keyword_matcher m;
  const keyword_match fast = m.find(text), slow = m.find_with_automaton(text);
  if (fast.found != slow.found) __builtin_trap();
  if (fast.found && (fast.pattern != slow.pattern || fast.start != slow.start || fast.end != slow.end))
    __builtin_trap();
  if (slow.found && !m.may_hold(text)) __builtin_trap();  // may_hold() may skip only what holds nothing
  if (text.size() > 256) return;
  for (const char c : text)
    if (static_cast<unsigned char>(c) >= 0x80 || c == '\0') return;
  std::cmatch r;
  const bool found = std::regex_search(text.data(), text.data() + text.size(), r, logfire_regex());
  if (found != fast.found) __builtin_trap();
  if (!found) return;
  std::size_t group = 1;
  while (group < r.size() && !r[group].matched) ++group;
  if (group - 1 != fast.pattern || static_cast<std::size_t>(r.position(0)) != fast.start ||
      static_cast<std::size_t>(r.position(0) + r.length(0)) != fast.end)
    __builtin_trap();
}

// The matched_substring of each entry of `logfire.scrubbed` (which must be a JSON list of objects).
std::vector<std::string> reasons_in(std::string_view notes) {
  json_tree t;
  if (!t.parse(notes, 8) || t.node(0).kind != json_node::type::array) __builtin_trap();
  std::vector<std::string> out;
  std::size_t entry = 1;
  for (std::uint32_t e = 0; e < t.node(0).children; ++e) {
    if (t.node(entry).kind != json_node::type::object) __builtin_trap();
    std::size_t key = entry + 1;
    for (std::uint32_t m = 0; m < t.node(entry).children; ++m) {
      if (t.node(key).text == "matched_substring") out.emplace_back(t.node(key + 1).text);
      key += 1 + t.node(key + 1).size;
    }
    entry += t.node(entry).size;
  }
  return out;
}

struct record {
  std::vector<std::string> keys;  // storage for the views below
  std::vector<std::string> texts;
  std::deque<std::vector<attribute_value>> lists;
  std::vector<attribute> attrs;
};

attribute_value string_value(std::string_view s) {
  attribute_value v;
  v.type = attribute_value::kind::string;
  v.s = s;
  return v;
}

void parse_record(std::string_view in, record& r) {
  std::size_t pos = 0;
  while (pos <= in.size() && r.attrs.size() < 64) {
    std::size_t end = in.find('\x1e', pos);
    if (end == std::string_view::npos) end = in.size();
    const std::string_view item = in.substr(pos, end - pos);
    pos = end + 1;
    const std::size_t sep = item.find('\x1f');
    if (sep == std::string_view::npos || sep + 1 >= item.size()) continue;
    r.keys.emplace_back(item.substr(0, sep));
    const char type = item[sep + 1];
    r.texts.emplace_back(item.substr(sep + 2));
    attribute a;
    a.value.type = attribute_value::kind::empty;
    switch (type) {
      case 's':
        a.value.type = attribute_value::kind::string;
        break;
      case 'i':
        a.value.type = attribute_value::kind::int64;
        a.value.i = static_cast<std::int64_t>(r.texts.back().size());
        break;
      case 'b':
        a.value.type = attribute_value::kind::boolean;
        break;
      case 'f':
        a.value.type = attribute_value::kind::float64;
        a.value.d = 0.5;
        break;
      case 'l':
        a.value.type = attribute_value::kind::array;
        r.lists.emplace_back();
        break;
      default:
        break;
    }
    r.attrs.push_back(a);
  }
  // Views only once the storage stopped moving.
  std::size_t list = 0;
  for (std::size_t i = 0; i < r.attrs.size(); ++i) {
    attribute& a = r.attrs[i];
    a.key = r.keys[i];
    if (a.value.type == attribute_value::kind::string) a.value.s = r.texts[i];
    if (a.value.type == attribute_value::kind::array) {
      auto& items = r.lists[list++];
      std::string_view rest = r.texts[i];
      while (!rest.empty() && items.size() < 64) {
        std::size_t cut = rest.find('\x1d');
        if (cut == std::string_view::npos) cut = rest.size();
        items.push_back(string_value(rest.substr(0, cut)));
        rest.remove_prefix(cut < rest.size() ? cut + 1 : cut);
      }
      a.value.items = items;
    }
  }
}

void check_output(const std::vector<attribute>& before, const std::vector<attribute>& after, bool input_valid) {
  static json_tree tree;
  for (std::size_t i = 0; i < after.size(); ++i) {
    const attribute_value& v = after[i].value;
    auto check_text = [&](std::string_view out, std::string_view in) {
      if (input_valid && !is_valid_utf8(out)) __builtin_trap();
      // A JSON string written back parses again.
      if (out != in && !out.starts_with("[Scrubbed") && out != "<jwt>" && tree.parse(in, k_max_json_depth) &&
          !tree.parse(out, k_max_json_depth))
        __builtin_trap();
    };
    if (v.type == attribute_value::kind::string)
      check_text(v.s, before[i].value.type == attribute_value::kind::string ? before[i].value.s : std::string_view{});
    if (v.type == attribute_value::kind::array)
      for (std::size_t k = 0; k < v.items.size(); ++k)
        if (v.items[k].type == attribute_value::kind::string)
          check_text(v.items[k].s, k < before[i].value.items.size() ? before[i].value.items[k].s : std::string_view{});
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t choice = data[0];
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);

  record r;
  parse_record(in, r);
  bool input_valid = true;
  for (const auto& a : r.attrs) {
    check_matchers(a.key);
    input_valid = input_valid && is_valid_utf8(a.key);
    if (a.value.type == attribute_value::kind::string) {
      check_matchers(a.value.s);
      input_valid = input_valid && is_valid_utf8(a.value.s);
    }
    for (const auto& item :
         a.value.type == attribute_value::kind::array ? a.value.items : std::span<const attribute_value>{}) {
      check_matchers(item.s);
      input_valid = input_valid && is_valid_utf8(item.s);
    }
  }

  static std::unique_ptr<scrubber> scrubbers[256];
  std::unique_ptr<scrubber>& s = scrubbers[choice];
  if (!s) s = make(choice);
  scrub_session session(*s);
  owned_sink sink;
  const scrub_path_segment root[] = {{.key = "attributes"}};

  std::vector<attribute> attrs = r.attrs;
  session.begin_record();
  session.scrub_attributes(root, attrs, sink);
  if (session.scanned_bytes() > s->max_scan_bytes()) __builtin_trap();
  check_output(r.attrs, attrs, input_valid);

  std::string notes;
  if (session.scrubbed()) {
    session.write_notes_json(notes);
    static const keyword_matcher keywords;
    for (const std::string& reason : reasons_in(notes)) {
      if (reason == k_scan_budget || reason.starts_with("(")) continue;
      bool is_extra = false;
      for (const auto& e : k_extra) is_extra = is_extra || (choice & 1 && reason == e);
      if (is_extra) continue;
      // A default pattern's reason is one keyword match, whole.
      const keyword_match m = keywords.find(reason);
      if (!m.found || m.start != 0 || m.end != reason.size()) __builtin_trap();
    }
  }

  // With the defaults and room to spare, a second pass finds nothing new to change.
  if (choice == 0) {
    std::vector<attribute> again = attrs;
    session.begin_record();
    session.scrub_attributes(root, again, sink);
    for (std::size_t i = 0; i < again.size(); ++i) {
      const attribute_value &a = attrs[i].value, &b = again[i].value;
      if (a.type != b.type) __builtin_trap();
      if (a.type == attribute_value::kind::string && a.s != b.s) __builtin_trap();
      if (a.type == attribute_value::kind::array) {
        if (a.items.size() != b.items.size()) __builtin_trap();
        for (std::size_t k = 0; k < a.items.size(); ++k)
          if (a.items[k].type == attribute_value::kind::string && a.items[k].s != b.items[k].s) __builtin_trap();
      }
    }
  }
  return 0;
}
