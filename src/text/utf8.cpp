#include "text/utf8.hpp"

#include <cstdint>
#include <cstring>

namespace logfire::detail {
namespace {

constexpr std::uint64_t k_high_bits = 0x8080808080808080ull;

// Skips ASCII from `i`, 8 bytes at a time while possible.
inline std::size_t skip_ascii(const unsigned char* p, std::size_t i, std::size_t n) noexcept {
  while (i + 8 <= n) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (w & k_high_bits) break;
    i += 8;
  }
  while (i < n && p[i] < 0x80) ++i;
  return i;
}

// Checks the sequence starting at p[0] (a non-ASCII byte), with `n` bytes available.
// Returns its length (2..4) when well-formed, otherwise minus the length of the maximal
// subpart to replace (-1..-3): the lead byte plus the continuation bytes that were still
// acceptable before the first unacceptable one (Unicode 15, table 3-7; WHATWG decoder).
inline int check_sequence(const unsigned char* p, std::size_t n) noexcept {
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

}  // namespace

std::size_t valid_utf8_prefix(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  for (;;) {
    i = skip_ascii(p, i, n);
    if (i == n) return n;
    const int len = check_sequence(p + i, n - i);
    if (len < 0) return i;
    i += static_cast<std::size_t>(len);
  }
}

bool is_valid_utf8(std::string_view s) noexcept {
  return valid_utf8_prefix(s) == s.size();
}

void append_repaired_utf8(std::string& out, std::string_view in) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t n = in.size();
  std::size_t i = 0;
  while (i < n) {
    // Copy the well-formed run in one append, then replace one maximal subpart.
    std::size_t j = i;
    int len = 0;
    for (;;) {
      j = skip_ascii(p, j, n);
      if (j == n) break;
      len = check_sequence(p + j, n - j);
      if (len < 0) break;
      j += static_cast<std::size_t>(len);
    }
    out.append(in.data() + i, j - i);
    if (j == n) break;
    out.append(k_replacement_character);
    i = j + static_cast<std::size_t>(-len);
  }
}

bool append_utf8(std::string& out, std::string_view in) {
  const std::size_t valid = valid_utf8_prefix(in);
  out.append(in.data(), valid);
  if (valid == in.size()) return false;
  append_repaired_utf8(out, in.substr(valid));
  return true;
}

bool repair_utf8(std::string& s) {
  const std::size_t valid = valid_utf8_prefix(s);
  if (valid == s.size()) return false;
  std::string fixed;
  fixed.reserve(s.size() + 8);
  fixed.append(s, 0, valid);
  append_repaired_utf8(fixed, std::string_view(s).substr(valid));
  s.swap(fixed);
  return true;
}

std::size_t count_code_points(std::string_view s) noexcept {
  std::size_t count = 0;
  for (const char ch : s) count += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  return count;
}

std::size_t code_point_offset(std::string_view s, std::size_t n) noexcept {
  std::size_t seen = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (seen == n) return i;
      ++seen;
    }
  }
  return s.size();
}

}  // namespace logfire::detail
