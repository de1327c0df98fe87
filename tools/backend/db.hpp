// SQLite plumbing shared by the store (writer), the HTTP API and the CLI (readers): RAII handles,
// the schema, the default database location and read-only connections that refuse writes with
// SQLite's own message.
//
//   std::string error;
//   auto db = open_read_only(default_database_path(), error);   // the CLI's query/tail/traces
//   if (!db) { std::cerr << error; }   // "no database at /home/u/.local/share/logfire-cpp/..."
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace logfire::backend {

struct sqlite_closer {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
using db_handle = std::unique_ptr<sqlite3, sqlite_closer>;

struct stmt_finalizer {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using stmt_handle = std::unique_ptr<sqlite3_stmt, stmt_finalizer>;

// Prepares one statement; on failure returns null and sets `error` to SQLite's message.
stmt_handle prepare(sqlite3* db, std::string_view sql, std::string& error);

// Runs statements that return no rows (schema, pragmas). Returns false with SQLite's message.
bool exec(sqlite3* db, const char* sql, std::string& error);

// $LOGFIRE_LOCAL_DB, else $XDG_DATA_HOME/logfire-cpp/logfire.db, else
// ~/.local/share/logfire-cpp/logfire.db.
[[nodiscard]] std::string default_database_path();

// Whether `path` names an in-memory database (":memory:").
[[nodiscard]] bool is_memory_path(std::string_view path);

// The schema (tables `records` and `metrics` with their indexes), idempotent.
bool create_schema(sqlite3* db, std::string& error);

// The search index `records_fts` (FTS5, trigram tokens over span names, messages, attribute
// JSON and exceptions, detail=none), its watermark `records_fts_state.indexed_to` (the index
// holds exactly the records with id <= indexed_to; the store's indexer moves it) and the trigger
// that takes deleted records out of it, idempotent. An index in an earlier form (filled by an
// insert trigger), or a part of one, is dropped and made anew, empty: the indexer fills it.
struct search_index_status {
  bool created = false;        // the index was made here (none, or one in an earlier form)
  bool replaced = false;       // ... in place of one in an earlier form
  std::int64_t unindexed = 0;  // records not in the index yet
};
bool create_search_index(sqlite3* db, search_index_status& status, std::string& error);

// A read-only connection to an existing database file (the CLI, or the server's readers), with
// restrict_to_reading() applied. Fails with a message naming the path when the file does not
// exist or is not a logfire-cpp database. `uri` is used instead of the path for the server's
// in-memory database.
db_handle open_read_only(const std::string& path, std::string& error, const std::string& uri = {});

// The SQL door's rules, on top of opening the file read-only:
//   * an authorizer that allows reading only: SELECT (with WITH/RECURSIVE), reading columns,
//     functions other than load_extension and fts3_tokenizer, and a few schema pragmas
//     (table_info, index_list, ...); everything else — writes, BEGIN/SAVEPOINT, ATTACH, other
//     pragmas — is refused while the statement is prepared;
//   * PRAGMA query_only, no extension loading, the FTS3 tokenizer function switched off (its
//     one-argument form leaks a pointer into libsqlite3, its two-argument form registers one),
//     defensive mode, untrusted schema, no attached databases.
void restrict_to_reading(sqlite3* db);

// Whether a reader may be pooled again: no transaction open and no statement left unfinalized.
[[nodiscard]] bool reader_is_clean(sqlite3* db);

// Why restrict_to_reading()'s authorizer last refused a statement on this thread (empty when
// it did not), so the refusal can be named ("transactions are not allowed ...").
[[nodiscard]] std::string take_denial();

// "YYYY-MM-DD HH:MM:SS[.ffffff]" (UTC) back to Unix nanoseconds; nullopt when malformed.
[[nodiscard]] std::optional<std::int64_t> parse_timestamp(std::string_view text);

// A column's text (empty for NULL).
[[nodiscard]] std::string column_text(sqlite3_stmt* s, int col);

}  // namespace logfire::backend
