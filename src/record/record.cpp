// The public record vocabulary: level and record-type names, level parsing, attribute lookup.
#include "logfire/record.hpp"

#include <charconv>
#include <string>

#include "logfire/levels.hpp"
#include "text/ascii.hpp"

namespace logfire {

std::string_view to_string(level l) noexcept {
  switch (l) {
    case level::trace:
      return "trace";
    case level::debug:
      return "debug";
    case level::info:
      return "info";
    case level::notice:
      return "notice";
    case level::warn:
      return "warn";
    case level::error:
      return "error";
    case level::fatal:
      return "fatal";
  }
  return "info";
}

optional_level parse_level(std::string_view text) noexcept {
  const std::string l = detail::ascii::lower(text);
  if (l == "trace") return level::trace;
  if (l == "debug") return level::debug;
  if (l == "info") return level::info;
  if (l == "notice") return level::notice;
  if (l == "warn" || l == "warning") return level::warn;
  if (l == "error") return level::error;
  if (l == "fatal") return level::fatal;
  int n = 0;
  auto [p, ec] = std::from_chars(l.data(), l.data() + l.size(), n);
  if (ec != std::errc() || p != l.data() + l.size() || n < 1 || n > 24) return {};
  // The highest named level not above n.
  for (level candidate : {level::fatal, level::error, level::warn, level::notice, level::info, level::debug})
    if (n >= static_cast<int>(candidate)) return candidate;
  return level::trace;
}

std::string_view to_string(record_type t) noexcept {
  switch (t) {
    case record_type::span:
      return "span";
    case record_type::log:
      return "log";
    case record_type::pending_span:
      return "pending_span";
  }
  return "span";
}

const attribute_value* span_record::find(std::string_view key) const noexcept {
  for (const auto& a : attributes)
    if (a.key == key) return &a.value;
  return nullptr;
}

}  // namespace logfire
