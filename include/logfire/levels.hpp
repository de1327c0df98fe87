// Logfire's log levels and their numbers (`logfire.level_num`).
//
//   auto lvl = logfire::parse_level("warn");  // std::optional<logfire::level>{level::warn}
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace logfire {

enum class level : std::uint8_t {
  trace = 1,
  debug = 5,
  info = 9,
  notice = 10,
  warn = 13,
  warning = 13,  // Python's name; the same level as warn
  error = 17,
  fatal = 21,
};

// "warn" for level::warn, and so on.
[[nodiscard]] std::string_view to_string(level l) noexcept;

// Accepts a name (case-insensitive; "warning" too) or a number 1..24; numbers map to the
// highest named level not above them, as Logfire's UI does.
[[nodiscard]] std::optional<level> parse_level(std::string_view text) noexcept;

}  // namespace logfire
