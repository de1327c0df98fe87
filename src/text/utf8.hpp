// UTF-8 validation and repair: every string reaches the encoders as valid UTF-8 (OTLP's
// protobuf `string` fields and JSON both require it). Invalid input is repaired the way the
// Unicode standard and WHATWG recommend ("substitution of maximal subparts"): each maximal
// subpart of an ill-formed sequence becomes one U+FFFD.
//
//   std::string out;
//   if (logfire::detail::append_utf8(out, raw)) ++repairs;  // out holds valid UTF-8 either way
//
// Runs on the background thread (pure functions, no state, no locks).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace logfire::detail {

// U+FFFD REPLACEMENT CHARACTER in UTF-8.
inline constexpr std::string_view k_replacement_character = "\xEF\xBF\xBD";

// True when `s` is well-formed UTF-8: no overlong forms, no surrogates (U+D800..U+DFFF),
// nothing above U+10FFFF, no truncated sequences. ASCII runs are checked 8 bytes at a time.
[[nodiscard]] bool is_valid_utf8(std::string_view s) noexcept;

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
