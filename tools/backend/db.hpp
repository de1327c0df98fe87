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

// A read-only connection to an existing database file (the CLI, or the server's readers).
// Fails with a message naming the path when the file does not exist or is not a logfire-cpp
// database. `uri` is used instead of the path for the server's in-memory database.
db_handle open_read_only(const std::string& path, std::string& error, const std::string& uri = {});

// Allows only statements that read: anything else fails with SQLite's "attempt to write a
// readonly database". Also denies ATTACH, so a read-only connection cannot open other files.
void restrict_to_reading(sqlite3* db);

// "YYYY-MM-DD HH:MM:SS[.ffffff]" (UTC) back to Unix nanoseconds; nullopt when malformed.
[[nodiscard]] std::optional<std::int64_t> parse_timestamp(std::string_view text);

// A column's text (empty for NULL).
[[nodiscard]] std::string column_text(sqlite3_stmt* s, int col);

}  // namespace logfire::backend
