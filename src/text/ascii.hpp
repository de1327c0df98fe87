// ASCII text helpers for every layer of the library: one trim, one lower, one case-insensitive
// compare, so that a header, an environment variable and a metadata answer are read alike.
// Header-only and allocation-free except lower(); nothing here knows about UTF-8 (bytes >= 0x80
// are left as they are).
#pragma once

#include <cctype>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "text/bytes.hpp"

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

// True when no byte of [p, p + n) is 0x80 or above: text that ASCII-only fast paths can take.
// Up to 16 bytes with or_short() (most keys and many values are that short); past that eight
// bytes at a time, the last eight overlapping what was read.
[[nodiscard]] inline bool is_ascii(const void* p, std::size_t n) noexcept {
  constexpr std::uint64_t high = 0x8080808080808080ull;
  const auto* b = static_cast<const unsigned char*>(p);
  if (n <= 16) return (or_short(static_cast<const char*>(p), n) & high) == 0;
  std::uint64_t any = 0;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, b + i, 8);
    any |= w;
  }
  if (i < n) {
    std::uint64_t w;
    std::memcpy(&w, b + n - 8, 8);
    any |= w;
  }
  return (any & high) == 0;
}

// 0..15 for a hex digit (either case), -1 otherwise.
[[nodiscard]] constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace logfire::detail::ascii
