// Metrics over OTLP/HTTP through configure(): collections go to the destination's /v1/metrics
// (gzip, protobuf, decoded here by libprotobuf on a real loopback receiver) through the export
// engine the spans use, and every point that is not delivered is counted under a named reason:
// a 4xx, a dead backend with and without the disk spool, a full memory queue, shutdown. After
// each, the ledger balances: points_produced == exported + dropped + in_spool + taken_over.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "logfire/config.hpp"
#include "logfire/logfire.hpp"
#include "logfire/metric_stats.hpp"
#include "logfire/metrics.hpp"
#include "metrics/metrics_support.hpp"
#include "setup/otlp_destinations.hpp"
#include "support/otlp_receiver.hpp"
#include "support/scoped_env.hpp"

namespace {

using namespace std::chrono_literals;
using logfire::drop_reason;
using logfire::test::otlp_receiver;
using metrics_test::unique;

// A folder removed (with its files) at the end of the test.
class temp_folder {
 public:
  temp_folder() {
    std::string tmpl = "/tmp/logfire-metrics-spool-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~temp_folder() {
    if (!path_.empty()) (void)std::system(("rm -rf '" + path_ + "'").c_str());
  }
  temp_folder(const temp_folder&) = delete;
  temp_folder& operator=(const temp_folder&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The SDK sending to `endpoint`, console off, collections only when asked, fast retries.
logfire::options otlp_options(const std::string& endpoint, const std::string& spool_dir = {}) {
  logfire::options o;
  o.console.enabled = false;
  o.read_environment = false;
  o.service_name = "metrics-otlp-test";
  o.otlp.endpoint = endpoint;
  o.otlp.spool = !spool_dir.empty();
  if (!spool_dir.empty()) o.otlp.spool_directory = spool_dir;
  o.otlp.backoff_initial = 20ms;
  o.otlp.backoff_max = 100ms;
  o.otlp.timeout = 2s;
  o.metrics.export_interval = std::chrono::hours(1);
  return o;
}

// The first metric named `name` the receiver accepted.
std::optional<logfire::test::otlp::metric> received(const otlp_receiver& rx, const std::string& name) {
  for (auto& m : rx.metrics())
    if (m.name() == name) return m;
  return std::nullopt;
}

// Sums the integer values of `name`'s sum points the receiver accepted.
std::int64_t received_total(const otlp_receiver& rx, const std::string& name) {
  std::int64_t n = 0;
  for (auto& m : rx.metrics())
    if (m.name() == name)
      for (const auto& p : m.sum().data_points()) n += p.as_int();
  return n;
}

// A port nothing listens on (a receiver that started and stopped).
std::uint16_t dead_port() {
  otlp_receiver rx;
  EXPECT_TRUE(rx.start());
  const auto port = rx.port();
  rx.stop();
  return port;
}

void expect_balanced(const logfire::metric_stats& s) {
  EXPECT_TRUE(s.balanced()) << s.summary();
  EXPECT_GT(s.points_produced, 0u) << s.summary();
}

TEST(metrics_otlp, collections_reach_v1_metrics_gzipped_and_decode_with_libprotobuf) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  const std::string requests = unique("otlp.requests");
  const std::string latency = unique("otlp.latency");
  auto c = logfire::metric_counter(requests, {.unit = "{request}", .description = "requests served"});
  auto h = logfire::metric_histogram(latency, {.unit = "ms"});
  auto lf = logfire::configure(otlp_options(rx.endpoint()));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  c.add(3, {{"http.route", "/checkout"}});
  c.add(4, {{"http.route", "/cart"}});
  h.record(12.5);
  ASSERT_TRUE(logfire::force_flush(10s));
  auto m = received(rx, requests);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->unit(), "{request}");
  EXPECT_EQ(m->description(), "requests served");
  ASSERT_TRUE(m->has_sum());
  EXPECT_TRUE(m->sum().is_monotonic());
  EXPECT_EQ(m->sum().aggregation_temporality(), opentelemetry::proto::metrics::v1::AGGREGATION_TEMPORALITY_DELTA);
  EXPECT_EQ(m->sum().data_points_size(), 2);
  EXPECT_EQ(received_total(rx, requests), 7);
  auto hm = received(rx, latency);
  ASSERT_TRUE(hm);
  ASSERT_TRUE(hm->has_exponential_histogram());
  EXPECT_EQ(hm->exponential_histogram().data_points(0).count(), 1u);
  // The request: its path, encoding and resource.
  bool seen = false;
  for (const auto& r : rx.requests()) {
    if (r.info.path != "/v1/metrics") continue;
    seen = true;
    EXPECT_TRUE(r.info.decoded) << r.info.decode_error;
    EXPECT_EQ(r.info.content_type, "application/x-protobuf");
    EXPECT_EQ(r.info.content_encoding, "gzip");
    ASSERT_GT(r.metrics.resource_metrics_size(), 0);
    const auto* svc =
        logfire::test::find_attribute(r.metrics.resource_metrics(0).resource().attributes(), "service.name");
    ASSERT_NE(svc, nullptr);
    EXPECT_EQ(svc->string_value(), "metrics-otlp-test");
    EXPECT_EQ(r.metrics.resource_metrics(0).scope_metrics(0).scope().name(), "logfire");
  }
  EXPECT_TRUE(seen);
  const auto s = logfire::metrics_stats();
  EXPECT_EQ(s.points_exported, s.points_produced) << s.summary();
  EXPECT_EQ(s.points_dropped_total(), 0u) << s.summary();
  expect_balanced(s);
  ASSERT_EQ(s.exporters.size(), 1u);
  EXPECT_EQ(s.exporters[0].name, "otlp metrics " + rx.metrics_url());
}

TEST(metrics_otlp, shutdown_sends_the_last_collection) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  const std::string name = unique("otlp.at_shutdown");
  auto c = logfire::metric_counter(name);
  {
    auto lf = logfire::configure(otlp_options(rx.endpoint()));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    c.add(5);
  }  // the guard shuts down: a last collection, delivered before shutdown() returns
  EXPECT_EQ(received_total(rx, name), 5);
  const auto s = logfire::metrics_stats();
  EXPECT_EQ(s.points_exported, s.points_produced) << s.summary();
  expect_balanced(s);
}

TEST(metrics_otlp, the_metrics_endpoint_variable_is_honoured) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  const std::string name = unique("otlp.env");
  auto c = logfire::metric_counter(name);
  // No traces destination at all: the metrics endpoint alone is enough.
  scoped_env endpoint("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", rx.metrics_url().c_str());
  scoped_env interval("OTEL_METRIC_EXPORT_INTERVAL", "3600000");
  scoped_env spool("LOGFIRE_SPOOL", "false");
  logfire::options o;
  o.console.enabled = false;
  {
    auto lf = logfire::configure(o);
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    c.add(2);
    ASSERT_TRUE(logfire::force_flush(10s));
    EXPECT_EQ(received_total(rx, name), 2);
  }
  for (const auto& r : rx.requests()) EXPECT_EQ(r.info.path, "/v1/metrics");
}

TEST(metrics_otlp, destinations_for_a_token_and_the_metrics_variables) {
  logfire::options o;
  o.tokens = {"pylf_v1_eu_abcdef"};
  o.otlp.spool = false;
  auto env = [](std::string_view n) -> std::optional<std::string> {
    if (n == "OTEL_EXPORTER_OTLP_ENDPOINT") return "http://collector:4318/";
    if (n == "OTEL_EXPORTER_OTLP_METRICS_HEADERS") return "x-team=metrics";
    if (n == "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT") return "1234";
    if (n == "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") return "999";
    return std::nullopt;
  };
  std::vector<logfire::detail::otlp_exporter_config> out;
  std::vector<std::string> notices;
  logfire::detail::resource res;
  res.set("service.name", std::string("svc"));
  ASSERT_EQ(logfire::detail::resolve_destinations(o, res, env, out, notices, logfire::detail::otlp_signal::metrics),
            "");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].url, "https://logfire-eu.pydantic.dev/v1/metrics");
  EXPECT_EQ(out[0].headers.at(0).value, "pylf_v1_eu_abcdef");
  EXPECT_FALSE(out[0].wants_pending_spans);
  EXPECT_EQ(out[1].url, "http://collector:4318/v1/metrics");
  ASSERT_EQ(out[1].headers.size(), 1u);
  EXPECT_EQ(out[1].headers[0].name, "x-team");
  for (const auto& c : out) {
    EXPECT_EQ(c.signal, logfire::detail::otlp_signal::metrics);
    EXPECT_EQ(c.timeout, 1234ms);
    EXPECT_EQ(c.max_queue_spans, 16384u);
  }
  // No metrics at all when asked.
  o.metrics.send_over_otlp = false;
  std::vector<std::shared_ptr<logfire::metric_exporter>> made;
  ASSERT_EQ(logfire::detail::make_otlp_metric_destinations(o, res, env, made, notices), "");
  EXPECT_TRUE(made.empty());
}

TEST(metrics_otlp, a_4xx_drops_points_as_rejected_by_backend) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  rx.set_status(400);
  const std::string name = unique("otlp.rejected");
  auto c = logfire::metric_counter(name);
  {
    auto lf = logfire::configure(otlp_options(rx.endpoint()));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    c.add(1, {{"k", "a"}});
    c.add(1, {{"k", "b"}});
    (void)logfire::force_flush(10s);
    const auto s = logfire::metrics_stats();
    EXPECT_GE(s.points_dropped[static_cast<std::size_t>(drop_reason::rejected_by_backend)], 2u) << s.summary();
    EXPECT_EQ(s.points_exported, 0u);
    expect_balanced(s);
  }
  const auto s = logfire::metrics_stats();
  EXPECT_EQ(s.points_exported, 0u);
  EXPECT_EQ(s.points_dropped[static_cast<std::size_t>(drop_reason::rejected_by_backend)], s.points_produced)
      << s.summary();
  expect_balanced(s);
}

TEST(metrics_otlp, a_413_splits_a_body_by_data_points) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  rx.queue_replies({logfire::test::reply::of(413)});
  const std::string name = unique("otlp.split");
  auto c = logfire::metric_counter(name);
  auto lf = logfire::configure(otlp_options(rx.endpoint()));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  for (int i = 0; i < 4; ++i) c.add(i + 1, {{"series", i}});
  ASSERT_TRUE(logfire::force_flush(10s));
  EXPECT_EQ(rx.count_status(413), 1u);
  EXPECT_EQ(received_total(rx, name), 1 + 2 + 3 + 4);
  std::size_t points = 0;
  for (auto& m : rx.metrics())
    if (m.name() == name) points += static_cast<std::size_t>(m.sum().data_points_size());
  EXPECT_EQ(points, 4u);
  const auto s = logfire::metrics_stats();
  EXPECT_EQ(s.points_exported, s.points_produced) << s.summary();
  expect_balanced(s);
}

TEST(metrics_otlp, a_dead_backend_without_a_spool_drops_points_by_the_shutdown_deadline) {
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(dead_port());
  const std::string name = unique("otlp.dead");
  auto c = logfire::metric_counter(name);
  auto lf = logfire::configure(otlp_options(endpoint));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  c.add(1);
  EXPECT_FALSE(logfire::shutdown(1500ms));
  const auto s = logfire::metrics_stats();
  EXPECT_EQ(s.points_exported, 0u);
  EXPECT_EQ(s.points_dropped_total(), s.points_produced) << s.summary();
  EXPECT_GT(s.points_dropped[static_cast<std::size_t>(drop_reason::shutdown_timeout)], 0u) << s.summary();
  expect_balanced(s);
}

TEST(metrics_otlp, a_dead_backend_with_a_spool_keeps_points_for_the_next_start) {
  temp_folder spool;
  ASSERT_FALSE(spool.path().empty());
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  const auto port = rx.port();
  rx.stop();  // the backend is down
  const std::string name = unique("otlp.spooled");
  auto c = logfire::metric_counter(name);
  {
    auto lf = logfire::configure(otlp_options(rx.endpoint(), spool.path()));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    c.add(6, {{"k", "a"}});
    c.add(7, {{"k", "b"}});
    (void)logfire::force_flush(3s);
    EXPECT_FALSE(logfire::shutdown(3s));
  }
  const auto down = logfire::metrics_stats();
  EXPECT_EQ(down.points_exported, 0u);
  EXPECT_GE(down.points_in_spool, 2u) << down.summary();
  expect_balanced(down);

  // The backend is back: the next configuration of the service replays the spool.
  ASSERT_TRUE(rx.start(port));
  {
    auto lf = logfire::configure(otlp_options(rx.endpoint(), spool.path()));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    ASSERT_TRUE(rx.wait_for_points(down.points_in_spool, 20s));
    EXPECT_EQ(received_total(rx, name), 13);
    // The receiver counts a body before the exporter reads its answer: wait for the report.
    auto up = logfire::metrics_stats();
    for (int i = 0; i < 1000 && up.replayed.exported < down.points_in_spool; ++i) {
      std::this_thread::sleep_for(10ms);
      up = logfire::metrics_stats();
    }
    EXPECT_EQ(up.replayed.exported, down.points_in_spool) << up.summary();
  }
}

TEST(metrics_otlp, a_full_queue_drops_points_as_export_queue_full) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  // A backend that takes 3 s per request: bodies pile up in the memory queue.
  rx.set_responder([](const logfire::test::request_info&) { return logfire::test::reply::of(200).with_delay(3s); });
  const std::string name = unique("otlp.queue");
  auto c = logfire::metric_counter(name);
  auto o = otlp_options(rx.endpoint());
  o.metrics.max_queue_points = 1;
  auto lf = logfire::configure(o);
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  // One body in flight, one queued (a queue always takes one body), the rest do not fit.
  for (int i = 0; i < 4; ++i) {
    c.add(1, {{"k", "a"}});
    c.add(1, {{"k", "b"}});
    (void)logfire::force_flush(50ms);
  }
  const auto during = logfire::metrics_stats();
  EXPECT_GE(during.points_dropped[static_cast<std::size_t>(drop_reason::export_queue_full)], 2u) << during.summary();
  rx.stop();  // answers what is in flight with 503
  (void)logfire::shutdown(2s);
  expect_balanced(logfire::metrics_stats());
}

}  // namespace
