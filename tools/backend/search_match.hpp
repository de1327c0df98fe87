// The exact test of a search (search.hpp) on one record: whether a column contains the search
// text as the search index (`records_fts`, FTS5's trigram tokenizer) would find it, with the
// same case folding. The index is a filter (it keeps which records hold each trigram, not
// where); this test decides, for the index's candidates, for the records the indexer has not
// reached yet and for the newest-first scan alike, so a record is found by the same rule
// before and after it is indexed.
//
//   text_matcher m;
//   if (!m.open(db, "Timeout", error)) ...;    // borrows FTS5's trigram tokenizer from `db`
//   m.contained_in("read TIMEOUT after 5 s")   // true
//   m.index_query()                            // "\"Tim\" \"ime\" \"meo\" \"eou\" \"out\""
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>

namespace logfire::backend {

class text_matcher {
 public:
  text_matcher() = default;
  ~text_matcher();
  text_matcher(const text_matcher&) = delete;
  text_matcher& operator=(const text_matcher&) = delete;

  // Folds `text` for matching. Fails with a message when `db`'s SQLite has no FTS5 trigram
  // tokenizer.
  bool open(sqlite3* db, std::string_view text, std::string& error);

  // Whether the text has the three characters the trigram index needs (it ends at a NUL byte,
  // as the tokenizer reads it). Below that, contained_in() is false for every haystack.
  [[nodiscard]] bool indexable() const { return !query_.empty(); }

  // An FTS5 query for the index's candidates: the text's distinct trigrams (at most
  // kMaxQueryTrigrams, spread over the text), each a quoted string, all required. Every record
  // that contains the text is among the records it finds.
  [[nodiscard]] const std::string& index_query() const { return query_; }

  // Whether `haystack` contains the text under the trigram tokenizer's folding (which ends a
  // text at a NUL byte).
  [[nodiscard]] bool contained_in(const char* haystack, std::size_t size) const;

  static constexpr int kMaxQueryTrigrams = 12;

 private:
  // `text[size]` must be readable (the tokenizer reads up to a NUL).
  void fold(const char* text, std::size_t size, std::string& out) const;
  [[nodiscard]] bool ascii_contains(const char* text, std::size_t size) const;

  fts5_tokenizer tokenizer_{};
  Fts5Tokenizer* instance_ = nullptr;
  std::string folded_;
  bool ascii_needle_ = true;
  std::string query_;
  mutable std::string scratch_in_, scratch_;
};

// The name under which register_search_match() installs the test as an SQL function:
// logfire_search_match(?matcher, column, ...) is 1 when one of the columns contains the text.
// The matcher is a pointer parameter bound with sqlite3_bind_pointer(..., kMatcherPointerType,
// nullptr): SQL cannot make one, so the function is inert (NULL) anywhere else.
inline constexpr const char* kSearchMatchFunction = "logfire_search_match";
inline constexpr const char* kMatcherPointerType = "logfire_text_matcher";

// Installs logfire_search_match on `db` (idempotent). Fails with SQLite's message.
bool register_search_match(sqlite3* db, std::string& error);

}  // namespace logfire::backend
