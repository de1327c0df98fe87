// The word-at-a-time helpers behind traceparent and tracestate parsing, checked against plain
// byte loops: every byte value at every position, and random words.
#include "propagation/swar.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>

#include "logfire/context.hpp"

namespace {

namespace swar = logfire::detail::swar;

bool is_lower_hex(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}
unsigned hex_value(unsigned char c) {
  return c <= '9' ? c - '0' : c - 'a' + 10;
}

TEST(swar, parse_hex8_every_byte_at_every_position) {
  for (int pos = 0; pos < 8; ++pos) {
    for (int b = 0; b < 256; ++b) {
      char buf[8];
      std::memcpy(buf, "0123abcd", 8);
      buf[pos] = static_cast<char>(b);
      std::uint32_t got = 0;
      const bool ok = swar::parse_hex8(buf, got);
      ASSERT_EQ(ok, is_lower_hex(static_cast<unsigned char>(b))) << "pos " << pos << " byte " << b;
      if (ok) {
        std::uint32_t want = 0;
        for (char c : buf) want = (want << 4) | hex_value(static_cast<unsigned char>(c));
        ASSERT_EQ(got, want);
      }
    }
  }
}

TEST(swar, hex_round_trip_random) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 100000; ++i) {
    const std::uint64_t v = rng();
    char buf[16];
    swar::write_hex16(v, buf);
    char ref[17];
    std::snprintf(ref, sizeof ref, "%016llx", static_cast<unsigned long long>(v));
    ASSERT_EQ(std::string(buf, 16), std::string(ref, 16));
    std::uint64_t back = 0;
    ASSERT_TRUE(swar::parse_hex16(buf, back));
    ASSERT_EQ(back, v);
  }
}

// The public parsers built on them: an id back from its text, and every text that is not one
// (wrong length, upper case, not hex, all zero) gives the invalid id.
TEST(swar, ids_from_hex_accept_their_own_text_only) {
  const auto t = logfire::trace_id::from_hex("4bf92f3577b34da6a3ce929d0e0e4736");
  ASSERT_TRUE(t.valid());
  EXPECT_EQ(t.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  const auto s = logfire::span_id::from_hex("00f067aa0ba902b7");
  ASSERT_TRUE(s.valid());
  EXPECT_EQ(s.to_hex(), "00f067aa0ba902b7");
  for (const char* bad :
       {"", "4bf92f3577b34da6a3ce929d0e0e473", "4bf92f3577b34da6a3ce929d0e0e47366", "4BF92F3577B34DA6A3CE929D0E0E4736",
        "4bf92f3577b34da6a3ce929d0e0e473g", "00000000000000000000000000000000", "zz000000000000000000000000000001"})
    EXPECT_FALSE(logfire::trace_id::from_hex(bad).valid()) << bad;
  for (const char* bad : {"", "00f067aa0ba902b", "00F067AA0BA902B7", "00f067aa0ba902bx", "0000000000000000"})
    EXPECT_FALSE(logfire::span_id::from_hex(bad).valid()) << bad;
}

TEST(swar, byte_predicates_match_loops) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200000; ++i) {
    std::uint64_t x = rng();
    // Bias towards printable ASCII so both answers occur often.
    if (i % 2) x &= 0x7f7f7f7f7f7f7f7full;
    if (i % 3 == 0) x |= 0x2020202020202020ull;
    unsigned char b[8];
    std::memcpy(b, &x, 8);
    bool zero = false, below = false, above = false, comma = false;
    for (unsigned char c : b) {
      zero |= c == 0;
      below |= c < 0x20;
      above |= c > 0x7E;
      comma |= c == ',';
    }
    ASSERT_EQ(swar::any_zero(x), zero);
    ASSERT_EQ(swar::any_below(x, 0x20), below);
    ASSERT_EQ(swar::any_above(x, 0x7E), above);
    ASSERT_EQ(swar::any_equal(x, ','), comma);
  }
}

}  // namespace
