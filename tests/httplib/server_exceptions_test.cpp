// A handler's exception: recorded on the request's SERVER span (escaped, so level error and
// status ERROR), and the client gets the 500 httplib gives by default — or what the
// application's own exception handler decides.
#include <stdexcept>

#include "httplib/httplib_test_support.hpp"
#include "logfire/httplib.hpp"

namespace {

using namespace httplib_test;

struct server_exceptions : ::testing::Test {
  std::shared_ptr<logfire::memory_exporter> mem = std::make_shared<logfire::memory_exporter>();
  running_server srv;
  logfire::setup lf;
  std::optional<logfire::httplib_router> routes;

  void SetUp() override {
    lf = logfire::configure(quiet_options(mem));
    ASSERT_TRUE(lf) << lf.error();
    routes = logfire::instrument_httplib(srv.server());
    routes->get("/charge", [](const httplib::Request&, httplib::Response&) {
      logfire::span inner("charging card");
      throw std::runtime_error("card declined\nretry later");
    });
    routes->get("/weird", [](const httplib::Request&, httplib::Response&) { throw 42; });
  }

  std::vector<logfire::stored_record> flushed() {
    EXPECT_TRUE(logfire::force_flush());
    return mem->records();
  }
};

TEST_F(server_exceptions, is_recorded_and_answered_with_500) {
  ASSERT_TRUE(srv.start());
  httplib::Client c("127.0.0.1", srv.port());
  auto res = c.Get("/charge");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(res->get_header_value("EXCEPTION_WHAT"), "card declined\\nretry later");  // as httplib does

  const auto recs = flushed();
  const auto servers = of_kind(recs, logfire::span_kind::server);
  ASSERT_EQ(servers.size(), 1u);
  const auto& s = servers[0];
  EXPECT_EQ(s.status, logfire::status_code::error);
  EXPECT_EQ(s.level, logfire::level::error);
  EXPECT_EQ(int_attr(s, "http.response.status_code"), 500);
  ASSERT_EQ(s.events.size(), 1u);
  EXPECT_EQ(s.events[0].name, "exception");
  const auto* msg = s.events[0].find("exception.message");
  ASSERT_NE(msg, nullptr);
  EXPECT_EQ(*msg->string(), "card declined\nretry later");
  const auto* escaped = s.events[0].find("exception.escaped");
  ASSERT_NE(escaped, nullptr);
  EXPECT_EQ(escaped->boolean(), true);
  // The handler's own span, unwound by the exception, is still the server span's child.
  const auto internals = of_kind(recs, logfire::span_kind::internal);
  ASSERT_EQ(internals.size(), 1u);
  EXPECT_EQ(internals[0].parent, s.context.span);
}

TEST_F(server_exceptions, a_non_standard_exception_is_recorded_too) {
  ASSERT_TRUE(srv.start());
  httplib::Client c("127.0.0.1", srv.port());
  auto res = c.Get("/weird");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(res->get_header_value("EXCEPTION_WHAT"), "UNKNOWN");
  const auto servers = of_kind(flushed(), logfire::span_kind::server);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0].status, logfire::status_code::error);
  ASSERT_EQ(servers[0].events.size(), 1u);
}

TEST_F(server_exceptions, the_applications_handler_decides_the_response) {
  routes->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    logfire::warn("mapped an exception to 402");
    res.status = 402;
    res.set_content("payment required", "text/plain");
  });
  ASSERT_TRUE(srv.start());
  httplib::Client c("127.0.0.1", srv.port());
  auto res = c.Get("/charge");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 402);
  EXPECT_EQ(res->body, "payment required");

  const auto recs = flushed();
  const auto servers = of_kind(recs, logfire::span_kind::server);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(int_attr(servers[0], "http.response.status_code"), 402);
  EXPECT_EQ(servers[0].status, logfire::status_code::error);  // the exception escaped the handler
  ASSERT_EQ(servers[0].events.size(), 1u);
  // The application's handler runs inside the request's span.
  const auto l = logs(recs);
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].parent, servers[0].context.span);
}

}  // namespace
