// The Metrics page's reads (metrics_view.hpp). Runs on a worker thread inside store::read(), under
// the API's query-concurrency slot; every result is bounded in rows.
#include "metrics_view.hpp"

#include <map>
#include <vector>

#include "db.hpp"
#include "json.hpp"

namespace logfire::backend {
namespace {

constexpr std::size_t k_max_metrics = 1000;
constexpr std::size_t k_max_series = 200;

void append_optional_double(std::string& out, sqlite3_stmt* s, int col) {
  if (sqlite3_column_type(s, col) == SQLITE_NULL)
    out += "null";
  else
    json::append_double(out, sqlite3_column_double(s, col));
}

// A stored JSON column embedded as JSON (it was written by the decoder), or null.
void append_json_column(std::string& out, sqlite3_stmt* s, int col) {
  std::string text = column_text(s, col);
  if (sqlite3_column_type(s, col) == SQLITE_NULL || !json::is_valid(text))
    out += "null";
  else
    out += text;
}

struct series_points {
  std::string attributes;  // as stored (JSON)
  std::vector<std::string> points;
};

}  // namespace

bool metric_list_json(sqlite3* db, std::string& out, std::string& error) {
  auto s = prepare(db,
                   "SELECT metric_name, metric_type, max(unit), max(coalesce(metric_description, '')), "
                   "max(coalesce(aggregation_temporality, '')), max(coalesce(is_monotonic, 0)), count(*), "
                   "count(DISTINCT attributes), max(recorded_timestamp) FROM metrics GROUP BY metric_name, "
                   "metric_type ORDER BY metric_name, metric_type LIMIT ?1",
                   error);
  if (!s) return false;
  sqlite3_bind_int64(s.get(), 1, static_cast<sqlite3_int64>(k_max_metrics));
  out = "{\"metrics\":[";
  bool first = true;
  for (;;) {
    const int rc = sqlite3_step(s.get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      error = sqlite3_errmsg(db);
      return false;
    }
    if (!first) out += ',';
    first = false;
    out += "{\"name\":";
    json::append_string(out, column_text(s.get(), 0));
    out += ",\"type\":";
    json::append_string(out, column_text(s.get(), 1));
    out += ",\"unit\":";
    json::append_string(out, column_text(s.get(), 2));
    out += ",\"description\":";
    json::append_string(out, column_text(s.get(), 3));
    out += ",\"temporality\":";
    json::append_string(out, column_text(s.get(), 4));
    out += ",\"monotonic\":";
    out += sqlite3_column_int(s.get(), 5) != 0 ? "true" : "false";
    out += ",\"points\":";
    json::append_int(out, sqlite3_column_int64(s.get(), 6));
    out += ",\"series\":";
    json::append_int(out, sqlite3_column_int64(s.get(), 7));
    out += ",\"last_timestamp\":";
    json::append_string(out, column_text(s.get(), 8));
    out += '}';
  }
  out += "]}";
  return true;
}

bool metric_series_json(sqlite3* db, std::string_view name, std::size_t max_points, std::string& out,
                        std::string& error) {
  // Newest first, so that the limit keeps the most recent points; each series is put back in
  // time order below.
  auto s = prepare(db,
                   "SELECT recorded_timestamp, start_timestamp, attributes, metric_type, unit, "
                   "coalesce(aggregation_temporality, ''), coalesce(is_monotonic, 0), scalar_value, "
                   "histogram_count, histogram_sum, histogram_min, histogram_max, histogram_buckets FROM metrics "
                   "WHERE metric_name = ?1 ORDER BY recorded_timestamp DESC, id DESC LIMIT ?2",
                   error);
  if (!s) return false;
  sqlite3_bind_text(s.get(), 1, name.data(), static_cast<int>(name.size()), SQLITE_STATIC);
  sqlite3_bind_int64(s.get(), 2, static_cast<sqlite3_int64>(max_points) + 1);
  std::vector<series_points> series;
  std::map<std::string, std::size_t> index;  // attributes -> position in `series`
  std::string type, unit, temporality;
  bool monotonic = false;
  bool truncated = false;
  std::size_t rows = 0;
  for (;;) {
    const int rc = sqlite3_step(s.get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      error = sqlite3_errmsg(db);
      return false;
    }
    if (++rows > max_points) {
      truncated = true;
      break;
    }
    if (type.empty()) {
      type = column_text(s.get(), 3);
      unit = column_text(s.get(), 4);
      temporality = column_text(s.get(), 5);
      monotonic = sqlite3_column_int(s.get(), 6) != 0;
    }
    std::string attributes = column_text(s.get(), 2);
    auto it = index.find(attributes);
    if (it == index.end()) {
      if (series.size() >= k_max_series) {
        truncated = true;
        continue;
      }
      it = index.emplace(attributes, series.size()).first;
      series.push_back({std::move(attributes), {}});
    }
    std::string p = "{\"time\":";
    json::append_int(p, parse_timestamp(column_text(s.get(), 0)).value_or(0));
    p += ",\"start\":";
    json::append_int(p, parse_timestamp(column_text(s.get(), 1)).value_or(0));
    if (sqlite3_column_type(s.get(), 8) == SQLITE_NULL) {
      p += ",\"value\":";
      append_optional_double(p, s.get(), 7);
    } else {
      p += ",\"count\":";
      json::append_int(p, sqlite3_column_int64(s.get(), 8));
      p += ",\"sum\":";
      append_optional_double(p, s.get(), 9);
      p += ",\"min\":";
      append_optional_double(p, s.get(), 10);
      p += ",\"max\":";
      append_optional_double(p, s.get(), 11);
      p += ",\"buckets\":";
      append_json_column(p, s.get(), 12);
    }
    p += '}';
    series[it->second].points.push_back(std::move(p));
  }
  out = "{\"name\":";
  json::append_string(out, name);
  out += ",\"type\":";
  json::append_string(out, type);
  out += ",\"unit\":";
  json::append_string(out, unit);
  out += ",\"temporality\":";
  json::append_string(out, temporality);
  out += ",\"monotonic\":";
  out += monotonic ? "true" : "false";
  out += ",\"series\":[";
  for (std::size_t i = 0; i < series.size(); ++i) {
    if (i) out += ',';
    out += "{\"attributes\":";
    out += json::is_valid(series[i].attributes) ? series[i].attributes : std::string("{}");
    out += ",\"points\":[";
    const auto& pts = series[i].points;
    for (std::size_t k = pts.size(); k-- > 0;) {
      out += pts[k];
      if (k) out += ',';
    }
    out += "]}";
  }
  out += "],\"truncated\":";
  out += truncated ? "true" : "false";
  out += '}';
  return true;
}

bool decode_query_value(std::string_view in, std::string& out) {
  out.clear();
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out.push_back(' ');
    } else if (in[i] != '%') {
      out.push_back(in[i]);
    } else {
      if (i + 2 >= in.size()) return false;
      const int hi = hex(in[i + 1]);
      const int lo = hex(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    }
  }
  return true;
}

}  // namespace logfire::backend
