#include "server.hpp"

#include <algorithm>
#include <cstdio>

#include "json.hpp"
#include "routes.hpp"
#include "text.hpp"

namespace logfire::backend {
namespace {

// Bodies the API routes accept: SQL text (or {"sql": ...}) for /api/query, nothing elsewhere.
constexpr std::uint64_t kMaxQueryText = 1u << 20;
constexpr std::uint64_t kMaxOtherBody = 64u << 10;

std::optional<signal> export_signal(std::string_view path) {
  if (path == "/v1/traces") return signal::traces;
  if (path == "/v1/logs") return signal::logs;
  if (path == "/v1/metrics") return signal::metrics;
  return std::nullopt;
}

bool is_trace_path(std::string_view path) {
  constexpr std::string_view prefix = "/api/trace/";
  if (path.rfind(prefix, 0) != 0 || path.size() != prefix.size() + 32) return false;
  return std::all_of(path.begin() + static_cast<std::ptrdiff_t>(prefix.size()), path.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); });
}

bool reads(std::string_view method) {
  return method == "GET" || method == "HEAD";
}

http::response method_not_allowed(server_stats& stats, std::string_view path, std::string_view allowed,
                                  std::string_view what) {
  ++stats.method_not_allowed;
  auto r = http::text_response(405, std::string(path) + " accepts " + std::string(what) + " only");
  r.headers.emplace_back("Allow", std::string(allowed));
  return r;
}

std::string seconds(std::chrono::milliseconds d) {
  char buf[32];
  if (d.count() % 1000 == 0) {
    std::snprintf(buf, sizeof buf, "%lld s", static_cast<long long>(d.count() / 1000));
  } else {
    std::snprintf(buf, sizeof buf, "%lld ms", static_cast<long long>(d.count()));
  }
  return buf;
}

}  // namespace

std::string human_bytes(std::uint64_t n) {
  char buf[32];
  if (n >= (1u << 30) && n % (1u << 30) == 0) {
    std::snprintf(buf, sizeof buf, "%llu GiB", static_cast<unsigned long long>(n >> 30));
  } else if (n >= (1u << 20) && n % (1u << 20) == 0) {
    std::snprintf(buf, sizeof buf, "%llu MiB", static_cast<unsigned long long>(n >> 20));
  } else if (n >= 1024 && n % 1024 == 0) {
    std::snprintf(buf, sizeof buf, "%llu KiB", static_cast<unsigned long long>(n >> 10));
  } else {
    std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(n));
  }
  return buf;
}

server::server(store& db, server_options options)
    : store_(db),
      options_(std::move(options)),
      budget_(options_.max_memory_bytes),
      live_(options_.max_live_clients, options_.live_queue_bytes) {
  http::handlers h;
  h.on_head = [this](const http::request_head& head) { return on_head(head); };
  h.on_request = [this](http::request& req) { return on_request(req); };
  h.on_refusal = [this](http::refusal kind, const http::request_head* head, const std::string& detail) {
    return on_refusal(kind, head, detail);
  };
  if (options_.log_requests) {
    // The path is a client's bytes: made printable before it reaches the operator's terminal.
    h.on_response = [](const http::request_head& head, int status, std::size_t body_bytes) {
      std::fprintf(stderr, "%s %s -> %d (%zu bytes in)\n", text::printable(head.method, 16).c_str(),
                   text::printable(head.path, 200).c_str(), status, body_bytes);
    };
  }
  http_ = std::make_unique<http::server>(options_.http, std::move(h), budget_);
}

server::~server() {
  stop();
}

bool server::bind(std::string& error) {
  return http_->listen(options_.host, options_.port, error);
}

void server::run() {
  http_->run();
}

void server::stop() {
  if (http_) http_->stop();
}

// I/O thread: routing, and every check that needs only the head.
http::head_decision server::on_head(const http::request_head& head) {
  route_context ctx{store_, options_, stats_, budget_, queries_running_, live_};
  const std::string& path = head.path;
  if (auto sig = export_signal(path)) {
    if (head.method != "POST") return {method_not_allowed(stats_, path, "POST", "POST (OTLP/HTTP export requests)")};
    if (auto refused = check_export_head(ctx, head)) return {std::move(refused)};
    return {std::nullopt, options_.http.max_body_bytes};
  }
  if (path == "/" || path == "/index.html") {
    if (!reads(head.method)) return {method_not_allowed(stats_, path, "GET, HEAD", "GET")};
    return {serve_page(ctx, head)};
  }
  if (path == "/favicon.ico") {
    http::response none;
    none.status = 204;
    return {std::move(none)};
  }
  if (path.rfind("/assets/", 0) == 0) {
    if (!reads(head.method)) return {method_not_allowed(stats_, path, "GET, HEAD", "GET")};
    return {serve_asset(ctx, head)};
  }
  if (path.rfind("/api/", 0) == 0) {
    if (!host_allowed(options_, head)) {
      ++stats_.forbidden_host;
      return {json_error(403, "unexpected Host header: this server answers to loopback names only")};
    }
    if (!authorized(options_, head)) {
      ++stats_.unauthorized;
      auto r = json_error(401,
                          "this server requires its token: send `Authorization: Bearer <token>` (the web "
                          "view takes it from the #token=... part of the address serve printed)");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return {std::move(r)};
    }
    if (path == "/api/live") {
      if (!reads(head.method)) return {method_not_allowed(stats_, path, "GET", "GET (a text/event-stream)")};
      return {handle_live(ctx)};
    }
    if (path == "/api/query") {
      if (head.method != "POST") return {method_not_allowed(stats_, path, "POST", "POST (the SQL as the body)")};
      return {std::nullopt, kMaxQueryText};
    }
    if (path == "/api/traces" || path == "/api/records" || path == "/api/stats" || path == "/api/metrics" ||
        path == "/api/metrics/series" || is_trace_path(path)) {
      if (!reads(head.method)) return {method_not_allowed(stats_, path, "GET, HEAD", "GET")};
      return {std::nullopt, kMaxOtherBody};
    }
  }
  ++stats_.not_found;
  return {http::text_response(404, "no such endpoint: " + text::printable(head.method, 16) + " " +
                                       text::printable(path, 200) +
                                       " (OTLP: POST /v1/traces, /v1/logs, /v1/metrics; web view: /)")};
}

// A worker thread: the routes that need the body, the database or the store.
http::response server::on_request(http::request& req) {
  route_context ctx{store_, options_, stats_, budget_, queries_running_, live_};
  const std::string& path = req.head.path;
  if (auto sig = export_signal(path)) return handle_export(ctx, *sig, req);
  if (path == "/api/traces") return handle_traces(ctx, req);
  if (path == "/api/records") return handle_records(ctx, req);
  if (path == "/api/query") return handle_query(ctx, req);
  if (path == "/api/stats") return json_response(200, stats_json());
  if (path == "/api/metrics" || path == "/api/metrics/series") return handle_metrics(ctx, req);
  if (is_trace_path(path)) return handle_trace(ctx, req);
  ++stats_.not_found;
  return http::text_response(404, "no such endpoint");
}

// I/O thread: the HTTP layer refused a request or a connection; say which limit, and how to
// raise it. OTLP clients get a google.rpc.Status in their request's format. Longer than a screen:
// one case per refusal, each its own message.
http::response server::on_refusal(http::refusal kind, const http::request_head* head, const std::string& detail) {
  const auto& limits = options_.http;
  std::string message;
  int grpc = kGrpcInvalidArgument;
  switch (kind) {
    case http::refusal::bad_request:
      ++stats_.bad_request;
      message = "bad request: " + detail;
      break;
    case http::refusal::request_line_too_long:
      ++stats_.header_too_large;
      message = "request line longer than the limit of " + human_bytes(limits.head.max_request_line) +
                "; raise --max-request-line";
      break;
    case http::refusal::header_too_large:
      ++stats_.header_too_large;
      message = "request header fields larger than the limit of " + human_bytes(limits.head.max_header_bytes) +
                " (request line and headers together); raise --max-header-size";
      break;
    case http::refusal::too_many_headers:
      ++stats_.header_too_large;
      message = "more than " + std::to_string(limits.head.max_header_count) +
                " header fields in one request; raise --max-header-count";
      break;
    case http::refusal::body_too_large:
      ++stats_.too_large;
      if (head != nullptr && head->path == "/api/query") {
        message = "query text larger than the limit of " + human_bytes(kMaxQueryText);
      } else if (head != nullptr && export_signal(head->path)) {
        message = "request body larger than the limit of " + human_bytes(limits.max_body_bytes) +
                  " (as sent); split the export or raise --max-body-size";
      } else {
        message = "request body larger than this endpoint accepts";
      }
      break;
    case http::refusal::header_timeout:
      ++stats_.timed_out;
      message = "the request head did not arrive within " + seconds(limits.header_timeout) +
                " of its first byte; raise --header-timeout for slow clients";
      break;
    case http::refusal::body_timeout:
      ++stats_.timed_out;
      message = "the request body did not arrive within " + seconds(limits.body_timeout) +
                " of the head; raise --body-timeout for slow clients";
      break;
    case http::refusal::not_implemented:
      ++stats_.bad_request;
      message = "not implemented: " + detail;
      break;
    case http::refusal::version_not_supported:
      ++stats_.bad_request;
      message = "HTTP version " + detail + " is not supported: use HTTP/1.1 (or HTTP/1.0)";
      break;
    case http::refusal::expectation_failed:
      ++stats_.bad_request;
      message = "Expect: " + detail + " is not supported (only 100-continue)";
      break;
    case http::refusal::too_many_connections:
      ++stats_.unavailable;
      grpc = kGrpcUnavailable;
      message = "too many connections: " + std::to_string(limits.max_connections) +
                " are open, the limit; retry later, or raise --max-connections";
      break;
    case http::refusal::memory_exhausted:
      ++stats_.too_many_requests;
      grpc = kGrpcResourceExhausted;
      message = "request bodies in flight would exceed the memory limit of " + human_bytes(options_.max_memory_bytes) +
                "; retry later, or raise --max-memory";
      break;
    case http::refusal::shutting_down:
      ++stats_.unavailable;
      grpc = kGrpcUnavailable;
      message = "the server is shutting down; retry later";
      break;
  }
  std::optional<body_format> format;
  if (head != nullptr && export_signal(head->path)) format = format_of(media_type(*head));
  http::response r = otlp_error(http::status_of(kind), format, grpc, message);
  if (head != nullptr && head->path.rfind("/api/", 0) == 0) r = json_error(http::status_of(kind), message);
  int status = http::status_of(kind);
  if (status == 429 || status == 503) r.headers.emplace_back("Retry-After", "1");
  return r;
}

std::uint64_t server::requests_refused() const {
  const auto& s = stats_;
  return s.unauthorized + s.forbidden_host + s.unsupported_media_type + s.too_large + s.malformed + s.unreadable +
         s.bad_request + s.header_too_large + s.timed_out + s.too_many_requests + s.unavailable;
}

// Any thread. One line per counter, in the order GET /api/stats shows them.
std::string server::stats_json() const {
  auto c = store_.counters();
  const auto& conn = http_->counters();
  std::string s = "{";
  auto field = [&](const char* name, std::uint64_t v, bool comma = true) {
    if (comma) s += ',';
    json::append_string(s, name);
    s += ':';
    json::append_uint(s, v);
  };
  field("export_requests", stats_.export_requests, false);
  field("grpc_export_requests", stats_.grpc_export_requests);
  field("records_received", stats_.records_received);
  field("metric_points_received", stats_.metric_points_received);
  field("items_rejected", stats_.items_rejected);
  field("chunked_requests", stats_.chunked_requests);
  s += ",\"rejected_requests\":{";
  field("unauthorized", stats_.unauthorized, false);
  field("forbidden_host", stats_.forbidden_host);
  field("unsupported_media_type", stats_.unsupported_media_type);
  field("too_large", stats_.too_large);
  field("malformed", stats_.malformed);
  field("unreadable", stats_.unreadable);
  field("bad_request", stats_.bad_request);
  field("header_too_large", stats_.header_too_large);
  field("timed_out", stats_.timed_out);
  field("too_many_requests", stats_.too_many_requests);
  field("not_found", stats_.not_found);
  field("method_not_allowed", stats_.method_not_allowed);
  field("unavailable", stats_.unavailable);
  s += "}";
  field("bad_queries", stats_.bad_queries);
  field("truncated_queries", stats_.truncated_queries);
  s += ",\"live\":{";
  field("subscribers", live_.subscribers(), false);
  field("events_sent", live_.events_sent);
  field("slow_dropped", live_.slow_dropped);
  field("refused", live_.refused);
  s += "}";
  s += ",\"memory\":{";
  field("limit", budget_.limit(), false);
  field("in_use", budget_.in_use());
  field("peak", budget_.peak());
  field("refusals", budget_.refusals());
  s += "},\"connections\":{";
  field("open", http_->open_connections(), false);
  field("accepted", conn.accepted);
  field("refused", conn.refused_connections);
  field("idle_closed", conn.idle_closed);
  field("write_timeouts", conn.write_timeouts);
  s += "},\"store\":{";
  field("records_written", c.records_written, false);
  field("metrics_written", c.metrics_written);
  field("pending_replaced", c.pending_replaced);
  field("pending_ignored", c.pending_ignored);
  field("transactions", c.transactions);
  field("failed_transactions", c.failed_transactions);
  field("retention_deleted", c.retention_deleted);
  field("records_indexed", c.records_indexed);
  field("index_failures", c.index_failures);
  s += "}}";
  return s;
}

// ---- shared by the routes --------------------------------------------------------------------

std::string media_type(const http::request_head& head) {
  std::string header = head.header_or_empty("content-type");
  return text::lower(text::trim(std::string_view(header).substr(0, header.find(';'))));
}

std::optional<body_format> format_of(const std::string& media) {
  if (media == "application/x-protobuf" || media == "application/protobuf") return body_format::protobuf;
  if (media == "application/json") return body_format::json;
  return std::nullopt;
}

std::string_view content_type_of(body_format f) {
  return f == body_format::json ? "application/json" : "application/x-protobuf";
}

http::response json_response(int status, std::string body) {
  http::response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

http::response json_error(int status, std::string_view message) {
  std::string s = "{\"error\":";
  json::append_string(s, message);
  s += '}';
  return json_response(status, std::move(s));
}

http::response otlp_error(int http_status, std::optional<body_format> format, int grpc_code,
                          const std::string& message) {
  if (!format) return http::text_response(http_status, message);
  http::response r;
  r.status = http_status;
  r.content_type = std::string(content_type_of(*format));
  r.body = encode_status(*format, grpc_code, message);
  return r;
}

bool authorized(const server_options& options, const http::request_head& head) {
  return authorized(options, head.header_or_empty("authorization"));
}

bool authorized(const server_options& options, std::string_view header) {
  if (!options.token) return true;
  std::string_view presented = text::trim(header);
  if (presented.size() > 7 && text::iequals(presented.substr(0, 7), "bearer ")) {
    presented = text::trim(presented.substr(7));
  }
  // Constant time in the token's length: no early exit at the first differing byte.
  const std::string& token = *options.token;
  unsigned diff = presented.size() == token.size() ? 0u : 1u;
  for (std::size_t i = 0; i < token.size(); ++i) {
    diff |= static_cast<unsigned char>(token[i]) ^ static_cast<unsigned char>(i < presented.size() ? presented[i] : 0);
  }
  return diff == 0;
}

namespace {

bool is_loopback_name(std::string_view host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host == "[::1]";
}

// The host part of a Host header ("localhost:4318" -> "localhost", "[::1]:80" -> "[::1]").
std::string host_name(const std::string& header) {
  if (!header.empty() && header.front() == '[') return text::lower(header.substr(0, header.find(']') + 1));
  return text::lower(header.substr(0, header.find(':')));
}

}  // namespace

bool host_allowed(const server_options& options, const http::request_head& head) {
  if (!is_loopback_name(options.host)) return true;
  std::string host = host_name(head.header_or_empty("host"));
  return host.empty() || is_loopback_name(host) || host == text::lower(options.host);
}

}  // namespace logfire::backend
