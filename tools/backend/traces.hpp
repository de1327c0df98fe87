// Reading traces back out of `records`: the recent-traces summary (`logfire-cpp traces` and the
// web view's list) and one trace's rows as JSON (the web view's waterfall).
//
//   std::vector<trace_summary> list;
//   if (recent_traces(db, {.limit = 20}, list, error)) print(list);
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "search.hpp"

namespace logfire::backend {

struct trace_summary {
  std::string trace_id;
  std::string start_timestamp;  // UTC text, as stored
  std::int64_t start_ns = 0;
  std::int64_t end_ns = 0;
  double duration_s = 0;
  std::int64_t span_count = 0;  // spans and pending spans
  std::int64_t log_count = 0;
  std::int64_t error_count = 0;    // records at level error (17) or above
  std::int64_t pending_count = 0;  // spans still running
  int max_level = 0;
  std::string root_span_name;
  std::string root_message;
  std::string service_name;
};

// errors_only, service and text select records: a trace is listed when one of its records
// passes all three (as the Records view and `search` find records with the same filters).
struct trace_query {
  std::size_t limit = 20;
  bool errors_only = false;   // only traces with a record at level >= 17
  std::string service{};      // only traces with a record of this service.name (empty: any)
  double min_duration_s = 0;  // only traces lasting at least this (first start to last end)
  // Only traces with a record this search finds (search.hpp's search_query::text: the same
  // match, through the search index and the records beyond it). At most kMaxSearchText bytes.
  std::string text{};
  std::optional<std::int64_t> since_ns{};  // only traces that started at or after this (Unix ns)
  std::optional<std::int64_t> until_ns{};  // only traces that started before this (Unix ns)
  // With `text`: go on from an answer's `next` (traces whose newest matching record is before
  // it), and read one window of records at most (search_query's `before`, `one_window`, `window`).
  std::optional<search_cursor> before{};
  bool one_window = false;
  std::size_t window = kScanWindow;
};

// The most recent traces (by their latest record's start, or with `text` their latest matching
// record's), newest first. `next` is set when a one-window search stopped before finding
// `limit` traces and older records remain: the traces found are all those whose newest matching
// record is in the window, and a query with `before` = `next` lists the next ones. Fails with
// SQLite's message, or for a text over kMaxSearchText.
bool recent_traces(sqlite3* db, const trace_query& q, std::vector<trace_summary>& out,
                   std::optional<search_cursor>& next, std::string& error);
// The same read to the end (`logfire-cpp traces`, MCP: q.one_window unset).
inline bool recent_traces(sqlite3* db, const trace_query& q, std::vector<trace_summary>& out, std::string& error) {
  std::optional<search_cursor> next;
  return recent_traces(db, q, out, next, error);
}

// {"traces":[{"trace_id":..., "start_timestamp":..., "duration":..., ...}]}
[[nodiscard]] std::string traces_to_json(const std::vector<trace_summary>& traces);
// The same with "next" (GET /api/traces): the cursor (cursor_text) from which a search goes on,
// or null.
[[nodiscard]] std::string traces_to_json(const std::vector<trace_summary>& traces,
                                         const std::optional<search_cursor>& next);

// {"trace_id":"...","records":[{<every column>}...],"truncated":false,"next":null}; JSON columns
// (attributes, tags, events...) are embedded as JSON, records by start, then arrival. An
// unknown trace gives an empty "records" list. At most kTracePageRecords records and about
// `max_bytes` of JSON: beyond, "truncated" is true and "next" is the cursor (cursor_text) of the
// last record given, from which a call with `after` goes on (the web view reads a large trace
// in such pages).
bool trace_to_json(sqlite3* db, std::string_view trace_id, std::string& out, std::string& error,
                   std::size_t max_bytes = static_cast<std::size_t>(-1),
                   const std::optional<search_cursor>& after = std::nullopt);
constexpr int kTracePageRecords = 20'000;

// "1.23s", "45.6ms", "789µs".
[[nodiscard]] std::string format_duration(double seconds);

}  // namespace logfire::backend
