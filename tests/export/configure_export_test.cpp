// The exporters as a user gets them: logfire::configure() with a Logfire token or an OTLP
// endpoint, spans and logs from the public API, checked on the receiver and in stats().
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>

#include "child_process.hpp"
#include "export_test_util.hpp"
#include "logfire/config.hpp"
#include "logfire/logfire.hpp"

namespace logfire::test {
namespace {

const otlp::any_value* attr(const otlp::span& s, std::string_view key) {
  return find_attribute(s, key);
}

std::vector<otlp::span> spans_of_type(const otlp_receiver& rx, std::string_view type) {
  std::vector<otlp::span> out;
  for (const auto& s : rx.spans())
    if (const auto* v = attr(s, "logfire.span_type"); v != nullptr && v->string_value() == type) out.push_back(s);
  return out;
}

options base_options() {
  options o;
  o.service_name = "configure-export-test";
  o.console.enabled = false;
  o.read_environment = false;
  o.otlp.spool = false;
  return o;
}

TEST(ConfigureExport, SigtermFlushesWhatThePipelineStillHolds) {
  // The child configures the SDK with a batch delay far longer than the test, so nothing is
  // sent unless the SIGTERM handler flushes. First in this file: the fork happens before this
  // process has configured the SDK or started any thread.
  child_process child([](std::uint16_t port, auto ready) {
    auto o = base_options();
    o.otlp.endpoint = "http://127.0.0.1:" + std::to_string(port);
    o.otlp.flush_on_signal = true;
    o.otlp.signal_grace = 5s;
    o.batching.schedule_delay = std::chrono::milliseconds(600'000);
    auto sdk = configure(o);
    if (!sdk) ::_exit(93);
    // The pipeline sends its first batch after 100 ms, then waits the schedule delay.
    info("first batch");
    std::this_thread::sleep_for(500ms);
    for (int i = 0; i < 50; ++i) info("before the signal {i}", {{"i", i}});
    ready();
  });
  ASSERT_TRUE(child.started());
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  ASSERT_TRUE(child.send_port(rx.port()));
  ASSERT_TRUE(child.wait_ready(10s));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(rx.span_count(), 1u);  // the other 50 are held by the pipeline
  child.signal(SIGTERM);
  const int status = child.wait_exit(20s);
  ASSERT_NE(status, -1) << "the child did not end";
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;
  EXPECT_EQ(rx.span_count(), 51u);
}

TEST(ConfigureExport, SpansAndLogsReachAnOtlpEndpoint) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  auto o = base_options();
  o.otlp.endpoint = rx.endpoint();
  auto sdk = configure(o);
  ASSERT_TRUE(sdk) << sdk.error();
  {
    span outer("checkout {order}", {{"order", 42}});
    info("charged {amount}", {{"amount", 9.5}});
    ASSERT_TRUE(force_flush(10s));  // the outer span is still open: its pending span is not for OTLP
    warn("slow");
  }
  ASSERT_TRUE(shutdown(10s));
  EXPECT_EQ(rx.span_count(), 3u);
  EXPECT_TRUE(spans_of_type(rx, "pending_span").empty());
  auto outer = rx.span_named("checkout {order}");
  ASSERT_TRUE(outer);
  EXPECT_EQ(attr(*outer, "order")->int_value(), 42);
  auto reqs = rx.requests();
  ASSERT_FALSE(reqs.empty());
  EXPECT_EQ(reqs[0].info.header("Authorization"), "");
  auto s = stats();
  EXPECT_EQ(s.exported, 3u);
  EXPECT_EQ(s.dropped_total(), 0u);
}

TEST(ConfigureExport, LogfireGetsTheRawTokenAndPendingSpans) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  auto o = base_options();
  o.tokens = {"pylf_v1_us_configuretesttoken"};
  o.base_url = rx.endpoint();
  auto sdk = configure(o);
  ASSERT_TRUE(sdk) << sdk.error();
  {
    span work("long job");
    ASSERT_TRUE(force_flush(10s));  // the job is running: Logfire shows it through its pending span
    ASSERT_EQ(spans_of_type(rx, "pending_span").size(), 1u);
  }
  ASSERT_TRUE(shutdown(10s));
  auto reqs = rx.requests();
  ASSERT_FALSE(reqs.empty());
  for (const auto& r : reqs) {
    EXPECT_EQ(r.info.header("Authorization"), "pylf_v1_us_configuretesttoken");
    EXPECT_EQ(r.info.content_encoding, "gzip");
    EXPECT_EQ(r.info.header("User-Agent"), "logfire-cpp/" LOGFIRE_VERSION);
  }
  EXPECT_EQ(spans_of_type(rx, "span").size(), 1u);
  auto s = stats();
  EXPECT_EQ(s.exported, 1u);  // the pending span is a preview, not a record
  EXPECT_EQ(s.dropped_total(), 0u);
}

TEST(ConfigureExport, InvalidExportVariablesFailConfigureNamingThem) {
  // configure() reads the process environment here; nothing else runs in this process.
  ::setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9", 1);
  ::setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", 1);
  options o;
  o.console.enabled = false;
  auto sdk = configure(o);
  ::unsetenv("OTEL_EXPORTER_OTLP_PROTOCOL");
  ::unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
  ASSERT_FALSE(sdk);
  EXPECT_NE(sdk.error().find("OTEL_EXPORTER_OTLP_PROTOCOL"), std::string::npos) << sdk.error();
  EXPECT_NE(sdk.error().find("grpc"), std::string::npos) << sdk.error();
  EXPECT_FALSE(is_configured());
}

}  // namespace
}  // namespace logfire::test
