#include "text/json.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

#include "text/utf8.hpp"

namespace logfire::detail {
namespace {

// For each byte: 0 = copy as is; otherwise the letter after the backslash ('u' = \u00XX).
constexpr std::array<char, 256> make_escape_table() {
  std::array<char, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[static_cast<std::size_t>(c)] = 'u';
  t['\b'] = 'b';
  t['\f'] = 'f';
  t['\n'] = 'n';
  t['\r'] = 'r';
  t['\t'] = 't';
  t['"'] = '"';
  t['\\'] = '\\';
  return t;
}
constexpr std::array<char, 256> k_escape = make_escape_table();

constexpr char k_hex[] = "0123456789abcdef";

// SWAR: whether any byte of `w` is below 0x20, '"' or '\\' (exact for thresholds <= 0x80).
constexpr std::uint64_t k_ones = 0x0101010101010101ull;
constexpr std::uint64_t k_highs = k_ones << 7;
inline bool needs_escape(std::uint64_t w) noexcept {
  const std::uint64_t quote = w ^ (k_ones * '"');
  const std::uint64_t slash = w ^ (k_ones * '\\');
  return (((w - k_ones * 0x20) & ~w) | ((quote - k_ones) & ~quote) | ((slash - k_ones) & ~slash)) & k_highs;
}

// Whether any byte of `w` needs escaping or is >= 0x80 (to be checked as UTF-8).
inline bool needs_escape_or_check(std::uint64_t w) noexcept {
  return ((w & k_highs) != 0) || needs_escape(w);
}

}  // namespace

char* json_write_escaped_utf8(std::string_view s, char* out) noexcept {
  const auto* c = reinterpret_cast<const unsigned char*>(s.data());
  const auto* const end = c + s.size();
  while (c < end) {
    // Eight plain bytes at a time: no control character, quote, backslash or non-ASCII.
    while (end - c >= 8) {
      std::uint64_t w;
      std::memcpy(&w, c, 8);
      if (needs_escape_or_check(w)) break;
      std::memcpy(out, c, 8);
      out += 8;
      c += 8;
    }
    if (c == end) break;
    const unsigned char b = *c;
    if (b >= 0x80) {
      const int n = utf8_sequence(c, static_cast<std::size_t>(end - c));
      if (n < 0) {  // one U+FFFD for the maximal invalid subpart (text/utf8.hpp)
        std::memcpy(out, k_replacement_character.data(), k_replacement_character.size());
        out += k_replacement_character.size();
        c += -n;
      } else {
        std::memcpy(out, c, static_cast<std::size_t>(n));
        out += n;
        c += n;
      }
      continue;
    }
    const char e = k_escape[b];
    ++c;
    if (e == 0) [[likely]] {
      *out++ = static_cast<char>(b);
    } else if (e == 'u') {
      const char u[6] = {'\\', 'u', '0', '0', k_hex[b >> 4], k_hex[b & 0xF]};
      std::memcpy(out, u, 6);
      out += 6;
    } else {
      *out++ = '\\';
      *out++ = e;
    }
  }
  return out;
}

void json_append_escaped(std::string& out, std::string_view s) {
  const char* p = s.data();
  const std::size_t n = s.size();
  std::size_t run = 0;  // start of the pending run of bytes copied verbatim
  std::size_t i = 0;
  while (i < n) {
    // Skip 8 bytes at a time while none needs escaping (the common case for log text).
    while (i + 8 <= n) {
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (needs_escape(w)) break;
      i += 8;
    }
    const std::size_t limit = i + 8 < n ? i + 8 : n;
    for (; i < limit; ++i) {
      const char e = k_escape[static_cast<unsigned char>(p[i])];
      if (e == 0) [[likely]]
        continue;
      out.append(p + run, i - run);
      run = i + 1;
      if (e == 'u') {
        const auto c = static_cast<unsigned char>(p[i]);
        const char u[6] = {'\\', 'u', '0', '0', k_hex[c >> 4], k_hex[c & 0xF]};
        out.append(u, 6);
      } else {
        const char two[2] = {'\\', e};
        out.append(two, 2);
      }
    }
  }
  out.append(p + run, n - run);
}

void json_append_string(std::string& out, std::string_view s) {
  out.push_back('"');
  json_append_escaped(out, s);
  out.push_back('"');
}

void json_append_int(std::string& out, std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void json_append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

char* write_double_repr(char* first, double v) noexcept {
  // Integers below 2^53 are exact, and their shortest repr is the integer itself: skip Ryu.
  if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0 && !(v == 0 && std::signbit(v))) {
    char* p = std::to_chars(first, first + k_double_repr_max, static_cast<std::int64_t>(v)).ptr;
    *p++ = '.';
    *p++ = '0';
    return p;
  }
  // Short decimals (12.75, 0.1): the smallest k for which m / 10^k reads back as v gives the
  // digits directly. Limited to 15 significant digits, where a decimal maps to a unique double
  // (DBL_DIG), so the candidate is the shortest repr and the closest one; the division is
  // correctly rounded, so the check is exact. Saves the general algorithm (~5x the work).
  const double a = std::fabs(v);
  if (a >= 1e-4 && a < 1e14) {
    int int_digits = 1;
    for (double t = 10; t <= a; t *= 10) ++int_digits;
    double scale = 1;
    for (int k = 1; k + (a < 1 ? 0 : int_digits) <= 15; ++k) {
      scale *= 10;  // exact up to 1e22
      const double m = std::nearbyint(a * scale);
      if (m / scale != a) continue;
      auto units = static_cast<std::uint64_t>(m);
      const auto pow10 = static_cast<std::uint64_t>(scale);
      char* p = first;
      if (v < 0) *p++ = '-';
      p = std::to_chars(p, p + 20, units / pow10).ptr;
      *p++ = '.';
      std::uint64_t frac = units % pow10;
      for (int d = k - 1; d >= 0; --d) {
        p[d] = static_cast<char>('0' + frac % 10);
        frac /= 10;
      }
      return p + k;
    }
  }
  // to_chars' shortest form is Python's whenever it chose fixed notation with a fraction:
  // that only happens for decimal exponents in [-4, 16).
  {
    char* end = std::to_chars(first, first + k_double_repr_max, v).ptr;
    bool dot = false, exp_form = false;
    for (const char* q = first; q < end; ++q) {
      dot |= *q == '.';
      exp_form |= *q == 'e';
    }
    if (dot && !exp_form) return end;
  }
  // Otherwise take the shortest digits in scientific form ("-1.2345e+02") and lay them out.
  char sci[k_double_repr_max];
  const char* end = std::to_chars(sci, sci + sizeof sci, v, std::chars_format::scientific).ptr;
  const char* s = sci;
  char* p = first;
  if (*s == '-') *p++ = *s++;
  char digits[20];
  int nd = 0;
  const char* e = s;
  for (; e < end && *e != 'e'; ++e)
    if (*e != '.') digits[nd++] = *e;
  int exp = 0;
  std::from_chars(e + 1 + (e[1] == '+'), end, exp);
  if (exp < -4 || exp >= 16) {
    // Python's repr and to_chars agree on this form ("1e+20", "1.5e-07").
    const std::size_t len = static_cast<std::size_t>(end - s);
    std::memcpy(p, s, len);
    return p + len;
  }
  if (exp < 0) {
    *p++ = '0';
    *p++ = '.';
    for (int z = -1; z > exp; --z) *p++ = '0';
    std::memcpy(p, digits, static_cast<std::size_t>(nd));
    return p + nd;
  }
  // exp in [0, 16): integer part = first exp+1 digits (zero-padded), then the rest or "0".
  for (int k = 0; k <= exp; ++k) *p++ = k < nd ? digits[k] : '0';
  *p++ = '.';
  if (nd > exp + 1) {
    std::memcpy(p, digits + exp + 1, static_cast<std::size_t>(nd - exp - 1));
    p += nd - exp - 1;
  } else {
    *p++ = '0';
  }
  return p;
}

void json_append_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out.append("\"NaN\"");
  } else if (std::isinf(v)) {
    out.append(v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  } else {
    char buf[k_double_repr_max];
    out.append(buf, write_double_repr(buf, v));
  }
}

void json_append_bool(std::string& out, bool v) {
  out.append(v ? "true" : "false");
}

void json_append_null(std::string& out) {
  out.append("null");
}

}  // namespace logfire::detail
