#include "traces.hpp"

#include <algorithm>
#include <cstdio>
#include <unordered_set>

#include "db.hpp"
#include "json.hpp"
#include "rows.hpp"
#include "search.hpp"

namespace logfire::backend {

namespace {

// Up to `scan_limit` distinct trace ids, newest first, of records matching q's SQL filters. The
// scan is bounded (100 000 records), so a huge trace cannot make the list slow. A trace's start
// is its earliest record's: every record of a trace that started at or after `since` starts
// there too, and one that started before `until` has a record that does.
bool newest_trace_ids(sqlite3* db, const trace_query& q, std::size_t scan_limit, std::vector<std::string>& order,
                      std::string& error) {
  std::string sql = "SELECT trace_id FROM records WHERE 1";
  if (q.errors_only) sql += " AND level >= 17";
  if (!q.service.empty()) sql += " AND service_name = ?1";
  if (q.since_ns) sql += " AND start_timestamp >= ?2";
  if (q.until_ns) sql += " AND start_timestamp < ?3";
  sql += " ORDER BY start_timestamp DESC LIMIT 100000";
  auto ids = prepare(db, sql.c_str(), error);
  if (!ids) return false;
  if (!q.service.empty())
    sqlite3_bind_text(ids.get(), 1, q.service.data(), static_cast<int>(q.service.size()), SQLITE_STATIC);
  // Stored timestamps have whole microseconds: `since` rounded down and `until` rounded up to
  // one compare exactly.
  if (q.since_ns) sqlite3_bind_text(ids.get(), 2, format_timestamp(*q.since_ns).c_str(), -1, SQLITE_TRANSIENT);
  if (q.until_ns) {
    const std::int64_t below = ((*q.until_ns % 1000) + 1000) % 1000;
    const std::int64_t up = below == 0 ? *q.until_ns : *q.until_ns - below + 1000;
    sqlite3_bind_text(ids.get(), 3, format_timestamp(up).c_str(), -1, SQLITE_TRANSIENT);
  }
  std::unordered_set<std::string> seen;
  while (order.size() < scan_limit) {
    int rc = sqlite3_step(ids.get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      error = sqlite3_errmsg(db);
      return false;
    }
    std::string id = column_text(ids.get(), 0);
    if (seen.insert(id).second) order.push_back(std::move(id));
  }
  return true;
}

// With a text: the traces of the records the search finds (search.hpp), with the same record
// filters; `until` is checked on each trace (its matching record may come later).
bool searched_trace_ids(sqlite3* db, const trace_query& q, std::size_t scan_limit, std::vector<std::string>& order,
                        std::optional<search_cursor>& next, std::string& error) {
  search_query search;
  search.text = q.text;
  if (!q.service.empty()) search.service = q.service;
  search.since_ns = q.since_ns;
  search.min_level = q.errors_only ? 17 : 0;
  search.before = q.before;
  search.one_window = q.one_window;
  search.window = q.window;
  return search_trace_ids(db, search, scan_limit, order, next, error);
}

// One trace's counts and times (`agg`) and its root (`root`), both bound to the id as ?1.
void summarize(sqlite3_stmt* agg, sqlite3_stmt* root, const std::string& id, trace_summary& t) {
  t.trace_id = id;
  sqlite3_bind_text(agg, 1, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
  if (sqlite3_step(agg) == SQLITE_ROW) {
    t.start_timestamp = column_text(agg, 0);
    t.start_ns = parse_timestamp(t.start_timestamp).value_or(0);
    t.end_ns = parse_timestamp(column_text(agg, 1)).value_or(t.start_ns);
    t.duration_s = static_cast<double>(t.end_ns - t.start_ns) / 1e9;
    t.span_count = sqlite3_column_int64(agg, 2);
    t.log_count = sqlite3_column_int64(agg, 3);
    t.error_count = sqlite3_column_int64(agg, 4);
    t.pending_count = sqlite3_column_int64(agg, 5);
    t.max_level = sqlite3_column_int(agg, 6);
  }
  sqlite3_reset(agg);
  sqlite3_bind_text(root, 1, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
  if (sqlite3_step(root) == SQLITE_ROW) {
    t.root_span_name = column_text(root, 0);
    t.root_message = column_text(root, 1);
    t.service_name = column_text(root, 2);
  }
  sqlite3_reset(root);
}

}  // namespace

bool recent_traces(sqlite3* db, const trace_query& q, std::vector<trace_summary>& out,
                   std::optional<search_cursor>& next, std::string& error) {
  out.clear();
  next.reset();
  std::vector<std::string> order;
  if (q.text.size() > kMaxSearchText) {
    error = "search text longer than " + std::to_string(kMaxSearchText) + " bytes";
    return false;
  }
  // A duration or a time range applies to whole traces, after summing: look at more candidates
  // then (they are summed only until `limit` pass).
  const bool whole_trace_filters = q.min_duration_s > 0 || q.since_ns || q.until_ns;
  const std::size_t scan = whole_trace_filters ? std::min<std::size_t>(q.limit * 20, 20000) : q.limit;
  if (!(q.text.empty() ? newest_trace_ids(db, q, scan, order, error)
                       : searched_trace_ids(db, q, scan, order, next, error)))
    return false;
  auto agg = prepare(db,
                     "SELECT min(start_timestamp), max(coalesce(end_timestamp, start_timestamp)), "
                     "sum(kind != 'log'), sum(kind = 'log'), sum(level >= 17), sum(kind = 'pending_span'), "
                     "max(level) FROM records WHERE trace_id = ?1",
                     error);
  // The root: the earliest record whose parent is not in this trace (a remote parent counts as
  // absent), spans before logs at the same instant.
  auto root = prepare(db,
                      "SELECT span_name, message, coalesce(service_name, '') FROM records r WHERE trace_id = ?1 AND "
                      "(parent_span_id IS NULL OR NOT EXISTS (SELECT 1 FROM records p WHERE p.trace_id = ?1 AND "
                      "p.span_id = r.parent_span_id)) ORDER BY start_timestamp, kind = 'log', id LIMIT 1",
                      error);
  if (!agg || !root) return false;
  for (const auto& id : order) {
    trace_summary t;
    summarize(agg.get(), root.get(), id, t);
    if (t.start_timestamp.empty()) continue;  // deleted meanwhile: skip
    if (q.min_duration_s > 0 && t.duration_s < q.min_duration_s) continue;
    if ((q.since_ns && t.start_ns < *q.since_ns) || (q.until_ns && t.start_ns >= *q.until_ns)) continue;
    out.push_back(std::move(t));
    if (out.size() >= q.limit) break;
  }
  if (out.size() >= q.limit) next.reset();  // the list is full: nothing to go on with
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.start_ns > b.start_ns; });
  return true;
}

std::string traces_to_json(const std::vector<trace_summary>& traces) {
  std::string s = "{\"traces\":[";
  bool first = true;
  for (const auto& t : traces) {
    if (!first) s += ',';
    first = false;
    s += "{\"trace_id\":";
    json::append_string(s, t.trace_id);
    s += ",\"start_timestamp\":";
    json::append_string(s, t.start_timestamp);
    s += ",\"duration\":";
    json::append_double(s, t.duration_s);
    s += ",\"span_count\":";
    json::append_int(s, t.span_count);
    s += ",\"log_count\":";
    json::append_int(s, t.log_count);
    s += ",\"error_count\":";
    json::append_int(s, t.error_count);
    s += ",\"pending_count\":";
    json::append_int(s, t.pending_count);
    s += ",\"max_level\":";
    json::append_int(s, t.max_level);
    s += ",\"root_span_name\":";
    json::append_string(s, t.root_span_name);
    s += ",\"root_message\":";
    json::append_string(s, t.root_message);
    s += ",\"service_name\":";
    json::append_string(s, t.service_name);
    s += '}';
  }
  s += "]}";
  return s;
}

std::string traces_to_json(const std::vector<trace_summary>& traces, const std::optional<search_cursor>& next) {
  return with_next(traces_to_json(traces), next);
}

namespace {

// The index of the result column `name` (-1 when absent).
int column_index(sqlite3_stmt* s, std::string_view name) {
  for (int i = 0, n = sqlite3_column_count(s); i < n; ++i) {
    if (name == sqlite3_column_name(s, i)) return i;
  }
  return -1;
}

// One row of `SELECT * FROM records` as a JSON object; the JSON columns are embedded as JSON.
void append_record(std::string& out, sqlite3_stmt* s) {
  static const std::unordered_set<std::string_view> json_columns = {
      "tags", "attributes", "otel_resource_attributes", "otel_links", "otel_events", "log_body"};
  out += '{';
  for (int i = 0, n = sqlite3_column_count(s); i < n; ++i) {
    if (i > 0) out += ',';
    std::string_view name = sqlite3_column_name(s, i);
    json::append_string(out, name);
    out += ':';
    switch (sqlite3_column_type(s, i)) {
      case SQLITE_NULL:
        out += "null";
        break;
      case SQLITE_INTEGER:
        json::append_int(out, sqlite3_column_int64(s, i));
        break;
      case SQLITE_FLOAT:
        json::append_double(out, sqlite3_column_double(s, i));
        break;
      default: {
        std::string text = column_text(s, i);
        if (json_columns.count(name) && json::is_valid(text)) {
          out += text;
        } else {
          json::append_string(out, text);
        }
      }
    }
  }
  out += '}';
}

}  // namespace

bool trace_to_json(sqlite3* db, std::string_view trace_id, std::string& out, std::string& error, std::size_t max_bytes,
                   const std::optional<search_cursor>& after) {
  std::string sql = "SELECT * FROM records WHERE trace_id = ?1";
  if (after) sql += " AND start_timestamp >= ?2 AND (start_timestamp > ?2 OR id > ?3)";
  sql += " ORDER BY start_timestamp, id LIMIT " + std::to_string(kTracePageRecords + 1);
  auto s = prepare(db, sql, error);
  if (!s) return false;
  sqlite3_bind_text(s.get(), 1, trace_id.data(), static_cast<int>(trace_id.size()), SQLITE_STATIC);
  if (after) {
    sqlite3_bind_text(s.get(), 2, after->start_timestamp.data(), static_cast<int>(after->start_timestamp.size()),
                      SQLITE_STATIC);
    sqlite3_bind_int64(s.get(), 3, after->id);
  }
  out = "{\"trace_id\":";
  json::append_string(out, trace_id);
  out += ",\"records\":[";
  int rows = 0;
  bool truncated = false;
  search_cursor last;  // the last record given: where the next page starts
  const int start_column = column_index(s.get(), "start_timestamp");
  const int id_column = column_index(s.get(), "id");
  while (true) {
    int rc = sqlite3_step(s.get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      error = sqlite3_errmsg(db);
      return false;
    }
    // A page holds one record at least, so that paging always moves on.
    if (rows > 0 && (rows == kTracePageRecords || out.size() >= max_bytes)) {
      truncated = true;
      break;
    }
    if (rows++ > 0) out += ',';
    append_record(out, s.get());
    last = {column_text(s.get(), start_column), sqlite3_column_int64(s.get(), id_column)};
  }
  out += "],\"truncated\":";
  out += truncated ? "true" : "false";
  out += '}';
  out = with_next(std::move(out), truncated ? std::optional<search_cursor>(last) : std::nullopt);
  return true;
}

std::string format_duration(double seconds) {
  char buf[32];
  if (seconds >= 1) {
    std::snprintf(buf, sizeof buf, "%.2fs", seconds);
  } else if (seconds >= 1e-3) {
    std::snprintf(buf, sizeof buf, "%.1fms", seconds * 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0fµs", seconds * 1e6);
  }
  return buf;
}

}  // namespace logfire::backend
