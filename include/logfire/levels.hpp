// Logfire's log levels and their numbers (`logfire.level_num`).
//
//   auto lvl = logfire::parse_level("warn");  // an optional_level holding level::warn
#pragma once

#include <cstdint>
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

// A level or none (the default applies): the part of std::optional<level> this API uses, one
// byte wide and without <optional> in the header every file includes. Settable from a level
// (`.level = logfire::level::warn`); reads as an optional does (`if (l) use(*l)`).
class optional_level {
 public:
  constexpr optional_level() noexcept = default;
  constexpr optional_level(level l) noexcept : v_(static_cast<std::uint8_t>(l)) {}

  [[nodiscard]] constexpr bool has_value() const noexcept { return v_ != 0; }
  constexpr explicit operator bool() const noexcept { return v_ != 0; }
  // The level; only meaningful when has_value().
  [[nodiscard]] constexpr level operator*() const noexcept { return static_cast<level>(v_); }
  [[nodiscard]] constexpr level value_or(level fallback) const noexcept {
    return v_ != 0 ? static_cast<level>(v_) : fallback;
  }
  constexpr void reset() noexcept { v_ = 0; }

  friend constexpr bool operator==(optional_level, optional_level) noexcept = default;
  friend constexpr bool operator==(optional_level a, level b) noexcept { return a.v_ == static_cast<std::uint8_t>(b); }

 private:
  std::uint8_t v_ = 0;  // 0: none (no level has the number 0)
};

// "warn" for level::warn, and so on.
[[nodiscard]] std::string_view to_string(level l) noexcept;

// Accepts a name (case-insensitive; "warning" too) or a number 1..24; numbers map to the
// highest named level not above them, as Logfire's UI does. Empty when `text` is neither.
[[nodiscard]] optional_level parse_level(std::string_view text) noexcept;

}  // namespace logfire
