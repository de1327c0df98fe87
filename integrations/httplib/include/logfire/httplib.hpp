// cpp-httplib integration: a SERVER span for every request a httplib::Server answers, and a
// client that sends the current trace context and records a CLIENT span per request. Link
// logfire::httplib; the core library never includes cpp-httplib.
//
//   httplib::Server svr;
//   auto routes = logfire::instrument_httplib(svr, {.flush_after_each_request = true});
//   routes.get(R"(/orders/(\d+))", handler, "/orders/{id}");   // span "GET /orders/{id}"
//   svr.listen("0.0.0.0", 8080);
//
//   logfire::httplib_client billing("http://billing:8080");
//   auto res = billing.post("/charge", body, "application/json");  // traceparent sent
//
// Threading: cpp-httplib runs the pre-routing handler, the route's handler, the exception
// handler and the post-routing handler of one request on one thread of its pool, one request
// at a time per thread. The SERVER span starts in pre-routing and is that thread's current
// span until post-routing, so the handler's own logs and spans nest under it.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "logfire/httplib_carrier.hpp"
#include "logfire/logfire.hpp"

namespace logfire {

struct httplib_server_options {
  // Routes whose callers are your own services: the context they send is always continued,
  // whatever distributed_tracing says (attach_context with third_party = false). Each entry is
  // an http.route as registered through httplib_router (the route template, or the pattern
  // when none was given), e.g. "/internal/jobs/{id}". Default: none.
  std::vector<std::string> trusted_routes{};
  // Decides per request whether the caller is one of your own services (true: continue its
  // context), e.g. by a header your mesh adds. Runs on the request's thread before the route's
  // handler; an exception counts as false. Default: unset (every caller is third party).
  std::function<bool(const ::httplib::Request&)> trusted_caller{};
  // force_flush() at the end of every request, before the response is written, so nothing
  // waits in memory while a platform throttles the CPU between requests (Cloud Run without
  // "CPU always allocated"). Costs one export round trip per request. Default false.
  bool flush_after_each_request = false;
  // Upper bound of that flush. Default 2 s.
  std::chrono::milliseconds flush_timeout{2000};
};

namespace detail {
struct httplib_server_state;
}

// Registers routes on an instrumented server, like httplib::Server's Get/Post/..., recording
// each route's template so that its SERVER spans are named "GET /orders/{id}" and carry
// `http.route`. Patterns are httplib's (ECMAScript regular expressions matched against the whole
// path). `route` is the template: its k-th `{field}` takes the k-th capture group, so that the
// span's message reads "GET /orders/42" and the span has the attribute id = "42". Without
// `route`, the pattern itself is the route. Requests to routes registered on the server directly
// get spans named "GET {url.path}" (the method and the path in the message).
//
// Register every route through the router (or none): its match must agree with httplib's, which
// takes the first matching route in registration order. Like httplib, register before listen().
// Copies share one registry; the server must outlive them.
class httplib_router {
 public:
  using handler = ::httplib::Server::Handler;
  using content_reader_handler = ::httplib::Server::HandlerWithContentReader;

  httplib_router& get(const std::string& pattern, handler h, std::string route = {});
  httplib_router& post(const std::string& pattern, handler h, std::string route = {});
  httplib_router& post(const std::string& pattern, content_reader_handler h, std::string route = {});
  httplib_router& put(const std::string& pattern, handler h, std::string route = {});
  httplib_router& put(const std::string& pattern, content_reader_handler h, std::string route = {});
  httplib_router& patch(const std::string& pattern, handler h, std::string route = {});
  httplib_router& patch(const std::string& pattern, content_reader_handler h, std::string route = {});
  // DELETE (httplib's Delete).
  httplib_router& del(const std::string& pattern, handler h, std::string route = {});
  httplib_router& del(const std::string& pattern, content_reader_handler h, std::string route = {});
  httplib_router& options(const std::string& pattern, handler h, std::string route = {});

  // instrument_httplib() occupies httplib's single pre-routing, post-routing and exception
  // handler slots; set yours here and they run inside the request's span (pre-routing after the
  // span starts, post-routing before it ends, so a status it sets is recorded). Calling the
  // server's own setters instead would remove the instrumentation.
  httplib_router& set_pre_routing_handler(::httplib::Server::HandlerWithResponse h);
  httplib_router& set_post_routing_handler(::httplib::Server::Handler h);
  // Without one, a handler's exception becomes a 500 with an EXCEPTION_WHAT header, as httplib
  // answers by default. With one, it decides the response (httplib then defaults to 200).
  httplib_router& set_exception_handler(::httplib::Server::ExceptionHandler h);

  [[nodiscard]] ::httplib::Server& server() const noexcept { return *server_; }

 private:
  friend httplib_router instrument_httplib(::httplib::Server&, httplib_server_options);
  httplib_router(::httplib::Server& svr, std::shared_ptr<detail::httplib_server_state> state) noexcept
      : server_(&svr), state_(std::move(state)) {}
  httplib_router& add(const char* method, const std::string& pattern, std::string route, bool reader);

  ::httplib::Server* server_;
  std::shared_ptr<detail::httplib_server_state> state_;
};

// Instruments `svr`: every request gets a SERVER span with the HTTP semantic-convention
// attributes (http.request.method, url.path, url.scheme, http.route when known,
// http.response.status_code, server.address, server.port, client.address, network.peer.*,
// user_agent.original). The incoming trace context is taken per the distributed_tracing
// setting (or always continued for trusted callers, see the options). A handler's exception is
// recorded on the span (escaped); a 5xx ends the span with status ERROR (level error), a 4xx
// with level warn. Call once per server, before listen(); configure() may come before or after.
httplib_router instrument_httplib(::httplib::Server& svr, httplib_server_options opts = {});

// An httplib::Client that sends the current trace context (traceparent, tracestate, baggage:
// the configured propagators) with every request, inside a CLIENT span with
// http.request.method, url.full, server.address, server.port and http.response.status_code.
// A connection failure or a 5xx sets status ERROR (and error.type); a 4xx sets level warn.
// Each request is its own span, so each carries a new parent id. Not for concurrent use from
// several threads at once (httplib serializes them).
class httplib_client {
 public:
  // "http://host:port" as httplib::Client takes it ("https://" when cpp-httplib has OpenSSL).
  explicit httplib_client(const std::string& scheme_host_port);
  httplib_client(const std::string& host, int port);

  ::httplib::Result get(const std::string& path, const ::httplib::Headers& headers = {});
  ::httplib::Result post(const std::string& path, const std::string& body, const std::string& content_type,
                         const ::httplib::Headers& headers = {});
  ::httplib::Result put(const std::string& path, const std::string& body, const std::string& content_type,
                        const ::httplib::Headers& headers = {});
  ::httplib::Result del(const std::string& path, const ::httplib::Headers& headers = {});
  // Any method; `content_type` is sent when the body is not empty.
  ::httplib::Result send(const std::string& method, const std::string& path, ::httplib::Headers headers = {},
                         std::string body = {}, const std::string& content_type = {});

  // The wrapped client, for its settings (timeouts, keep-alive, authentication, ...). Requests
  // sent through it directly are not instrumented.
  [[nodiscard]] ::httplib::Client& raw() noexcept { return client_; }
  // "http://host:port", as url.full begins.
  [[nodiscard]] const std::string& base_url() const noexcept { return base_url_; }

 private:
  ::httplib::Client client_;
  std::string base_url_;
  std::string host_;
  int port_ = 80;
};

}  // namespace logfire
