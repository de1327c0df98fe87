// ASCII text helpers for every layer of the library: one trim, one lower, one case-insensitive
// compare, so that a header, an environment variable and a metadata answer are read alike.
// Header-only and allocation-free except lower(); nothing here knows about UTF-8 (bytes >= 0x80
// are left as they are).
#pragma once

#include <cctype>
#include <string>
#include <string_view>

namespace logfire::detail::ascii {

// `s` without leading and trailing ASCII whitespace (space, \t, \n, \v, \f, \r).
[[nodiscard]] inline std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// `s` with ASCII letters lowered (the rest unchanged).
[[nodiscard]] inline std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// `a` and `b` equal when ASCII letters are compared without case (header names, "GMT").
[[nodiscard]] inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

// 0..15 for a hex digit (either case), -1 otherwise.
[[nodiscard]] constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace logfire::detail::ascii
