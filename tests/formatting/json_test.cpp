// JSON writing: string escapes, integers at their limits, doubles laid out like Python's
// json.dumps (so Logfire reads the same text from every SDK), NaN/Infinity as strings.
#include "text/json.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>

namespace {

using namespace logfire::detail;

std::string str(std::string_view s) {
  std::string out;
  json_append_string(out, s);
  return out;
}

std::string dbl(double d) {
  std::string out;
  json_append_double(out, d);
  return out;
}

TEST(Json, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(str(""), "\"\"");
  EXPECT_EQ(str("plain"), "\"plain\"");
  EXPECT_EQ(str("say \"hi\""), "\"say \\\"hi\\\"\"");
  EXPECT_EQ(str("C:\\path"), "\"C:\\\\path\"");
  EXPECT_EQ(str("a\nb\rc\td\be\ff"), "\"a\\nb\\rc\\td\\be\\ff\"");
  EXPECT_EQ(str(std::string_view("\0\x01\x1f", 3)), "\"\\u0000\\u0001\\u001f\"");
  EXPECT_EQ(str("\x7f/"), "\"\x7f/\"");  // DEL and '/' need no escape
}

// The escaper skips 8 bytes at a time: put every special byte at every offset of a longer
// string and compare with a byte-by-byte reference.
TEST(Json, EscapesAtEveryOffset) {
  auto reference = [](std::string_view s) {
    std::string r = "\"";
    for (const char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      if (ch == '"')
        r += "\\\"";
      else if (ch == '\\')
        r += "\\\\";
      else if (ch == '\n')
        r += "\\n";
      else if (ch == '\r')
        r += "\\r";
      else if (ch == '\t')
        r += "\\t";
      else if (ch == '\b')
        r += "\\b";
      else if (ch == '\f')
        r += "\\f";
      else if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        r += buf;
      } else {
        r += ch;
      }
    }
    return r + "\"";
  };
  for (const char special : {'"', '\\', '\n', '\x01', '\x1f', '\x7f', ' ', '\xC3'}) {
    for (std::size_t pos = 0; pos < 24; ++pos) {
      std::string s(24, 'a');
      s[pos] = special;
      s[(pos * 7) % 24] = '\x02';
      ASSERT_EQ(str(s), reference(s)) << int(special) << " at " << pos;
    }
  }
}

TEST(Json, CopiesUtf8Verbatim) {
  EXPECT_EQ(str("caf\xC3\xA9 \xF0\x9F\x98\x80"), "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"");
}

TEST(Json, EscapedAppendsWithoutQuotes) {
  std::string out = "{\"k\":\"";
  json_append_escaped(out, "a\"b");
  out += "\"}";
  EXPECT_EQ(out, "{\"k\":\"a\\\"b\"}");
}

TEST(Json, WritesIntegersAtTheirLimits) {
  std::string out;
  json_append_int(out, 0);
  out += ',';
  json_append_int(out, -42);
  out += ',';
  json_append_int(out, std::numeric_limits<std::int64_t>::min());
  out += ',';
  json_append_int(out, std::numeric_limits<std::int64_t>::max());
  out += ',';
  json_append_uint(out, std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(out, "0,-42,-9223372036854775808,9223372036854775807,18446744073709551615");
}

TEST(Json, WritesDoublesLikePython) {
  // Expected strings are Python's json.dumps output.
  EXPECT_EQ(dbl(0.0), "0.0");
  EXPECT_EQ(dbl(-0.0), "-0.0");
  EXPECT_EQ(dbl(3.0), "3.0");
  EXPECT_EQ(dbl(-2.5), "-2.5");
  EXPECT_EQ(dbl(0.1), "0.1");
  EXPECT_EQ(dbl(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(dbl(1e15), "1000000000000000.0");
  EXPECT_EQ(dbl(1e16), "1e+16");
  EXPECT_EQ(dbl(1e20), "1e+20");
  EXPECT_EQ(dbl(1.5e300), "1.5e+300");
  EXPECT_EQ(dbl(0.0001), "0.0001");
  EXPECT_EQ(dbl(0.00001), "1e-05");
  EXPECT_EQ(dbl(1.2345e-7), "1.2345e-07");
  EXPECT_EQ(dbl(123456.789), "123456.789");
  EXPECT_EQ(dbl(9007199254740992.0), "9007199254740992.0");
  EXPECT_EQ(dbl(5e-324), "5e-324");
  EXPECT_EQ(dbl(std::numeric_limits<double>::max()), "1.7976931348623157e+308");
}

TEST(Json, WritesNonFiniteAsStrings) {
  EXPECT_EQ(dbl(std::numeric_limits<double>::quiet_NaN()), "\"NaN\"");
  EXPECT_EQ(dbl(std::numeric_limits<double>::infinity()), "\"Infinity\"");
  EXPECT_EQ(dbl(-std::numeric_limits<double>::infinity()), "\"-Infinity\"");
}

TEST(Json, DoublesReadBackExactly) {
  std::mt19937_64 rng(12345);  // fixed seed: the same doubles every run
  for (int k = 0; k < 20000; ++k) {
    double d;
    const std::uint64_t bits = rng();
    std::memcpy(&d, &bits, sizeof d);
    if (!std::isfinite(d)) continue;
    const std::string text = dbl(d);
    const double back = std::strtod(text.c_str(), nullptr);
    ASSERT_EQ(std::memcmp(&back, &d, sizeof d), 0) << text;
  }
}

// Values in the everyday range (short decimals, money, latencies) take a shortcut; it must give
// the same digits as the general shortest-round-trip algorithm, laid out in fixed notation.
TEST(Json, EverydayDoublesAreShortestAndFixed) {
  std::mt19937_64 rng(777);
  std::uniform_int_distribution<int> exp10(-4, 13);
  std::uniform_int_distribution<int> decimals(0, 17);
  for (int k = 0; k < 200000; ++k) {
    double d;
    if (k % 2) {  // a short decimal: integer / 10^j
      const int j = decimals(rng) % 8;
      d = static_cast<double>(rng() % 100000000) / std::pow(10.0, j);
    } else {  // anything in [1e-4, 1e14)
      d = std::pow(10.0, exp10(rng)) * (1 + static_cast<double>(rng() % 1000000007) / 1000000007.0);
    }
    if (k % 3 == 0) d = -d;
    const std::string text = dbl(d);
    const double back = std::strtod(text.c_str(), nullptr);
    ASSERT_EQ(back, d) << text;
    char sci[64];
    char* end = std::to_chars(sci, sci + sizeof sci, d, std::chars_format::scientific).ptr;
    std::size_t shortest_digits = 0;
    for (const char* p = sci; p < end && *p != 'e'; ++p) shortest_digits += *p >= '0' && *p <= '9';
    // Significant digits of `text` (fixed notation: strip sign, point, leading and trailing zeros).
    std::string digits;
    for (char c : text)
      if (c >= '0' && c <= '9') digits += c;
    const std::size_t first = digits.find_first_not_of('0');
    const std::size_t last = digits.find_last_not_of('0');
    const std::size_t significant = first == std::string::npos ? 1 : last - first + 1;
    if (std::fabs(d) >= 1e-4 && std::fabs(d) < 1e16) {
      ASSERT_EQ(text.find('e'), std::string::npos) << text;
      ASSERT_NE(text.find('.'), std::string::npos) << text;
      ASSERT_EQ(significant, std::max<std::size_t>(shortest_digits, 1)) << text << " vs " << std::string(sci, end);
    }
  }
}

// The encoders' pointer form escapes like json_append_escaped and repairs invalid UTF-8 with the
// library's one policy (one U+FFFD per maximal invalid subpart).
TEST(Json, PointerFormEscapesAndRepairs) {
  auto write = [](std::string_view in) {
    std::string out(6 * in.size(), '\0');
    out.resize(static_cast<std::size_t>(logfire::detail::json_write_escaped_utf8(in, out.data()) - out.data()));
    return out;
  };
  for (std::string_view valid :
       {"plain", "say \"hi\"\\n", "tab\there\nline\x01\x1f end of a long string", "caf\xC3\xA9 \xF0\x9F\x98\x80"}) {
    std::string expected;
    json_append_escaped(expected, valid);
    EXPECT_EQ(write(valid), expected) << valid;
  }
  EXPECT_EQ(write("truncated \xE2\x82"), "truncated \xEF\xBF\xBD");
  EXPECT_EQ(write("\xC0\xAF\"x"), "\xEF\xBF\xBD\xEF\xBF\xBD\\\"x");
  EXPECT_EQ(write(std::string_view("\x00", 1)), "\\u0000");
}

TEST(Json, WritesBoolAndNull) {
  std::string out;
  json_append_bool(out, true);
  json_append_bool(out, false);
  json_append_null(out);
  EXPECT_EQ(out, "truefalsenull");
}

}  // namespace
