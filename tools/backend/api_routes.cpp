// The web view's files and the JSON API: GET /api/traces, GET /api/trace/<id>, GET /api/records,
// POST /api/query, GET /api/metrics and /api/metrics/series?name=<name> (metrics_view.hpp).
// Every database read from the API counts against --query-concurrency, and every result is
// bounded in rows, bytes and time.
#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "db.hpp"
#include "json.hpp"
#include "metrics_view.hpp"
#include "query.hpp"
#include "routes.hpp"
#include "search.hpp"
#include "text.hpp"
#include "time_bound.hpp"
#include "traces.hpp"
#include "web_assets.hpp"

namespace logfire::backend {
namespace {

const web_asset* find_asset(std::string_view path) {
  std::size_t n = 0;
  const web_asset* assets = web_assets(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (assets[i].path == path) return &assets[i];
  }
  return nullptr;
}

// The page's files: nothing but this server's own (no inline script, no other origin), never
// framed, never cached.
http::response asset_response(const web_asset& a) {
  http::response r;
  r.content_type = std::string(a.content_type);
  r.body = std::string(a.body);
  r.headers = {{"Cache-Control", "no-store"},
               {"X-Content-Type-Options", "nosniff"},
               {"Referrer-Policy", "no-referrer"},
               {"Content-Security-Policy",
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
                "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"}};
  return r;
}

// Holds one of the --query-concurrency slots, or none.
class query_slot {
 public:
  query_slot(std::atomic<int>& running, int limit) : running_(running) {
    held_ = running_.fetch_add(1) < limit;
    if (!held_) running_.fetch_sub(1);
  }
  ~query_slot() {
    if (held_) running_.fetch_sub(1);
  }
  query_slot(const query_slot&) = delete;
  query_slot& operator=(const query_slot&) = delete;
  explicit operator bool() const { return held_; }

 private:
  std::atomic<int>& running_;
  bool held_ = false;
};

http::response busy(route_context& ctx) {
  ++ctx.stats.too_many_requests;
  auto r = json_error(429, std::to_string(ctx.options.query_concurrency) +
                               " queries are running already, the limit; retry, or raise --query-concurrency");
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

// A since= or until= parameter (time_bound.hpp): a duration before now ("15m", "2h", "7d",
// plain seconds) or an RFC 3339 time. Absent: nullopt and true. Malformed: false and `error`.
bool time_param(const http::request& req, std::string_view name, std::int64_t now_ns, std::optional<std::int64_t>& out,
                std::string& error) {
  bool has = false;
  std::string_view raw = req.head.query_param(name, &has);
  if (!has || raw.empty()) return true;
  std::string value;
  if (decode_query_value(raw, value)) out = parse_time_bound(value, now_ns);
  if (out) return true;
  error = std::string(name) +
          " must be a duration before now (30s, 15m, 2h, 7d, or seconds) or an RFC 3339 time "
          "(2026-12-05T10:00:00Z, an offset's + sent as %2B), got '" +
          text::printable(raw, 80) + "'";
  return false;
}

// q=: a search text, percent-decoded, at most kMaxSearchText bytes.
bool text_param(const http::request& req, std::string& out, std::string& error) {
  if (!decode_query_value(req.head.query_param("q"), out)) {
    error = "the q parameter has a bad percent-encoding";
    return false;
  }
  if (out.size() > kMaxSearchText) {
    error = "search text longer than " + std::to_string(kMaxSearchText) + " bytes";
    return false;
  }
  return true;
}

// before= (a search), after= (a trace's pages): a cursor from an answer's "next" (search.hpp's
// cursor_text), percent-decoded.
bool cursor_param(const http::request& req, std::string_view name, std::optional<search_cursor>& out,
                  std::string& error) {
  bool has = false;
  std::string_view raw = req.head.query_param(name, &has);
  if (!has) return true;
  std::string value;
  if (decode_query_value(raw, value)) out = parse_cursor(value);
  if (out) return true;
  error = std::string(name) + " must be a \"next\" from an earlier answer (<start_timestamp>/<id>), got '" +
          text::printable(raw, 80) + "'";
  return false;
}

}  // namespace

http::response serve_page(route_context& ctx, const http::request_head& head) {
  if (!host_allowed(ctx.options, head)) {
    ++ctx.stats.forbidden_host;
    return http::text_response(403, "unexpected Host header: this server answers to loopback names only");
  }
  if (const web_asset* a = find_asset("/index.html")) return asset_response(*a);
  return http::text_response(404, "the web view was not built into this binary");
}

http::response serve_asset(route_context& ctx, const http::request_head& head) {
  std::string_view name = std::string_view(head.path).substr(std::string_view("/assets").size());
  if (const web_asset* a = name.size() > 1 ? find_asset(name) : nullptr) return asset_response(*a);
  ++ctx.stats.not_found;
  return http::text_response(404, "no such file: " + text::printable(head.path, 200));
}

http::response handle_traces(route_context& ctx, const http::request& req) {
  query_slot slot(ctx.queries_running, ctx.options.query_concurrency);
  if (!slot) return busy(ctx);
  trace_query q;
  bool has_limit = false;
  std::string limit(req.head.query_param("limit", &has_limit));
  if (has_limit) q.limit = static_cast<std::size_t>(std::clamp(std::atoi(limit.c_str()), 1, 1000));
  q.errors_only = req.head.query_param("errors") == "1";
  if (!decode_query_value(req.head.query_param("service"), q.service))
    return json_error(400, "the service parameter has a bad percent-encoding");
  std::string min_ms(req.head.query_param("min_duration_ms"));
  if (!min_ms.empty()) q.min_duration_s = std::clamp(std::atof(min_ms.c_str()), 0.0, 1e12) / 1e3;
  std::string error;
  const std::int64_t now = unix_now_ns();
  if (!text_param(req, q.text, error) || !time_param(req, "since", now, q.since_ns, error) ||
      !time_param(req, "until", now, q.until_ns, error) || !cursor_param(req, "before", q.before, error))
    return json_error(400, error);
  if (q.before && q.text.empty()) return json_error(400, "before goes with q (a search's \"next\")");
  // A search answers after one window of records at most, and says where to go on.
  q.one_window = true;
  q.window = ctx.options.search_window;
  std::string body;
  bool ok = false;
  bool opened = ctx.db.read(
      [&](sqlite3* db) {
        std::vector<trace_summary> list;
        std::optional<search_cursor> next;
        ok = recent_traces(db, q, list, next, error);
        if (ok) body = traces_to_json(list, next);
      },
      error);
  if (!opened || !ok) return json_error(500, error);
  return json_response(200, std::move(body));
}

http::response handle_trace(route_context& ctx, const http::request& req) {
  query_slot slot(ctx.queries_running, ctx.options.query_concurrency);
  if (!slot) return busy(ctx);
  std::string id = text::lower(std::string_view(req.head.path).substr(std::string_view("/api/trace/").size()));
  std::string body, error;
  std::optional<search_cursor> after;
  if (!cursor_param(req, "after", after, error)) return json_error(400, error);
  bool ok = false;
  bool opened = ctx.db.read(
      [&](sqlite3* db) { ok = trace_to_json(db, id, body, error, ctx.options.query_max_bytes, after); }, error);
  if (!opened || !ok) return json_error(500, error);
  return json_response(200, std::move(body));
}

http::response handle_metrics(route_context& ctx, const http::request& req) {
  query_slot slot(ctx.queries_running, ctx.options.query_concurrency);
  if (!slot) return busy(ctx);
  const bool list = req.head.path == "/api/metrics";
  std::string name;
  if (!list && !decode_query_value(req.head.query_param("name"), name))
    return json_error(400, "the name parameter has a bad percent-encoding");
  if (!list && name.empty()) return json_error(400, "expected /api/metrics/series?name=<metric name>");
  bool has_limit = false;
  std::string limit(req.head.query_param("limit", &has_limit));
  const auto max_points = static_cast<std::size_t>(has_limit ? std::clamp(std::atoi(limit.c_str()), 1, 20000) : 5000);
  std::string body, error;
  bool ok = false;
  bool opened = ctx.db.read(
      [&](sqlite3* db) {
        ok = list ? metric_list_json(db, body, error) : metric_series_json(db, name, max_points, body, error);
      },
      error);
  if (!opened || !ok) return json_error(500, error);
  return json_response(200, std::move(body));
}

http::response handle_records(route_context& ctx, const http::request& req) {
  query_slot slot(ctx.queries_running, ctx.options.query_concurrency);
  if (!slot) return busy(ctx);
  search_query q;
  q.limit = 200;
  std::string service, error;
  if (!text_param(req, q.text, error)) return json_error(400, error);
  if (!decode_query_value(req.head.query_param("service"), service))
    return json_error(400, "the service parameter has a bad percent-encoding");
  if (!service.empty()) q.service = service;
  bool has = false;
  std::string limit(req.head.query_param("limit", &has));
  if (has) q.limit = static_cast<std::size_t>(std::clamp(std::atoi(limit.c_str()), 1, 1000));
  std::string level(req.head.query_param("level", &has));
  if (has) q.min_level = std::clamp(std::atoi(level.c_str()), 0, 24);
  if (!time_param(req, "since", unix_now_ns(), q.since_ns, error) || !cursor_param(req, "before", q.before, error))
    return json_error(400, error);
  q.one_window = true;
  q.window = ctx.options.search_window;
  std::string body;
  bool ok = false;
  bool opened = ctx.db.read(
      [&](sqlite3* db) {
        std::vector<record_summary> found;
        bool truncated = false;
        std::optional<search_cursor> next;
        ok = search_records(db, q, found, truncated, next, error);
        if (ok) body = with_next(records_to_json(found, truncated), next);
      },
      error);
  if (!opened) return json_error(500, error);
  if (!ok) return json_error(400, error);  // a search text over the limit, or SQLite's message
  return json_response(200, std::move(body));
}

http::response handle_live(route_context& ctx) {
  auto stream = ctx.live.subscribe();
  if (!stream) {
    ++ctx.stats.unavailable;
    auto r = json_error(503, std::to_string(ctx.live.max_subscribers()) +
                                 " live streams are open already, the limit; close a tab, or raise --max-live-clients");
    r.headers.emplace_back("Retry-After", "5");
    return r;
  }
  http::response r;
  r.content_type = "text/event-stream";
  r.headers = {{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}};
  r.stream = std::move(stream);
  return r;
}

http::response handle_query(route_context& ctx, const http::request& req) {
  query_slot slot(ctx.queries_running, ctx.options.query_concurrency);
  if (!slot) return busy(ctx);
  // The SQL is the body as text, or {"sql": "..."} when sent as JSON.
  std::string sql = req.body;
  if (media_type(req.head) == "application/json") {
    auto v = json::parse(req.body, 8);
    const json::value* s = v ? v->find("sql") : nullptr;
    if (s == nullptr || !s->is_string()) {
      ++ctx.stats.bad_queries;
      return json_error(400, "expected {\"sql\": \"SELECT ...\"}");
    }
    sql = s->text;
  }
  query_limits limits{.max_rows = ctx.options.query_max_rows,
                      .max_bytes = ctx.options.query_max_bytes,
                      .timeout = ctx.options.query_timeout,
                      .rows_option = "--query-max-rows",
                      .bytes_option = "--query-max-bytes",
                      .timeout_option = "--query-timeout"};
  query_result result;
  std::string error;
  bool ok = false;
  bool opened = ctx.db.read([&](sqlite3* db) { ok = run_query(db, sql, limits, result, error); }, error);
  if (!opened || !ok) {
    ++ctx.stats.bad_queries;
    return json_error(400, error);
  }
  if (result.truncated) ++ctx.stats.truncated_queries;
  return json_response(200, result_to_api_json(result));
}

}  // namespace logfire::backend
