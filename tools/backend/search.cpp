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

std::string cursor_text(const search_cursor& c) {
  return c.start_timestamp + "/" + std::to_string(c.id);
}

std::optional<search_cursor> parse_cursor(std::string_view text) {
  // An id of 18 digits at most: it cannot overflow.
  const auto slash = text.rfind('/');
  if (slash == std::string_view::npos || slash + 1 == text.size() || text.size() - slash - 1 > 18) return std::nullopt;
  search_cursor c;
  for (char d : text.substr(slash + 1)) {
    if (d < '0' || d > '9') return std::nullopt;
    c.id = c.id * 10 + (d - '0');
  }
  c.start_timestamp = std::string(text.substr(0, slash));
  if (c.start_timestamp.size() > 40 || !parse_timestamp(c.start_timestamp)) return std::nullopt;
  return c;
}

namespace {

// How a search reads, decided once for all its windows. Shorter than three characters: a LIKE
// scan, newest first through the start_timestamp index (one that matches often stops after
// `limit` rows; one that matches rarely reads every record, window by window). Three or more:
// the exact match of the trigram index (search_match.hpp), on the index's candidates and on the
// records above its watermark, which the indexer has not reached yet; or, for a text that many
// records contain, on every record newest first, window by window.
enum class plan : std::uint8_t { everything, like_scan, match_scan, match_indexed };

struct search_plan {
  plan how = plan::everything;
  std::string filters;    // " AND ..." terms, the text last, on ?1-?4 and ?6 (bind_filters)
  text_matcher matcher;   // the statements point at it
  bool windowed = false;  // read newest first in windows: filters that may reject most records
};

void bind_filters(sqlite3_stmt* s, const search_query& q, search_plan& p) {
  if (p.how == plan::match_indexed) bind_text(s, 1, p.matcher.index_query());
  if (p.how == plan::like_scan) bind_text(s, 1, like_pattern(q.text));
  if (q.service) bind_text(s, 2, *q.service);
  if (q.since_ns) bind_text(s, 3, format_timestamp(*q.since_ns));
  if (q.min_level > 0) sqlite3_bind_int(s, 4, q.min_level);
  if (p.how == plan::match_indexed || p.how == plan::match_scan) {
    sqlite3_bind_pointer(s, 6, &p.matcher, kMatcherPointerType, nullptr);
  }
}

// Decides `p` for `q`. `wanted` is how many matches the caller needs, which decides between the
// index's candidates and the newest-first scan for a frequent text.
bool decide(sqlite3* db, const search_query& q, std::size_t wanted, search_plan& p, std::string& error) {
  if (q.text.size() > kMaxSearchText) {
    error = "search text longer than " + std::to_string(kMaxSearchText) + " bytes";
    return false;
  }
  p.how = q.text.empty() ? plan::everything : plan::like_scan;
  error.clear();
  if (p.how == plan::like_scan && characters(q.text) >= kMinIndexedSearch) {
    if (!p.matcher.open(db, q.text, error) || !register_search_match(db, error)) return false;
    if (p.matcher.indexable()) p.how = indexed_to(db) ? plan::match_indexed : plan::match_scan;
  }
  p.filters.clear();
  if (q.service) p.filters += " AND service_name = ?2";
  if (q.since_ns) p.filters += " AND start_timestamp >= ?3";
  if (q.min_level > 0) p.filters += " AND level >= ?4";
  // The text last: SQLite tests the terms in order, and the filters are cheaper.
  if (p.how == plan::match_indexed || p.how == plan::match_scan) {
    p.filters += " AND logfire_search_match(?6, span_name, message, attributes, exception_type, exception_message)";
  } else if (p.how == plan::like_scan) {
    p.filters +=
        " AND (span_name LIKE ?1 ESCAPE '\\' OR message LIKE ?1 ESCAPE '\\' OR attributes LIKE ?1 ESCAPE '\\'"
        " OR exception_message LIKE ?1 ESCAPE '\\' OR exception_type LIKE ?1 ESCAPE '\\')";
  }
  if (p.how == plan::match_indexed) {
    // Many records match: reading them all and sorting them costs more (seconds over 1 M
    // records) than the newest-first scan, which stops after `limit` matches. Counted among
    // the index's candidates, and among the newest records beyond the index.
    bool frequent = frequent_in_index(db, p.matcher, error) ||
                    (error.empty() && frequent_beyond_index(
                                          db, p.filters,
                                          [&](sqlite3_stmt* s) {
                                            bind_filters(s, q, p);
                                            sqlite3_bind_int64(s, 5, static_cast<std::int64_t>(wanted) + 1);
                                          },
                                          wanted, error));
    if (!error.empty()) return false;
    if (frequent) p.how = plan::match_scan;
  }
  // Windows where the filters may reject most records read one by one. Not for the index's
  // candidates (read whole), nor without a text, service or level (every record in the time
  // range matches: the scan stops after `limit` rows), nor for errors alone (read from their
  // partial index, which holds nothing else).
  p.windowed = p.how == plan::like_scan || p.how == plan::match_scan ||
               (p.how == plan::everything && (q.service || (q.min_level > 0 && q.min_level < 17)));
  return true;
}

// The windows of a one-window answer, in records: a small one first (a frequent text fills
// its page there, and finding where a window ends reads that many entries of the time index),
// then the rest of `window`. 0: no windows (a search read to the end in one statement, which
// finding their ends would only slow down).
class window_steps {
 public:
  explicit window_steps(std::size_t window) : window_(std::max<std::size_t>(window, 1)) {
    size_ = window == 0 ? 0 : std::min(kFirstWindow, window_);
  }
  [[nodiscard]] std::size_t size() const { return size_; }
  // After a window of size() was read and older records remain: moves to the next one; true
  // when the records read add up to whole windows (where a one-window answer stops).
  bool advance() {
    read_ += size_;
    const std::size_t into = read_ % window_;
    size_ = window_ - into;
    return into == 0;
  }

 private:
  static constexpr std::size_t kFirstWindow = 1000;
  std::size_t window_;
  std::size_t size_ = 0;
  std::size_t read_ = 0;
};

// " AND <the record is before `c`>" (in the newest-first order), on ?n (start) and ?n+1 (id);
// "after or at" with `at_or_after`. The range on start_timestamp alone lets SQLite use its index.
std::string cursor_terms(int n, bool at_or_after) {
  const std::string ts = "?" + std::to_string(n);
  const std::string id = "?" + std::to_string(n + 1);
  if (at_or_after) return " AND start_timestamp >= " + ts + " AND (start_timestamp > " + ts + " OR id >= " + id + ")";
  return " AND start_timestamp <= " + ts + " AND (start_timestamp < " + ts + " OR id < " + id + ")";
}

void bind_cursor(sqlite3_stmt* s, int n, const search_cursor& c) {
  bind_text(s, n, c.start_timestamp);
  sqlite3_bind_int64(s, n + 1, c.id);
}

// The oldest record of the window that starts before `before` (or at the newest record), in
// `floor`: the `window`-th record newest first (within q's `since`), read from the time index
// alone. None when no record is older: the window holds them all. With an error level the
// window counts errors, from their partial index (the records a search then reads one by one).
bool window_floor(sqlite3* db, const search_query& q, const std::optional<search_cursor>& before, std::size_t window,
                  std::optional<search_cursor>& floor, std::string& error) {
  const bool errors = q.min_level >= 17;
  std::string sql = std::string("SELECT start_timestamp, id FROM records WHERE ") + (errors ? "level >= 17" : "1");
  if (q.since_ns) sql += " AND start_timestamp >= ?3";
  if (before) sql += cursor_terms(7, false);
  sql += " ORDER BY start_timestamp DESC, id DESC LIMIT 2 OFFSET ?5";
  auto s = prepare(db, sql, error);
  if (!s) return false;
  if (q.since_ns) bind_text(s.get(), 3, format_timestamp(*q.since_ns));
  if (before) bind_cursor(s.get(), 7, *before);
  sqlite3_bind_int64(s.get(), 5, static_cast<std::int64_t>(std::max<std::size_t>(window, 1) - 1));
  floor.reset();
  int rc = sqlite3_step(s.get());
  if (rc == SQLITE_ROW) {
    search_cursor oldest{column_text(s.get(), 0), sqlite3_column_int64(s.get(), 1)};
    rc = sqlite3_step(s.get());
    if (rc == SQLITE_ROW) floor = std::move(oldest);  // and records older than it
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    error = sqlite3_errmsg(db);
    return false;
  }
  return true;
}

// One window of a search: `select` (a list of columns that holds start_timestamp and id, the
// order of a compound statement being by its columns) of the records matching `p` before
// `before`, newest first, at most `row_limit`, each given to `row` until it returns false. A
// windowed plan reads at most `window` records (0: all) and sets `floor` to the oldest of them
// when older ones remain (the next window starts before it); the index's plan reads its
// candidates whole.
bool read_window(sqlite3* db, const search_query& q, search_plan& p, const char* select,
                 const std::optional<search_cursor>& before, std::size_t window, std::int64_t row_limit,
                 const std::function<bool(sqlite3_stmt*)>& row, std::optional<search_cursor>& floor,
                 std::string& error) {
  floor.reset();
  if (p.windowed && window > 0 && !window_floor(db, q, before, window, floor, error)) return false;
  std::string bounds;
  if (before) bounds += cursor_terms(7, false);
  if (floor) bounds += cursor_terms(9, true);
  std::string sql = std::string("SELECT ") + select + " FROM records WHERE 1";
  if (p.how == plan::match_indexed) {
    // The index's candidates and the records beyond it, in one statement: one snapshot of the
    // index and its watermark. The records beyond, in id order (a range of the table, not the
    // time index).
    sql += " AND id IN (SELECT rowid FROM records_fts WHERE records_fts MATCH ?1)" + bounds + p.filters +
           " UNION ALL SELECT " + select +
           " FROM records NOT INDEXED WHERE id > (SELECT indexed_to FROM records_fts_state)" + bounds + p.filters;
  } else {
    sql += bounds + p.filters;
  }
  sql += " ORDER BY start_timestamp DESC, id DESC LIMIT ?5";
  auto s = prepare(db, sql, error);
  if (!s) return false;
  bind_filters(s.get(), q, p);
  sqlite3_bind_int64(s.get(), 5, row_limit);
  if (before) bind_cursor(s.get(), 7, *before);
  if (floor) bind_cursor(s.get(), 9, *floor);
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    if (!row(s.get())) return true;
  }
  if (rc != SQLITE_DONE) {
    error = sqlite3_errmsg(db);
    return false;
  }
  return true;
}

}  // namespace

bool search_records(sqlite3* db, const search_query& q, std::vector<record_summary>& out, bool& truncated,
                    std::optional<search_cursor>& next, std::string& error) {
  out.clear();
  truncated = false;
  next.reset();
  search_plan p;
  if (!decide(db, q, q.limit, p, error)) return false;
  std::optional<search_cursor> before = q.before;
  auto take = [&](sqlite3_stmt* s) {
    out.push_back(read_row(s));
    return true;
  };
  for (window_steps steps(q.one_window ? q.window : 0);;) {
    std::optional<search_cursor> floor;
    const auto wanted = static_cast<std::int64_t>(q.limit + 1 - out.size());
    if (!read_window(db, q, p, kColumns, before, steps.size(), wanted, take, floor, error)) return false;
    if (out.size() > q.limit) {
      truncated = true;
      out.resize(q.limit);
      return true;
    }
    if (!floor) return true;  // every record was read
    if (steps.advance()) {
      next = floor;
      return true;
    }
    before = floor;
  }
}

bool search_trace_ids(sqlite3* db, const search_query& q, std::size_t max_traces, std::vector<std::string>& out,
                      std::optional<search_cursor>& next, std::string& error) {
  out.clear();
  next.reset();
  search_plan p;
  if (!decide(db, q, max_traces, p, error)) return false;
  // Going on from a cursor: a trace with a matching record at or after it was listed before.
  stmt_handle listed;
  if (q.before) {
    listed = prepare(db, "SELECT 1 FROM records WHERE trace_id = ?11" + cursor_terms(7, true) + p.filters + " LIMIT 1",
                     error);
    if (!listed) return false;
    bind_filters(listed.get(), q, p);
    bind_cursor(listed.get(), 7, *q.before);
  }
  auto listed_before = [&](const std::string& id) {
    sqlite3_reset(listed.get());
    bind_text(listed.get(), 11, id);
    int rc = sqlite3_step(listed.get());
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) error = sqlite3_errmsg(db);
    return rc == SQLITE_ROW;
  };
  std::unordered_set<std::string> seen;
  std::int64_t matched = 0;
  auto take = [&](sqlite3_stmt* s) {
    ++matched;
    std::string id = column_text(s, 0);
    if (!seen.insert(id).second) return true;
    if (listed && listed_before(id)) return error.empty();
    out.push_back(std::move(id));
    return out.size() < max_traces;
  };
  std::optional<search_cursor> before = q.before;
  for (window_steps steps(q.one_window ? q.window : 0);;) {
    std::optional<search_cursor> floor;
    if (!read_window(db, q, p, "trace_id, start_timestamp, id", before, steps.size(), kMaxTraceSearchRecords - matched,
                     take, floor, error) ||
        !error.empty())
      return false;
    if (out.size() >= max_traces || matched >= kMaxTraceSearchRecords || !floor) return true;
    if (steps.advance()) {
      next = floor;
      return true;
    }
    before = floor;
  }
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

std::string with_next(std::string object, const std::optional<search_cursor>& next) {
  if (object.empty() || object.back() != '}') return object;
  object.pop_back();
  object += ",\"next\":";
  if (next) {
    json::append_string(object, cursor_text(*next));
  } else {
    object += "null";
  }
  object += '}';
  return object;
}

}  // namespace logfire::backend
