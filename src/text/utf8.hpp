// UTF-8 validation and repair: every string reaches the encoders as valid UTF-8 (OTLP's
// protobuf `string` fields and JSON both require it). Invalid input is repaired the way the
// Unicode standard and WHATWG recommend ("substitution of maximal subparts"): each maximal
// subpart of an ill-formed sequence becomes one U+FFFD.
//
//   std::string out;
//   if (logfire::detail::append_utf8(out, raw)) ++repairs;  // out holds valid UTF-8 either way
//
// This is the one policy of the library: the pipeline repairs strings as it builds records, and
// the OTLP encoders use the same functions as their last guard (a string that reaches them
// invalid is repaired the same way, never sent invalid).
//
// Pure functions, no state, no locks; the pipeline's and the exporters' background threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "text/bytes.hpp"

namespace logfire::detail {

// U+FFFD REPLACEMENT CHARACTER in UTF-8.
inline constexpr std::string_view k_replacement_character = "\xEF\xBF\xBD";

inline constexpr std::uint64_t utf8_high_bits = 0x8080808080808080ull;

// The sequence starting at p[0] (a byte >= 0x80), with `n` bytes available: its length (2..4)
// when well-formed, otherwise minus the length of the maximal subpart to replace (-1..-3): the
// lead byte plus the continuation bytes still acceptable before the first unacceptable one
// (Unicode 15, table 3-7; the WHATWG decoder). No overlongs, no surrogates, nothing above U+10FFFF.
[[nodiscard]] inline int utf8_sequence(const unsigned char* p, std::size_t n) noexcept {
  const unsigned c = p[0];
  int need;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0)
      lo = 0xA0;  // overlong below U+0800
    else if (c == 0xED)
      hi = 0x9F;  // surrogates U+D800..U+DFFF
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0)
      lo = 0x90;  // overlong below U+10000
    else if (c == 0xF4)
      hi = 0x8F;  // above U+10FFFF
  } else {
    return -1;  // continuation byte, C0/C1 (always overlong) or F5..FF
  }
  for (int k = 1; k <= need; ++k) {
    if (static_cast<std::size_t>(k) >= n) return -k;
    const unsigned b = p[k];
    if (b < lo || b > hi) return -k;
    lo = 0x80;
    hi = 0xBF;
  }
  return need + 1;
}

// The full check from byte `from` on (out of line: the inline test below handles ASCII).
[[nodiscard]] bool is_valid_utf8_from(std::string_view s, std::size_t from) noexcept;

// Whether `s`, at most 16 bytes, is ASCII: two overlapping loads, no loop over the bytes.
[[nodiscard]] inline bool is_short_ascii(std::string_view s) noexcept {
  return (or_short(s.data(), s.size()) & utf8_high_bits) == 0;
}

// True when `s` is well-formed UTF-8. Pure ASCII, the common case, is recognised inline 16
// bytes at a time; anything else takes the full check.
[[nodiscard]] inline bool is_valid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  if (n < 8) return is_short_ascii(s) || is_valid_utf8_from(s, 0);
  std::size_t i = 0;
  std::uint64_t a;
  std::uint64_t b;
  for (; i + 16 <= n; i += 16) {
    std::memcpy(&a, p + i, 8);
    std::memcpy(&b, p + i + 8, 8);
    if ((a | b) & utf8_high_bits) return is_valid_utf8_from(s, i);
  }
  if (i + 8 <= n) {
    std::memcpy(&a, p + i, 8);
    if (a & utf8_high_bits) return is_valid_utf8_from(s, i);
    i += 8;
  }
  if (i < n) {
    std::memcpy(&a, p + n - 8, 8);  // the last 8 bytes, overlapping what was checked
    if (a & utf8_high_bits) return is_valid_utf8_from(s, i);
  }
  return true;
}

// Size of `s` once repaired (each maximal invalid subpart becomes U+FFFD), and the repair
// written at `out` (repaired_utf8_size(s) bytes; returns the end). For encoders that size a
// field before writing it; no allocation.
[[nodiscard]] std::size_t repaired_utf8_size(std::string_view s) noexcept;
char* write_repaired_utf8(std::string_view s, char* out) noexcept;

// Length of the longest well-formed prefix of `s` (== s.size() when all of it is valid).
[[nodiscard]] std::size_t valid_utf8_prefix(std::string_view s) noexcept;

// Appends `in` to `out`, replacing each maximal invalid subpart with U+FFFD. For example
// "a\xF0\x9F\x98" (a truncated 4-byte sequence) becomes "a\uFFFD" and "\xC0\xAF" (an overlong
// '/') becomes "\uFFFD\uFFFD".
void append_repaired_utf8(std::string& out, std::string_view in);

// Appends `in` to `out`, repairing it if needed. Returns true when anything was replaced
// (the pipeline counts repairs in event_counter::invalid_utf8_repaired).
bool append_utf8(std::string& out, std::string_view in);

// Repairs `s` in place; returns true when anything was replaced. Valid strings are untouched
// (no allocation).
bool repair_utf8(std::string& s);

// Number of code points in `s` (counts the bytes that are not continuation bytes, so it is
// well-defined, if approximate, for invalid input too).
[[nodiscard]] std::size_t count_code_points(std::string_view s) noexcept;

// Byte offset of the code point numbered `n` (0-based) in `s`, or s.size() when `s` has at
// most `n` code points. Never points into the middle of a sequence.
[[nodiscard]] std::size_t code_point_offset(std::string_view s, std::size_t n) noexcept;

}  // namespace logfire::detail
