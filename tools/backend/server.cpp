#include "server.hpp"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iostream>

#include "json.hpp"
#include "otlp_decode.hpp"
#include "query.hpp"
#include "traces.hpp"
#include "web_assets.hpp"

namespace logfire::backend {
namespace {

// gRPC status codes carried in google.rpc.Status bodies (OTLP/HTTP error responses).
constexpr int kInvalidArgument = 3;
constexpr int kUnauthenticated = 16;
constexpr int kUnavailable = 14;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// The media type without parameters ("application/json; charset=utf-8" -> "application/json").
std::string media_type(const std::string& header) {
  std::string t = lower(header.substr(0, header.find(';')));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  while (!t.empty() && t.front() == ' ') t.erase(t.begin());
  return t;
}

std::optional<body_format> format_of(const std::string& media) {
  if (media == "application/x-protobuf" || media == "application/protobuf") return body_format::protobuf;
  if (media == "application/json") return body_format::json;
  return std::nullopt;
}

std::string_view content_type_of(body_format f) {
  return f == body_format::json ? "application/json" : "application/x-protobuf";
}

void reply_text(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content(message + "\n", "text/plain; charset=utf-8");
}

void reply_json(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "application/json");
  res.set_header("Cache-Control", "no-store");
}

std::string error_json(std::string_view message) {
  std::string s = "{\"error\":";
  json::append_string(s, message);
  s += '}';
  return s;
}

// An OTLP error: a google.rpc.Status in the request's format when that format is known, else
// plain text, so a human with curl reads the reason either way.
void reply_status(httplib::Response& res, int http_status, std::optional<body_format> format, int grpc_code,
                  const std::string& message) {
  res.status = http_status;
  if (format) {
    res.set_content(encode_status(*format, grpc_code, message), std::string(content_type_of(*format)));
  } else {
    res.set_content(message + "\n", "text/plain; charset=utf-8");
  }
}

std::string human_bytes(std::size_t n) {
  char buf[32];
  if (n >= (1u << 20) && n % (1u << 20) == 0) {
    std::snprintf(buf, sizeof buf, "%zu MiB", n >> 20);
  } else if (n >= 1024 && n % 1024 == 0) {
    std::snprintf(buf, sizeof buf, "%zu KiB", n >> 10);
  } else {
    std::snprintf(buf, sizeof buf, "%zu bytes", n);
  }
  return buf;
}

bool is_loopback_name(std::string_view host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host == "[::1]";
}

// The host part of a Host header ("localhost:4318" -> "localhost", "[::1]:80" -> "[::1]").
std::string host_name(const std::string& header) {
  if (!header.empty() && header.front() == '[') return lower(header.substr(0, header.find(']') + 1));
  return lower(header.substr(0, header.find(':')));
}

}  // namespace

server::server(store& db, server_options options)
    : store_(db), options_(std::move(options)), http_(std::make_unique<httplib::Server>()) {
  http_->set_payload_max_length(options_.max_body_bytes);
  int threads = std::max(2, options_.threads);
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  http_->set_read_timeout(30, 0);
  http_->set_write_timeout(30, 0);
  http_->set_keep_alive_max_count(1000);
  install_routes();
}

server::~server() {
  stop();
}

bool server::bind(std::string& error) {
  if (options_.port == 0) {
    port_ = http_->bind_to_any_port(options_.host);
    if (port_ <= 0) {
      error = "cannot listen on " + options_.host + " (no free port, or the address is not local)";
      return false;
    }
    return true;
  }
  if (!http_->bind_to_port(options_.host, options_.port)) {
    error = "cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
            " (already in use, e.g. by another `logfire-cpp serve` or a Collector, or not permitted); "
            "choose another with --port";
    return false;
  }
  port_ = options_.port;
  return true;
}

void server::run() {
  http_->listen_after_bind();
}

void server::stop() {
  if (http_) http_->stop();
}

std::string server::stats_json() const {
  auto c = store_.counters();
  std::string s = "{";
  auto field = [&](const char* name, std::uint64_t v, bool comma = true) {
    if (comma) s += ',';
    json::append_string(s, name);
    s += ':';
    json::append_uint(s, v);
  };
  field("export_requests", stats_.export_requests, false);
  field("records_received", stats_.records_received);
  field("metric_points_received", stats_.metric_points_received);
  field("items_rejected", stats_.items_rejected);
  s += ",\"rejected_requests\":{";
  field("unauthorized", stats_.unauthorized, false);
  field("unsupported_media_type", stats_.unsupported_media_type);
  field("too_large", stats_.too_large);
  field("malformed", stats_.malformed);
  field("unreadable", stats_.unreadable);
  field("not_found", stats_.not_found);
  field("method_not_allowed", stats_.method_not_allowed);
  field("unavailable", stats_.unavailable);
  s += "}";
  field("bad_queries", stats_.bad_queries);
  s += ",\"store\":{";
  field("records_written", c.records_written, false);
  field("metrics_written", c.metrics_written);
  field("pending_replaced", c.pending_replaced);
  field("pending_ignored", c.pending_ignored);
  field("transactions", c.transactions);
  field("failed_transactions", c.failed_transactions);
  field("retention_deleted", c.retention_deleted);
  s += "}}";
  return s;
}

void server::install_routes() {
  auto& http = *http_;

  // True when the request may proceed; otherwise the response is already filled in.
  auto authorized = [this](const httplib::Request& req) {
    if (!options_.token) return true;
    std::string auth = req.get_header_value("Authorization");
    if (auth == *options_.token || auth == "Bearer " + *options_.token) return true;
    return req.has_param("token") && req.get_param_value("token") == *options_.token;
  };
  // Pages and API answer only to loopback host names when bound to loopback: a page elsewhere
  // that rebinds its DNS name to 127.0.0.1 cannot read your telemetry through the browser.
  auto host_allowed = [this](const httplib::Request& req) {
    if (!is_loopback_name(options_.host)) return true;
    std::string host = host_name(req.get_header_value("Host"));
    return host.empty() || is_loopback_name(host) || host == lower(options_.host);
  };

  auto export_handler = [this, authorized](signal sig) {
    return [this, authorized, sig](const httplib::Request& req, httplib::Response& res,
                                   const httplib::ContentReader& reader) {
      std::string media = media_type(req.get_header_value("Content-Type"));
      std::optional<body_format> format = format_of(media);
      if (!authorized(req)) {
        ++stats_.unauthorized;
        res.set_header("WWW-Authenticate", "Bearer");
        reply_status(res, 401, format, kUnauthenticated,
                     "missing or wrong Authorization header: this server was started with a token "
                     "(--token or LOGFIRE_LOCAL_TOKEN); send `Authorization: <token>`");
        res.set_header("Connection", "close");
        return;
      }
      if (!format) {
        ++stats_.unsupported_media_type;
        reply_status(res, 415, std::nullopt, 0,
                     "unsupported Content-Type '" + req.get_header_value("Content-Type") +
                         "': OTLP/HTTP bodies are application/x-protobuf or application/json");
        res.set_header("Connection", "close");
        return;
      }
      std::string encoding = lower(req.get_header_value("Content-Encoding"));
      if (!encoding.empty() && encoding != "identity" && encoding != "gzip" && encoding != "deflate") {
        ++stats_.unsupported_media_type;
        reply_status(res, 415, format, kInvalidArgument,
                     "unsupported Content-Encoding '" + req.get_header_value("Content-Encoding") +
                         "': send gzip or an uncompressed body");
        res.set_header("Connection", "close");
        return;
      }
      // cpp-httplib inflates gzip/deflate and de-chunks before this receiver sees the bytes, so
      // the limit applies to the decompressed size too (a small gzip bomb cannot fill memory).
      // Past the limit the rest is read and dropped, so the client gets its 413 instead of a
      // broken pipe; only a body many times the limit is cut off.
      std::string body;
      bool over_limit = false;
      std::size_t received = 0;
      const std::size_t discard_cap = std::max<std::size_t>(8 * options_.max_body_bytes, 256u << 20);
      bool read_ok = reader([&](const char* data, std::size_t n) {
        received += n;
        if (over_limit) return received <= discard_cap;
        if (body.size() + n > options_.max_body_bytes) {
          over_limit = true;
          std::string().swap(body);
          return received <= discard_cap;
        }
        body.append(data, n);
        return true;
      });
      if (over_limit || res.status == 413) {
        ++stats_.too_large;
        reply_status(res, 413, format, kInvalidArgument,
                     "request body larger than the limit of " + human_bytes(options_.max_body_bytes) +
                         " (after decompression); split the export or raise --max-body-size");
        res.set_header("Connection", "close");
        return;
      }
      if (!read_ok) {
        ++stats_.unreadable;
        reply_status(res, 400, format, kInvalidArgument,
                     "could not read the request body: invalid gzip/deflate data, broken chunked encoding, "
                     "or the connection closed early");
        res.set_header("Connection", "close");
        return;
      }
      decoded_request decoded;
      std::string error;
      if (!decode_request(sig, *format, body, decoded, error)) {
        ++stats_.malformed;
        reply_status(res, 400, format, kInvalidArgument, error + " on /v1/" + std::string(signal_name(sig)));
        return;
      }
      std::size_t records = decoded.records.size();
      std::size_t points = decoded.metrics.size();
      if (records + points > 0) {
        write_result w = store_.write(std::move(decoded.records), std::move(decoded.metrics));
        if (!w.ok()) {
          ++stats_.unavailable;
          res.set_header("Retry-After", "1");
          reply_status(res, 503, format, kUnavailable, "records not stored, retry: " + w.error);
          return;
        }
      }
      ++stats_.export_requests;
      stats_.records_received += records;
      stats_.metric_points_received += points;
      stats_.items_rejected += static_cast<std::uint64_t>(decoded.rejected);
      res.status = 200;
      res.set_content(encode_export_response(sig, *format, decoded.rejected, decoded.rejected_message),
                      std::string(content_type_of(*format)));
    };
  };
  http.Post("/v1/traces", export_handler(signal::traces));
  http.Post("/v1/logs", export_handler(signal::logs));
  http.Post("/v1/metrics", export_handler(signal::metrics));
  http.Get("/v1/(traces|logs|metrics)", [this](const httplib::Request& req, httplib::Response& res) {
    ++stats_.method_not_allowed;
    res.set_header("Allow", "POST");
    reply_text(res, 405, req.path + " accepts POST (OTLP/HTTP export requests) only");
  });

  // ---- web view ------------------------------------------------------------------------------
  http.Get("/", [host_allowed](const httplib::Request& req, httplib::Response& res) {
    if (!host_allowed(req)) return reply_text(res, 403, "unexpected Host header");
    std::size_t n = 0;
    const web_asset* assets = web_assets(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (assets[i].path == "/index.html") {
        res.set_content(std::string(assets[i].body), std::string(assets[i].content_type));
        res.set_header("Cache-Control", "no-store");
        return;
      }
    }
    reply_text(res, 404, "the web view was not built into this binary");
  });
  http.Get("/favicon.ico", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  http.Get("/assets/([A-Za-z0-9_.-]+)", [this](const httplib::Request& req, httplib::Response& res) {
    std::size_t n = 0;
    const web_asset* assets = web_assets(n);
    std::string_view path = req.path;
    if (path.rfind("/assets/", 0) == 0) path.remove_prefix(7);
    for (std::size_t i = 0; i < n; ++i) {
      if (assets[i].path == path) {
        res.set_content(std::string(assets[i].body), std::string(assets[i].content_type));
        res.set_header("Cache-Control", "no-store");
        return;
      }
    }
    ++stats_.not_found;
    reply_text(res, 404, "no such file: " + req.path);
  });

  // ---- JSON API ------------------------------------------------------------------------------
  auto api_guard = [authorized, host_allowed](const httplib::Request& req, httplib::Response& res) {
    if (!host_allowed(req)) {
      reply_json(res, 403, error_json("unexpected Host header"));
      return false;
    }
    if (!authorized(req)) {
      reply_json(res, 401, error_json("this server requires its token (?token=... or an Authorization header)"));
      return false;
    }
    return true;
  };
  http.Get("/api/traces", [this, api_guard](const httplib::Request& req, httplib::Response& res) {
    if (!api_guard(req, res)) return;
    trace_query q;
    if (req.has_param("limit")) {
      q.limit = static_cast<std::size_t>(std::clamp(std::atoi(req.get_param_value("limit").c_str()), 1, 1000));
    }
    q.errors_only = req.get_param_value("errors") == "1";
    std::string body, error;
    bool ok = false;
    bool opened = store_.read(
        [&](sqlite3* db) {
          std::vector<trace_summary> list;
          ok = recent_traces(db, q, list, error);
          if (ok) body = traces_to_json(list);
        },
        error);
    if (!opened || !ok) return reply_json(res, 500, error_json(error));
    reply_json(res, 200, body);
  });
  http.Get("/api/trace/([0-9a-fA-F]{32})", [this, api_guard](const httplib::Request& req, httplib::Response& res) {
    if (!api_guard(req, res)) return;
    std::string id = lower(req.matches[1].str());
    std::string body, error;
    bool ok = false;
    bool opened = store_.read([&](sqlite3* db) { ok = trace_to_json(db, id, body, error); }, error);
    if (!opened || !ok) return reply_json(res, 500, error_json(error));
    reply_json(res, 200, body);
  });
  http.Post("/api/query", [this, api_guard](const httplib::Request& req, httplib::Response& res) {
    if (!api_guard(req, res)) return;
    // The SQL is the body as text, or {"sql": "..."} when sent as JSON.
    std::string sql = req.body;
    if (media_type(req.get_header_value("Content-Type")) == "application/json") {
      auto v = json::parse(req.body, 8);
      const json::value* s = v ? v->find("sql") : nullptr;
      if (s == nullptr || !s->is_string()) {
        ++stats_.bad_queries;
        return reply_json(res, 400, error_json("expected {\"sql\": \"SELECT ...\"}"));
      }
      sql = s->text;
    }
    query_result result;
    std::string error;
    bool ok = false;
    bool opened = store_.read(
        [&](sqlite3* db) {
          ok = run_query(db, sql, {.max_rows = 1000, .timeout = std::chrono::milliseconds(10'000)}, result, error);
        },
        error);
    if (!opened || !ok) {
      ++stats_.bad_queries;
      return reply_json(res, 400, error_json(error));
    }
    reply_json(res, 200, result_to_api_json(result));
  });
  http.Get("/api/stats", [this, api_guard](const httplib::Request& req, httplib::Response& res) {
    if (!api_guard(req, res)) return;
    reply_json(res, 200, stats_json());
  });

  http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    // Only fills in bodies for errors that have none yet (unknown paths, httplib's own 4xx).
    if (!res.body.empty()) return;
    if (res.status == 404) {
      ++stats_.not_found;
      res.set_content("no such endpoint: " + req.method + " " + req.path +
                          " (OTLP: POST /v1/traces, /v1/logs, /v1/metrics; web view: /)\n",
                      "text/plain; charset=utf-8");
    } else if (res.status == 413) {
      ++stats_.too_large;
      res.set_content("request body larger than the limit of " + human_bytes(options_.max_body_bytes) + "\n",
                      "text/plain; charset=utf-8");
    } else if (res.status == 415) {
      ++stats_.unsupported_media_type;
      res.set_content("unsupported content encoding\n", "text/plain; charset=utf-8");
    } else if (res.status >= 400) {
      res.set_content("bad request\n", "text/plain; charset=utf-8");
    }
  });
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what += std::string(": ") + e.what();
    } catch (...) {
    }
    reply_text(res, 500, what);
  });
  if (options_.log_requests) {
    http.set_logger([](const httplib::Request& req, const httplib::Response& res) {
      std::fprintf(stderr, "%s %s -> %d (%zu bytes in)\n", req.method.c_str(), req.path.c_str(), res.status,
                   req.body.size());
    });
  }
}

}  // namespace logfire::backend
