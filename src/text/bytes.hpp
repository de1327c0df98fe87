// Copies and comparisons of a few bytes without a call to memcpy or memcmp: the texts of a
// record (keys, short values) are mostly shorter than 16 bytes, and a call costs more than the
// work. Header-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace logfire::detail {

namespace bytes_detail {

// The first and the last word of the `n` >= sizeof(W) bytes at `p` (they overlap when n is
// below 2 * sizeof(W)): between them, every byte.
template <typename W>
struct ends {
  W first;
  W last;
  static ends read(const char* p, std::size_t n) noexcept {
    ends e;
    std::memcpy(&e.first, p, sizeof(W));
    std::memcpy(&e.last, p + n - sizeof(W), sizeof(W));
    return e;
  }
  void write(char* p, std::size_t n) const noexcept {
    std::memcpy(p, &first, sizeof(W));
    std::memcpy(p + n - sizeof(W), &last, sizeof(W));
  }
  bool operator==(const ends&) const noexcept = default;
};

}  // namespace bytes_detail

// The `n` <= 16 bytes at `in` OR-ed together into one word (some of them twice), read as
// copy_short() reads them: a test of one bit in every byte at once (ASCII: no 0x80 bit).
inline std::uint64_t or_short(const char* in, std::size_t n) noexcept {
  using namespace bytes_detail;
  if (n >= 8) {
    const auto e = ends<std::uint64_t>::read(in, n);
    return e.first | e.last;
  }
  if (n >= 4) {
    const auto e = ends<std::uint32_t>::read(in, n);
    return e.first | e.last;
  }
  const auto byte = [in](std::size_t i) { return static_cast<std::uint64_t>(static_cast<unsigned char>(in[i])); };
  return n > 0 ? byte(0) | byte(n / 2) | byte(n - 1) : 0;
}

// Copies `n` <= 16 bytes from `in` to `out` as two overlapping moves; returns out + n.
[[gnu::always_inline]] inline char* copy_short(char* out, const char* in, std::size_t n) noexcept {
  using namespace bytes_detail;
  if (n >= 8) {
    ends<std::uint64_t>::read(in, n).write(out, n);
  } else if (n >= 4) {
    ends<std::uint32_t>::read(in, n).write(out, n);
  } else if (n > 0) {
    out[0] = in[0];
    out[n / 2] = in[n / 2];
    out[n - 1] = in[n - 1];
  }
  return out + n;
}

// Whether the `n` bytes at `a` and `b` are the same, the short ones (`n` <= 16) compared as
// two overlapping words without a call.
[[gnu::always_inline]] inline bool same_bytes(const char* a, const char* b, std::size_t n) noexcept {
  using namespace bytes_detail;
  if (n > 16) return std::memcmp(a, b, n) == 0;
  if (n >= 8) return ends<std::uint64_t>::read(a, n) == ends<std::uint64_t>::read(b, n);
  if (n >= 4) return ends<std::uint32_t>::read(a, n) == ends<std::uint32_t>::read(b, n);
  return n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]);
}

// Copies `n` bytes (any size), the short ones without a call.
[[gnu::always_inline]] inline char* copy_bytes(char* out, const char* in, std::size_t n) noexcept {
  if (n <= 16) return copy_short(out, in, n);
  std::memcpy(out, in, n);
  return out + n;
}

}  // namespace logfire::detail
