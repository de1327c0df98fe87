// UTF-8 checks shared by the OTLP encoders. Strings normally arrive valid (the pipeline repairs
// them); these helpers are the encoders' last guard so a caller that breaks that promise still
// never puts invalid UTF-8 on the wire: each byte that does not start a well-formed sequence
// (Unicode Table 3-7: no overlongs, no surrogates, nothing above U+10FFFF) becomes U+FFFD.
// Runs on the exporter's thread; no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace logfire::detail::utf8 {

// The replacement character U+FFFD in UTF-8.
inline constexpr char k_replacement[3] = {'\xEF', '\xBF', '\xBD'};

// Length (2..4) of the well-formed multi-byte sequence at `p`, or 0 if it is not one.
// `p[0]` must be >= 0x80.
inline std::size_t sequence_length(const unsigned char* p, const unsigned char* end) noexcept {
  const unsigned char c = p[0];
  const std::size_t avail = static_cast<std::size_t>(end - p);
  auto cont = [](unsigned char b) { return (b & 0xC0u) == 0x80u; };
  if (c >= 0xC2 && c <= 0xDF) return avail >= 2 && cont(p[1]) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (avail < 3 || !cont(p[2])) return 0;
    const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;  // no overlongs
    const unsigned char hi = c == 0xED ? 0x9F : 0xBF;  // no surrogates
    return p[1] >= lo && p[1] <= hi ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (avail < 4 || !cont(p[2]) || !cont(p[3])) return 0;
    const unsigned char lo = c == 0xF0 ? 0x90 : 0x80;  // no overlongs
    const unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;  // nothing above U+10FFFF
    return p[1] >= lo && p[1] <= hi ? 4 : 0;
  }
  return 0;
}

// Full check, from the first byte with the high bit set.
[[gnu::noinline]] inline bool valid_from(const unsigned char* p, const unsigned char* end) noexcept {
  while (p < end) {
    if (*p < 0x80) {
      ++p;
      continue;
    }
    const std::size_t n = sequence_length(p, end);
    if (n == 0) return false;
    p += n;
  }
  return true;
}

// True when `s` is well-formed UTF-8. Pure ASCII, the common case, is recognized 16 bytes at a
// time; anything else takes the full check.
inline bool valid(std::string_view s) noexcept {
  constexpr std::uint64_t high = 0x8080808080808080ULL;
  auto p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  if (n < 8) {
    for (std::size_t i = 0; i < n; ++i)
      if (p[i] & 0x80) return valid_from(p + i, p + n);
    return true;
  }
  std::size_t i = 0;
  std::uint64_t a;
  std::uint64_t b;
  for (; i + 16 <= n; i += 16) {
    std::memcpy(&a, p + i, 8);
    std::memcpy(&b, p + i + 8, 8);
    if ((a | b) & high) return valid_from(p + i, p + n);
  }
  if (i + 8 <= n) {
    std::memcpy(&a, p + i, 8);
    if (a & high) return valid_from(p + i, p + n);
    i += 8;
  }
  if (i < n) {
    std::memcpy(&a, p + n - 8, 8);  // the last 8 bytes, overlapping what was checked
    if (a & high) return valid_from(p + i, p + n);
  }
  return true;
}

// Size of `s` once every invalid byte is replaced by U+FFFD.
inline std::size_t repaired_size(std::string_view s) noexcept {
  auto p = reinterpret_cast<const unsigned char*>(s.data());
  const auto end = p + s.size();
  std::size_t n = 0;
  while (p < end) {
    if (*p < 0x80) {
      ++p;
      ++n;
      continue;
    }
    const std::size_t len = sequence_length(p, end);
    if (len == 0) {
      n += sizeof k_replacement;
      ++p;
    } else {
      n += len;
      p += len;
    }
  }
  return n;
}

// Writes the repaired form of `s` at `out` (repaired_size(s) bytes) and returns the end.
inline char* repair(std::string_view s, char* out) noexcept {
  auto p = reinterpret_cast<const unsigned char*>(s.data());
  const auto end = p + s.size();
  while (p < end) {
    if (*p < 0x80) {
      *out++ = static_cast<char>(*p++);
      continue;
    }
    const std::size_t len = sequence_length(p, end);
    if (len == 0) {
      std::memcpy(out, k_replacement, sizeof k_replacement);
      out += sizeof k_replacement;
      ++p;
    } else {
      std::memcpy(out, p, len);
      out += len;
      p += len;
    }
  }
  return out;
}

}  // namespace logfire::detail::utf8
