// The SERVER span of a cpp-httplib request. Runs on httplib's worker threads: pre-routing,
// the route's handler, the exception handler and post-routing of one request share one thread
// (verified by tests/httplib), so the request's state lives in a thread_local slot from
// pre-routing to post-routing. Nothing here throws into httplib: every step is noexcept or
// guarded, and a failure costs the span, never the request.
#include <array>
#include <cstddef>
#include <exception>
#include <optional>
#include <regex>
#include <string_view>
#include <utility>

#include "http_semconv.hpp"
#include "literal_template.hpp"
#include "logfire/config.hpp"
#include "logfire/handoff.hpp"
#include "logfire/httplib.hpp"
#include "logfire/logfire.hpp"
#include "span_args.hpp"

namespace logfire {
namespace detail {

struct httplib_route {
  std::string method;  // "GET", ...; HEAD requests use the GET routes, as httplib does
  std::string pattern;
  std::regex re;
  bool literal = false;  // no regex syntax: compared as a string
  bool reader = false;   // registered with a content-reader handler
  std::string route;     // http.route
  // The span name after "<METHOD> ": the route template, or the pattern with its braces
  // doubled so that the message shows it literally.
  std::string name_tail;
  std::vector<std::string> fields;  // template fields, filled from the capture groups in order
};

struct httplib_server_state {
  httplib_server_options opts;
  std::vector<httplib_route> routes;
  ::httplib::Server::HandlerWithResponse user_pre;
  ::httplib::Server::Handler user_post;
  ::httplib::Server::ExceptionHandler user_exception;
};

}  // namespace detail

namespace {

using detail::httplib_route;
using detail::httplib_server_state;

// One request in flight on this thread (httplib handles one request at a time per thread).
struct request_slot {
  std::optional<attach_context> incoming;
  std::optional<span> server;
  bool active = false;

  void finish() noexcept {
    server.reset();    // ends the span while the incoming context is still attached
    incoming.reset();  // then restores the thread's previous context
    active = false;
  }
};

thread_local request_slot t_request;

bool has_regex_syntax(std::string_view p) noexcept {
  return p.find_first_of(".[]{}()\\*+?^$|") != std::string_view::npos;
}

// The names of the `{field}`s of a route template ("{{" and "}}" are literal braces).
std::vector<std::string> template_fields(std::string_view t) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '{' && i + 1 < t.size() && t[i + 1] == '{') {
      ++i;
      continue;
    }
    if (t[i] != '{') continue;
    const std::size_t close = t.find('}', i + 1);
    if (close == std::string_view::npos) break;
    std::string_view field = t.substr(i + 1, close - i - 1);
    field = field.substr(0, field.find_first_of(":!="));
    if (!field.empty()) out.emplace_back(field);
    i = close;
  }
  return out;
}

bool expects_content(const ::httplib::Request& req) {
  return req.method == "POST" || req.method == "PUT" || req.method == "PATCH" || req.method == "PRI" ||
         (req.method == "DELETE" && req.has_header("Content-Length"));
}

// The route httplib will pick for `req`, with its capture groups (same order of evaluation:
// content-reader routes first when the request has a body, then the plain ones).
const httplib_route* find_route(const httplib_server_state& st, const ::httplib::Request& req, std::smatch& m) {
  const std::string_view method = req.method == "HEAD" ? std::string_view("GET") : std::string_view(req.method);
  auto scan = [&](bool reader) -> const httplib_route* {
    for (const auto& r : st.routes) {
      if (r.reader != reader || r.method != method) continue;
      if (r.literal) {
        if (r.pattern == req.path) {
          m = std::smatch();
          return &r;
        }
      } else if (std::regex_match(req.path, m, r.re)) {
        return &r;
      }
    }
    return nullptr;
  };
  if (expects_content(req))
    if (const auto* r = scan(true)) return r;
  return scan(false);
}

bool is_trusted(const httplib_server_state& st, const ::httplib::Request& req, const httplib_route* route) noexcept {
  if (route)
    for (const auto& t : st.opts.trusted_routes)
      if (t == route->route) return true;
  if (!st.opts.trusted_caller) return false;
  try {
    return st.opts.trusted_caller(req);
  } catch (...) {
    return false;
  }
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits a Host header into host and port ("[::1]:8080" -> "::1", 8080); port 0 when absent.
std::pair<std::string_view, int> split_host(std::string_view h) noexcept {
  h = trim(h);
  std::string_view host = h, port;
  if (!h.empty() && h.front() == '[') {
    const auto close = h.find(']');
    if (close == std::string_view::npos) return {h, 0};
    host = h.substr(1, close - 1);
    if (close + 1 < h.size() && h[close + 1] == ':') port = h.substr(close + 2);
  } else if (const auto colon = h.rfind(':'); colon != std::string_view::npos && h.find(':') == colon) {
    host = h.substr(0, colon);
    port = h.substr(colon + 1);
  }
  int p = 0;
  if (port.empty() || port.size() > 5) return {host, 0};
  for (char c : port) {
    if (c < '0' || c > '9') return {host, 0};
    p = p * 10 + (c - '0');
  }
  return {host, p > 65535 ? 0 : p};
}

void begin_request(const httplib_server_state& st, const ::httplib::Request& req) noexcept {
  if (t_request.active) t_request.finish();  // a request that never reached post-routing
  try {
    std::smatch m;
    const httplib_route* route = nullptr;
    try {
      route = find_route(st, req, m);
    } catch (...) {  // std::regex may throw on pathological input (error_complexity)
      route = nullptr;
    }
    const bool trusted = is_trusted(st, req, route);
    t_request.active = true;
    t_request.incoming.emplace(httplib_carrier(req.headers), attach_options{.third_party = !trusted});

    const bool known = detail::known_http_method(req.method);
    const std::string_view method = known ? std::string_view(req.method) : std::string_view("_OTHER");
    std::string name(known ? std::string_view(req.method) : std::string_view("HTTP"));
    name += ' ';
    name += route ? std::string_view(route->name_tail) : std::string_view("{url.path}");

    // url.path as it was on the wire (httplib percent-decodes req.path).
    std::string_view path = req.target;
    path = path.substr(0, path.find('?'));
    if (path.empty()) path = req.path;

    detail::span_args args;
    args.add("http.request.method", method);
    args.add("url.path", path);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    args.add("url.scheme", req.ssl ? "https" : "http");
#else
    args.add("url.scheme", "http");
#endif
    if (route) args.add("http.route", route->route);
    const auto host_header = req.headers.find("Host");
    const auto [server_host, server_port] =
        host_header != req.headers.end() ? split_host(host_header->second) : std::pair<std::string_view, int>{};
    args.add("server.address", server_host.empty() ? std::string_view(req.local_addr) : server_host);
    if (server_port) args.add("server.port", server_port);
    // The original client as a proxy in front reports it (Cloud Run's front end, load balancers).
    std::string_view client = req.remote_addr;
    if (const auto xff = req.headers.find("X-Forwarded-For"); xff != req.headers.end()) {
      const std::string_view first = trim(std::string_view(xff->second).substr(0, xff->second.find(',')));
      if (!first.empty()) client = first;
    }
    args.add("client.address", client);
    args.add("network.peer.address", req.remote_addr);
    if (req.remote_port > 0) args.add("network.peer.port", req.remote_port);
    if (req.version.starts_with("HTTP/")) args.add("network.protocol.version", std::string_view(req.version).substr(5));
    if (const auto ua = req.headers.find("User-Agent"); ua != req.headers.end())
      args.add("user_agent.original", ua->second);
    if (!known) args.add("http.request.method_original", req.method);

    // Route fields from the capture groups, so the message reads "GET /orders/42". A field
    // without a group shows its own placeholder rather than breaking the message.
    std::array<std::string, detail::span_args::capacity> field_values;
    if (route) {
      for (std::size_t i = 0; i < route->fields.size() && args.size() < detail::span_args::capacity; ++i) {
        if (i + 1 < m.size())
          field_values[i] = m[i + 1].str();
        else
          field_values[i] = "{" + route->fields[i] + "}";
        args.add(route->fields[i], field_values[i]);
      }
    }
    detail::emplace_span(t_request.server, name, args, {.kind = span_kind::server});
  } catch (...) {
    // Out of memory while building the span: the request goes on without it.
  }
}

void escape_what(std::string_view what, std::string& out) {
  for (char c : what) {
    if (c == '\r')
      out += "\\r";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
}

void end_request(const httplib_server_state& st, const ::httplib::Request& req,
                 const ::httplib::Response& res) noexcept {
  // httplib answers 400/414 to a request it could not parse without pre-routing: give it a
  // span of its own, so no request goes unrecorded.
  if (!t_request.active) begin_request(st, req);
  if (t_request.server) {
    span& s = *t_request.server;
    s.set_attribute("http.response.status_code", res.status);
    if (res.status >= 500) {
      s.set_attribute("error.type", res.status);
      s.set_status(status_code::error);
    } else if (res.status >= 400) {
      s.set_level(level::warn);
    }
  }
  t_request.finish();
  if (st.opts.flush_after_each_request) (void)force_flush(st.opts.flush_timeout);
}

void record_exception(std::exception_ptr ep) noexcept {
  if (!t_request.server || !ep) return;
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    t_request.server->record_exception(e, true);
  } catch (...) {
    t_request.server->record_exception("unknown", "a non-standard exception escaped the handler", {}, true);
  }
}

}  // namespace

httplib_router instrument_httplib(::httplib::Server& svr, httplib_server_options opts) {
  auto st = std::make_shared<httplib_server_state>();
  st->opts = std::move(opts);
  // The server holds the state through these handlers; routers hold it too.
  svr.set_pre_routing_handler([st](const ::httplib::Request& req, ::httplib::Response& res) {
    begin_request(*st, req);
    return st->user_pre ? st->user_pre(req, res) : ::httplib::Server::HandlerResponse::Unhandled;
  });
  svr.set_post_routing_handler([st](const ::httplib::Request& req, ::httplib::Response& res) {
    struct end_guard {
      const httplib_server_state& st;
      const ::httplib::Request& req;
      const ::httplib::Response& res;
      ~end_guard() { end_request(st, req, res); }
    } guard{*st, req, res};
    if (st->user_post) st->user_post(req, res);
  });
  svr.set_exception_handler([st](const ::httplib::Request& req, ::httplib::Response& res, std::exception_ptr ep) {
    record_exception(ep);
    if (st->user_exception) {
      st->user_exception(req, res, ep);
      return;
    }
    // What httplib answers when no exception handler is set.
    res.status = 500;
    std::string what;
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      escape_what(e.what(), what);
    } catch (...) {
      what = "UNKNOWN";
    }
    res.set_header("EXCEPTION_WHAT", what);
  });
  return httplib_router(svr, std::move(st));
}

httplib_router& httplib_router::add(const char* method, const std::string& pattern, std::string route, bool reader) {
  httplib_route r;
  r.method = method;
  r.pattern = pattern;
  r.literal = !has_regex_syntax(pattern);
  if (!r.literal) r.re = std::regex(pattern);  // httplib compiles the same pattern the same way
  r.reader = reader;
  if (route.empty()) {
    r.route = pattern;
    r.name_tail = detail::literal_template(pattern);
  } else {
    r.fields = template_fields(route);
    r.name_tail = route;
    r.route = std::move(route);
  }
  state_->routes.push_back(std::move(r));
  return *this;
}

httplib_router& httplib_router::get(const std::string& pattern, handler h, std::string route) {
  server_->Get(pattern, std::move(h));
  return add("GET", pattern, std::move(route), false);
}
httplib_router& httplib_router::post(const std::string& pattern, handler h, std::string route) {
  server_->Post(pattern, std::move(h));
  return add("POST", pattern, std::move(route), false);
}
httplib_router& httplib_router::post(const std::string& pattern, content_reader_handler h, std::string route) {
  server_->Post(pattern, std::move(h));
  return add("POST", pattern, std::move(route), true);
}
httplib_router& httplib_router::put(const std::string& pattern, handler h, std::string route) {
  server_->Put(pattern, std::move(h));
  return add("PUT", pattern, std::move(route), false);
}
httplib_router& httplib_router::put(const std::string& pattern, content_reader_handler h, std::string route) {
  server_->Put(pattern, std::move(h));
  return add("PUT", pattern, std::move(route), true);
}
httplib_router& httplib_router::patch(const std::string& pattern, handler h, std::string route) {
  server_->Patch(pattern, std::move(h));
  return add("PATCH", pattern, std::move(route), false);
}
httplib_router& httplib_router::patch(const std::string& pattern, content_reader_handler h, std::string route) {
  server_->Patch(pattern, std::move(h));
  return add("PATCH", pattern, std::move(route), true);
}
httplib_router& httplib_router::del(const std::string& pattern, handler h, std::string route) {
  server_->Delete(pattern, std::move(h));
  return add("DELETE", pattern, std::move(route), false);
}
httplib_router& httplib_router::del(const std::string& pattern, content_reader_handler h, std::string route) {
  server_->Delete(pattern, std::move(h));
  return add("DELETE", pattern, std::move(route), true);
}
httplib_router& httplib_router::options(const std::string& pattern, handler h, std::string route) {
  server_->Options(pattern, std::move(h));
  return add("OPTIONS", pattern, std::move(route), false);
}

httplib_router& httplib_router::set_pre_routing_handler(::httplib::Server::HandlerWithResponse h) {
  state_->user_pre = std::move(h);
  return *this;
}
httplib_router& httplib_router::set_post_routing_handler(::httplib::Server::Handler h) {
  state_->user_post = std::move(h);
  return *this;
}
httplib_router& httplib_router::set_exception_handler(::httplib::Server::ExceptionHandler h) {
  state_->user_exception = std::move(h);
  return *this;
}

}  // namespace logfire
