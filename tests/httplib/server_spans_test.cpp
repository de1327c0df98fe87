// What an instrumented httplib::Server records for each request: one SERVER span named by
// its route, with the HTTP semantic-convention attributes, and a level/status that follows
// the response status (5xx error, 4xx warning).
#include "httplib/httplib_test_support.hpp"
#include "logfire/httplib.hpp"

namespace {

using namespace httplib_test;
using logfire::span_kind;

struct server_spans : ::testing::Test {
  std::shared_ptr<logfire::memory_exporter> mem = std::make_shared<logfire::memory_exporter>();
  running_server srv;
  logfire::setup lf;

  void SetUp() override {
    lf = logfire::configure(quiet_options(mem));
    ASSERT_TRUE(lf) << lf.error();
    auto routes = logfire::instrument_httplib(srv.server());
    routes.get(R"(/orders/(\d+)/items/(\w+))",
               [](const httplib::Request&, httplib::Response& res) { res.set_content("item", "text/plain"); },
               "/orders/{order_id}/items/{item}");
    routes.get(R"(/raw/(\d{3}))", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
    routes.get("/health", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
    routes.post("/teapot", [](const httplib::Request&, httplib::Response& res) { res.status = 418; });
    routes.del(
        "/orders/(\\d+)", [](const httplib::Request&, httplib::Response& res) { res.status = 503; }, "/orders/{id}");
    // Registered on the server directly: the integration does not know its route.
    srv.server().Get("/direct/(.*)", [](const httplib::Request&, httplib::Response&) {});
    ASSERT_TRUE(srv.start());
  }

  logfire::stored_record only_server_span() {
    EXPECT_TRUE(logfire::force_flush());
    auto spans = of_kind(mem->records(), span_kind::server);
    EXPECT_EQ(spans.size(), 1u);
    auto r = spans.empty() ? logfire::stored_record{} : spans.front();
    mem->clear();
    return r;
  }
};

TEST_F(server_spans, a_route_template_names_the_span_and_its_fields_fill_the_message) {
  httplib::Client c("127.0.0.1", srv.port());
  auto res = c.Get("/orders/42/items/book?x=1", {{"User-Agent", "checkout-test/1.0"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);

  const auto s = only_server_span();
  EXPECT_EQ(s.name, "GET /orders/{order_id}/items/{item}");
  EXPECT_EQ(s.message, "GET /orders/42/items/book");
  EXPECT_EQ(s.kind, span_kind::server);
  EXPECT_EQ(s.string_attr("http.request.method"), "GET");
  EXPECT_EQ(s.string_attr("http.route"), "/orders/{order_id}/items/{item}");
  EXPECT_EQ(s.string_attr("url.path"), "/orders/42/items/book");
  EXPECT_EQ(s.string_attr("url.scheme"), "http");
  EXPECT_EQ(s.string_attr("order_id"), "42");
  EXPECT_EQ(s.string_attr("item"), "book");
  EXPECT_EQ(int_attr(s, "http.response.status_code"), 200);
  EXPECT_EQ(s.string_attr("server.address"), "127.0.0.1");
  EXPECT_EQ(int_attr(s, "server.port"), srv.port());
  EXPECT_EQ(s.string_attr("client.address"), "127.0.0.1");
  EXPECT_EQ(s.string_attr("network.peer.address"), "127.0.0.1");
  EXPECT_GT(int_attr(s, "network.peer.port").value_or(0), 0);
  EXPECT_EQ(s.string_attr("network.protocol.version"), "1.1");
  EXPECT_EQ(s.string_attr("user_agent.original"), "checkout-test/1.0");
  EXPECT_EQ(s.level, logfire::level::info);
  EXPECT_EQ(s.status, logfire::status_code::unset);
  EXPECT_FALSE(s.parent.valid());  // no incoming context: a new trace
  EXPECT_EQ(logfire::stats().count_of(logfire::event_counter::template_errors), 0u);
}

TEST_F(server_spans, a_regex_route_without_template_is_its_own_route_and_shown_literally) {
  httplib::Client c("127.0.0.1", srv.port());
  ASSERT_TRUE(c.Get("/raw/123"));
  const auto s = only_server_span();
  EXPECT_EQ(s.string_attr("http.route"), R"(/raw/(\d{3}))");
  EXPECT_EQ(s.message, R"(GET /raw/(\d{3}))");
  EXPECT_EQ(int_attr(s, "http.response.status_code"), 204);
  EXPECT_EQ(logfire::stats().count_of(logfire::event_counter::template_errors), 0u);
}

TEST_F(server_spans, without_a_known_route_the_message_is_method_and_path) {
  httplib::Client c("127.0.0.1", srv.port());
  ASSERT_TRUE(c.Get("/direct/{url.scheme}"));  // braces in the path stay literal
  auto s = only_server_span();
  EXPECT_EQ(s.name, "GET {url.path}");
  EXPECT_EQ(s.message, "GET /direct/{url.scheme}");
  EXPECT_EQ(s.find("http.route"), nullptr);

  auto res = c.Get("/missing");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  s = only_server_span();
  EXPECT_EQ(s.message, "GET /missing");
  EXPECT_EQ(int_attr(s, "http.response.status_code"), 404);
  EXPECT_EQ(s.level, logfire::level::warn);  // 4xx: a warning, not an error
  EXPECT_EQ(s.status, logfire::status_code::unset);
  EXPECT_EQ(logfire::stats().count_of(logfire::event_counter::template_errors), 0u);
}

TEST_F(server_spans, head_uses_the_get_route) {
  httplib::Client c("127.0.0.1", srv.port());
  ASSERT_TRUE(c.Head("/health"));
  const auto s = only_server_span();
  EXPECT_EQ(s.name, "HEAD /health");
  EXPECT_EQ(s.string_attr("http.route"), "/health");
}

TEST_F(server_spans, status_4xx_is_a_warning_and_5xx_an_error) {
  httplib::Client c("127.0.0.1", srv.port());
  auto res = c.Post("/teapot", "tea", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 418);
  auto s = only_server_span();
  EXPECT_EQ(s.name, "POST /teapot");
  EXPECT_EQ(s.level, logfire::level::warn);
  EXPECT_EQ(s.status, logfire::status_code::unset);

  res = c.Delete("/orders/7");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  s = only_server_span();
  EXPECT_EQ(s.message, "DELETE /orders/7");
  EXPECT_EQ(s.level, logfire::level::error);
  EXPECT_EQ(s.status, logfire::status_code::error);
  EXPECT_EQ(int_attr(s, "http.response.status_code"), 503);
  // A string, as the HTTP semantic conventions ask; no code location of the integration.
  EXPECT_EQ(s.string_attr("error.type"), "503");
  EXPECT_EQ(s.find("code.filepath"), nullptr);
  EXPECT_EQ(s.find("code.function"), nullptr);
  EXPECT_EQ(s.find("code.lineno"), nullptr);
}

TEST_F(server_spans, an_unknown_method_is_other) {
  httplib::Client c("127.0.0.1", srv.port());
  httplib::Request req;
  req.method = "BREW";
  req.path = "/health";
  auto res = c.send(req);
  ASSERT_TRUE(res);
  const auto s = only_server_span();
  EXPECT_EQ(s.string_attr("http.request.method"), "_OTHER");
  EXPECT_EQ(s.string_attr("http.request.method_original"), "BREW");
  EXPECT_EQ(s.message, "HTTP /health");
}

TEST_F(server_spans, forwarded_for_names_the_client_behind_a_proxy) {
  httplib::Client c("127.0.0.1", srv.port());
  ASSERT_TRUE(c.Get("/health", {{"X-Forwarded-For", "203.0.113.7, 10.0.0.1"}, {"Host", "shop.example:8443"}}));
  const auto s = only_server_span();
  EXPECT_EQ(s.string_attr("client.address"), "203.0.113.7");
  EXPECT_EQ(s.string_attr("network.peer.address"), "127.0.0.1");
  EXPECT_EQ(s.string_attr("server.address"), "shop.example");
  EXPECT_EQ(int_attr(s, "server.port"), 8443);
}

TEST_F(server_spans, a_malformed_request_still_gets_a_span) {
  // httplib answers 400 without running pre-routing; post-routing still sees it.
  const std::string reply = raw_exchange(srv.port(), "GET /health HTTP/9.9\r\nHost: x\r\n\r\n");
  ASSERT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;
  const auto s = only_server_span();
  EXPECT_EQ(int_attr(s, "http.response.status_code"), 400);
  EXPECT_EQ(s.level, logfire::level::warn);
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, st.exported + st.dropped_total());
}

}  // namespace
