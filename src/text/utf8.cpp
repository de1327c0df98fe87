#include "text/utf8.hpp"

#include <cstdint>
#include <cstring>

namespace logfire::detail {
namespace {

// Skips ASCII from `i`, 8 bytes at a time while possible.
inline std::size_t skip_ascii(const unsigned char* p, std::size_t i, std::size_t n) noexcept {
  while (i + 8 <= n) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (w & utf8_high_bits) break;
    i += 8;
  }
  while (i < n && p[i] < 0x80) ++i;
  return i;
}

}  // namespace

std::size_t valid_utf8_prefix(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  for (;;) {
    i = skip_ascii(p, i, n);
    if (i == n) return n;
    const int len = utf8_sequence(p + i, n - i);
    if (len < 0) return i;
    i += static_cast<std::size_t>(len);
  }
}

bool is_valid_utf8_from(std::string_view s, std::size_t from) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  for (std::size_t i = from;;) {
    i = skip_ascii(p, i, n);
    if (i == n) return true;
    const int len = utf8_sequence(p + i, n - i);
    if (len < 0) return false;
    i += static_cast<std::size_t>(len);
  }
}

std::size_t repaired_utf8_size(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t size = 0;
  for (std::size_t i = 0; i < n;) {
    const std::size_t j = skip_ascii(p, i, n);
    size += j - i;
    if (j == n) break;
    const int len = utf8_sequence(p + j, n - j);
    size += len > 0 ? static_cast<std::size_t>(len) : k_replacement_character.size();
    i = j + static_cast<std::size_t>(len > 0 ? len : -len);
  }
  return size;
}

char* write_repaired_utf8(std::string_view s, char* out) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  for (std::size_t i = 0; i < n;) {
    const std::size_t j = skip_ascii(p, i, n);
    if (j > i) {
      std::memcpy(out, s.data() + i, j - i);
      out += j - i;
    }
    if (j == n) break;
    const int len = utf8_sequence(p + j, n - j);
    if (len > 0) {
      std::memcpy(out, s.data() + j, static_cast<std::size_t>(len));
      out += len;
      i = j + static_cast<std::size_t>(len);
    } else {
      std::memcpy(out, k_replacement_character.data(), k_replacement_character.size());
      out += k_replacement_character.size();
      i = j + static_cast<std::size_t>(-len);
    }
  }
  return out;
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
      len = utf8_sequence(p + j, n - j);
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
