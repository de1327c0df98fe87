// UTF-8 validation and repair: every class of ill-formed input, the boundaries of each
// sequence length, and "substitution of maximal subparts" checked against the examples of
// the Unicode standard (chapter 3, table 3-8) and an independent reference decoder.
#include "text/utf8.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "text/ascii.hpp"
#include "text/bytes.hpp"

namespace {

using logfire::detail::append_repaired_utf8;
using logfire::detail::append_utf8;
using logfire::detail::code_point_offset;
using logfire::detail::count_code_points;
using logfire::detail::is_valid_utf8;
using logfire::detail::repair_utf8;
using logfire::detail::valid_utf8_prefix;

const std::string R = "\xEF\xBF\xBD";  // U+FFFD

std::string repaired(std::string_view in) {
  std::string out;
  append_repaired_utf8(out, in);
  return out;
}

// Independent reference: decode naively, then reject overlongs, surrogates and > U+10FFFF.
bool reference_valid(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int len;
    std::uint32_t cp;
    if (c < 0x80) {
      len = 1, cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + static_cast<std::size_t>(len) > s.size()) return false;
    for (int k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    const std::uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += static_cast<std::size_t>(len);
  }
  return true;
}

TEST(Utf8, AcceptsValidText) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8(std::string(1001, 'x')));  // the 8-byte path plus a tail
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_TRUE(is_valid_utf8(std::string(13, 'a') + "\xC3\xA9" + std::string(17, 'b')));
  EXPECT_TRUE(is_valid_utf8(std::string_view("nul\0inside", 10)));
}

TEST(Utf8, AcceptsEveryLengthBoundary) {
  EXPECT_TRUE(is_valid_utf8("\x7F"));              // U+007F
  EXPECT_TRUE(is_valid_utf8("\xC2\x80"));          // U+0080
  EXPECT_TRUE(is_valid_utf8("\xDF\xBF"));          // U+07FF
  EXPECT_TRUE(is_valid_utf8("\xE0\xA0\x80"));      // U+0800
  EXPECT_TRUE(is_valid_utf8("\xED\x9F\xBF"));      // U+D7FF, last before the surrogates
  EXPECT_TRUE(is_valid_utf8("\xEE\x80\x80"));      // U+E000, first after them
  EXPECT_TRUE(is_valid_utf8("\xEF\xBF\xBF"));      // U+FFFF
  EXPECT_TRUE(is_valid_utf8("\xF0\x90\x80\x80"));  // U+10000
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
}

TEST(Utf8, RejectsEveryInvalidClass) {
  EXPECT_FALSE(is_valid_utf8("\x80"));                         // lone continuation byte
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));                     // overlong 2-byte '/'
  EXPECT_FALSE(is_valid_utf8("\xC1\xBF"));                     // overlong 2-byte
  EXPECT_FALSE(is_valid_utf8("\xE0\x9F\xBF"));                 // overlong 3-byte (U+07FF)
  EXPECT_FALSE(is_valid_utf8("\xF0\x8F\xBF\xBF"));             // overlong 4-byte (U+FFFF)
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));                 // surrogate U+D800
  EXPECT_FALSE(is_valid_utf8("\xED\xBF\xBF"));                 // surrogate U+DFFF
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));             // U+110000
  EXPECT_FALSE(is_valid_utf8("\xF5\x80\x80\x80"));             // lead byte above F4
  EXPECT_FALSE(is_valid_utf8("\xFE"));                         // never valid
  EXPECT_FALSE(is_valid_utf8("\xFF"));                         // never valid
  EXPECT_FALSE(is_valid_utf8("\xC3"));                         // truncated 2-byte
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));                     // truncated 3-byte
  EXPECT_FALSE(is_valid_utf8("\xF0\x9F\x98"));                 // truncated 4-byte
  EXPECT_FALSE(is_valid_utf8("\xC3(x"));                       // lead followed by ASCII
  EXPECT_FALSE(is_valid_utf8(std::string(64, 'a') + "\x80"));  // after a long ASCII run
}

TEST(Utf8, ValidPrefixStopsAtTheFirstBadByte) {
  EXPECT_EQ(valid_utf8_prefix("abc"), 3u);
  EXPECT_EQ(valid_utf8_prefix("ab\xC3\xA9\xFF"
                              "cd"),
            4u);
  EXPECT_EQ(valid_utf8_prefix("\xE2\x82"), 0u);
  EXPECT_EQ(valid_utf8_prefix(std::string(20, 'z') + "\xED\xA0\x80"), 20u);
}

TEST(Utf8, RepairReplacesEachMaximalSubpart) {
  EXPECT_EQ(repaired("a\x80z"), "a" + R + "z");
  EXPECT_EQ(repaired("\x80\x80"), R + R);
  EXPECT_EQ(repaired("\xC0\xAF"), R + R);          // C0 is never a lead: two subparts
  EXPECT_EQ(repaired("\xE0\x80\xAF"), R + R + R);  // E0 80: 80 is outside A0..BF
  EXPECT_EQ(repaired("\xF0\x80\x80\xAF"), R + R + R + R);
  EXPECT_EQ(repaired("\xED\xA0\x80"), R + R + R);  // surrogate: ED then two strays
  EXPECT_EQ(repaired("\xF4\x90\x80\x80"), R + R + R + R);
  EXPECT_EQ(repaired("\xE2\x82"), R);  // truncated: one replacement
  EXPECT_EQ(repaired("\xF0\x9F\x98"), R);
  EXPECT_EQ(repaired("\xE2\x82"
                     "A"),
            R + "A");  // the ASCII byte is kept
  EXPECT_EQ(repaired("\xF0\x9F\x98\xE2\x82\xAC"), R + "\xE2\x82\xAC");
  EXPECT_EQ(repaired("\xFF\xFE"), R + R);
  EXPECT_EQ(repaired("ok \xC3\xA9"), "ok \xC3\xA9");  // valid input unchanged
}

TEST(Utf8, RepairMatchesTheUnicodeStandardExample) {
  // Unicode 15, section 3.9, table 3-8: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64.
  EXPECT_EQ(repaired("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
            "a" + R + R + R + "b" + R + "c" + R + R + "d");
}

// The encoders' form (size first, then write at a pointer) is the same policy as the string form.
TEST(Utf8, SizedRepairAgreesWithTheStringRepair) {
  for (std::string_view in :
       {"a\x80z", "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xE2\x82", "\xF0\x9F\x98\xE2\x82\xAC",
        "\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", "all ascii, longer than sixteen bytes",
        "sixteen ascii by\xFF then more ascii text", "ok \xC3\xA9"}) {
    const std::string expected = repaired(in);
    ASSERT_EQ(logfire::detail::repaired_utf8_size(in), expected.size()) << in;
    std::string out(expected.size(), '\0');
    char* end = logfire::detail::write_repaired_utf8(in, out.data());
    EXPECT_EQ(static_cast<std::size_t>(end - out.data()), expected.size());
    EXPECT_EQ(out, expected);
    EXPECT_EQ(is_valid_utf8(in), expected == in) << in;
  }
}

TEST(Utf8, AppendAndRepairReportWhetherAnythingChanged) {
  std::string out = "pre:";
  EXPECT_FALSE(append_utf8(out, "fine \xE2\x82\xAC"));
  EXPECT_EQ(out, "pre:fine \xE2\x82\xAC");
  EXPECT_TRUE(append_utf8(out, "x\xFFy"));
  EXPECT_EQ(out,
            "pre:fine \xE2\x82\xAC"
            "x" +
                R + "y");

  std::string s = "valid";
  EXPECT_FALSE(repair_utf8(s));
  EXPECT_EQ(s, "valid");
  s = "bad\xC0tail";
  EXPECT_TRUE(repair_utf8(s));
  EXPECT_EQ(s, "bad" + R + "tail");
}

// Every 2-byte string, and 3-byte strings with a 3- or 4-byte lead (third byte in 0x70..0xC7), against the
// reference decoder; repair output is always valid and leaves valid input as it was.
TEST(Utf8, AgreesWithReferenceDecoderExhaustively) {
  std::string s;
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      s.assign({static_cast<char>(a), static_cast<char>(b)});
      ASSERT_EQ(is_valid_utf8(s), reference_valid(s)) << a << ' ' << b;
      if (a < 0xE0) continue;
      for (int c = 0x70; c < 0xC8; ++c) {  // covers ASCII, every continuation byte and leads
        s.assign({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)});
        const bool valid = is_valid_utf8(s);
        ASSERT_EQ(valid, reference_valid(s)) << a << ' ' << b << ' ' << c;
        const std::string r = repaired(s);
        ASSERT_TRUE(reference_valid(r));
        if (valid) {
          ASSERT_EQ(r, s);
        }
      }
    }
  }
}

TEST(Utf8, FourByteLeadsAgainstReference) {
  std::string s;
  for (int a = 0xF0; a <= 0xF7; ++a) {
    for (int b = 0x70; b < 0xC8; ++b) {
      for (int c : {0x41, 0x80, 0xBF, 0xC0}) {
        for (int d : {0x41, 0x80, 0xBF, 0xC0}) {
          s.assign({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c), static_cast<char>(d)});
          ASSERT_EQ(is_valid_utf8(s), reference_valid(s)) << a << ' ' << b << ' ' << c << ' ' << d;
          ASSERT_TRUE(reference_valid(repaired(s)));
        }
      }
    }
  }
}

TEST(Utf8, CountsAndIndexesCodePoints) {
  const std::string s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z";  // a é € 😀 z
  EXPECT_EQ(count_code_points(s), 5u);
  EXPECT_EQ(code_point_offset(s, 0), 0u);
  EXPECT_EQ(code_point_offset(s, 1), 1u);
  EXPECT_EQ(code_point_offset(s, 2), 3u);
  EXPECT_EQ(code_point_offset(s, 3), 6u);
  EXPECT_EQ(code_point_offset(s, 4), 10u);
  EXPECT_EQ(code_point_offset(s, 5), s.size());
  EXPECT_EQ(code_point_offset(s, 99), s.size());
}

}  // namespace

// Short texts are tested with two overlapping loads instead of a loop over the bytes: a byte
// >= 0x80 anywhere in a text of 1 to 16 bytes is seen, and is_valid_utf8 then takes the full
// check (a lone continuation byte is invalid wherever it sits).
TEST(Utf8, ShortTextsSeeAHighByteAtEveryPosition) {
  for (std::size_t n = 0; n <= 16; ++n) {
    const std::string ascii(n, 'a');
    EXPECT_TRUE(logfire::detail::is_short_ascii(ascii)) << n;
    EXPECT_TRUE(is_valid_utf8(ascii)) << n;
    for (std::size_t at = 0; at < n; ++at) {
      std::string t = ascii;
      t[at] = '\x80';
      EXPECT_FALSE(logfire::detail::is_short_ascii(t)) << n << " " << at;
      EXPECT_FALSE(is_valid_utf8(t)) << n << " " << at;
      if (at + 1 < n) {
        t[at] = '\xC3';
        t[at + 1] = '\xA9';  // é
        EXPECT_FALSE(logfire::detail::is_short_ascii(t)) << n << " " << at;
        EXPECT_TRUE(is_valid_utf8(t)) << n << " " << at;
      }
    }
  }
}

// ascii::is_ascii() reads short texts in overlapping words and long ones eight bytes at a time
// with an overlapping last word: a high byte at any position of any length is seen.
TEST(Utf8, AsciiTestSeesAHighByteAtEveryPositionOfEveryLength) {
  for (std::size_t n = 0; n <= 40; ++n) {
    const std::string ascii(n, 'a');
    EXPECT_TRUE(logfire::detail::ascii::is_ascii(ascii.data(), n)) << n;
    for (std::size_t at = 0; at < n; ++at) {
      std::string t = ascii;
      t[at] = '\x80';
      EXPECT_FALSE(logfire::detail::ascii::is_ascii(t.data(), n)) << n << " " << at;
      // Bytes past the end are not read as part of the text.
      std::string past = ascii + "\xff";
      EXPECT_TRUE(logfire::detail::ascii::is_ascii(past.data(), n)) << n;
    }
  }
}

// copy_short() writes exactly the n bytes asked for, for every n up to 16.
TEST(Utf8, ShortCopiesWriteExactlyTheirBytes) {
  const std::string source = "0123456789abcdefXYZ";
  for (std::size_t n = 0; n <= 16; ++n) {
    std::string out(20, '.');
    char* end = logfire::detail::copy_short(out.data() + 2, source.data(), n);
    EXPECT_EQ(end, out.data() + 2 + n);
    EXPECT_EQ(out, ".." + source.substr(0, n) + std::string(18 - n, '.')) << n;
    std::string longer(40, '.');
    logfire::detail::copy_bytes(longer.data(), source.data(), source.size());
    EXPECT_EQ(longer.substr(0, source.size()), source);
    EXPECT_EQ(longer[source.size()], '.');
  }
}

// same_bytes() sees a difference at every position of every length up to 16 (the variant memo
// compares the pieces of a record's key with it), and longer texts go to memcmp.
TEST(Utf8, ShortComparisonsSeeADifferenceAtEveryPosition) {
  for (std::size_t n = 0; n <= 20; ++n) {
    const std::string a(n, 'k');
    std::string b = a;
    EXPECT_TRUE(logfire::detail::same_bytes(a.data(), b.data(), n)) << n;
    for (std::size_t at = 0; at < n; ++at) {
      b[at] = 'x';
      EXPECT_FALSE(logfire::detail::same_bytes(a.data(), b.data(), n)) << n << " " << at;
      b[at] = 'k';
    }
  }
}
