// flush_after_each_request: the request's records reach the exporter before its response is
// written, so nothing waits in memory while a platform throttles the CPU between requests.
// The batch delay here is an hour: only the per-request flush can deliver them in time.
#include "httplib/httplib_test_support.hpp"
#include "logfire/httplib.hpp"

namespace {

using namespace httplib_test;

TEST(server_flush, records_are_delivered_before_the_response) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  auto o = quiet_options(mem);
  o.batching.schedule_delay = std::chrono::hours(1);
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();

  running_server srv;
  auto routes = logfire::instrument_httplib(srv.server(), {.flush_after_each_request = true});
  routes.get("/job", [](const httplib::Request&, httplib::Response& res) {
    logfire::info("job ran");
    res.set_content("ok", "text/plain");
  });
  ASSERT_TRUE(srv.start());

  httplib::Client c("127.0.0.1", srv.port());
  for (std::size_t i = 1; i <= 5; ++i) {
    auto res = c.Get("/job");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200);
    // No flush from the test: the server span and the handler's log are already delivered.
    const auto recs = mem->records();
    EXPECT_EQ(of_kind(recs, logfire::span_kind::server).size(), i);
    EXPECT_EQ(logs(recs).size(), i);
  }
}

}  // namespace
