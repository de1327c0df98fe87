// The Cloud Run scenario in the default mode, delivered over real OTLP/HTTP: 1,000 Cloud Run
// requests marked "not sampled" reach an OTLP receiver (decoded by libprotobuf) as 1,000
// SERVER spans in the platform's traces, each with its handler's log, under a resource that
// names the Cloud Run service and revision.
#include <map>

#include "cloud_run/cloud_run_support.hpp"
#include "support/otlp_receiver.hpp"

namespace {

using namespace cloud_run_test;
namespace otlp = logfire::test::otlp;

using logfire::test::hex;
using logfire::test::resource_attr;

TEST(cloud_run_otlp, default_mode_delivers_every_request_over_otlp) {
  clean_environment();
  on_cloud_run();
  logfire::test::otlp_receiver rx;
  ASSERT_TRUE(rx.start());

  logfire::options o;
  o.otlp.endpoint = rx.endpoint();
  o.otlp.spool = false;
  const run_result r = run_service(std::move(o), /*traceparent=*/true, [] {});
  clean_environment();

  ASSERT_EQ(r.answered, k_requests);
  expect_accounted(r.stats);
  EXPECT_EQ(r.stats.dropped_total(), 0u) << r.stats.summary();
  EXPECT_EQ(r.stats.exported, std::uint64_t{2 * k_requests});
  ASSERT_TRUE(rx.wait_for_spans(2 * k_requests, std::chrono::seconds(30)));
  EXPECT_EQ(occurrences(r.err, k_platform_notice), 1u) << r.err;

  // What the backend received: one SERVER span per request in the platform's trace, as the
  // child of the front end's span, with the handler's log under it.
  std::map<std::string, const otlp::span*> servers;  // by request number
  std::map<std::string, std::string> log_parent_of;  // request number -> parent span id of its log
  const auto spans = rx.spans();
  for (const auto& s : spans) {
    const auto* attr = logfire::test::find_attribute(s, "cart");
    if (s.kind() == otlp::span::SPAN_KIND_SERVER && attr) servers[attr->string_value()] = &s;
    if (const auto* req = logfire::test::find_attribute(s, "request"))
      log_parent_of[req->string_value()] = hex(s.parent_span_id());
  }
  ASSERT_EQ(servers.size(), std::size_t{k_requests});
  for (const auto& [n, s] : servers) {
    const auto ids = ids_for(std::stoi(n));
    EXPECT_EQ(hex(s->trace_id()), ids.trace) << n;
    EXPECT_EQ(hex(s->parent_span_id()), ids.parent) << n;
    EXPECT_EQ(s->flags() & 0x301u, 0x301u) << n;  // remote parent, sampled
    EXPECT_EQ(log_parent_of[n], hex(s->span_id())) << n;
    const auto* route = logfire::test::find_attribute(*s, "http.route");
    ASSERT_NE(route, nullptr);
    EXPECT_EQ(route->string_value(), "/checkout/{cart}");
  }
  const auto reqs = rx.requests();
  ASSERT_FALSE(reqs.empty());
  EXPECT_EQ(resource_attr(reqs[0].message, "cloud.platform"), "gcp_cloud_run");
  EXPECT_EQ(resource_attr(reqs[0].message, "faas.name"), "checkout");
  EXPECT_EQ(resource_attr(reqs[0].message, "faas.version"), "checkout-00042-xyz");
}

}  // namespace
