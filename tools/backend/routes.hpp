// The routes of `logfire-cpp serve`, one file per concern: export_route.cpp (OTLP/HTTP
// receiving), api_routes.cpp (the JSON API and the web view's files). server.cpp dispatches to
// them. Checks that need only the head run on the I/O thread and must not block; the rest runs on
// a worker.
#pragma once

#include <atomic>
#include <optional>
#include <string>

#include "http/memory_budget.hpp"
#include "http/server.hpp"
#include "live.hpp"
#include "otlp_decode.hpp"
#include "server.hpp"
#include "store.hpp"

namespace logfire::backend {

// What a route needs of the server.
struct route_context {
  store& db;
  const server_options& options;
  server_stats& stats;
  http::memory_budget& budget;
  std::atomic<int>& queries_running;
  live_feed& live;  // told after every committed export
};

// ---- shared by the routes (server.cpp) -------------------------------------------------------

// The media type without parameters, lowercase ("application/json; charset=utf-8" -> "application/json").
[[nodiscard]] std::string media_type(const http::request_head& head);
[[nodiscard]] std::optional<body_format> format_of(const std::string& media);
[[nodiscard]] std::string_view content_type_of(body_format f);

[[nodiscard]] http::response json_response(int status, std::string body);
// {"error": "<message>"}
[[nodiscard]] http::response json_error(int status, std::string_view message);
// An OTLP error: a google.rpc.Status in the request's format when that format is known, else
// plain text, so a human with curl reads the reason either way.
[[nodiscard]] http::response otlp_error(int http_status, std::optional<body_format> format, int grpc_code,
                                        const std::string& message);

// The token check: `Authorization: <token>` or `Bearer <token>` (the scheme in any case, as HTTP
// says), compared in constant time. Always true without --token.
[[nodiscard]] bool authorized(const server_options& options, const http::request_head& head);
// The same for an Authorization header's (or gRPC `authorization` metadata's) value.
[[nodiscard]] bool authorized(const server_options& options, std::string_view header);
// Pages and the API answer only to loopback host names when bound to loopback: a page elsewhere
// that rebinds its DNS name to 127.0.0.1 cannot read your telemetry through the browser.
[[nodiscard]] bool host_allowed(const server_options& options, const http::request_head& head);

// gRPC status codes carried in google.rpc.Status bodies (OTLP/HTTP error responses).
constexpr int kGrpcInvalidArgument = 3;
constexpr int kGrpcResourceExhausted = 8;
constexpr int kGrpcUnavailable = 14;
constexpr int kGrpcUnauthenticated = 16;

// ---- export_route.cpp ------------------------------------------------------------------------

// /v1/traces, /v1/logs, /v1/metrics: token, media type and encoding, from the head alone.
[[nodiscard]] std::optional<http::response> check_export_head(route_context& ctx, const http::request_head& head);
[[nodiscard]] http::response handle_export(route_context& ctx, signal sig, http::request& req);

// The one decode-and-store path of every OTLP door (HTTP here, gRPC in grpc_receiver.cpp): the
// body (already decompressed) is decoded item by item and committed chunk by chunk under the
// memory budget; `stored` comes back only after the last commit. Counts the outcome in the stats.
// `where` names the door in messages ("/v1/traces", "gRPC TraceService/Export").
struct export_outcome {
  enum class kind : std::uint8_t {
    stored,       // committed; `rejected` items refused (partial success), `message` the first reason
    malformed,    // not an OTLP request, or nested too deep: nothing stored
    too_many,     // more rows than --max-request-rows: nothing stored
    no_memory,    // --max-memory: retry later (chunks before it may be stored)
    unavailable,  // the store is behind, failing or stopping: retry later
  };
  kind result = kind::stored;
  std::int64_t rejected = 0;
  std::string message;
};
[[nodiscard]] export_outcome store_export(route_context& ctx, signal sig, body_format format, std::string_view body,
                                          std::string_view where);

// ---- api_routes.cpp --------------------------------------------------------------------------

// The page and its assets (answered on the I/O thread: static, in memory).
[[nodiscard]] http::response serve_page(route_context& ctx, const http::request_head& head);
[[nodiscard]] http::response serve_asset(route_context& ctx, const http::request_head& head);
// GET /api/traces?limit=N&service=S&errors=1&min_duration_ms=N&q=TEXT&since=T&until=T: recent
// traces (traces.hpp's recent_traces); since/until a duration before now or an RFC 3339 time.
[[nodiscard]] http::response handle_traces(route_context& ctx, const http::request& req);
[[nodiscard]] http::response handle_trace(route_context& ctx, const http::request& req);
// GET /api/records?q=TEXT&service=S&since=T&level=N&limit=N: records newest first
// (search.hpp's search_records; records_to_json's shape).
[[nodiscard]] http::response handle_records(route_context& ctx, const http::request& req);
// GET /api/live: the server-sent events stream (live.hpp), or 503 when --max-live-clients are open.
[[nodiscard]] http::response handle_live(route_context& ctx);
[[nodiscard]] http::response handle_query(route_context& ctx, const http::request& req);
// GET /api/metrics and /api/metrics/series?name=<name>[&limit=N] (metrics_view.hpp).
[[nodiscard]] http::response handle_metrics(route_context& ctx, const http::request& req);

}  // namespace logfire::backend
