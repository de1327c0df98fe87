#include "db.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <utility>

namespace logfire::backend {

stmt_handle prepare(sqlite3* db, std::string_view sql, std::string& error) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s, nullptr);
  if (rc != SQLITE_OK) {
    error = sqlite3_errmsg(db);
    sqlite3_finalize(s);
    return nullptr;
  }
  return stmt_handle(s);
}

bool exec(sqlite3* db, const char* sql, std::string& error) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    error = msg ? msg : sqlite3_errmsg(db);
    sqlite3_free(msg);
    return false;
  }
  return true;
}

std::string default_database_path() {
  // One expression per case: GCC 12 at -O3 warns (-Wrestrict, a false positive) on assigning a
  // getenv() result to a std::string declared earlier.
  if (const char* env = std::getenv("LOGFIRE_LOCAL_DB"); env && *env) return std::string(env);
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) return std::string(xdg) + "/logfire-cpp/logfire.db";
  if (const char* home = std::getenv("HOME"); home && *home) {
    return std::string(home) + "/.local/share/logfire-cpp/logfire.db";
  }
  return "./logfire-cpp/logfire.db";
}

bool is_memory_path(std::string_view path) {
  return path == ":memory:";
}

// Longer than a screen because it is the schema: one statement per table and index.
bool create_schema(sqlite3* db, std::string& error) {
  // Column names and meanings follow Logfire's `records` table, so queries written there run
  // here. Timestamps are UTC text ("YYYY-MM-DD HH:MM:SS.ffffff"), duration is in seconds, ids are
  // lowercase hex, JSON columns hold valid JSON. `id` only orders rows by arrival (tail uses it);
  // AUTOINCREMENT keeps it increasing even after the newest row was deleted.
  static constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS records (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  start_timestamp TEXT NOT NULL,
  end_timestamp TEXT,
  duration REAL,
  trace_id TEXT NOT NULL,
  span_id TEXT NOT NULL,
  parent_span_id TEXT,
  kind TEXT NOT NULL,
  level INTEGER NOT NULL,
  span_name TEXT NOT NULL,
  message TEXT NOT NULL,
  tags TEXT NOT NULL DEFAULT '[]',
  attributes TEXT NOT NULL DEFAULT '{}',
  service_name TEXT,
  service_version TEXT,
  service_instance_id TEXT,
  deployment_environment TEXT,
  process_pid INTEGER,
  otel_scope_name TEXT,
  otel_scope_version TEXT,
  otel_span_kind TEXT,
  otel_status_code TEXT,
  otel_status_message TEXT,
  is_exception INTEGER NOT NULL DEFAULT 0,
  exception_type TEXT,
  exception_message TEXT,
  exception_stacktrace TEXT,
  otel_resource_attributes TEXT NOT NULL DEFAULT '{}',
  otel_links TEXT NOT NULL DEFAULT '[]',
  otel_events TEXT NOT NULL DEFAULT '[]',
  log_body TEXT,
  http_method TEXT,
  http_route TEXT,
  http_response_status_code INTEGER,
  url_path TEXT,
  url_full TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_trace ON records(trace_id, span_id);
CREATE INDEX IF NOT EXISTS records_start ON records(start_timestamp);
-- The trace list filtered by a service reads that service's records newest first; through the
-- time index alone it would read every record when the service has none.
CREATE INDEX IF NOT EXISTS records_service ON records(service_name, start_timestamp);
-- Errors are what people filter on most: a partial index keeps `WHERE level >= 17` fast (counts,
-- `traces --errors`) while costing inserts nothing for the other 98% of records.
CREATE INDEX IF NOT EXISTS records_errors ON records(start_timestamp) WHERE level >= 17;
-- Pending spans are few and short-lived: this tiny index makes "replace the pending span of
-- this real span" a cheap lookup on every insert.
CREATE INDEX IF NOT EXISTS records_pending ON records(trace_id, span_id) WHERE kind = 'pending_span';

CREATE TABLE IF NOT EXISTS metrics (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  recorded_timestamp TEXT NOT NULL,
  start_timestamp TEXT,
  metric_name TEXT NOT NULL,
  metric_type TEXT NOT NULL,
  unit TEXT NOT NULL DEFAULT '',
  metric_description TEXT,
  aggregation_temporality TEXT,
  is_monotonic INTEGER,
  scalar_value REAL,
  histogram_count INTEGER,
  histogram_sum REAL,
  histogram_min REAL,
  histogram_max REAL,
  histogram_buckets TEXT,
  exemplars TEXT,
  attributes TEXT NOT NULL DEFAULT '{}',
  service_name TEXT,
  otel_scope_name TEXT,
  otel_resource_attributes TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_name_time ON metrics(metric_name, recorded_timestamp);
CREATE INDEX IF NOT EXISTS metrics_time ON metrics(recorded_timestamp);
)sql";
  return exec(db, schema, error);
}

namespace {

// Whether the schema holds an object (table, trigger) of this name.
bool schema_has(sqlite3* db, const char* name, std::string& error) {
  auto s = prepare(db, "SELECT 1 FROM sqlite_master WHERE name = ?1", error);
  if (!s) return false;
  sqlite3_bind_text(s.get(), 1, name, -1, SQLITE_STATIC);
  return sqlite3_step(s.get()) == SQLITE_ROW;
}

std::int64_t single_int(sqlite3* db, const char* sql, std::string& error) {
  auto s = prepare(db, sql, error);
  return s && sqlite3_step(s.get()) == SQLITE_ROW ? sqlite3_column_int64(s.get(), 0) : 0;
}

}  // namespace

bool create_search_index(sqlite3* db, search_index_status& status, std::string& error) {
  status = {};
  // Trigram tokens: any substring of three or more characters is made of the index's tokens,
  // case folded. detail=none keeps only which records hold each trigram (no positions): a sixth
  // of the full index's size and a third of its cost per record, so the index is a filter and
  // search.cpp tests each candidate with the exact match (search_match.hpp). Contentless: the
  // text lives once, in `records`. records_fts_state.indexed_to is the indexer's watermark: the
  // index holds exactly the records with id <= indexed_to, and a search reads those above it
  // directly. A deleted record leaves the index in the deleting statement (FTS5's 'delete' needs
  // the values it indexed, which the trigger has as old.*); one above the watermark was never in it.
  static constexpr const char* index = R"sql(
CREATE VIRTUAL TABLE IF NOT EXISTS records_fts USING fts5(
  span_name, message, attributes, exception_type, exception_message,
  content = '', detail = none, tokenize = 'trigram');
CREATE TABLE IF NOT EXISTS records_fts_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  indexed_to INTEGER NOT NULL);
INSERT OR IGNORE INTO records_fts_state (id, indexed_to) VALUES (1, 0);
CREATE TRIGGER IF NOT EXISTS records_fts_delete AFTER DELETE ON records
WHEN old.id <= (SELECT indexed_to FROM records_fts_state) BEGIN
  INSERT INTO records_fts(records_fts, rowid, span_name, message, attributes, exception_type, exception_message)
  VALUES ('delete', old.id, old.span_name, old.message, old.attributes, old.exception_type, old.exception_message);
END;
)sql";
  if (!exec(db, "BEGIN IMMEDIATE", error)) return false;
  auto fail = [&] {
    std::string ignored;
    exec(db, "ROLLBACK", ignored);
    return false;
  };
  // The index as the version before kept it (external content with positions, filled by an
  // insert trigger in every ingest transaction), or a part of one: dropped, and made anew.
  bool complete = schema_has(db, "records_fts", error) && schema_has(db, "records_fts_state", error) &&
                  !schema_has(db, "records_fts_insert", error);
  if (!error.empty()) return fail();
  if (!complete) {
    status.replaced = schema_has(db, "records_fts", error);
    if (!exec(db,
              "DROP TRIGGER IF EXISTS records_fts_insert; DROP TRIGGER IF EXISTS records_fts_delete; "
              "DROP TABLE IF EXISTS records_fts; DROP TABLE IF EXISTS records_fts_state;",
              error)) {
      return fail();
    }
  }
  if (!exec(db, index, error)) return fail();
  if (!complete) {
    status.created = true;
    status.unindexed = single_int(db, "SELECT count(*) FROM records", error);
  } else {
    status.unindexed =
        single_int(db, "SELECT count(*) FROM records WHERE id > (SELECT indexed_to FROM records_fts_state)", error);
  }
  if (!error.empty() || !exec(db, "COMMIT", error)) return fail();
  return true;
}

namespace {

thread_local std::string denial;

bool one_of(const char* name, std::initializer_list<std::string_view> names) {
  if (name == nullptr) return false;
  std::string_view n(name);
  for (auto candidate : names) {
    if (n.size() == candidate.size() && std::equal(n.begin(), n.end(), candidate.begin(), [](char a, char b) {
          return (a >= 'A' && a <= 'Z' ? a - 'A' + 'a' : a) == b;
        })) {
      return true;
    }
  }
  return false;
}

// Runs while a statement is prepared, on the preparing thread. Allow-list: anything not named
// here is refused, so actions SQLite adds later are refused too.
int authorize(void*, int action, const char* a, const char* b, const char*, const char*) {
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    case SQLITE_UPDATE:
      // Table-valued functions (json_each, pragma_table_info) read the schema through an
      // "update" of sqlite_master while the statement is prepared. A real UPDATE of it is still
      // refused: the statement would not be read-only (run_query), the connection is
      // query_only, and the file is open read-only.
      if (one_of(a, {"sqlite_master", "sqlite_schema"})) return SQLITE_OK;
      denial = "attempt to write a readonly database";
      return SQLITE_DENY;
    case SQLITE_FUNCTION:
      // `b` is the function's name.
      if (one_of(b, {"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit"})) {
        denial = std::string("the function ") + b + "() is not allowed here";
        return SQLITE_DENY;
      }
      return SQLITE_OK;
    case SQLITE_PRAGMA:
      // `a` is the pragma, `b` its argument: schema pragmas that only read, without one, and
      // their table-valued forms (pragma_table_info('records')).
      if (one_of(a, {"table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
                     "foreign_key_list", "collation_list", "function_list", "pragma_list", "compile_options"})) {
        return SQLITE_OK;
      }
      // FTS5 reads PRAGMA data_version (no argument: it only reads) when it opens the search
      // index (records_fts).
      if (one_of(a, {"data_version"}) && b == nullptr) return SQLITE_OK;
      denial = std::string("PRAGMA ") + (a ? a : "") +
               " is not allowed here (allowed: table_info, table_xinfo, table_list, index_list, index_info, "
               "index_xinfo, foreign_key_list, collation_list, function_list, pragma_list, compile_options)";
      return SQLITE_DENY;
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
      denial = "transactions (BEGIN, COMMIT, SAVEPOINT...) are not allowed: each query runs on its own";
      return SQLITE_DENY;
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
      denial = "ATTACH is not allowed: only the logfire-cpp database is readable here";
      return SQLITE_DENY;
    default:
      denial = "attempt to write a readonly database";
      return SQLITE_DENY;
  }
}

}  // namespace

void restrict_to_reading(sqlite3* db) {
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
  sqlite3_limit(db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 1000);
  sqlite3_exec(db, "PRAGMA query_only = 1", nullptr, nullptr, nullptr);
  sqlite3_set_authorizer(db, authorize, nullptr);
}

bool reader_is_clean(sqlite3* db) {
  return sqlite3_get_autocommit(db) != 0 && sqlite3_next_stmt(db, nullptr) == nullptr;
}

std::string take_denial() {
  return std::exchange(denial, std::string());
}

db_handle open_read_only(const std::string& path, std::string& error, const std::string& uri) {
  if (uri.empty()) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
      error = "no database at " + path +
              " (start `logfire-cpp serve` to create it, or name another with --db or LOGFIRE_LOCAL_DB)";
      return nullptr;
    }
  }
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | (uri.empty() ? 0 : SQLITE_OPEN_URI);
  int rc = sqlite3_open_v2(uri.empty() ? path.c_str() : uri.c_str(), &raw, flags, nullptr);
  db_handle db(raw);
  if (rc != SQLITE_OK) {
    error = "cannot open " + path + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
    return nullptr;
  }
  sqlite3_busy_timeout(db.get(), 5000);
  sqlite3_extended_result_codes(db.get(), 1);
  // Touch the schema now so a file that is not a database, or not ours, is named at once.
  sqlite3_stmt* probe = nullptr;
  rc = sqlite3_prepare_v2(db.get(), "SELECT 1 FROM records LIMIT 0", -1, &probe, nullptr);
  sqlite3_finalize(probe);
  if (rc != SQLITE_OK) {
    error = path + " is not a logfire-cpp database: " + sqlite3_errmsg(db.get());
    return nullptr;
  }
  sqlite3_exec(db.get(), "PRAGMA mmap_size = 268435456", nullptr, nullptr, nullptr);  // best effort
  restrict_to_reading(db.get());
  return db;
}

std::optional<std::int64_t> parse_timestamp(std::string_view t) {
  // YYYY-MM-DD HH:MM:SS (19 chars) then optional .f{1,9}; a 'T' separator and a 'Z' are accepted.
  if (t.size() < 19) return std::nullopt;
  auto num = [&](std::size_t pos, std::size_t n, int& out) {
    out = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
      out = out * 10 + (t[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, s;
  if (!num(0, 4, y) || t[4] != '-' || !num(5, 2, mo) || t[7] != '-' || !num(8, 2, d) ||
      (t[10] != ' ' && t[10] != 'T') || !num(11, 2, h) || t[13] != ':' || !num(14, 2, mi) || t[16] != ':' ||
      !num(17, 2, s)) {
    return std::nullopt;
  }
  std::int64_t frac_ns = 0;
  std::size_t pos = 19;
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    std::int64_t scale = 100'000'000;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
      frac_ns += (t[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  std::time_t secs = timegm(&tm);
  return static_cast<std::int64_t>(secs) * 1'000'000'000 + frac_ns;
}

std::string column_text(sqlite3_stmt* s, int col) {
  const auto* p = sqlite3_column_text(s, col);
  if (p == nullptr) return {};
  return {reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s, col))};
}

}  // namespace logfire::backend
