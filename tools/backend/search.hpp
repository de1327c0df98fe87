// Finding records: a text search with filters (`logfire-cpp search`, the MCP server's `search`
// tool, the web view's Records and trace list) and one trace as a tree (`logfire-cpp trace`,
// MCP's `get_trace`). Both return the same record shape, which records_to_json() writes in the
// documented, stable JSON form (docs/local-backend.md, "JSON output").
//
//   std::vector<record_summary> found;
//   bool truncated = false;
//   search_records(db, {.text = "timeout", .min_level = 17, .limit = 20}, found, truncated, error);
//   std::cout << records_to_json(found, truncated);
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace logfire::backend {

// One span, log or pending span, with the fields a person or a program reads first.
struct record_summary {
  std::int64_t id = 0;          // arrival order
  std::string start_timestamp;  // UTC text, as stored
  std::optional<double> duration;
  std::string trace_id, span_id, parent_span_id;  // parent empty for a root
  std::string kind;                               // span, log, pending_span
  int level = 9;
  std::string service_name, span_name, message;
  std::string tags = "[]";        // JSON array
  std::string attributes = "{}";  // JSON object
  bool is_exception = false;
  std::string exception_type, exception_message;
  int depth = 0;  // trace_tree(): nesting under the root; search_records(): 0
};

// A place in the newest-first order of records (start_timestamp, then id, both descending):
// where a search that reads one window stopped. As text (the API's `next` and `before`):
// "<start_timestamp>/<id>", e.g. "2026-12-05 10:41:07.120000/812".
struct search_cursor {
  std::string start_timestamp;  // as stored
  std::int64_t id = 0;
};
[[nodiscard]] std::string cursor_text(const search_cursor& c);
// The cursor that cursor_text() wrote, or none for anything else.
[[nodiscard]] std::optional<search_cursor> parse_cursor(std::string_view text);

// Records a window holds: a search that has to read records one by one, newest first (a text
// that many records hold, which the index cannot narrow; a text under three characters; a
// service or level filter), and answers after one window (search_query::one_window), reads at
// most this many: about 0.1 s over the benchmark's records.
constexpr std::size_t kScanWindow = 100'000;

struct search_query {
  // Matched, case-insensitively (for ASCII; for other letters too from kMinIndexedSearch
  // characters, with the trigram index's folding: search_match.hpp), as a substring of the span
  // name, the message, the attributes' JSON text (keys and values) and the exception's type and
  // message; records the indexer has not reached yet alike. Empty: every record. At most
  // kMaxSearchText bytes.
  std::string text;
  std::optional<std::string> service;    // service.name equal to this
  std::optional<std::int64_t> since_ns;  // records that started at or after this (Unix ns)
  int min_level = 0;                     // records at this level or above (17 = error)
  std::size_t limit = 50;                // newest first; more set `truncated`
  std::optional<search_cursor> before;   // only records older than this (a one-window search's `next`)
  // Read one window of a newest-first scan at most: when it holds fewer than `limit` matches
  // and older records remain, the search stops there and says where (`next`). Otherwise (the
  // default) the search reads until `limit` matches are found or every record was read. A
  // search through the index answers whole either way.
  bool one_window = false;
  std::size_t window = kScanWindow;  // records a window holds (tests make it small)
};
constexpr std::size_t kMaxSearchText = 400;
// Texts of at least this many characters are looked up in the trigram index (and the records
// above its watermark); shorter ones scan.
constexpr std::size_t kMinIndexedSearch = 3;

// Newest first. `next` is set when a one-window search stopped before the oldest record (the
// records it did not read are those before `next`). Fails with SQLite's message, or for a
// search text over kMaxSearchText.
bool search_records(sqlite3* db, const search_query& q, std::vector<record_summary>& out, bool& truncated,
                    std::optional<search_cursor>& next, std::string& error);
// The same read to the end (`logfire-cpp search`, MCP's `search`: q.one_window unset).
inline bool search_records(sqlite3* db, const search_query& q, std::vector<record_summary>& out, bool& truncated,
                           std::string& error) {
  std::optional<search_cursor> next;
  return search_records(db, q, out, truncated, next, error);
}

// The traces of the records matching `q` (its text, service, since, level and `before`; not
// its limit), by their newest matching record, newest first: at most `max_traces` distinct
// trace ids, from at most kMaxTraceSearchRecords matching records (the trace list's `q`,
// traces.hpp). The same search as search_records(), records the indexer has not reached yet
// included. With `before`, a trace with a matching record at or after it is left out: the
// answer goes on from the one that gave `before` as its `next`, without repeating it.
bool search_trace_ids(sqlite3* db, const search_query& q, std::size_t max_traces, std::vector<std::string>& out,
                      std::optional<search_cursor>& next, std::string& error);
constexpr std::int64_t kMaxTraceSearchRecords = 100'000;

// Records that arrived after `after_id` (their `id`), oldest first, at most `limit`
// (`logfire-cpp tail --json`). `min_level` and `service` filter as in search_query.
bool records_after(sqlite3* db, std::int64_t after_id, std::size_t limit, int min_level,
                   const std::optional<std::string>& service, std::vector<record_summary>& out, std::string& error);

// The records of one trace in tree order (each parent before its children, siblings by start
// time, logs after a span that starts at the same instant), with their depth; records whose
// parent is missing are shown as roots. At most `limit` records (`truncated` beyond).
bool trace_tree(sqlite3* db, std::string_view trace_id, std::size_t limit, std::vector<record_summary>& out,
                bool& truncated, std::string& error);

// {"records":[{...}],"truncated":false} (see docs/local-backend.md for every field).
[[nodiscard]] std::string records_to_json(const std::vector<record_summary>& records, bool truncated,
                                          bool with_depth = false);
// A JSON object (records_to_json's, traces_to_json's) with "next": the cursor (cursor_text) from
// which a search goes on, or null. The API's answers carry it; the CLI's do not.
[[nodiscard]] std::string with_next(std::string object, const std::optional<search_cursor>& next);
// One record as a JSON object (the elements of records_to_json's list; `tail --json` lines).
void append_record_json(std::string& out, const record_summary& r, bool with_depth);

// "trace", "debug", "info", "notice", "warn", "error", "fatal" for Logfire's level numbers
// (the nearest name at or below `level`).
[[nodiscard]] std::string_view level_name(int level);

// Whether `id` is a 32-digit hex trace id (either case).
[[nodiscard]] bool is_trace_id(std::string_view id);

}  // namespace logfire::backend
