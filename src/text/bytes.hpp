// Copies and comparisons of a few bytes without a call to memcpy or memcmp: the texts of a
// record (keys, short values) are mostly shorter than 16 bytes, and a call costs more than the
// work. Header-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace logfire::detail {

// Copies `n` <= 16 bytes from `in` to `out` as two overlapping moves; returns out + n.
inline char* copy_short(char* out, const char* in, std::size_t n) noexcept {
  if (n >= 8) {
    std::uint64_t a;
    std::uint64_t b;
    std::memcpy(&a, in, 8);
    std::memcpy(&b, in + n - 8, 8);
    std::memcpy(out, &a, 8);
    std::memcpy(out + n - 8, &b, 8);
  } else if (n >= 4) {
    std::uint32_t a;
    std::uint32_t b;
    std::memcpy(&a, in, 4);
    std::memcpy(&b, in + n - 4, 4);
    std::memcpy(out, &a, 4);
    std::memcpy(out + n - 4, &b, 4);
  } else if (n > 0) {
    out[0] = in[0];
    out[n / 2] = in[n / 2];
    out[n - 1] = in[n - 1];
  }
  return out + n;
}

// Whether the `n` bytes at `a` and `b` are the same, the short ones (`n` <= 16) compared as
// two overlapping words without a call.
inline bool same_bytes(const char* a, const char* b, std::size_t n) noexcept {
  if (n > 16) return std::memcmp(a, b, n) == 0;
  if (n >= 8) {
    std::uint64_t a0;
    std::uint64_t a1;
    std::uint64_t b0;
    std::uint64_t b1;
    std::memcpy(&a0, a, 8);
    std::memcpy(&a1, a + n - 8, 8);
    std::memcpy(&b0, b, 8);
    std::memcpy(&b1, b + n - 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
  if (n >= 4) {
    std::uint32_t a0;
    std::uint32_t a1;
    std::uint32_t b0;
    std::uint32_t b1;
    std::memcpy(&a0, a, 4);
    std::memcpy(&a1, a + n - 4, 4);
    std::memcpy(&b0, b, 4);
    std::memcpy(&b1, b + n - 4, 4);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
  return n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]);
}

// Copies `n` bytes (any size), the short ones without a call.
inline char* copy_bytes(char* out, const char* in, std::size_t n) noexcept {
  if (n <= 16) return copy_short(out, in, n);
  std::memcpy(out, in, n);
  return out + n;
}

}  // namespace logfire::detail
