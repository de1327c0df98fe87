// JSON for the local backend: an appending writer (the stored JSON columns and the HTTP API are
// built with it) and a small, bounded parser (used to read logfire.json_schema and to check that a
// JSON-looking attribute string really is JSON before it is embedded as structured data).
//
//   std::string out;
//   json::append_string(out, "naïve \"quoted\"");   // -> "naïve \"quoted\""
//   auto v = json::parse(R"({"type":"object"})");   // std::optional<json::value>
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace logfire::backend::json {

// Appends `s` as a quoted JSON string. Invalid UTF-8 becomes U+FFFD (one per maximal invalid
// subpart, the SDK's policy in src/text/utf8.hpp) so that the result is
// always valid JSON (SQLite's json functions reject anything else).
void append_string(std::string& out, std::string_view s);

// Appends a number; NaN and infinities, which JSON cannot hold, become the strings "NaN",
// "Infinity" and "-Infinity" (as in the OTLP/JSON mapping).
void append_double(std::string& out, double d);
void append_int(std::string& out, std::int64_t i);
void append_uint(std::string& out, std::uint64_t u);

// A parsed JSON document. Objects keep their members in document order.
struct value {
  struct member;  // defined below: a value holds members that hold values
  enum class type : std::uint8_t { null, boolean, number, string, array, object };
  type kind = type::null;
  bool b = false;
  double number = 0;
  std::string text;  // string contents, or the number as written
  std::vector<value> items;
  std::vector<member> members;

  [[nodiscard]] const value* find(std::string_view key) const;
  [[nodiscard]] bool is_string() const { return kind == type::string; }
};

struct value::member {
  std::string key;
  value val;
};

// Parses a complete JSON document (surrounding whitespace allowed). Returns nullopt on any
// syntax error or when nesting exceeds `max_depth`, so hostile input cannot exhaust the stack.
[[nodiscard]] std::optional<value> parse(std::string_view text, int max_depth = 64);

// Whether `text` is one complete JSON document (same rules as parse, without building it).
[[nodiscard]] bool is_valid(std::string_view text, int max_depth = 64);

}  // namespace logfire::backend::json
