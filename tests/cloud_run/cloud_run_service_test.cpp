// The deployable service (examples/cloud_run_service) and the job (examples/cloud_run_job), each
// run as its own process. The service runs the way Cloud Run
// runs it: PORT and K_SERVICE set, exporting over OTLP/HTTP to a real receiver (decoded with
// libprotobuf), the GCP metadata server played by a loopback server. Requests arrive as Cloud
// Run's front end sends them, marked "not sampled": traceparent ...-00 with
// X-Cloud-Trace-Context o=0, and every fourth request with X-Cloud-Trace-Context alone. Then
// SIGTERM. The service must exit 0 having flushed, and every request's SERVER span must be at the
// receiver in the incoming trace, as the child of the front end's span, under a resource that
// names the Cloud Run service, its revision, and the project, region and instance the metadata
// server gave. The job's task must deliver all its spans before it exits, under a resource that
// names the job, the execution and the task.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "cloud_run/cloud_run_support.hpp"
#include "support/child_process.hpp"
#include "support/otlp_receiver.hpp"

#if !defined(CLOUD_RUN_SERVICE) || !defined(CLOUD_RUN_JOB)
#error "CLOUD_RUN_SERVICE and CLOUD_RUN_JOB must name the example executables"
#endif

namespace {

using namespace cloud_run_test;
namespace otlp = logfire::test::otlp;

constexpr int k_service_requests = 120;

using logfire::test::hex;
using logfire::test::resource_attr;

// The GCP metadata server as the SDK asks it (header Metadata-Flavor: Google).
class fake_metadata_server {
 public:
  bool start() {
    auto answer = [](std::string body) {
      return [body](const httplib::Request& req, httplib::Response& res) {
        if (req.get_header_value("Metadata-Flavor") != "Google") {
          res.status = 403;
          return;
        }
        res.set_header("Metadata-Flavor", "Google");
        res.set_content(body, "application/text");
      };
    };
    srv_.server().Get("/computeMetadata/v1/project/project-id", answer("shop-prod"));
    srv_.server().Get("/computeMetadata/v1/instance/region", answer("projects/123456789/regions/europe-west1"));
    srv_.server().Get("/computeMetadata/v1/instance/id", answer("00bf4bf02da0e6f1c4f2a2b0"));
    return srv_.start();
  }
  [[nodiscard]] std::string host() const { return "127.0.0.1:" + std::to_string(srv_.port()); }

 private:
  running_server srv_;
};

struct service_run {
  int exit_status = -1;
  std::size_t spans_before_sigterm = 0;  // at the receiver when the last response arrived
  std::string out, err;
};

class cloud_run_service : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(rx_.start());
    ASSERT_TRUE(metadata_.start());
  }

  // Runs the service, sends one warm-up request and waits until it is at the receiver (so the
  // SDK's short first batch is behind us), then the Cloud Run requests, then SIGTERM. Batches wait
  // 60 s, so only a flush (per request, or at SIGTERM) delivers the requests before the exit.
  service_run run(bool flush_after_each_request) {
    service_run r;
    std::initializer_list<std::string> env = {
        "PORT=0",
        "K_SERVICE=checkout",
        "K_REVISION=checkout-00007-abc",
        "K_CONFIGURATION=checkout",
        "OTEL_EXPORTER_OTLP_ENDPOINT=" + rx_.endpoint(),
        "GCE_METADATA_HOST=" + metadata_.host(),
        "LOGFIRE_SPOOL=false",
        "OTEL_BSP_SCHEDULE_DELAY=60000",
        // Room for every request's records in one batch, the console's pending spans (span
        // starts) included: with the default 512 a batch could fill and leave before the
        // SIGTERM flush this test is about (seen 1 run in 8: ~300 spans before SIGTERM).
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=4096",
        flush_after_each_request ? "FLUSH_AFTER_EACH_REQUEST=1" : "FLUSH_AFTER_EACH_REQUEST=0",
    };
    logfire::test::child_process svc({CLOUD_RUN_SERVICE, "--host", "127.0.0.1"}, logfire::test::test_environment(env));
    const int port = svc.wait_for_port();
    EXPECT_GT(port, 0) << svc.output() << svc.errors();
    if (port <= 0) return r;

    httplib::Client warm("127.0.0.1", port);
    const auto first = warm.Get("/");
    EXPECT_TRUE(first && first->status == 200);
    EXPECT_TRUE(rx_.wait_for_spans(1, std::chrono::seconds(30)));
    rx_.clear();

    std::vector<std::thread> clients;
    for (int c = 0; c < 2; ++c) {
      clients.emplace_back([&, c] {
        httplib::Client cli("127.0.0.1", port);
        for (int i = c; i < k_service_requests; i += 2) {
          const auto ids = ids_for(i);
          httplib::Headers h = {{"X-Cloud-Trace-Context", ids.trace + "/" + std::to_string(ids.parent_value) + ";o=0"}};
          if (i % 4 != 3) h.emplace("traceparent", "00-" + ids.trace + "-" + ids.parent + "-00");
          const auto res = cli.Get("/orders/" + std::to_string(i), h);
          EXPECT_TRUE(res && res->status == 200) << i;
        }
      });
    }
    for (auto& t : clients) t.join();
    r.spans_before_sigterm = rx_.span_count();
    r.exit_status = svc.terminate(SIGTERM);
    r.out = svc.output();
    r.err = svc.errors();
    return r;
  }

  // Every request's SERVER span, in the incoming trace, child of the incoming span.
  void expect_every_request_delivered() {
    std::map<int, const otlp::span*> servers;
    const auto spans = rx_.spans();
    for (const auto& s : spans) {
      const auto* path = logfire::test::find_attribute(s, "url.path");
      if (s.kind() != otlp::span::SPAN_KIND_SERVER || path == nullptr) continue;
      const std::string p = path->string_value();
      if (p.starts_with("/orders/")) servers[std::stoi(p.substr(8))] = &s;
    }
    ASSERT_EQ(servers.size(), std::size_t{k_service_requests});
    for (const auto& [i, s] : servers) {
      const auto ids = ids_for(i);
      EXPECT_EQ(hex(s->trace_id()), ids.trace) << i;
      EXPECT_EQ(hex(s->parent_span_id()), ids.parent) << i;
      EXPECT_EQ(s->flags() & 0x300u, 0x300u) << i;  // the parent is remote
      const auto* route = logfire::test::find_attribute(*s, "http.route");
      ASSERT_NE(route, nullptr);
      EXPECT_EQ(route->string_value(), "/orders/{order_id}");
    }
    // Inside each request: the handler's span and log, in the same trace.
    std::set<std::string> traces_with_log;
    for (const auto& s : spans)
      if (s.name() == "order {order_id} has {items} items") traces_with_log.insert(hex(s.trace_id()));
    EXPECT_EQ(traces_with_log.size(), std::size_t{k_service_requests});

    const auto reqs = rx_.requests();
    ASSERT_FALSE(reqs.empty());
    const auto& last = reqs.back().message;
    EXPECT_EQ(resource_attr(last, "service.name"), "checkout");
    EXPECT_EQ(resource_attr(last, "cloud.provider"), "gcp");
    EXPECT_EQ(resource_attr(last, "cloud.platform"), "gcp_cloud_run");
    EXPECT_EQ(resource_attr(last, "faas.name"), "checkout");
    EXPECT_EQ(resource_attr(last, "faas.version"), "checkout-00007-abc");
    EXPECT_EQ(resource_attr(last, "cloud.account.id"), "shop-prod");
    EXPECT_EQ(resource_attr(last, "cloud.region"), "europe-west1");
    EXPECT_EQ(resource_attr(last, "faas.instance"), "00bf4bf02da0e6f1c4f2a2b0");
  }

  static void expect_clean_exit(const service_run& r) {
    EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("SIGTERM: no new requests; flushing telemetry"), std::string::npos) << r.out;
    // 3 records per request (server span, handler span, log) and 1 for the warm-up request.
    const std::string produced = "produced " + std::to_string(3 * k_service_requests + 1);
    EXPECT_NE(r.out.find("telemetry: " + produced + ", exported " + std::to_string(3 * k_service_requests + 1) +
                         ", dropped 0"),
              std::string::npos)
        << r.out;
    // The default distributed-tracing mode on Cloud Run: one line, once, and the spans kept.
    EXPECT_EQ(occurrences(r.err, k_platform_notice), 1u) << r.err;
  }

  logfire::test::otlp_receiver rx_;
  fake_metadata_server metadata_;
};

TEST_F(cloud_run_service, sigterm_flushes_every_request_of_an_unsampled_platform_trace) {
  const service_run r = run(/*flush_after_each_request=*/false);
  // The batch was still waiting (60 s) when the last response came: the SIGTERM flush sent it.
  EXPECT_EQ(r.spans_before_sigterm, 0u);
  expect_clean_exit(r);
  expect_every_request_delivered();
}

TEST_F(cloud_run_service, per_request_flush_delivers_before_each_response) {
  // What a service whose CPU is throttled between requests needs: nothing waits in memory once a
  // response is out.
  const service_run r = run(/*flush_after_each_request=*/true);
  EXPECT_EQ(r.spans_before_sigterm, std::size_t{3 * k_service_requests});
  expect_clean_exit(r);
  expect_every_request_delivered();
}

TEST_F(cloud_run_service, a_job_task_flushes_before_it_exits) {
  // Batches wait 60 s: only the flush at the end of the task delivers before the exit.
  logfire::test::child_process job(
      {CLOUD_RUN_JOB}, logfire::test::test_environment(
                           {"CLOUD_RUN_JOB=nightly-invoices", "CLOUD_RUN_EXECUTION=nightly-invoices-x7k2p",
                            "CLOUD_RUN_TASK_INDEX=2", "CLOUD_RUN_TASK_ATTEMPT=0", "CLOUD_RUN_TASK_COUNT=4",
                            "OTEL_EXPORTER_OTLP_ENDPOINT=" + rx_.endpoint(), "GCE_METADATA_HOST=" + metadata_.host(),
                            "LOGFIRE_SPOOL=false", "LOGFIRE_CONSOLE=false", "OTEL_BSP_SCHEDULE_DELAY=60000"}));
  EXPECT_EQ(job.wait(), 0) << job.output() << job.errors();
  // Invoices 2, 6, 10, 14, 18: a span and a log each, under the task's span.
  EXPECT_NE(job.output().find("task 2 sent 5 invoices; telemetry: produced 11, exported 11, dropped 0"),
            std::string::npos)
      << job.output();
  ASSERT_EQ(rx_.span_count(), 11u);
  std::set<std::string> traces;
  std::set<std::int64_t> invoices;
  for (const auto& s : rx_.spans()) {
    traces.insert(hex(s.trace_id()));
    if (s.name() == "send invoice {invoice}") invoices.insert(logfire::test::find_attribute(s, "invoice")->int_value());
  }
  EXPECT_EQ(traces.size(), 1u);
  EXPECT_EQ(invoices, (std::set<std::int64_t>{2, 6, 10, 14, 18}));
  const auto reqs = rx_.requests();
  ASSERT_FALSE(reqs.empty());
  const auto& last = reqs.back().message;
  EXPECT_EQ(resource_attr(last, "service.name"), "nightly-invoices");
  EXPECT_EQ(resource_attr(last, "cloud.platform"), "gcp_cloud_run");
  EXPECT_EQ(resource_attr(last, "faas.name"), "nightly-invoices");
  EXPECT_EQ(resource_attr(last, "gcp.cloud_run.job.execution"), "nightly-invoices-x7k2p");
  EXPECT_EQ(resource_attr(last, "cloud.account.id"), "shop-prod");
}

}  // namespace
