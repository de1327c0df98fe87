#include "search.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "db.hpp"
#include "json.hpp"
#include "rows.hpp"
#include "search_match.hpp"
#include "text.hpp"

namespace logfire::backend {
namespace {

constexpr const char* kColumns =
    "id, start_timestamp, duration, trace_id, span_id, coalesce(parent_span_id, ''), kind, level, "
    "coalesce(service_name, ''), coalesce(span_name, ''), coalesce(message, ''), coalesce(tags, '[]'), "
    "coalesce(attributes, '{}'), is_exception, coalesce(exception_type, ''), coalesce(exception_message, '')";

record_summary read_row(sqlite3_stmt* s) {
  record_summary r;
  r.id = sqlite3_column_int64(s, 0);
  r.start_timestamp = column_text(s, 1);
  if (sqlite3_column_type(s, 2) != SQLITE_NULL) r.duration = sqlite3_column_double(s, 2);
  r.trace_id = column_text(s, 3);
  r.span_id = column_text(s, 4);
  r.parent_span_id = column_text(s, 5);
  r.kind = column_text(s, 6);
  r.level = sqlite3_column_int(s, 7);
  r.service_name = column_text(s, 8);
  r.span_name = column_text(s, 9);
  r.message = column_text(s, 10);
  r.tags = column_text(s, 11);
  r.attributes = column_text(s, 12);
  r.is_exception = sqlite3_column_int(s, 13) != 0;
  r.exception_type = column_text(s, 14);
  r.exception_message = column_text(s, 15);
  return r;
}

// A LIKE pattern matching `text` anywhere, with LIKE's own wildcards escaped by '\'.
std::string like_pattern(std::string_view text) {
  std::string p = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') p += '\\';
    p += c;
  }
  p += '%';
  return p;
}

// Characters (UTF-8 code points) in `text`: the trigram index needs at least three.
std::size_t characters(std::string_view text) {
  return static_cast<std::size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

void bind_text(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

// The search index's watermark: it holds exactly the records with id <= this. None when the
// database has no index (one written before it existed, until `serve` opens it, or one with
// the index in an earlier form): its searches read every record.
std::optional<std::int64_t> indexed_to(sqlite3* db) {
  std::string ignored;
  auto s = prepare(db, "SELECT indexed_to FROM records_fts_state", ignored);
  if (!s || sqlite3_step(s.get()) != SQLITE_ROW) return std::nullopt;
  return sqlite3_column_int64(s.get(), 0);
}

// Candidates in the index from which a text counts as frequent (also: the newest records beyond
// the index that are looked at for it).
constexpr int kFrequentMatches = 5000;

// Whether the index finds at least kFrequentMatches candidates for the text (stopping there).
// Sets `error` (and returns true) when SQLite fails.
bool frequent_in_index(sqlite3* db, const text_matcher& m, std::string& error) {
  auto s =
      prepare(db, "SELECT count(*) FROM (SELECT rowid FROM records_fts WHERE records_fts MATCH ?1 LIMIT ?2)", error);
  if (!s) return true;
  bind_text(s.get(), 1, m.index_query());
  sqlite3_bind_int(s.get(), 2, kFrequentMatches);
  if (sqlite3_step(s.get()) != SQLITE_ROW) {
    error = sqlite3_errmsg(db);
    return true;
  }
  return sqlite3_column_int(s.get(), 0) >= kFrequentMatches;
}

// Whether more than `limit` of the newest kFrequentMatches records beyond the index match
// (`filters` with the text, bound by `bind`). Sets `error` (and returns true) when SQLite fails.
bool frequent_beyond_index(sqlite3* db, const std::string& filters, const std::function<void(sqlite3_stmt*)>& bind,
                           std::size_t limit, std::string& error) {
  auto s = prepare(db,
                   "SELECT count(*) FROM (SELECT 1 FROM records NOT INDEXED WHERE id > max((SELECT indexed_to FROM "
                   "records_fts_state), (SELECT max(id) FROM records) - " +
                       std::to_string(kFrequentMatches) + ")" + filters + " LIMIT ?5)",
                   error);
  if (!s) return true;
  bind(s.get());
  if (sqlite3_step(s.get()) != SQLITE_ROW) {
    error = sqlite3_errmsg(db);
    return true;
  }
  return sqlite3_column_int64(s.get(), 0) > static_cast<std::int64_t>(limit);
}

}  // namespace

std::string_view level_name(int level) {
  if (level >= 21) return "fatal";
  if (level >= 17) return "error";
  if (level >= 13) return "warn";
  if (level >= 10) return "notice";
  if (level >= 9) return "info";
  if (level >= 5) return "debug";
  return "trace";
}

bool is_trace_id(std::string_view id) {
  return id.size() == 32 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

namespace {

// The statement of a search: `select` (a list of columns) of the records matching `q`, newest
// first, at most `row_limit` (the list must hold start_timestamp, the order of a compound
// statement being by one of its columns). `wanted` is how many matches the caller needs, which decides
// between the index's candidates and the newest-first scan for a frequent text. The statement
// points at `matcher`, which must outlive it.
bool prepare_search(sqlite3* db, const search_query& q, const char* select, std::size_t wanted, std::int64_t row_limit,
                    text_matcher& matcher, stmt_handle& out, std::string& error) {
  if (q.text.size() > kMaxSearchText) {
    error = "search text longer than " + std::to_string(kMaxSearchText) + " bytes";
    return false;
  }
  // Shorter than three characters: a LIKE scan, newest first through the start_timestamp index
  // (one that matches often stops after `limit` rows; one that matches rarely reads the time
  // range). Three or more: the exact match of the trigram index (search_match.hpp), on the
  // index's candidates and on the records above its watermark, which the indexer has not
  // reached yet; or, for a text that many records contain, on every record newest first.
  enum class plan : std::uint8_t { everything, like_scan, match_scan, match_indexed };
  plan how = q.text.empty() ? plan::everything : plan::like_scan;
  error.clear();
  if (how == plan::like_scan && characters(q.text) >= kMinIndexedSearch) {
    if (!matcher.open(db, q.text, error) || !register_search_match(db, error)) return false;
    if (matcher.indexable()) how = indexed_to(db) ? plan::match_indexed : plan::match_scan;
  }
  std::string filters;
  if (q.service) filters += " AND service_name = ?2";
  if (q.since_ns) filters += " AND start_timestamp >= ?3";
  if (q.min_level > 0) filters += " AND level >= ?4";
  // The text last: SQLite tests the terms in order, and the filters are cheaper.
  if (how == plan::match_indexed || how == plan::match_scan) {
    filters += " AND logfire_search_match(?6, span_name, message, attributes, exception_type, exception_message)";
  } else if (how == plan::like_scan) {
    filters +=
        " AND (span_name LIKE ?1 ESCAPE '\\' OR message LIKE ?1 ESCAPE '\\' OR attributes LIKE ?1 ESCAPE '\\'"
        " OR exception_message LIKE ?1 ESCAPE '\\' OR exception_type LIKE ?1 ESCAPE '\\')";
  }
  auto bind = [&](sqlite3_stmt* s, std::int64_t limit) {
    if (how == plan::match_indexed) bind_text(s, 1, matcher.index_query());
    if (how == plan::like_scan) bind_text(s, 1, like_pattern(q.text));
    if (q.service) bind_text(s, 2, *q.service);
    if (q.since_ns) bind_text(s, 3, format_timestamp(*q.since_ns));
    if (q.min_level > 0) sqlite3_bind_int(s, 4, q.min_level);
    sqlite3_bind_int64(s, 5, limit);
    if (how == plan::match_indexed || how == plan::match_scan) {
      sqlite3_bind_pointer(s, 6, &matcher, kMatcherPointerType, nullptr);
    }
  };
  // The records above the watermark, in id order (a range of the table, not the time index).
  const std::string beyond_index = std::string("SELECT ") + select +
                                   " FROM records NOT INDEXED WHERE id > (SELECT indexed_to FROM records_fts_state)";
  if (how == plan::match_indexed) {
    // Many records match: reading them all and sorting them costs more (seconds over 1 M
    // records) than the newest-first scan, which stops after `limit` matches. Counted among
    // the index's candidates, and among the newest records beyond the index.
    bool frequent =
        frequent_in_index(db, matcher, error) ||
        (error.empty() &&
         frequent_beyond_index(
             db, filters, [&](sqlite3_stmt* s) { bind(s, static_cast<std::int64_t>(wanted) + 1); }, wanted, error));
    if (!error.empty()) return false;
    if (frequent) how = plan::match_scan;
  }
  std::string sql = std::string("SELECT ") + select + " FROM records WHERE 1";
  if (how == plan::match_indexed) {
    // The index's candidates and the records beyond it, in one statement: one snapshot of the
    // index and its watermark.
    sql += " AND id IN (SELECT rowid FROM records_fts WHERE records_fts MATCH ?1)" + filters + " UNION ALL " +
           beyond_index + filters;
  } else {
    sql += filters;
  }
  sql += " ORDER BY start_timestamp DESC LIMIT ?5";
  out = prepare(db, sql, error);
  if (!out) return false;
  bind(out.get(), row_limit);
  return true;
}

}  // namespace

bool search_records(sqlite3* db, const search_query& q, std::vector<record_summary>& out, bool& truncated,
                    std::string& error) {
  text_matcher matcher;
  stmt_handle s;
  if (!prepare_search(db, q, kColumns, q.limit, static_cast<std::int64_t>(q.limit) + 1, matcher, s, error))
    return false;
  out.clear();
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(read_row(s.get()));
  if (rc != SQLITE_DONE) {
    error = sqlite3_errmsg(db);
    return false;
  }
  truncated = out.size() > q.limit;
  if (truncated) out.resize(q.limit);
  return true;
}

bool search_trace_ids(sqlite3* db, const search_query& q, std::size_t max_traces, std::vector<std::string>& out,
                      std::string& error) {
  text_matcher matcher;
  stmt_handle s;
  if (!prepare_search(db, q, "trace_id, start_timestamp", max_traces, kMaxTraceSearchRecords, matcher, s, error))
    return false;
  out.clear();
  std::unordered_set<std::string> seen;
  int rc = SQLITE_DONE;
  while (out.size() < max_traces && (rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    std::string id = column_text(s.get(), 0);
    if (seen.insert(id).second) out.push_back(std::move(id));
  }
  if (out.size() < max_traces && rc != SQLITE_DONE) {
    error = sqlite3_errmsg(db);
    return false;
  }
  return true;
}

bool records_after(sqlite3* db, std::int64_t after_id, std::size_t limit, int min_level,
                   const std::optional<std::string>& service, std::vector<record_summary>& out, std::string& error) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM records WHERE id > ?1 AND level >= ?2";
  if (service) sql += " AND service_name = ?3";
  sql += " ORDER BY id LIMIT ?4";
  auto s = prepare(db, sql, error);
  if (!s) return false;
  sqlite3_bind_int64(s.get(), 1, after_id);
  sqlite3_bind_int(s.get(), 2, min_level);
  if (service) bind_text(s.get(), 3, *service);
  sqlite3_bind_int64(s.get(), 4, static_cast<std::int64_t>(limit));
  out.clear();
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(read_row(s.get()));
  if (rc != SQLITE_DONE) {
    error = sqlite3_errmsg(db);
    return false;
  }
  return true;
}

bool trace_tree(sqlite3* db, std::string_view trace_id, std::size_t limit, std::vector<record_summary>& out,
                bool& truncated, std::string& error) {
  auto s = prepare(db,
                   std::string("SELECT ") + kColumns +
                       " FROM records WHERE trace_id = ?1 ORDER BY start_timestamp, kind = 'log', id LIMIT ?2",
                   error);
  if (!s) return false;
  std::string lower = text::lower(trace_id);
  bind_text(s.get(), 1, lower);
  sqlite3_bind_int64(s.get(), 2, static_cast<std::int64_t>(limit) + 1);
  std::vector<record_summary> rows;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) rows.push_back(read_row(s.get()));
  if (rc != SQLITE_DONE) {
    error = sqlite3_errmsg(db);
    return false;
  }
  truncated = rows.size() > limit;
  if (truncated) rows.resize(limit);

  // Children by parent span id, in start order (the rows are sorted already). A log's span id is
  // its own, so only spans and pending spans can be parents.
  std::unordered_map<std::string, std::size_t> span_index;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].kind != "log") span_index.emplace(rows[i].span_id, i);
  }
  std::unordered_map<std::size_t, std::vector<std::size_t>> children;
  std::vector<std::size_t> roots;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto p = rows[i].parent_span_id.empty() ? span_index.end() : span_index.find(rows[i].parent_span_id);
    if (p == span_index.end() || p->second == i) {
      roots.push_back(i);
    } else {
      children[p->second].push_back(i);
    }
  }
  // Depth first with an explicit stack: a trace may nest thousands of levels deep. A cycle of
  // parent links (hostile data) leaves its rows unreached; they are appended as roots.
  out.clear();
  out.reserve(rows.size());
  std::vector<bool> seen(rows.size(), false);
  std::vector<std::pair<std::size_t, int>> stack;
  auto walk = [&](std::size_t root) {
    stack.emplace_back(root, 0);
    while (!stack.empty()) {
      auto [i, depth] = stack.back();
      stack.pop_back();
      if (seen[i]) continue;
      seen[i] = true;
      rows[i].depth = depth;
      out.push_back(rows[i]);
      auto c = children.find(i);
      if (c == children.end()) continue;
      for (auto it = c->second.rbegin(); it != c->second.rend(); ++it) stack.emplace_back(*it, depth + 1);
    }
  };
  for (std::size_t r : roots) walk(r);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (!seen[i]) walk(i);
  }
  return true;
}

void append_record_json(std::string& out, const record_summary& r, bool with_depth) {
  auto field = [&](const char* name, std::string_view value, bool comma = true) {
    if (comma) out += ',';
    json::append_string(out, name);
    out += ':';
    json::append_string(out, value);
  };
  // JSON columns are embedded as JSON when they parse (they always do when serve wrote them).
  auto embedded = [&](const char* name, const std::string& value, const char* fallback) {
    out += ',';
    json::append_string(out, name);
    out += ':';
    out += json::parse(value, 64) ? value : fallback;
  };
  out += '{';
  field("start_timestamp", r.start_timestamp, false);
  out += ",\"duration\":";
  if (r.duration) {
    json::append_double(out, *r.duration);
  } else {
    out += "null";
  }
  field("trace_id", r.trace_id);
  field("span_id", r.span_id);
  out += ",\"parent_span_id\":";
  if (r.parent_span_id.empty()) {
    out += "null";
  } else {
    json::append_string(out, r.parent_span_id);
  }
  field("kind", r.kind);
  out += ",\"level\":";
  json::append_int(out, r.level);
  field("level_name", level_name(r.level));
  field("service_name", r.service_name);
  field("span_name", r.span_name);
  field("message", r.message);
  embedded("tags", r.tags, "[]");
  embedded("attributes", r.attributes, "{}");
  out += r.is_exception ? ",\"exception\":{" : ",\"exception\":null";
  if (r.is_exception) {
    field("type", r.exception_type, false);
    field("message", r.exception_message);
    out += '}';
  }
  if (with_depth) {
    out += ",\"depth\":";
    json::append_int(out, r.depth);
  }
  out += '}';
}

std::string records_to_json(const std::vector<record_summary>& records, bool truncated, bool with_depth) {
  std::string out = "{\"records\":[";
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (i > 0) out += ',';
    append_record_json(out, records[i], with_depth);
  }
  out += "],\"truncated\":";
  out += truncated ? "true" : "false";
  out += '}';
  return out;
}

}  // namespace logfire::backend
