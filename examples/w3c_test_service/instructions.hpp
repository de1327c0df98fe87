// The W3C trace-context test harness's instructions: a JSON array of {"url": ..., "arguments": ...},
// read with nlohmann-json. `url` is the decoded string; `arguments` is the entry's value written
// back as JSON text, to be sent on as the next request's body. The harness parses that body again,
// so only its value has to survive, not its spelling:
//   - member order is kept (ordered_json); whitespace goes; a repeated member keeps its last value;
//   - strings are written back ASCII-only, other characters as \uXXXX escapes (as Python's
//     json.dumps writes them), so the body is the same whatever charset the receiver assumes;
//   - integers within 64 bits pass exactly; other numbers as the nearest double, in the shortest
//     text that reads back to it (1.5e3 becomes 1500.0, 2E-2 becomes 0.02), so an integer beyond
//     64 bits arrives rounded (1.2345678901234568e+29). A number beyond a double's range is an error.
// Invalid input is an error with a message saying what and where, never an exception: not JSON
// (invalid UTF-8 and lone surrogate escapes included), nested deeper than k_max_depth, not an
// array of objects, an entry without a string "url".
//
//   auto parsed = w3c::parse_instructions(R"([{"url": "http://127.0.0.1:7777/cb", "arguments": [1]}])");
//   if (parsed.ok()) for (auto& i : parsed.items) post(i.url, i.arguments);
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace w3c {

struct instruction {
  std::string url;
  std::string arguments = "[]";  // JSON text; an empty array when the entry has none
};

struct parse_result {
  std::vector<instruction> items;
  std::string error;  // empty when the body was a valid instruction list
  [[nodiscard]] bool ok() const noexcept { return error.empty(); }
};

// Arrays and objects nested deeper than this, counted from the body's own array, are refused:
// nlohmann-json parses any depth, but writes back and copies by recursion.
inline constexpr int k_max_depth = 128;

namespace detail {

inline parse_result failure(std::string why) {
  parse_result out;
  out.error = std::move(why);
  return out;
}

// "[json.exception.parse_error.101] parse error at ..." without the bracketed id, and with the
// bytes the parser quotes from the body (they may be invalid UTF-8 or control characters) as
// \xNN, so that the plain-text answer is printable ASCII.
inline std::string without_exception_id(const char* what) {
  std::string_view s(what);
  if (!s.empty() && s.front() == '[') {
    if (const auto end = s.find("] "); end != std::string_view::npos) s.remove_prefix(end + 2);
  }
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7F) {
      out += c;
    } else {
      static constexpr char hex[] = "0123456789ABCDEF";
      out += "\\x";
      out += hex[b >> 4];
      out += hex[b & 0xF];
    }
  }
  return out;
}

}  // namespace detail

// Parses the harness's request body. On error, `items` is empty and `error` says why.
inline parse_result parse_instructions(std::string_view body) {
  using json = nlohmann::ordered_json;
  try {
    bool too_deep = false;
    // The callback's depth is that of the container being opened: 0 for the body's own array.
    const json root = json::parse(body, [&too_deep](int depth, json::parse_event_t event, json&) {
      if ((event == json::parse_event_t::array_start || event == json::parse_event_t::object_start) &&
          depth >= k_max_depth) {
        too_deep = true;
        return false;  // drop it; the whole body is refused below
      }
      return true;
    });
    if (too_deep) {
      return detail::failure("JSON nested deeper than " + std::to_string(k_max_depth) + " levels");
    }
    if (!root.is_array()) {
      return detail::failure("expected a JSON array of {\"url\", \"arguments\"} objects, got " +
                             std::string(root.type_name()));
    }
    parse_result out;
    out.items.reserve(root.size());
    for (std::size_t i = 0; i < root.size(); ++i) {
      const json& entry = root[i];
      const std::string where = "entry " + std::to_string(i) + ": ";
      if (!entry.is_object()) return detail::failure(where + "expected an object, got " + entry.type_name());
      const auto url = entry.find("url");
      if (url == entry.end()) return detail::failure(where + "no \"url\"");
      if (!url->is_string()) return detail::failure(where + "\"url\" must be a string, got " + url->type_name());
      instruction item;
      item.url = url->get<std::string>();
      if (const auto arguments = entry.find("arguments"); arguments != entry.end()) {
        // Strings come from the parser, which accepts valid UTF-8 only: strict never throws here,
        // and would be caught below if it did.
        item.arguments = arguments->dump(-1, ' ', true, json::error_handler_t::strict);
      }
      out.items.push_back(std::move(item));
    }
    return out;
  } catch (const nlohmann::json::exception& e) {
    // parse_error (with line and column), out_of_range (a number beyond a double), type_error.
    return detail::failure("invalid JSON: " + detail::without_exception_id(e.what()));
  }
}

}  // namespace w3c
