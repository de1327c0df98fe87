// Finding records: a text search with filters (`logfire-cpp search`, the MCP server's `search`
// tool) and one trace as a tree (`logfire-cpp trace`, MCP's `get_trace`). Both return the same
// record shape, which records_to_json() writes in the documented, stable JSON form
// (docs/local-backend.md, "JSON output").
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
};
constexpr std::size_t kMaxSearchText = 400;
// Texts of at least this many characters are looked up in the trigram index (and the records
// above its watermark); shorter ones scan.
constexpr std::size_t kMinIndexedSearch = 3;

// Newest first. Fails with SQLite's message, or for a search text over kMaxSearchText.
bool search_records(sqlite3* db, const search_query& q, std::vector<record_summary>& out, bool& truncated,
                    std::string& error);

// The traces of the records matching `q` (its text, service, since and level; not its limit),
// by their newest matching record, newest first: at most `max_traces` distinct trace ids, from
// at most kMaxTraceSearchRecords matching records (the trace list's `q`, traces.hpp). The same
// search as search_records(), records the indexer has not reached yet included.
bool search_trace_ids(sqlite3* db, const search_query& q, std::size_t max_traces, std::vector<std::string>& out,
                      std::string& error);
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
// One record as a JSON object (the elements of records_to_json's list; `tail --json` lines).
void append_record_json(std::string& out, const record_summary& r, bool with_depth);

// "trace", "debug", "info", "notice", "warn", "error", "fatal" for Logfire's level numbers
// (the nearest name at or below `level`).
[[nodiscard]] std::string_view level_name(int level);

// Whether `id` is a 32-digit hex trace id (either case).
[[nodiscard]] bool is_trace_id(std::string_view id);

}  // namespace logfire::backend
