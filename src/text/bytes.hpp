// Copies of a few bytes without a call to memcpy: the texts of a record (keys, short values)
// are mostly shorter than 16 bytes, and a call costs more than the copy. Header-only.
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

// Copies `n` bytes (any size), the short ones without a call.
inline char* copy_bytes(char* out, const char* in, std::size_t n) noexcept {
  if (n <= 16) return copy_short(out, in, n);
  std::memcpy(out, in, n);
  return out + n;
}

}  // namespace logfire::detail
