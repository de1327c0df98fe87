#include "search_match.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "text/ascii.hpp"

namespace logfire::backend {
namespace {

// FTS5's API on this connection (SELECT fts5(?1) with a pointer parameter, as FTS5 documents).
fts5_api* fts5_of(sqlite3* db) {
  fts5_api* api = nullptr;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &s, nullptr) == SQLITE_OK) {
    sqlite3_bind_pointer(s, 1, static_cast<void*>(&api), "fts5_api_ptr", nullptr);
    sqlite3_step(s);
  }
  sqlite3_finalize(s);
  return api;
}

// Byte offsets where the trigram tokenizer's characters start, as its READ_UTF8 reads them: a
// byte of 0xC0 or above takes the continuation bytes (0x80-0xBF) that follow it, any other
// byte is a character alone, and a NUL byte ends the text. `end` is where the text ends.
std::vector<std::size_t> character_starts(std::string_view text, std::size_t& end) {
  std::vector<std::size_t> starts;
  std::size_t i = 0;
  while (i < text.size() && text[i] != '\0') {
    starts.push_back(i);
    auto lead = static_cast<unsigned char>(text[i++]);
    if (lead >= 0xC0) {
      while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
    }
  }
  end = i;
  return starts;
}

// Bytes of the UTF-8 character that `lead` starts, as FTS5's WRITE_UTF8 writes them.
std::size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

// Whether any byte of `text` is 0x80 or above.
bool has_high_byte(const char* text, std::size_t size) {
  return !logfire::detail::ascii::is_ascii(text, size);
}

struct fold_state {
  std::string* out;
  std::string last;
};

// Token i of the trigram tokenizer is characters i, i+1 and i+2, folded: the first character
// of each token, then the rest of the last one, is the folded text.
int collect_first_character(void* context, int, const char* token, int bytes, int, int) {
  auto* state = static_cast<fold_state*>(context);
  if (bytes <= 0) return SQLITE_OK;
  auto n = std::min(utf8_length(static_cast<unsigned char>(token[0])), static_cast<std::size_t>(bytes));
  state->out->append(token, n);
  state->last.assign(token, static_cast<std::size_t>(bytes));
  return SQLITE_OK;
}

void search_match(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  const auto* m =
      argc > 0 ? static_cast<const text_matcher*>(sqlite3_value_pointer(argv[0], kMatcherPointerType)) : nullptr;
  if (m == nullptr) {
    sqlite3_result_null(ctx);
    return;
  }
  for (int i = 1; i < argc; ++i) {
    int type = sqlite3_value_type(argv[i]);
    if (type == SQLITE_NULL) continue;  // FTS5 indexes nothing for NULL
    // Text as it is stored (sqlite3_value_text would copy it to add a NUL); other values as
    // their text, as FTS5 indexes them.
    const void* bytes = type == SQLITE_TEXT ? sqlite3_value_blob(argv[i]) : sqlite3_value_text(argv[i]);
    if (bytes == nullptr) continue;  // empty, or out of memory
    if (m->contained_in(static_cast<const char*>(bytes), static_cast<std::size_t>(sqlite3_value_bytes(argv[i])))) {
      sqlite3_result_int(ctx, 1);
      return;
    }
  }
  sqlite3_result_int(ctx, 0);
}

}  // namespace

text_matcher::~text_matcher() {
  if (instance_ != nullptr) tokenizer_.xDelete(instance_);
}

bool text_matcher::open(sqlite3* db, std::string_view text, std::string& error) {
  fts5_api* api = fts5_of(db);
  void* module = nullptr;
  if (api == nullptr || api->xFindTokenizer(api, "trigram", &module, &tokenizer_) != SQLITE_OK ||
      tokenizer_.xCreate(module, nullptr, 0, &instance_) != SQLITE_OK || instance_ == nullptr) {
    instance_ = nullptr;
    error = "this SQLite has no FTS5 trigram tokenizer (SQLite 3.34 or later with FTS5 is needed for search)";
    return false;
  }
  std::string copy(text);  // NUL-terminated, as the tokenizer reads
  fold(copy.c_str(), copy.size(), folded_);
  ascii_needle_ = !has_high_byte(folded_.data(), folded_.size());
  std::size_t end = 0;
  auto starts = character_starts(copy, end);
  query_.clear();
  if (starts.size() < 3) return true;
  std::vector<std::string_view> trigrams;
  for (std::size_t j = 0; j + 2 < starts.size(); ++j) {
    std::size_t stop = j + 3 < starts.size() ? starts[j + 3] : end;
    std::string_view t = std::string_view(copy).substr(starts[j], stop - starts[j]);
    if (std::find(trigrams.begin(), trigrams.end(), t) == trigrams.end()) trigrams.push_back(t);
  }
  // Every trigram narrows the candidates a little less; a few spread over the text are enough
  // for a filter, and each one costs a read of its list of records.
  std::size_t count = std::min<std::size_t>(trigrams.size(), kMaxQueryTrigrams);
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t pick = count == 1 ? 0 : i * (trigrams.size() - 1) / (count - 1);
    if (i > 0) query_ += ' ';
    query_ += '"';
    for (char c : trigrams[pick]) {
      if (c == '"') query_ += '"';
      query_ += c;
    }
    query_ += '"';
  }
  return true;
}

void text_matcher::fold(const char* text, std::size_t size, std::string& out) const {
  // The tokenizer reads up to a NUL byte (and `text[size]` must be one). Below 0x80 it folds
  // A-Z and nothing else.
  size = std::min(size, std::strlen(text));
  if (!has_high_byte(text, size)) {
    out.assign(text, size);
    for (char& c : out) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return;
  }
  // Other text through the tokenizer itself, so the folding is its own.
  out.clear();
  fold_state state{&out, {}};
  tokenizer_.xTokenize(instance_, &state, FTS5_TOKENIZE_DOCUMENT, text, static_cast<int>(size),
                       collect_first_character);
  if (!state.last.empty()) {
    out.append(state.last, std::min(utf8_length(static_cast<unsigned char>(state.last[0])), state.last.size()));
  }
}

bool text_matcher::contained_in(const char* haystack, std::size_t size) const {
  if (query_.empty()) return false;
  if (const void* nul = std::memchr(haystack, '\0', size)) {
    size = static_cast<std::size_t>(static_cast<const char*>(nul) - haystack);
  }
  // ASCII text folds byte by byte, so an ASCII text is searched where it lies. A match found
  // there is a match of the folded text too (a character before it never takes an ASCII byte);
  // without one, only text with other characters needs folding (some fold to ASCII letters:
  // the Kelvin sign to k).
  if (ascii_needle_) {
    if (ascii_contains(haystack, size)) return true;
    if (!has_high_byte(haystack, size)) return false;
  } else if (!has_high_byte(haystack, size)) {
    return false;  // the folded text is ASCII, the folded search text is not
  }
  scratch_in_.assign(haystack, size);  // NUL-terminated, for the tokenizer
  fold(scratch_in_.c_str(), size, scratch_);
  return scratch_.find(folded_) != std::string::npos;
}

// The folded search text (ASCII, lowercase) in `text`, with A-Z folded.
bool text_matcher::ascii_contains(const char* text, std::size_t size) const {
  const std::size_t m = folded_.size();
  if (m == 0 || size < m) return false;
  const auto lower = static_cast<unsigned char>(folded_[0]);
  const auto upper = static_cast<unsigned char>(lower >= 'a' && lower <= 'z' ? lower - ('a' - 'A') : lower);
  const char* p = text;
  const char* last = text + (size - m);  // the last place a match can start
  while (p <= last) {
    auto span = static_cast<std::size_t>(last - p) + 1;
    const auto* a = static_cast<const char*>(std::memchr(p, lower, span));
    if (upper != lower) {
      const auto* b =
          static_cast<const char*>(std::memchr(p, upper, a != nullptr ? static_cast<std::size_t>(a - p) : span));
      if (b != nullptr) a = b;
    }
    if (a == nullptr) return false;
    std::size_t i = 1;
    while (i < m) {
      auto c = static_cast<unsigned char>(a[i]);
      if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c - 'A' + 'a');
      if (c != static_cast<unsigned char>(folded_[i])) break;
      ++i;
    }
    if (i == m) return true;
    p = a + 1;
  }
  return false;
}

bool register_search_match(sqlite3* db, std::string& error) {
  if (sqlite3_create_function_v2(db, kSearchMatchFunction, -1, SQLITE_UTF8 | SQLITE_DIRECTONLY, nullptr, search_match,
                                 nullptr, nullptr, nullptr) != SQLITE_OK) {
    error = sqlite3_errmsg(db);
    return false;
  }
  return true;
}

}  // namespace logfire::backend
