// Logfire's default scrubbing patterns and a linear-time matcher for them. Every keyword starts
// with one of 17 letter pairs; on ASCII text (the common case) an SSE2 filter finds those pairs 16
// bytes at a time and the keyword trie is walked only from them. Other text goes through the same
// trie as an Aho-Corasick automaton over case-folded symbols, one byte at a time. A few checks per
// hit then apply what the regular expressions say beyond plain text (the lookahead of
// `auth(?!ors?\b)`, the digits of `pylf_v\d+_`, the boundaries of `(?:\b|_)jwt(?:\b|_)`). The
// result is the match Python's `re` finds for the alternation of all patterns: the leftmost one,
// ties going to the pattern listed first.
//
//   keyword_matcher m(k_all_default_patterns);
//   keyword_match hit = m.find("user_password");  // hit.pattern == 0 ("password"), [5, 13)
//
// Immutable after construction: any number of threads may call find() at once.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "text/ascii.hpp"

namespace logfire::detail {

struct default_pattern {
  std::string_view name;    // what options.scrubbing.disabled_patterns and stats() call it
  std::string_view source;  // the regular expression in Logfire's scrubbing.py
};

// In Logfire's order (the order decides which pattern a tie goes to).
inline constexpr std::array<default_pattern, 18> k_default_patterns{{
    {"password", "password"},
    {"passwd", "passwd"},
    {"mysql_pwd", "mysql_pwd"},
    {"secret", "secret"},
    {"auth", "auth(?!ors?\\b)"},
    {"credential", "credential"},
    {"private_key", "private[._ -]?key"},
    {"api_key", "api[._ -]?key"},
    {"session", "session"},
    {"cookie", "cookie"},
    {"social_security", "social[._ -]?security"},
    {"credit_card", "credit[._ -]?card"},
    {"logfire_token", "logfire[._ -]?token"},
    {"pylf_v", "pylf_v\\d+_"},
    {"csrf", "(?:\\b|_)csrf(?:\\b|_)"},
    {"xsrf", "(?:\\b|_)xsrf(?:\\b|_)"},
    {"jwt", "(?:\\b|_)jwt(?:\\b|_)"},
    {"ssn", "(?:\\b|_)ssn(?:\\b|_)"},
}};

// A bit per default pattern (bit i = k_default_patterns[i]).
inline constexpr std::uint32_t k_all_default_patterns = (1u << k_default_patterns.size()) - 1;

// The symbols the matcher reads, for ASCII bytes: a-z and A-Z (0..25), '_', '.', ' ', '-', and
// everything else.
namespace keyword_symbols {
inline constexpr std::uint8_t k_underscore = 26, k_dot = 27, k_space = 28, k_dash = 29, k_other = 30;
inline constexpr std::array<std::uint8_t, 128> k_ascii_class = [] {
  std::array<std::uint8_t, 128> t{};
  for (auto& c : t) c = k_other;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::uint8_t>(c - 'a');
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::uint8_t>(c - 'A');
  t['_'] = k_underscore;
  t['.'] = k_dot;
  t[' '] = k_space;
  t['-'] = k_dash;
  return t;
}();
}  // namespace keyword_symbols

struct keyword_match {
  bool found = false;
  std::uint8_t pattern = 0;  // index into k_default_patterns
  std::size_t start = 0;     // byte offsets of the matched text
  std::size_t end = 0;
};

class keyword_matcher {
 public:
  explicit keyword_matcher(std::uint32_t enabled = k_all_default_patterns);

  // The leftmost match of the enabled patterns in `text` (linear, no allocation).
  [[nodiscard]] keyword_match find(std::string_view text) const noexcept;
  // The same with the automaton alone, whatever the text (the reference the fast path is
  // checked against).
  [[nodiscard]] keyword_match find_with_automaton(std::string_view text) const noexcept;

  [[nodiscard]] bool empty() const noexcept { return literals_ == 0; }

  // False when find() would find nothing in `text` for certain without walking the trie: no
  // keyword is enabled, the text is shorter than every keyword, or it is short ASCII text where
  // no three symbols start a literal. True otherwise, and find() decides. Inline, for callers
  // that test many short values and call find() only for the few that may hold a keyword.
  [[nodiscard]] bool may_hold(std::string_view text) const noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    if (literals_ == 0 || n < 3) return false;
    return n > k_short_text || !ascii::is_ascii(p, n) || first_candidate(p, n, 0) < n;
  }

 private:
  // The symbols' classes (keyword_symbols), rounded up to the bits of one starts_ word.
  static constexpr int k_classes = 32;

  struct output {
    std::uint8_t pattern;
    std::uint8_t symbols;  // length of the literal, in symbols
  };

  // Texts up to this long are searched position by position; longer ASCII text, 16 positions
  // at a time by the SSE2 filter.
  static constexpr std::size_t k_short_text = 16;

  // Whether symbols of the classes a, b, c, in that order, start some literal.
  bool starts_literal(std::size_t a, std::size_t b, std::size_t c) const noexcept {
    return starts_[a * k_classes + b] >> c & 1u;
  }
  // Whether the three ASCII symbols at p start some literal.
  bool may_start(const unsigned char* p) const noexcept;
  // The first position at or after `from` where three ASCII symbols of p[0..n) start some
  // literal; n when there is none.
  std::size_t first_candidate(const unsigned char* p, std::size_t n, std::size_t from) const noexcept {
    using keyword_symbols::k_ascii_class;
    if (from + 2 >= n) return n;
    // The classes of the two symbols before p[i + 2] stay in registers: one table load a byte.
    std::size_t a = k_ascii_class[p[from]], b = k_ascii_class[p[from + 1]];
    for (std::size_t i = from; i + 2 < n; ++i) {
      const std::size_t c = k_ascii_class[p[i + 2]];
      if (starts_literal(a, b, c)) return i;
      a = b;
      b = c;
    }
    return n;
  }
  // The literals starting at `at`, checked; the one listed first wins.
  keyword_match find_at(std::string_view text, std::size_t at) const noexcept;

  std::vector<std::uint16_t> delta_;  // state * k_classes + class -> state
  std::vector<std::uint8_t> depth_;   // symbols from the root (a trie edge adds one; a failure link does not)
  // Bit c of starts_[a * k_classes + b]: a literal starts with the symbols a, b, c. On ASCII text
  // a position whose three symbols start no literal is skipped without walking the trie.
  std::array<std::uint32_t, k_classes * k_classes> starts_{};
  bool pair_filter_ = false;  // the SSE2 filter covers every literal's first pair
  std::vector<std::uint32_t> out_begin_;
  std::vector<output> outputs_;  // outputs of state s: [out_begin_[s], out_begin_[s + 1])
  std::size_t literals_ = 0;
};

// Python's `\w` for the code point starting at `text[i]` (letters, digits, '_'; Unicode-aware).
[[nodiscard]] bool is_word_char_at(std::string_view text, std::size_t i) noexcept;
// The same for the code point that ends just before `text[i]`.
[[nodiscard]] bool is_word_char_before(std::string_view text, std::size_t i) noexcept;

}  // namespace logfire::detail
