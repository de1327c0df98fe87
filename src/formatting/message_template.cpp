#include "formatting/message_template.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

#include "text/json.hpp"
#include "text/utf8.hpp"

// Python's format-spec mini-language, re-implemented on std::to_chars: the values are few
// (string, int64, double, bool, array), so a direct implementation beats a general formatting
// library and keeps the installed package free of dependencies. Everything here runs on the
// background thread and writes straight into the caller's `out` buffer.

namespace logfire::detail {
namespace {

constexpr std::size_t k_keep_each_side = (k_max_formatted_value_chars - 3) / 2;  // 62, as Logfire

struct format_spec {
  std::string_view fill = " ";  // one code point
  bool has_fill = false;
  char align = 0;  // '<' '>' '^' '=' or 0 (type default)
  char sign = 0;   // '+' '-' ' ' or 0
  bool z = false;  // negative zero coerced to zero (Python 3.11)
  bool alt = false;
  bool zero = false;
  int width = 0;
  char grouping = 0;  // ',' or '_'
  int precision = -1;
  char type = 0;
};

constexpr bool is_align(char c) noexcept {
  return c == '<' || c == '>' || c == '^' || c == '=';
}
constexpr bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

// Byte length of the UTF-8 sequence led by `c` (1 for ASCII and for stray bytes).
constexpr std::size_t lead_length(unsigned char c) noexcept {
  return c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF8 ? 4 : 1;
}

// SWAR: whether any byte of `w` equals the byte repeated in `pattern` (exact, no false hits).
constexpr std::uint64_t k_ones = 0x0101010101010101ull;
inline bool has_byte(std::uint64_t w, std::uint64_t pattern) noexcept {
  const std::uint64_t x = w ^ pattern;
  return ((x - k_ones) & ~x & (k_ones << 7)) != 0;
}
inline std::uint64_t load8(const char* p) noexcept {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

// Encodes a scalar value (not a surrogate, at most U+10FFFF) as UTF-8; returns the length.
std::size_t encode_utf8(std::uint32_t cp, char* u) noexcept {
  if (cp < 0x80) {
    u[0] = static_cast<char>(cp);
    return 1;
  }
  if (cp < 0x800) {
    u[0] = static_cast<char>(0xC0 | (cp >> 6));
    u[1] = static_cast<char>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    u[0] = static_cast<char>(0xE0 | (cp >> 12));
    u[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    u[2] = static_cast<char>(0x80 | (cp & 0x3F));
    return 3;
  }
  u[0] = static_cast<char>(0xF0 | (cp >> 18));
  u[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  u[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  u[3] = static_cast<char>(0x80 | (cp & 0x3F));
  return 4;
}

bool parse_number(std::string_view s, std::size_t& i, int& value) noexcept {
  const std::size_t begin = i;
  long v = 0;
  while (i < s.size() && is_digit(s[i])) {
    v = v * 10 + (s[i] - '0');
    if (v > k_max_spec_width) return false;
    ++i;
  }
  value = static_cast<int>(v);
  return i > begin;
}

// [[fill]align][sign][z][#][0][width][grouping][.precision][type]
bool parse_spec(std::string_view s, format_spec& f) noexcept {
  std::size_t i = 0;
  if (s.empty()) return true;
  const std::size_t fl = lead_length(static_cast<unsigned char>(s[0]));
  if (fl < s.size() && is_align(s[fl])) {
    f.fill = s.substr(0, fl);
    f.has_fill = true;
    f.align = s[fl];
    i = fl + 1;
  } else if (is_align(s[0])) {
    f.align = s[0];
    i = 1;
  }
  if (i < s.size() && (s[i] == '+' || s[i] == '-' || s[i] == ' ')) f.sign = s[i++];
  if (i < s.size() && s[i] == 'z') {
    f.z = true;
    ++i;
  }
  if (i < s.size() && s[i] == '#') {
    f.alt = true;
    ++i;
  }
  if (i < s.size() && s[i] == '0') {
    f.zero = true;
    ++i;
  }
  if (i < s.size() && is_digit(s[i]) && !parse_number(s, i, f.width)) return false;
  if (i < s.size() && (s[i] == ',' || s[i] == '_')) f.grouping = s[i++];
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!parse_number(s, i, f.precision)) return false;  // "." needs digits
  }
  if (i < s.size()) {
    f.type = s[i++];
    switch (f.type) {
      case 'b':
      case 'c':
      case 'd':
      case 'e':
      case 'E':
      case 'f':
      case 'F':
      case 'g':
      case 'G':
      case 'n':
      case 'o':
      case 's':
      case 'x':
      case 'X':
      case '%':
        break;
      default:
        return false;
    }
  }
  return i == s.size();
}

// Inserts `count` copies of `fill` at byte offset `pos` of `out`.
void insert_fill(std::string& out, std::size_t pos, std::string_view fill, std::size_t count) {
  if (count == 0) return;
  if (fill.size() == 1) {
    out.insert(pos, count, fill[0]);
    return;
  }
  out.insert(pos, count * fill.size(), ' ');
  for (std::size_t k = 0; k < count; ++k) std::memcpy(out.data() + pos + k * fill.size(), fill.data(), fill.size());
}

// Pads the value at out[start..] to `f.width` code points. `sign_len` bytes at the start
// (sign and 0x prefix) stay in front of the fill for '=' alignment.
void apply_width(std::string& out, std::size_t start, const format_spec& f, char default_align,
                 std::size_t sign_len = 0) {
  if (f.width <= 0) return;
  const std::size_t len = count_code_points(std::string_view(out).substr(start));
  const auto width = static_cast<std::size_t>(f.width);
  if (len >= width) return;
  const std::size_t n = width - len;
  switch (f.align ? f.align : default_align) {
    case '<':
      insert_fill(out, out.size(), f.fill, n);
      break;
    case '>':
      insert_fill(out, start, f.fill, n);
      break;
    case '^':
      insert_fill(out, out.size(), f.fill, n - n / 2);
      insert_fill(out, start, f.fill, n / 2);
      break;
    default:  // '='
      insert_fill(out, start + sign_len, f.fill, n);
      break;
  }
}

// Appends digits d[0..n) zero-extended to `min_digits`, with `sep` every `group` digits.
void append_grouped(std::string& out, const char* d, std::size_t n, char sep, std::size_t group,
                    std::size_t min_digits) {
  const std::size_t total = n < min_digits ? min_digits : n;
  if (!sep) {
    out.append(total - n, '0');
    out.append(d, n);
    return;
  }
  for (std::size_t k = 0; k < total; ++k) {
    if (sep && k != 0 && (total - k) % group == 0) out.push_back(sep);
    out.push_back(k < total - n ? '0' : d[k - (total - n)]);
  }
}

// Zero padding with grouping pads with grouped zeros ("00,001,234"): how many integer digits
// fill `avail` characters.
std::size_t zero_extended_digits(std::size_t n, std::size_t avail, char sep, std::size_t group) {
  std::size_t d = n;
  while (d + (sep ? (d - 1) / group : 0) < avail) ++d;
  return d;
}

// Writes sign, prefix and `body` (whose first `int_digits` characters form the integer part)
// with grouping and width applied. Shared by ints and floats so zero-fill and '=' agree.
void append_number(std::string& out, std::size_t start, const format_spec& f0, bool negative, std::string_view prefix,
                   std::string_view body, std::size_t int_digits, std::size_t group) {
  format_spec f = f0;
  if (f.zero) {
    if (!f.has_fill) f.fill = "0";
    if (!f.align) f.align = '=';
  }
  if (negative)
    out.push_back('-');
  else if (f.sign == '+' || f.sign == ' ')
    out.push_back(f.sign);
  out.append(prefix);
  const std::size_t sign_len = out.size() - start;
  std::size_t min_digits = 0;
  if (f.grouping && f.align == '=' && f.fill == "0" && f.width > 0) {
    const std::size_t rest = sign_len + (body.size() - int_digits);
    const auto width = static_cast<std::size_t>(f.width);
    if (width > rest && int_digits > 0) min_digits = zero_extended_digits(int_digits, width - rest, f.grouping, group);
  }
  append_grouped(out, body.data(), int_digits, f.grouping, group, min_digits);
  out.append(body.substr(int_digits));
  apply_width(out, start, f, '>', sign_len);
}

// Python repr() of a string: single quotes unless the text has ' and no ", backslash escapes
// for quotes, backslashes and ASCII controls; !a also escapes every non-ASCII code point.
void append_string_repr(std::string& out, std::string_view s, bool ascii_only) {
  const bool dq = s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos;
  const char q = dq ? '"' : '\'';
  constexpr char hex[] = "0123456789abcdef";
  out.push_back(q);
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == static_cast<unsigned char>(q) || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out.append("\\n");
    } else if (c == '\r') {
      out.append("\\r");
    } else if (c == '\t') {
      out.append("\\t");
    } else if (c < 0x20 || c == 0x7F) {
      const char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 0xF]};
      out.append(e, 4);
    } else if (c >= 0x80 && ascii_only) {
      const std::size_t len = lead_length(c);
      std::uint32_t cp = c;
      if (len > 1 && i + len <= s.size()) {
        cp = c & (0xFFu >> (len + 1));
        for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
        i += len - 1;
      }
      char e[10];
      int digits = cp < 0x100 ? 2 : cp < 0x10000 ? 4 : 8;
      e[0] = '\\';
      e[1] = digits == 2 ? 'x' : digits == 4 ? 'u' : 'U';
      for (int k = 0; k < digits; ++k) e[2 + k] = hex[(cp >> (4 * (digits - 1 - k))) & 0xF];
      out.append(e, static_cast<std::size_t>(2 + digits));
    } else {
      out.push_back(static_cast<char>(c));
    }
    ++i;
  }
  out.push_back(q);
}

// Python's float format with no type but a precision: like 'g' with precision p, except that
// it switches to exponent notation one digit earlier and keeps a ".0" on integral values.
std::size_t write_general_dot0(char* buf, std::size_t cap, double a, int p) {
  if (p == 0) p = 1;
  char sci[k_max_float_precision + 16];
  const char* end = std::to_chars(sci, sci + sizeof sci, a, std::chars_format::scientific, p - 1).ptr;
  char digits[k_max_float_precision + 2];
  std::size_t nd = 0;
  const char* e = sci;
  for (; e < end && *e != 'e'; ++e)
    if (*e != '.') digits[nd++] = *e;
  int exp = 0;
  std::from_chars(e + 1 + (e[1] == '+'), end, exp);
  while (nd > 1 && digits[nd - 1] == '0') --nd;
  char* p0 = buf;
  char* w = buf;
  if (exp < -4 || exp >= p - 1) {
    *w++ = digits[0];
    if (nd > 1) {
      *w++ = '.';
      std::memcpy(w, digits + 1, nd - 1);
      w += nd - 1;
    }
    *w++ = 'e';
    *w++ = exp < 0 ? '-' : '+';
    const int ae = exp < 0 ? -exp : exp;
    if (ae < 10) *w++ = '0';
    w = std::to_chars(w, buf + cap, ae).ptr;
  } else if (exp < 0) {
    *w++ = '0';
    *w++ = '.';
    for (int z = -1; z > exp; --z) *w++ = '0';
    std::memcpy(w, digits, nd);
    w += nd;
  } else {
    const auto ie = static_cast<std::size_t>(exp);
    for (std::size_t k = 0; k <= ie; ++k) *w++ = k < nd ? digits[k] : '0';
    *w++ = '.';
    if (nd > ie + 1) {
      std::memcpy(w, digits + ie + 1, nd - ie - 1);
      w += nd - ie - 1;
    } else {
      *w++ = '0';
    }
  }
  return static_cast<std::size_t>(w - p0);
}

// Fixed notation with `p` decimals for moderate values, without the general algorithm: the
// product a * 10^p is split into its double and its exact error (fma), so the rounding decision
// is taken on the exact binary value, ties to even, exactly as Python (and to_chars) do.
// Returns 0 when the value is out of range for this path.
std::size_t write_fixed_fast(double a, int p, char* buf) noexcept {
  static constexpr double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
  if (p > 15) return 0;
  const double scale = pow10[p];
  const double prod = a * scale;
  if (!(prod < 4e15)) return 0;                  // below 2^52: integer and fractional parts are exact
  const double err = std::fma(a, scale, -prod);  // a * scale == prod + err, exactly
  const double whole = std::floor(prod);
  const double d = (prod - whole) - 0.5;
  const bool up = d > -err || (d == -err && std::fmod(whole, 2.0) != 0);
  const auto units = static_cast<std::uint64_t>(whole) + (up ? 1u : 0u);
  const auto div = static_cast<std::uint64_t>(scale);
  char* w = std::to_chars(buf, buf + 24, units / div).ptr;
  if (p > 0) {
    *w++ = '.';
    std::uint64_t frac = units % div;
    for (int k = p - 1; k >= 0; --k) {
      w[k] = static_cast<char>('0' + frac % 10);
      frac /= 10;
    }
    w += p;
  }
  return static_cast<std::size_t>(w - buf);
}

bool format_float(std::string& out, std::size_t start, double v, const format_spec& f) {
  switch (f.type) {
    case 0:
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G':
    case 'n':
    case '%':
      break;
    default:
      return false;
  }
  if (f.precision > k_max_float_precision) return false;
  const bool upper = f.type == 'E' || f.type == 'F' || f.type == 'G';
  bool negative = std::signbit(v) && !std::isnan(v);
  double a = std::fabs(v);
  if (f.type == '%') a *= 100;
  char buf[512];
  std::size_t n = 0;
  if (std::isnan(a) || std::isinf(a)) {
    std::memcpy(buf, std::isnan(a) ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf"), 3);
    n = 3;
  } else {
    const int p = f.precision;
    switch (f.type) {
      case 'f':
      case 'F':
      case '%': {
        const int pp = p < 0 ? 6 : p;
        n = write_fixed_fast(a, pp, buf);
        if (n == 0)
          n = static_cast<std::size_t>(std::to_chars(buf, buf + 500, a, std::chars_format::fixed, pp).ptr - buf);
        if (f.alt && pp == 0) buf[n++] = '.';
        break;
      }
      case 'e':
      case 'E': {
        const int pp = p < 0 ? 6 : p;
        n = static_cast<std::size_t>(std::to_chars(buf, buf + 500, a, std::chars_format::scientific, pp).ptr - buf);
        if (f.alt && pp == 0) {  // "1e+05" -> "1.e+05"
          std::memmove(buf + 2, buf + 1, n - 1);
          buf[1] = '.';
          ++n;
        }
        break;
      }
      case 'g':
      case 'G':
      case 'n': {
        const int pp = p < 0 ? 6 : p == 0 ? 1 : p;
        n = static_cast<std::size_t>(std::to_chars(buf, buf + 500, a, std::chars_format::general, pp).ptr - buf);
        break;
      }
      default:
        n = p < 0 ? static_cast<std::size_t>(write_double_repr(buf, a) - buf) : write_general_dot0(buf, 500, a, p);
        break;
    }
    if (upper)
      for (std::size_t k = 0; k < n; ++k)
        if (buf[k] == 'e') buf[k] = 'E';
    if (negative && f.z) {
      // 'z': a negative value that rounds to zero prints as positive zero.
      bool zero = true;
      for (std::size_t k = 0; k < n && buf[k] != 'e' && buf[k] != 'E'; ++k)
        if (is_digit(buf[k]) && buf[k] != '0') zero = false;
      if (zero) negative = false;
    }
  }
  if (f.type == '%') buf[n++] = '%';
  std::size_t int_digits = 0;
  while (int_digits < n && is_digit(buf[int_digits])) ++int_digits;
  append_number(out, start, f, negative, {}, std::string_view(buf, n), int_digits, 3);
  return true;
}

bool format_int(std::string& out, std::size_t start, std::int64_t v, const format_spec& f) {
  int base = 10;
  std::string_view prefix;
  switch (f.type) {
    case 0:
    case 'd':
    case 'n':
      break;
    case 'b':
      base = 2;
      prefix = "0b";
      break;
    case 'o':
      base = 8;
      prefix = "0o";
      break;
    case 'x':
      base = 16;
      prefix = "0x";
      break;
    case 'X':
      base = 16;
      prefix = "0X";
      break;
    case 'c': {
      if (f.sign || f.alt || f.grouping || f.precision >= 0 || f.z) return false;
      if (v < 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return false;
      char u[4];
      const std::size_t n = encode_utf8(static_cast<std::uint32_t>(v), u);
      out.append(u, n);
      apply_width(out, start, f, '>');
      return true;
    }
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G':
    case '%':
      return format_float(out, start, static_cast<double>(v), f);
    default:
      return false;  // 's' and friends do not apply to numbers
  }
  if (f.precision >= 0 || f.z) return false;  // Python: not allowed for integers
  if (f.grouping == ',' && base != 10) return false;
  const bool negative = v < 0;
  const std::uint64_t mag = negative ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
  char buf[72];
  const std::size_t n = static_cast<std::size_t>(std::to_chars(buf, buf + sizeof buf, mag, base).ptr - buf);
  if (f.type == 'X')
    for (std::size_t k = 0; k < n; ++k)
      if (buf[k] >= 'a') buf[k] = static_cast<char>(buf[k] - 'a' + 'A');
  append_number(out, start, f, negative, f.alt ? prefix : std::string_view{}, std::string_view(buf, n), n,
                base == 10 ? 3 : 4);
  return true;
}

// The value at out[start..] is text: apply a string spec (precision cuts, width pads).
bool format_text(std::string& out, std::size_t start, const format_spec& f0) {
  if (f0.sign || f0.alt || f0.grouping || f0.z || f0.align == '=' || (f0.type && f0.type != 's')) return false;
  format_spec f = f0;
  if (f.zero && !f.has_fill) f.fill = "0";
  if (f.precision >= 0) {
    const std::size_t cut =
        code_point_offset(std::string_view(out).substr(start), static_cast<std::size_t>(f.precision));
    out.resize(start + cut);
  }
  apply_width(out, start, f, '<');
  return true;
}

bool format_value(std::string& out, const attribute_value& v, char conversion, const format_spec& f, bool has_spec) {
  const std::size_t start = out.size();
  if (conversion == 'r' || conversion == 'a') {
    if (v.type == attribute_value::kind::string)
      append_string_repr(out, v.s, conversion == 'a');
    else
      append_value_text(out, v);
    return !has_spec || format_text(out, start, f);
  }
  if (!has_spec || conversion == 's') {
    append_value_text(out, v);
    return !has_spec || format_text(out, start, f);
  }
  switch (v.type) {
    case attribute_value::kind::int64:
      return format_int(out, start, v.i, f);
    case attribute_value::kind::float64:
      return format_float(out, start, v.d, f);
    case attribute_value::kind::boolean:
      // Numeric types see 1/0 (Python's bool is an int); text specs see true/false.
      if (f.type && f.type != 's') return format_int(out, start, v.b ? 1 : 0, f);
      append_value_text(out, v);
      return format_text(out, start, f);
    default:  // strings, arrays (rendered as text), null
      append_value_text(out, v);
      return format_text(out, start, f);
  }
}

// Cuts out[start..] to k_max_formatted_value_chars code points: the first 62, "...", the last 62.
void truncate_value(std::string& out, std::size_t start) {
  if (out.size() - start <= k_max_formatted_value_chars) return;  // bytes >= code points
  const std::string_view v = std::string_view(out).substr(start);
  const std::size_t cps = count_code_points(v);
  if (cps <= k_max_formatted_value_chars) return;
  const std::size_t head = code_point_offset(v, k_keep_each_side);
  const std::size_t tail = code_point_offset(v, cps - k_keep_each_side);
  out.replace(start + head, tail - head, "...");
}

const attribute_value* lookup(std::span<const attribute> attrs, std::string_view key) noexcept {
  if (key.empty()) {
    for (const attribute& a : attrs)
      if (a.key.empty()) return &a.value;
    return nullptr;
  }
  for (const attribute& a : attrs) {
    if (a.key.size() != key.size() || a.key[0] != key[0]) continue;
    // Keys are short: compare 8 bytes at a time inline rather than calling memcmp.
    std::size_t k = 0;
    while (k + 8 <= key.size() && load8(a.key.data() + k) == load8(key.data() + k)) k += 8;
    if (k + 8 <= key.size()) continue;
    while (k < key.size() && a.key[k] == key[k]) ++k;
    if (k == key.size()) return &a.value;
  }
  return nullptr;
}

// Expands "{name}" fields inside a spec ("{x:>{width}}"), one level deep.
template_error expand_spec(std::string_view spec, std::span<const attribute> attrs, std::string& expanded,
                           std::string_view& bad) {
  for (std::size_t i = 0; i < spec.size(); ++i) {
    const char c = spec[i];
    if (c == '}') {
      bad = spec;
      return template_error::bad_spec;
    }
    if (c != '{') {
      expanded.push_back(c);
      continue;
    }
    const std::size_t close = spec.find('}', i + 1);
    const std::string_view name = spec.substr(i + 1, close - i - 1);
    if (close == std::string_view::npos || name.find_first_of("{:!") != std::string_view::npos) {
      bad = spec;
      return template_error::bad_spec;
    }
    if (name.empty()) {
      bad = spec;
      return template_error::empty_field;
    }
    const attribute_value* v = lookup(attrs, name);
    if (!v) {
      bad = name;
      return template_error::missing_field;
    }
    append_value_text(expanded, *v);
    i = close;
  }
  return template_error::none;
}

// Formats the field text between the braces ("name=!r:>10"), appending to out.
// Formats the field text between the braces ("name=!r:>10"), appending to out. `sep` is the
// offset of the first ':' or '!' (field.size() if none) and `nested` says whether the field
// contains braces, both found by the caller's scan so the text is read once.
template_error format_field(std::string_view field, std::size_t sep, bool nested, std::span<const attribute> attrs,
                            std::string& out, std::string_view& bad) {
  bad = field;
  std::size_t colon = field.size();
  std::size_t bang = field.size();
  if (sep < field.size()) (field[sep] == ':' ? colon : bang) = sep;
  std::string_view name = field.substr(0, bang < colon ? bang : colon);
  char conversion = 0;
  if (bang < field.size()) {
    // "!r", then end or ":spec".
    if (bang + 1 >= field.size()) return template_error::bad_conversion;
    conversion = field[bang + 1];
    if (conversion != 'r' && conversion != 's' && conversion != 'a') return template_error::bad_conversion;
    if (bang + 2 < field.size()) {
      if (field[bang + 2] != ':') return template_error::bad_conversion;
      colon = bang + 2;
    }
  }
  std::string_view spec = colon < field.size() ? field.substr(colon + 1) : std::string_view{};
  if (name.empty()) return template_error::empty_field;
  if (name.back() == '=') {
    out.append(name);  // "{x=}" renders "x=" then the value
    name.remove_suffix(1);
  }
  const attribute_value* v = lookup(attrs, name);
  if (!v) {
    bad = name;
    return template_error::missing_field;
  }
  std::string expanded;  // only used for nested fields in the spec (rare)
  if (nested && (spec.find('{') != std::string_view::npos || spec.find('}') != std::string_view::npos)) {
    const template_error e = expand_spec(spec, attrs, expanded, bad);
    if (e != template_error::none) return e;
    spec = expanded;
  }
  format_spec f;
  if (!parse_spec(spec, f)) return template_error::bad_spec;
  const std::size_t start = out.size();
  if (!format_value(out, *v, conversion, f, !spec.empty())) return template_error::bad_spec;
  truncate_value(out, start);
  return template_error::none;
}

// Character classes for the template scans: one table load per byte.
enum : unsigned char { c_plain = 0, c_open = 1, c_close = 2, c_sep = 3 };
constexpr std::array<unsigned char, 256> make_classes() {
  std::array<unsigned char, 256> t{};
  t['{'] = c_open;
  t['}'] = c_close;
  t[':'] = c_sep;
  t['!'] = c_sep;
  return t;
}
constexpr std::array<unsigned char, 256> k_class = make_classes();

inline unsigned char char_class(char c) noexcept {
  return k_class[static_cast<unsigned char>(c)];
}

// Position of the next '{' or '}' at or after `i`, or s.size(). Literal text is skipped
// 8 bytes at a time.
inline std::size_t next_brace(std::string_view s, std::size_t i) noexcept {
  while (i + 8 <= s.size()) {
    const std::uint64_t w = load8(s.data() + i);
    if (has_byte(w, k_ones * '{') || has_byte(w, k_ones * '}')) break;
    i += 8;
  }
  for (; i < s.size(); ++i) {
    const unsigned char c = char_class(s[i]);
    if (c == c_open || c == c_close) break;
  }
  return i;
}

}  // namespace

std::string_view to_string(template_error e) noexcept {
  switch (e) {
    case template_error::none:
      return "none";
    case template_error::unmatched_open_brace:
      return "unmatched '{'";
    case template_error::unmatched_close_brace:
      return "single '}'";
    case template_error::empty_field:
      return "empty field '{}'";
    case template_error::missing_field:
      return "field is not defined";
    case template_error::bad_conversion:
      return "bad conversion";
    case template_error::bad_spec:
      return "bad format spec";
  }
  return "unknown";
}

bool is_plain_template(std::string_view tmpl) noexcept {
  return next_brace(tmpl, 0) == tmpl.size();
}

char* write_scalar_text(char* out, const attribute_value& v) noexcept {
  static_assert(k_max_scalar_text >= k_double_repr_max && k_max_scalar_text >= 20);
  const auto put = [out](std::string_view s) {
    std::memcpy(out, s.data(), s.size());
    return out + s.size();
  };
  switch (v.type) {
    case attribute_value::kind::int64:
      return std::to_chars(out, out + k_max_scalar_text, v.i).ptr;
    case attribute_value::kind::float64:
      if (std::isnan(v.d)) return put("nan");
      if (std::isinf(v.d)) return put(v.d > 0 ? "inf" : "-inf");
      return write_double_repr(out, v.d);
    case attribute_value::kind::boolean:
      return put(v.b ? "true" : "false");
    case attribute_value::kind::empty:
      return put("null");
    case attribute_value::kind::string:
    case attribute_value::kind::array:
      break;
  }
  return nullptr;
}

void append_value_text(std::string& out, const attribute_value& v) {
  switch (v.type) {
    case attribute_value::kind::string:
      out.append(v.s);
      break;
    case attribute_value::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const attribute_value& item : v.items) {
        if (!first) out.append(", ");
        first = false;
        if (item.type == attribute_value::kind::string)
          json_append_string(out, item.s);
        else
          append_value_text(out, item);
      }
      out.push_back(']');
      break;
    }
    default: {
      char buf[k_max_scalar_text];
      out.append(buf, write_scalar_text(buf, v));
      break;
    }
  }
}

bool append_message(std::string_view tmpl, std::span<const attribute> attrs, std::string& out,
                    template_problem* problem) {
  const std::size_t base = out.size();
  template_error err = template_error::none;
  std::string_view bad;
  std::size_t i = 0;
  while (i < tmpl.size()) {
    const std::size_t j = next_brace(tmpl, i);
    out.append(tmpl.data() + i, j - i);
    if (j == tmpl.size()) break;
    if (tmpl[j] == '}') {
      if (j + 1 < tmpl.size() && tmpl[j + 1] == '}') {
        out.push_back('}');
        i = j + 2;
        continue;
      }
      err = template_error::unmatched_close_brace;
      bad = tmpl.substr(j, 1);
      break;
    }
    if (j + 1 < tmpl.size() && tmpl[j + 1] == '{') {
      out.push_back('{');
      i = j + 2;
      continue;
    }
    // A field: up to the matching '}', counting braces of nested spec fields, noting the
    // first ':' or '!' on the way.
    std::size_t k = j + 1;
    std::size_t sep = std::string_view::npos;
    int depth = 1;
    bool nested = false;
    for (; k < tmpl.size(); ++k) {
      const unsigned char c = char_class(tmpl[k]);
      if (c == c_plain) [[likely]]
        continue;
      if (c == c_close) {
        if (--depth == 0) break;
      } else if (c == c_open) {
        ++depth;
        nested = true;
      } else if (sep == std::string_view::npos) {
        sep = k;
      }
    }
    if (k == tmpl.size()) {
      err = template_error::unmatched_open_brace;
      bad = tmpl.substr(j);
      break;
    }
    const std::string_view field = tmpl.substr(j + 1, k - j - 1);
    err = format_field(field, sep == std::string_view::npos ? field.size() : sep - j - 1, nested, attrs, out, bad);
    if (err != template_error::none) break;
    i = k + 1;
  }
  if (err == template_error::none) return true;
  out.resize(base);
  out.append(tmpl);
  if (problem) *problem = {err, bad};
  return false;
}

bool make_template_plan(std::string_view tmpl, std::span<const attribute> attrs, template_plan& plan) {
  plan.pieces.clear();
  const auto literal = [&plan](std::string_view text) {
    if (!text.empty()) plan.pieces.push_back({text, template_plan::k_literal});
  };
  std::size_t i = 0;
  while (i < tmpl.size()) {
    const std::size_t j = next_brace(tmpl, i);
    literal(tmpl.substr(i, j - i));
    if (j == tmpl.size()) break;
    // "{{" and "}}" are one literal brace; a single "}" is malformed.
    if (j + 1 < tmpl.size() && tmpl[j + 1] == tmpl[j]) {
      literal(tmpl.substr(j, 1));
      i = j + 2;
      continue;
    }
    if (tmpl[j] == '}') return false;
    std::size_t k = j + 1;
    while (k < tmpl.size() && char_class(tmpl[k]) == c_plain) ++k;
    if (k == tmpl.size() || tmpl[k] != '}') return false;  // unclosed, or not a plain field
    const std::string_view name = tmpl.substr(j + 1, k - j - 1);
    if (name.empty() || name.back() == '=') return false;
    std::size_t field = 0;  // the first attribute with that key, as lookup() finds it
    while (field < attrs.size() && attrs[field].key != name) ++field;
    if (field == attrs.size()) return false;
    plan.pieces.push_back({{}, static_cast<std::uint32_t>(field)});
    i = k + 1;
  }
  return true;
}

void append_planned_message(const template_plan& plan, std::span<const attribute> attrs, std::string& out) {
  for (const template_plan::piece& p : plan.pieces) {
    if (p.field == template_plan::k_literal) {
      out.append(p.literal);
      continue;
    }
    const std::size_t start = out.size();
    append_value_text(out, attrs[p.field].value);
    truncate_value(out, start);
  }
}

void template_fields(std::string_view tmpl, std::vector<std::string_view>& out) {
  auto add = [&](std::string_view name) {
    if (!name.empty() && name.back() == '=') name.remove_suffix(1);
    for (const std::string_view f : out)
      if (f == name) return;
    out.push_back(name);
  };
  std::size_t i = 0;
  while (i < tmpl.size()) {
    const std::size_t j = next_brace(tmpl, i);
    if (j == tmpl.size()) return;
    if (j + 1 < tmpl.size() && tmpl[j + 1] == tmpl[j]) {  // "{{" or "}}"
      i = j + 2;
      continue;
    }
    if (tmpl[j] == '}') return;
    // The field's name runs to the first ':', '!' or brace; fields nested in its spec are names
    // of their own.
    std::size_t k = j + 1;
    while (k < tmpl.size() && char_class(tmpl[k]) == c_plain) ++k;
    if (k == tmpl.size()) return;
    add(tmpl.substr(j + 1, k - j - 1));
    int depth = 1;
    std::size_t nested = std::string_view::npos;
    for (; k < tmpl.size(); ++k) {
      const unsigned char c = char_class(tmpl[k]);
      if (c == c_open) {
        if (++depth == 2) nested = k + 1;
      } else if (c == c_close) {
        if (--depth == 0) break;
        if (depth == 1 && nested != std::string_view::npos) add(tmpl.substr(nested, k - nested));
      }
    }
    if (k == tmpl.size()) return;
    i = k + 1;
  }
}

bool format_message(std::string_view tmpl, std::span<const attribute> attrs, std::string& out,
                    template_problem* problem) {
  out.clear();
  return append_message(tmpl, attrs, out, problem);
}

}  // namespace logfire::detail
