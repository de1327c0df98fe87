// Eight characters at a time in a 64-bit register ("SIMD within a register") for the fixed-width
// hex fields of traceparent and the character checks of tracestate: these run once per request
// on the caller's thread, and a byte loop costs several times more instructions.
// Loads are little-endian (x86-64, AArch64); every per-byte value stays below 256, so no carry
// crosses from one byte into the next.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace logfire::detail::swar {

static_assert(std::endian::native == std::endian::little, "swar helpers assume little-endian loads");

inline constexpr std::uint64_t ones = 0x0101010101010101ull;
inline constexpr std::uint64_t highs = 0x8080808080808080ull;

[[nodiscard]] inline std::uint64_t load8(const char* p) noexcept {
  std::uint64_t x;
  std::memcpy(&x, p, 8);
  return x;
}

// Whether any byte of x is zero / below n (n <= 128) / above n (n < 128) / equal to c.
// Exact as yes-or-no answers (the per-byte flags may over-report only after a true one).
[[nodiscard]] constexpr bool any_zero(std::uint64_t x) noexcept {
  return ((x - ones) & ~x & highs) != 0;
}
[[nodiscard]] constexpr bool any_below(std::uint64_t x, unsigned n) noexcept {
  return ((x - ones * n) & ~x & highs) != 0;
}
[[nodiscard]] constexpr bool any_above(std::uint64_t x, unsigned n) noexcept {
  return (((x & ~highs) + ones * (127 - n)) | x) & highs;
}
[[nodiscard]] constexpr bool any_equal(std::uint64_t x, unsigned char c) noexcept {
  return any_zero(x ^ (ones * c));
}

// Eight lowercase hex digits (first = most significant) into `out`; false if any byte is not
// [0-9a-f]. Each byte's value is (b & 0xF) + 9 * bit6(b); a byte is valid exactly when that
// value is below 16 and re-encodes to the byte itself.
[[nodiscard]] inline bool parse_hex8(const char* p, std::uint32_t& out) noexcept {
  const std::uint64_t x = load8(p);
  const std::uint64_t nib = (x & (ones * 0x0F)) + 9 * ((x >> 6) & ones);  // each byte <= 24
  const std::uint64_t ge10 = ((nib + ones * 6) >> 4) & ones;
  const std::uint64_t canon = nib + ones * '0' + ge10 * ('a' - '0' - 10);
  if (((nib & (ones * 0xF0)) | (canon ^ x)) != 0) return false;
  std::uint64_t v = nib;
  v = ((v & 0x000F000F000F000Full) << 4) | ((v & 0x0F000F000F000F00ull) >> 8);    // bytes
  v = ((v & 0x000000FF000000FFull) << 8) | ((v & 0x00FF000000FF0000ull) >> 16);   // 16-bit words
  v = ((v & 0x000000000000FFFFull) << 16) | ((v & 0x0000FFFF00000000ull) >> 32);  // 32 bits
  out = static_cast<std::uint32_t>(v);
  return true;
}

[[nodiscard]] inline bool parse_hex16(const char* p, std::uint64_t& out) noexcept {
  std::uint32_t hi = 0, lo = 0;
  if (!parse_hex8(p, hi) || !parse_hex8(p + 8, lo)) return false;
  out = (static_cast<std::uint64_t>(hi) << 32) | lo;
  return true;
}

// `v` as eight lowercase hex digits.
inline void write_hex8(std::uint32_t v, char* out) noexcept {
  std::uint64_t x = v;
  x = ((x & 0xFFFF0000ull) << 16) | (x & 0xFFFFull);
  x = ((x & 0x0000FF000000FF00ull) << 8) | (x & 0x000000FF000000FFull);
  x = ((x & 0x00F000F000F000F0ull) << 4) | (x & 0x000F000F000F000Full);  // one nibble per byte
  const std::uint64_t ge10 = ((x + ones * 6) >> 4) & ones;
  x += ones * '0' + ge10 * ('a' - '0' - 10);
  x = __builtin_bswap64(x);  // the most significant nibble is the first character
  std::memcpy(out, &x, 8);
}

inline void write_hex16(std::uint64_t v, char* out) noexcept {
  write_hex8(static_cast<std::uint32_t>(v >> 32), out);
  write_hex8(static_cast<std::uint32_t>(v), out + 8);
}

}  // namespace logfire::detail::swar
