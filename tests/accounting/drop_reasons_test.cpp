// One cause per drop reason, each explained by a line that names the setting that changes it:
// a full ring (ring_full) is not a full export queue (export_queue_full), and on Cloud Run our
// own head sampler's decision is not_sampled, explained once and consistently.
#include <cinttypes>
#include <cstdlib>
#include <string>
#include <thread>

#include "accounting/accounting_support.hpp"
#include "logfire/handoff.hpp"

using namespace accounting_test;

TEST(drop_reasons, a_full_ring_is_ring_full_and_names_ring_bytes) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  logfire::options o = quiet_options({mem});
  o.limits.ring_bytes = 4096;
  o.limits.max_ring_bytes = 4096;  // no growth: the ring fills
  stderr_capture capture;
  {
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    logfire::info("too big {v}", {{"v", std::string(8192, 'x')}});  // larger than the ring
    (void)logfire::force_flush();
    const auto st = logfire::stats();
    EXPECT_EQ(dropped_named(st, "ring_full"), 1u) << st.summary();
    expect_balanced(st);
  }
  const std::string err = capture.take();
  EXPECT_EQ(occurrences(err, "(ring_full)"), 1u) << err;
  EXPECT_NE(err.find("limits.ring_bytes"), std::string::npos) << err;
  EXPECT_EQ(err.find("queue_bytes"), std::string::npos) << err;
}

TEST(drop_reasons, a_full_export_queue_is_export_queue_full_and_names_its_setting) {
  // A backend that does not answer (nothing listens on the port), no spool, a queue of 5 spans
  // and batches of one record: the queue fills while the sender retries.
  logfire::options o;
  o.console.enabled = false;
  o.read_environment = false;
  o.otlp.endpoint = "http://127.0.0.1:9";  // discard port: connection refused
  o.otlp.spool = false;
  o.batching.max_queue_size = 5;
  o.batching.max_export_batch_size = 1;
  stderr_capture capture;
  {
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    // From a new thread: its ring has the default size (a thread's ring is sized at its first call).
    std::thread([] {
      for (int i = 0; i < 40; ++i) logfire::info("burst {i}", {{"i", i}});
    }).join();
    (void)logfire::force_flush(300ms);
    (void)logfire::shutdown(300ms);
    const auto st = logfire::stats();
    EXPECT_GT(dropped_named(st, "export_queue_full"), 0u) << st.summary();
    EXPECT_EQ(dropped_named(st, "ring_full"), 0u) << st.summary();
    expect_balanced(st);
  }
  const std::string err = capture.take();
  EXPECT_EQ(occurrences(err, "(export_queue_full)"), 1u) << err;
  EXPECT_NE(err.find("OTEL_BSP_MAX_QUEUE_SIZE"), std::string::npos) << err;
  EXPECT_EQ(err.find("ring_bytes"), std::string::npos) << err;
}

namespace {

// Cloud Run's environment, with nothing else from the machine that runs the test.
class cloud_run_env {
 public:
  cloud_run_env() {
    for (const char* v : {"LOGFIRE_TOKEN", "LOGFIRE_SEND_TO_LOGFIRE", "LOGFIRE_DISTRIBUTED_TRACING", "OTEL_PROPAGATORS",
                          "LOGFIRE_TRACE_SAMPLE_RATE", "OTEL_TRACES_SAMPLER_ARG", "LOGFIRE_MIN_LEVEL",
                          "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "LOGFIRE_CONSOLE"})
      ::unsetenv(v);
    ::setenv("K_SERVICE", "checkout", 1);
    ::setenv("K_REVISION", "checkout-00001-abc", 1);
    ::setenv("K_CONFIGURATION", "checkout", 1);
  }
  ~cloud_run_env() {
    for (const char* v : {"K_SERVICE", "K_REVISION", "K_CONFIGURATION"}) ::unsetenv(v);
  }
};

}  // namespace

TEST(drop_reasons, our_sampler_on_cloud_run_is_not_sampled_with_one_consistent_line) {
  cloud_run_env env;
  auto mem = std::make_shared<logfire::memory_exporter>();
  logfire::options o;
  o.console.enabled = false;
  o.send_to_logfire = logfire::send_to_logfire::no;
  o.trace_sample_rate = 0.5;
  o.exporters = {mem};
  o.read_environment = true;  // K_SERVICE: the platform
  stderr_capture capture;
  {
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    std::thread([] {  // a new thread: a ring of the default size
      for (int i = 0; i < 200; ++i) {
        char trace[33];
        const auto hi = static_cast<std::uint64_t>(0x0123456789abcdefULL * static_cast<unsigned>(i + 1));
        const auto lo = static_cast<std::uint64_t>(0x9e3779b97f4a7c15ULL * static_cast<unsigned>(i + 7));
        std::snprintf(trace, sizeof trace, "%016" PRIx64 "%016" PRIx64, hi, lo);
        // What Cloud Run's front end sends: a traceparent marked "not sampled".
        const logfire::header_list headers = {{"traceparent", std::string("00-") + trace + "-00f067aa0ba902b7-00"}};
        logfire::attach_context incoming(headers, {.third_party = true});
        logfire::span s("GET /checkout", {}, {.kind = logfire::span_kind::server});
        logfire::info("priced cart");
      }
    })
        .join();
    EXPECT_TRUE(logfire::force_flush()) << logfire::stats().summary();
    const auto st = logfire::stats();
    EXPECT_GT(st.dropped_by(logfire::drop_reason::not_sampled), 50u) << st.summary();
    EXPECT_GT(st.exported, 100u) << st.summary();
    EXPECT_EQ(st.dropped_by(logfire::drop_reason::remote_parent_not_sampled), 0u) << st.summary();
    expect_balanced(st);
  }
  const std::string err = capture.take();
  EXPECT_EQ(occurrences(err, "(not_sampled)"), 1u) << err;
  EXPECT_EQ(occurrences(err, "remote_parent_not_sampled"), 0u) << err;
  // The platform notice agrees with it: our sampler decides, at the configured rate.
  EXPECT_EQ(err.find("recorded anyway"), std::string::npos) << err;
  EXPECT_NE(err.find("LOGFIRE_TRACE_SAMPLE_RATE"), std::string::npos) << err;
}
