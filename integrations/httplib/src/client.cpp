// The CLIENT span of an outgoing cpp-httplib request. Runs on the caller's thread: the span
// becomes current for the duration of the call, so the injected traceparent names it as the
// parent (a new parent id per request) and anything the caller's callbacks log nests under it.
#include <optional>
#include <string_view>
#include <utility>

#include "http_semconv.hpp"
#include "logfire/handoff.hpp"
#include "logfire/httplib.hpp"
#include "logfire/logfire.hpp"
#include "span_args.hpp"

namespace logfire {
namespace {

struct endpoint {
  std::string scheme = "http";
  std::string host;
  int port = 80;
};

// "http://host:port", "https://[::1]", "host:8080" as httplib::Client accepts them.
endpoint parse_endpoint(std::string_view s) {
  endpoint e;
  if (const auto sep = s.find("://"); sep != std::string_view::npos) {
    e.scheme = std::string(s.substr(0, sep));
    s.remove_prefix(sep + 3);
  }
  e.port = e.scheme == "https" ? 443 : 80;
  s = s.substr(0, s.find('/'));
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    e.host = std::string(s.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
    if (close != std::string_view::npos && close + 1 < s.size() && s[close + 1] == ':') port = s.substr(close + 2);
  } else if (const auto colon = s.rfind(':'); colon != std::string_view::npos) {
    e.host = std::string(s.substr(0, colon));
    port = s.substr(colon + 1);
  } else {
    e.host = std::string(s);
  }
  if (!port.empty() && port.size() <= 5) {
    int p = 0;
    bool digits = true;
    for (char c : port) {
      digits = digits && c >= '0' && c <= '9';
      p = p * 10 + (c - '0');
    }
    if (digits && p > 0 && p <= 65535) e.port = p;
  }
  return e;
}

std::string make_base_url(const endpoint& e) {
  std::string url = e.scheme + "://";
  const bool v6 = e.host.find(':') != std::string::npos;
  if (v6) url += '[';
  url += e.host;
  if (v6) url += ']';
  url += ':';
  url += std::to_string(e.port);
  return url;
}

}  // namespace

httplib_client::httplib_client(const std::string& scheme_host_port) : client_(scheme_host_port) {
  const endpoint e = parse_endpoint(scheme_host_port);
  base_url_ = make_base_url(e);
  host_ = e.host;
  port_ = e.port;
}

httplib_client::httplib_client(const std::string& host, int port)
    : client_(host, port), base_url_(make_base_url({"http", host, port})), host_(host), port_(port) {}

::httplib::Result httplib_client::get(const std::string& path, const ::httplib::Headers& headers) {
  return send("GET", path, headers);
}

::httplib::Result httplib_client::post(const std::string& path, const std::string& body,
                                       const std::string& content_type, const ::httplib::Headers& headers) {
  return send("POST", path, headers, body, content_type);
}

::httplib::Result httplib_client::put(const std::string& path, const std::string& body, const std::string& content_type,
                                      const ::httplib::Headers& headers) {
  return send("PUT", path, headers, body, content_type);
}

::httplib::Result httplib_client::del(const std::string& path, const ::httplib::Headers& headers) {
  return send("DELETE", path, headers);
}

::httplib::Result httplib_client::send(const std::string& method, const std::string& path, ::httplib::Headers headers,
                                       std::string body, const std::string& content_type) {
  ::httplib::Request req;
  req.method = method;
  req.path = path;
  req.headers = std::move(headers);
  req.body = std::move(body);
  if (!req.body.empty() && !content_type.empty() && !req.has_header("Content-Type"))
    req.set_header("Content-Type", content_type);

  std::optional<span> s;
  {
    const bool known = detail::known_http_method(method);
    const std::string url = base_url_ + path;
    detail::span_args args;
    args.add("http.request.method", known ? std::string_view(method) : std::string_view("_OTHER"));
    if (!known) args.add("http.request.method_original", method);
    args.add("url.full", url);
    args.add("server.address", host_);
    args.add("server.port", port_);
    detail::emplace_span(s, detail::http_client_span_name(method), args, {.kind = span_kind::client});
  }
  // The client span is current now: the headers name it as the parent.
  httplib_mutable_carrier out(req.headers);
  inject_context(out);

  ::httplib::Result result = client_.send(req);

  if (result) {
    const int status = result->status;
    s->set_attribute("http.response.status_code", status);
    if (status >= 500) {
      s->set_attribute("error.type", status);
      s->set_status(status_code::error);
    } else if (status >= 400) {
      s->set_level(level::warn);
    }
  } else {
    const std::string what = ::httplib::to_string(result.error());
    s->set_attribute("error.type", what);
    s->set_status(status_code::error, what);
  }
  return result;
}

}  // namespace logfire
