// Stepping through an OTLP/JSON request's outer layers (resource -> scope -> items) without
// building the document: each object member or array element is handed over as the slice of
// text it occupies, checked for well-formedness and nesting depth on the way. Items are then
// parsed one at a time (protobuf's JSON mapping), so a large JSON body never becomes one large
// message tree.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace logfire::backend::otlp::json_scan {

// Skips the JSON value starting at text[pos] (after whitespace). Returns the position after it,
// or npos when malformed; `depth` is updated with the deepest nesting seen below `base_depth`.
// Fails (npos, too_deep set) past `max_depth`.
std::size_t skip_value(std::string_view text, std::size_t pos, int base_depth, int max_depth, int& deepest,
                       bool& too_deep);

// Whitespace-trimmed.
[[nodiscard]] std::string_view trim(std::string_view v);
[[nodiscard]] inline bool is_null(std::string_view v) {
  return trim(v) == "null";
}

// The members of the object `text`: fn(key, value) for each (value trimmed); fn returns false
// to stop. False when `text` is not a well-formed object (error set) or fn stopped.
template <typename Fn>
bool members(std::string_view text, int max_depth, Fn&& fn, std::string& error);
// The elements of the array `text`: fn(element) for each.
template <typename Fn>
bool elements(std::string_view text, int max_depth, Fn&& fn, std::string& error);

// ---- implementation ----------------------------------------------------------------------------

// Decodes the string literal at text[pos] (a key). Returns the position after it or npos.
std::size_t read_key(std::string_view text, std::size_t pos, std::string& key);
std::size_t skip_ws(std::string_view text, std::size_t pos);

template <typename Fn>
bool members(std::string_view text, int max_depth, Fn&& fn, std::string& error) {
  std::size_t i = skip_ws(text, 0);
  if (i >= text.size() || text[i] != '{') {
    error = "expected an object";
    return false;
  }
  i = skip_ws(text, i + 1);
  if (i < text.size() && text[i] == '}') return skip_ws(text, i + 1) == text.size() || (error = "trailing data", false);
  std::string key;
  while (true) {
    i = read_key(text, i, key);
    if (i == std::string_view::npos) return error = "malformed object key", false;
    i = skip_ws(text, i);
    if (i >= text.size() || text[i] != ':') return error = "expected ':' after a key", false;
    std::size_t start = skip_ws(text, i + 1);
    int deepest = 0;
    bool too_deep = false;
    std::size_t end = skip_value(text, start, 1, max_depth, deepest, too_deep);
    if (end == std::string_view::npos) return error = too_deep ? "nested too deeply" : "malformed value", false;
    if (!fn(std::string_view(key), text.substr(start, end - start))) return false;
    i = skip_ws(text, end);
    if (i < text.size() && text[i] == ',') {
      i = skip_ws(text, i + 1);
      continue;
    }
    if (i < text.size() && text[i] == '}') break;
    return error = "expected ',' or '}' in an object", false;
  }
  if (skip_ws(text, i + 1) != text.size()) return error = "trailing data after an object", false;
  return true;
}

template <typename Fn>
bool elements(std::string_view text, int max_depth, Fn&& fn, std::string& error) {
  std::size_t i = skip_ws(text, 0);
  if (i >= text.size() || text[i] != '[') {
    error = "expected an array";
    return false;
  }
  i = skip_ws(text, i + 1);
  if (i < text.size() && text[i] == ']') return skip_ws(text, i + 1) == text.size() || (error = "trailing data", false);
  while (true) {
    int deepest = 0;
    bool too_deep = false;
    std::size_t end = skip_value(text, i, 1, max_depth, deepest, too_deep);
    if (end == std::string_view::npos) return error = too_deep ? "nested too deeply" : "malformed value", false;
    if (!fn(text.substr(i, end - i))) return false;
    i = skip_ws(text, end);
    if (i < text.size() && text[i] == ',') {
      i = skip_ws(text, i + 1);
      continue;
    }
    if (i < text.size() && text[i] == ']') break;
    return error = "expected ',' or ']' in an array", false;
  }
  if (skip_ws(text, i + 1) != text.size()) return error = "trailing data after an array", false;
  return true;
}

}  // namespace logfire::backend::otlp::json_scan
