// Trusting your own services per route: with distributed_tracing = off, a public route ignores
// the caller's trace context, while a trusted route (or a caller the predicate trusts)
// continues it — the hand-off between your own services keeps one trace. In the unset mode,
// trusted callers do not trigger the "continuing the trace" warning.
#include "httplib/httplib_test_support.hpp"
#include "logfire/httplib.hpp"

namespace {

using namespace httplib_test;

constexpr const char* k_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* k_parent = "00f067aa0ba902b7";

httplib::Headers caller_context() {
  return {{"traceparent", std::string("00-") + k_trace + "-" + k_parent + "-01"}};
}

struct server_trust : ::testing::Test {
  std::shared_ptr<logfire::memory_exporter> mem = std::make_shared<logfire::memory_exporter>();
  running_server srv;
  logfire::setup lf;

  void start(std::optional<logfire::distributed_tracing> mode) {
    auto o = quiet_options(mem);
    o.distributed_tracing = mode;
    lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    auto routes = logfire::instrument_httplib(
        srv.server(), {.trusted_routes = {"/internal/jobs/{id}"}, .trusted_caller = [](const httplib::Request& req) {
                         return req.get_header_value("X-Mesh-Identity") == "spiffe://shop/billing";
                       }});
    auto ok = [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); };
    routes.post(R"(/internal/jobs/(\d+))", ok, "/internal/jobs/{id}");
    routes.get("/public", ok);
    ASSERT_TRUE(srv.start());
  }

  logfire::stored_record serve(const std::string& method, const std::string& path, httplib::Headers headers) {
    httplib::Client c("127.0.0.1", srv.port());
    httplib::Request req;
    req.method = method;
    req.path = path;
    req.headers = std::move(headers);
    auto res = c.send(req);
    EXPECT_TRUE(res && res->status == 200);
    EXPECT_TRUE(logfire::force_flush());
    auto spans = of_kind(mem->records(), logfire::span_kind::server);
    mem->clear();
    EXPECT_EQ(spans.size(), 1u);
    return spans.empty() ? logfire::stored_record{} : spans[0];
  }
};

TEST_F(server_trust, off_ignores_public_callers_but_continues_trusted_routes) {
  start(logfire::distributed_tracing::off);
  const auto pub = serve("GET", "/public", caller_context());
  EXPECT_NE(pub.context.trace.to_hex(), k_trace);
  EXPECT_FALSE(pub.parent.valid());

  const auto internal = serve("POST", "/internal/jobs/9", caller_context());
  EXPECT_EQ(internal.context.trace.to_hex(), k_trace);
  EXPECT_EQ(internal.parent.to_hex(), k_parent);
  EXPECT_TRUE(internal.parent_is_remote);
}

TEST_F(server_trust, off_continues_a_caller_the_predicate_trusts) {
  start(logfire::distributed_tracing::off);
  auto headers = caller_context();
  headers.emplace("X-Mesh-Identity", "spiffe://shop/billing");
  const auto s = serve("GET", "/public", headers);
  EXPECT_EQ(s.context.trace.to_hex(), k_trace);
  EXPECT_EQ(s.parent.to_hex(), k_parent);

  headers = caller_context();
  headers.emplace("X-Mesh-Identity", "spiffe://elsewhere/anyone");
  EXPECT_NE(serve("GET", "/public", headers).context.trace.to_hex(), k_trace);
}

TEST_F(server_trust, unset_mode_warns_only_for_third_party_callers) {
  testing::internal::CaptureStderr();
  start(std::nullopt);
  const auto internal = serve("POST", "/internal/jobs/1", caller_context());
  EXPECT_EQ(internal.context.trace.to_hex(), k_trace);
  const std::string after_trusted = testing::internal::GetCapturedStderr();
  EXPECT_EQ(occurrences(after_trusted, "continuing the trace"), 0u) << after_trusted;

  testing::internal::CaptureStderr();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(serve("GET", "/public", caller_context()).context.trace.to_hex(), k_trace);
  const std::string after_public = testing::internal::GetCapturedStderr();
  EXPECT_EQ(occurrences(after_public, "continuing the trace from an incoming traceparent header"), 1u) << after_public;
}

}  // namespace
