#include "scrub/keywords.hpp"

#include <re2/re2.h>

#include <cstring>
#include <deque>
#include <string>

#include "text/ascii.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace logfire::detail {
namespace {

using namespace keyword_symbols;
constexpr std::uint16_t k_has_output = 0x8000;  // flag on a delta_ entry: the target state reports matches

// The letter pairs the SSE2 filter (pair_starts) looks for: every default literal starts with one.
constexpr std::string_view k_filter_pairs[] = {"pa", "pr", "py", "my", "se", "so", "ss", "au",
                                               "ap", "cr", "co", "cs", "lo", "xs", "jw"};

std::uint8_t class_of(char c) {
  return k_ascii_class[static_cast<unsigned char>(c) & 0x7F];
}

// Python's re.IGNORECASE lets four non-ASCII letters match ASCII ones: U+0130 'İ' and U+0131
// 'ı' match 'i', U+017F 'ſ' matches 's', U+212A (Kelvin sign) matches 'k'. Any other byte >= 0x80
// is a symbol no keyword contains. Sets `len` to the bytes consumed.
inline std::uint8_t fold_non_ascii(const unsigned char* p, std::size_t n, std::size_t i, std::size_t& len) noexcept {
  const unsigned c = p[i];
  if ((c == 0xC4 || c == 0xC5) && i + 1 < n) {
    const unsigned d = p[i + 1];
    if (c == 0xC4 && (d == 0xB0 || d == 0xB1)) {
      len = 2;
      return 'i' - 'a';
    }
    if (c == 0xC5 && d == 0xBF) {
      len = 2;
      return 's' - 'a';
    }
  } else if (c == 0xE2 && i + 2 < n && p[i + 1] == 0x84 && p[i + 2] == 0xAA) {
    len = 3;
    return 'k' - 'a';
  }
  len = 1;
  return k_other;
}

inline std::uint8_t symbol_at(std::string_view text, std::size_t i, std::size_t& len) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  if (p[i] < 0x80) {
    len = 1;
    return k_ascii_class[p[i]];
  }
  return fold_non_ascii(p, text.size(), i, len);
}

// Decodes the well-formed UTF-8 sequence of `len` bytes at p (len 2..4); -1 when ill-formed.
long decode(const unsigned char* p, std::size_t len) noexcept {
  long cp = p[0] & (0xFF >> (len + 1));
  for (std::size_t k = 1; k < len; ++k) {
    if ((p[k] & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (p[k] & 0x3F);
  }
  static constexpr long k_min[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < k_min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  return cp;
}

// Unicode letters and numbers, as Python's str.isalnum() (which `\w` uses) sees them. Built
// once and never destroyed, so a background thread still scrubbing at exit can use it.
bool is_unicode_alnum(std::string_view code_point) noexcept {
  static const re2::RE2* const word = [] {
    RE2::Options o;
    o.set_log_errors(false);
    return new re2::RE2("[\\p{L}\\p{N}]", o);
  }();
  return RE2::FullMatch(code_point, *word);
}

std::size_t sequence_length(unsigned char lead) noexcept {
  return lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0;
}

bool is_word_sequence(const unsigned char* p, std::size_t len) noexcept {
  if (len < 2 || decode(p, len) < 0) return false;  // ill-formed bytes are not letters
  return is_unicode_alnum(std::string_view(reinterpret_cast<const char*>(p), len));
}

enum class check : std::uint8_t { plain, auth, pylf, acronym };

check check_of(std::uint8_t pattern) noexcept {
  const std::string_view name = k_default_patterns[pattern].name;
  if (name == "auth") return check::auth;
  if (name == "pylf_v") return check::pylf;
  if (name == "csrf" || name == "xsrf" || name == "jwt" || name == "ssn") return check::acronym;
  return check::plain;
}

// Python's `\b` at position i, next to a word character on the other side.
bool boundary_after(std::string_view text, std::size_t i) noexcept {
  return i == text.size() || !is_word_char_at(text, i);
}

// `(?!ors?\b)` at `end`: true when the lookahead finds "or"/"ors" closing a word (no match then).
bool authors_follows(std::string_view text, std::size_t end) noexcept {
  std::size_t i = end, len = 0;
  for (const char want : {'o', 'r'}) {
    if (i >= text.size() || symbol_at(text, i, len) != class_of(want)) return false;
    i += len;
  }
  if (boundary_after(text, i)) return true;
  if (i < text.size() && symbol_at(text, i, len) == class_of('s')) return boundary_after(text, i + len);
  return false;
}

// Applies the pattern's own rules to a keyword found at [start, end); false when it does not match.
bool confirm(std::uint8_t pattern, std::string_view text, std::size_t& start, std::size_t& end) noexcept {
  switch (check_of(pattern)) {
    case check::plain:
      return true;
    case check::auth:
      return !authors_follows(text, end);
    case check::pylf: {  // pylf_v\d+_ (ASCII digits)
      std::size_t i = end;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
      if (i == end || i >= text.size() || text[i] != '_') return false;
      end = i + 1;
      return true;
    }
    case check::acronym: {  // (?:\b|_)word(?:\b|_)
      if (start > 0 && text[start - 1] == '_')
        --start;
      else if (start > 0 && is_word_char_before(text, start))
        return false;
      if (end == text.size() || !is_word_char_at(text, end)) return true;
      if (text[end] != '_') return false;
      ++end;
      return true;
    }
  }
  return false;
}

// The texts each pattern's automaton part looks for.
void add_literals(std::uint8_t pattern, std::deque<std::string>& out) {
  static constexpr std::string_view k_separators[] = {"", ".", "_", " ", "-"};
  const std::string_view name = k_default_patterns[pattern].name;
  auto with_separators = [&](std::string_view a, std::string_view b) {
    for (auto sep : k_separators) out.push_back(std::string(a) + std::string(sep) + std::string(b));
  };
  if (name == "private_key")
    with_separators("private", "key");
  else if (name == "api_key")
    with_separators("api", "key");
  else if (name == "social_security")
    with_separators("social", "security");
  else if (name == "credit_card")
    with_separators("credit", "card");
  else if (name == "logfire_token")
    with_separators("logfire", "token");
  else
    out.emplace_back(name);  // the others are their own keyword ("pylf_v", "auth", "jwt", ...)
}

}  // namespace

bool is_word_char_at(std::string_view text, std::size_t i) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  if (i >= text.size()) return false;
  if (p[i] < 0x80) return k_ascii_class[p[i]] < 26 || p[i] == '_' || (p[i] >= '0' && p[i] <= '9');
  const std::size_t len = sequence_length(p[i]);
  if (len == 0 || i + len > text.size()) return false;
  return is_word_sequence(p + i, len);
}

bool is_word_char_before(std::string_view text, std::size_t i) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  if (i == 0 || i > text.size()) return false;
  if (p[i - 1] < 0x80) return is_word_char_at(text, i - 1);
  std::size_t lead = i - 1;
  while (lead > 0 && i - lead < 4 && (p[lead] & 0xC0) == 0x80) --lead;
  if (sequence_length(p[lead]) != i - lead) return false;
  return is_word_sequence(p + lead, i - lead);
}

keyword_matcher::keyword_matcher(std::uint32_t enabled) {
  // Trie of every enabled literal, then Aho-Corasick failure links folded into a full
  // transition table (construction runs once, at configure time).
  std::deque<std::string> literals;
  std::vector<std::uint8_t> literal_pattern;
  for (std::uint8_t p = 0; p < k_default_patterns.size(); ++p) {
    if (!(enabled & (1u << p))) continue;
    const std::size_t before = literals.size();
    add_literals(p, literals);
    literal_pattern.insert(literal_pattern.end(), literals.size() - before, p);
  }
  literals_ = literals.size();

  std::vector<std::array<int, k_classes>> go(1);
  go[0].fill(-1);
  std::vector<std::vector<output>> outs(1);
  depth_.assign(1, 0);
  for (std::size_t l = 0; l < literals.size(); ++l) {
    int s = 0;
    for (const char ch : literals[l]) {
      const std::uint8_t c = class_of(ch);
      if (go[static_cast<std::size_t>(s)][c] < 0) {
        go[static_cast<std::size_t>(s)][c] = static_cast<int>(go.size());
        go.emplace_back().fill(-1);
        outs.emplace_back();
        depth_.push_back(static_cast<std::uint8_t>(depth_[static_cast<std::size_t>(s)] + 1));
      }
      s = go[static_cast<std::size_t>(s)][c];
    }
    outs[static_cast<std::size_t>(s)].push_back({literal_pattern[l], static_cast<std::uint8_t>(literals[l].size())});
  }

  const std::size_t states = go.size();
  std::vector<int> fail(states, 0);
  std::vector<std::size_t> queue;
  queue.reserve(states);
  for (int c = 0; c < k_classes; ++c) {
    int& t = go[0][static_cast<std::size_t>(c)];
    if (t < 0) {
      t = 0;
    } else {
      fail[static_cast<std::size_t>(t)] = 0;
      queue.push_back(static_cast<std::size_t>(t));
    }
  }
  for (std::size_t q = 0; q < queue.size(); ++q) {
    const std::size_t s = queue[q];
    // Breadth-first: the failure state's outputs are complete already.
    const auto& inherited = outs[static_cast<std::size_t>(fail[s])];
    outs[s].insert(outs[s].end(), inherited.begin(), inherited.end());
    for (int c = 0; c < k_classes; ++c) {
      int& t = go[s][static_cast<std::size_t>(c)];
      const int via_fail = go[static_cast<std::size_t>(fail[s])][static_cast<std::size_t>(c)];
      if (t < 0) {
        t = via_fail;
      } else {
        fail[static_cast<std::size_t>(t)] = via_fail;
        queue.push_back(static_cast<std::size_t>(t));
      }
    }
  }

  // The first two symbols of every literal, for the candidate filters.
  pair_filter_ = true;
  for (const auto& l : literals) {
    starts_[class_of(l[0]) * k_classes + class_of(l[1])] |= 1u << class_of(l[2]);
    bool listed = false;
    for (const auto pair : k_filter_pairs) listed = listed || l.compare(0, 2, pair) == 0;
    pair_filter_ = pair_filter_ && listed;
  }
#if !defined(__SSE2__)
  pair_filter_ = false;
#endif

  delta_.resize(states * k_classes);
  out_begin_.resize(states + 1);
  for (std::size_t s = 0; s < states; ++s) {
    out_begin_[s] = static_cast<std::uint32_t>(outputs_.size());
    outputs_.insert(outputs_.end(), outs[s].begin(), outs[s].end());
    for (int c = 0; c < k_classes; ++c) {
      const auto t = static_cast<std::size_t>(go[s][static_cast<std::size_t>(c)]);
      delta_[s * k_classes + static_cast<std::size_t>(c)] =
          static_cast<std::uint16_t>(t | (outs[t].empty() ? 0u : k_has_output));
    }
  }
  out_begin_[states] = static_cast<std::uint32_t>(outputs_.size());
}

keyword_match keyword_matcher::find_with_automaton(std::string_view text) const noexcept {
  keyword_match best;
  if (literals_ == 0) return best;
  // The longest literal ("social_security") is 15 symbols; a match may start one symbol earlier
  // (the '_' of the acronyms). Once the best match starts further back than that, nothing found
  // later can start before it.
  constexpr std::size_t k_reach = 17;
  constexpr std::size_t k_ring = 32;  // byte offset of each of the last symbols read
  std::size_t pos[k_ring];
  std::size_t best_symbol = 0;

  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  const std::uint16_t* delta = delta_.data();
  std::size_t state = 0;
  std::size_t symbol = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t len = 1;
    const std::size_t cls = p[i] < 0x80 ? k_ascii_class[p[i]] : fold_non_ascii(p, n, i, len);
    pos[symbol % k_ring] = i;
    ++symbol;
    const std::uint16_t next = delta[state * k_classes + cls];
    state = next & ~k_has_output;
    if (next & k_has_output) [[unlikely]] {
      for (std::uint32_t o = out_begin_[state]; o < out_begin_[state + 1]; ++o) {
        const output out = outputs_[o];
        const std::size_t first_symbol = symbol - out.symbols;
        std::size_t start = pos[first_symbol % k_ring];
        std::size_t end = i + len;
        if (!confirm(out.pattern, text, start, end)) continue;
        if (!best.found || start < best.start || (start == best.start && out.pattern < best.pattern)) {
          best = {true, out.pattern, start, end};
          best_symbol = first_symbol;
        }
      }
    }
    if (best.found && symbol > best_symbol + k_reach) break;
    i += len;
  }
  return best;
}

keyword_match keyword_matcher::find_at(std::string_view text, std::size_t at) const noexcept {
  // Walks the trie (not the failure links) from `at`; every literal on the way starts there.
  keyword_match best;
  std::size_t state = 0;
  for (std::size_t i = at; i < text.size();) {
    std::size_t len = 1;
    const std::size_t next = delta_[state * k_classes + symbol_at(text, i, len)] & ~k_has_output;
    if (depth_[next] != depth_[state] + 1) break;
    state = next;
    i += len;
    for (std::uint32_t o = out_begin_[state]; o < out_begin_[state + 1]; ++o) {
      const output out = outputs_[o];
      if (out.symbols != depth_[state] || (best.found && out.pattern >= best.pattern)) continue;
      std::size_t start = at, end = i;
      if (confirm(out.pattern, text, start, end)) best = {true, out.pattern, start, end};
    }
  }
  return best;
}

#if defined(__SSE2__)
namespace {

// Bit j set when a keyword may start at p[j]: the letter pair there (either case) begins one of
// the default literals. Reads p[0..16].
inline unsigned pair_starts(const unsigned char* p) noexcept {
  const __m128i lower = _mm_set1_epi8(0x20);  // ASCII letters only land on 'a'..'z' this way
  const __m128i v = _mm_or_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), lower);
  const __m128i w = _mm_or_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 1)), lower);
  const auto is = [](__m128i x, char c) { return _mm_cmpeq_epi8(x, _mm_set1_epi8(c)); };
  const __m128i wa = is(w, 'a'), we = is(w, 'e'), wo = is(w, 'o'), wp = is(w, 'p'), wr = is(w, 'r');
  const __m128i ws = is(w, 's'), wu = is(w, 'u'), ww = is(w, 'w'), wy = is(w, 'y');
  // pa pr py | my | se so ss | au ap | cr co cs | lo | xs | jw
  __m128i hit = _mm_and_si128(is(v, 'p'), _mm_or_si128(_mm_or_si128(wa, wr), wy));
  hit = _mm_or_si128(hit, _mm_and_si128(is(v, 'm'), wy));
  hit = _mm_or_si128(hit, _mm_and_si128(is(v, 's'), _mm_or_si128(_mm_or_si128(we, wo), ws)));
  hit = _mm_or_si128(hit, _mm_and_si128(is(v, 'a'), _mm_or_si128(wu, wp)));
  hit = _mm_or_si128(hit, _mm_and_si128(is(v, 'c'), _mm_or_si128(_mm_or_si128(wr, wo), ws)));
  hit = _mm_or_si128(hit, _mm_and_si128(is(v, 'l'), wo));
  hit = _mm_or_si128(hit, _mm_and_si128(is(v, 'x'), ws));
  hit = _mm_or_si128(hit, _mm_and_si128(is(v, 'j'), ww));
  return static_cast<unsigned>(_mm_movemask_epi8(hit));
}

}  // namespace
#endif

inline bool keyword_matcher::may_start(const unsigned char* p) const noexcept {
  return starts_literal(k_ascii_class[p[0]], k_ascii_class[p[1]], k_ascii_class[p[2]]);
}

keyword_match keyword_matcher::find(std::string_view text) const noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  if (literals_ == 0 || n < 3) return {};  // no keyword is shorter than three letters
  // Candidates in increasing position: the first one with a confirmed keyword holds the leftmost
  // match (a match starts at its candidate, or at the one '_' before it, where no keyword starts).
  // Non-ASCII text may hold letters Python folds onto ASCII ones (U+017F matches 's', ...): only
  // the automaton knows those.
  if (!ascii::is_ascii(p, n)) return find_with_automaton(text);
  if (n <= k_short_text || !pair_filter_) {
    for (std::size_t i = first_candidate(p, n, 0); i < n; i = first_candidate(p, n, i + 1))
      if (const keyword_match m = find_at(text, i); m.found) return m;
    return {};
  }
#if defined(__SSE2__)
  auto first_in = [&](unsigned hits, std::size_t base) -> keyword_match {
    for (; hits; hits &= hits - 1) {
      const std::size_t at = base + static_cast<std::size_t>(__builtin_ctz(hits));
      if (at + 2 < n && may_start(p + at))
        if (const keyword_match m = find_at(text, at); m.found) return m;
    }
    return {};
  };
  std::size_t i = 0;
  for (; i + 17 <= n; i += 16)
    if (const unsigned hits = pair_starts(p + i))
      if (const keyword_match m = first_in(hits, i); m.found) return m;
  // The last block overlaps the one before; the positions it repeats are masked off. The last
  // two positions cannot start a keyword.
  if (i + 2 < n) {
    const std::size_t base = n - 17;
    if (const unsigned hits = pair_starts(p + base) & (~0u << (i - base))) return first_in(hits, base);
  }
#endif
  return {};
}

}  // namespace logfire::detail
