// httplib_client: each request is a CLIENT span, current while it is sent, so the traceparent
// it carries names that span (a new parent id per request) within the caller's trace; the
// incoming tracestate and baggage travel on; failures are errors.
#include <mutex>

#include "httplib/httplib_test_support.hpp"
#include "logfire/handoff.hpp"
#include "logfire/httplib.hpp"

namespace {

using namespace httplib_test;

// A plain (uninstrumented) downstream that keeps the headers it receives.
struct downstream {
  running_server srv;
  std::mutex mu;
  std::vector<httplib::Headers> received;

  downstream() {
    srv.server().Get(".*", [this](const httplib::Request& req, httplib::Response& res) { keep(req, res); });
    srv.server().Post(".*", [this](const httplib::Request& req, httplib::Response& res) { keep(req, res); });
  }
  void keep(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu);
    received.push_back(req.headers);
    if (req.path == "/fail") res.status = 502;
    if (req.path == "/gone") res.status = 404;
    if (req.path == "/echo") res.set_content(req.body, req.get_header_value("Content-Type"));
  }
  std::string header(std::size_t i, const std::string& name) {
    std::lock_guard lock(mu);
    if (i >= received.size()) return {};
    auto it = received[i].find(name);
    return it == received[i].end() ? std::string() : it->second;
  }
};

struct client : ::testing::Test {
  std::shared_ptr<logfire::memory_exporter> mem = std::make_shared<logfire::memory_exporter>();
  logfire::setup lf;
  downstream down;

  void SetUp() override {
    auto o = quiet_options(mem);
    o.propagators = "tracecontext,baggage";
    lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    ASSERT_TRUE(down.srv.start());
  }
  std::vector<logfire::stored_record> flushed() {
    EXPECT_TRUE(logfire::force_flush());
    return mem->records();
  }
};

TEST_F(client, each_request_is_a_client_span_named_by_the_traceparent_it_sends) {
  logfire::span_context parent;
  {
    logfire::span checkout("checkout");
    parent = checkout.context();
    logfire::httplib_client c("http://127.0.0.1:" + std::to_string(down.srv.port()));
    auto r1 = c.get("/stock?sku=1");
    auto r2 = c.post("/echo", R"({"sku":1})", "application/json");
    ASSERT_TRUE(r1 && r2);
    EXPECT_EQ(r2->body, R"({"sku":1})");
  }
  const auto spans = of_kind(flushed(), logfire::span_kind::client);
  ASSERT_EQ(spans.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& s = spans[i];
    EXPECT_EQ(s.context.trace, parent.trace);
    EXPECT_EQ(s.parent, parent.span);
    // What went on the wire names this client span as the parent: one new id per request.
    EXPECT_EQ(down.header(i, "traceparent"), "00-" + parent.trace.to_hex() + "-" + s.context.span.to_hex() + "-03");
    EXPECT_EQ(s.string_attr("server.address"), "127.0.0.1");
    EXPECT_EQ(int_attr(s, "server.port"), down.srv.port());
    EXPECT_EQ(int_attr(s, "http.response.status_code"), 200);
    EXPECT_EQ(s.status, logfire::status_code::unset);
  }
  EXPECT_NE(spans[0].context.span, spans[1].context.span);
  EXPECT_EQ(spans[0].name, "GET {url.full}");
  EXPECT_EQ(spans[0].message, "GET " + down.srv.base_url() + "/stock?sku=1");
  EXPECT_EQ(spans[0].string_attr("http.request.method"), "GET");
  EXPECT_EQ(spans[1].string_attr("url.full"), down.srv.base_url() + "/echo");
  EXPECT_EQ(spans[1].string_attr("http.request.method"), "POST");
}

TEST_F(client, tracestate_and_baggage_of_an_incoming_request_travel_on) {
  {
    logfire::attach_context in(
        logfire::header_list{{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
                             {"tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"},
                             {"baggage", "user=alice"}});
    logfire::span handler("handle");
    logfire::httplib_client c("127.0.0.1", down.srv.port());
    ASSERT_TRUE(c.get("/next"));
  }
  EXPECT_EQ(down.header(0, "tracestate"), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  EXPECT_EQ(down.header(0, "baggage"), "user=alice");
  EXPECT_EQ(down.header(0, "traceparent").substr(0, 36), "00-4bf92f3577b34da6a3ce929d0e0e4736-");
}

TEST_F(client, a_5xx_is_an_error_and_a_4xx_a_warning) {
  logfire::httplib_client c("127.0.0.1", down.srv.port());
  auto r = c.get("/fail");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  r = c.get("/gone");
  ASSERT_TRUE(r);
  const auto spans = of_kind(flushed(), logfire::span_kind::client);
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].status, logfire::status_code::error);
  EXPECT_EQ(spans[0].level, logfire::level::error);
  EXPECT_EQ(spans[0].string_attr("error.type"), "502");
  EXPECT_EQ(spans[0].find("code.filepath"), nullptr);
  EXPECT_EQ(spans[1].status, logfire::status_code::unset);
  EXPECT_EQ(spans[1].level, logfire::level::warn);
}

TEST_F(client, a_connection_failure_is_an_error) {
  running_server closed;
  ASSERT_TRUE(closed.start());
  const int port = closed.port();
  closed.stop();  // nothing listens there any more

  logfire::httplib_client c("127.0.0.1", port);
  auto r = c.get("/anything");
  EXPECT_FALSE(r);
  EXPECT_EQ(r.error(), httplib::Error::Connection);
  const auto spans = of_kind(flushed(), logfire::span_kind::client);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].status, logfire::status_code::error);
  EXPECT_EQ(spans[0].level, logfire::level::error);
  EXPECT_EQ(spans[0].find("http.response.status_code"), nullptr);
  EXPECT_EQ(spans[0].string_attr("error.type"), httplib::to_string(httplib::Error::Connection));
}

TEST_F(client, client_and_instrumented_server_share_one_trace) {
  running_server srv;
  auto routes = logfire::instrument_httplib(srv.server(), {.trusted_routes = {"/inventory"}});
  routes.get("/inventory", [](const httplib::Request&, httplib::Response& res) {
    logfire::info("counted stock");
    res.set_content("7", "text/plain");
  });
  ASSERT_TRUE(srv.start());
  logfire::span_context root;
  {
    logfire::span checkout("checkout");
    root = checkout.context();
    logfire::httplib_client c(srv.base_url());
    ASSERT_TRUE(c.get("/inventory"));
  }
  const auto recs = flushed();
  const auto clients = of_kind(recs, logfire::span_kind::client);
  const auto servers = of_kind(recs, logfire::span_kind::server);
  ASSERT_EQ(clients.size(), 1u);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0].context.trace, root.trace);
  EXPECT_EQ(servers[0].parent, clients[0].context.span);
  EXPECT_TRUE(servers[0].parent_is_remote);
  const auto l = logs(recs);
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].parent, servers[0].context.span);
}

}  // namespace
