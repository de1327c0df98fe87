// Metrics through configure(): options.metrics starts the reader; force_flush() collects;
// shutdown() collects one last time; the environment variables are honoured (and a bad value is
// named); a callback may log, flush and read stats() while another thread flushes or shuts down,
// and cannot reconfigure; a reconfiguration continues the delta intervals; a periodic collection
// waits for its exporters until export_timeout.
#include <atomic>
#include <cstdlib>
#include <thread>

#include "logfire/config.hpp"
#include "logfire/logfire.hpp"
#include "logfire/memory_exporter.hpp"
#include "metrics/metrics_support.hpp"
#include "support/scoped_env.hpp"

namespace {

using namespace metrics_test;

logfire::options metric_options(std::shared_ptr<logfire::memory_metric_exporter> mem, bool env = false) {
  logfire::options o;
  o.console.enabled = false;
  o.read_environment = env;
  o.exporters = {std::make_shared<logfire::memory_exporter>()};  // the records have an output (no no_exporter loss)
  o.metrics.exporters = {std::move(mem)};
  return o;
}

TEST(metrics_configure, force_flush_collects_and_shutdown_collects_the_rest) {
  auto mem = std::make_shared<logfire::memory_metric_exporter>();
  const std::string name = unique("cfg.requests");
  auto c = logfire::metric_counter(name);
  {
    auto lf = logfire::configure(metric_options(mem));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    c.add(2);
    ASSERT_TRUE(logfire::force_flush());
    auto m = mem->last(name);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->points.at(0).as_int, 2);
    EXPECT_EQ(m->temporality, logfire::aggregation_temporality::delta);
    c.add(5);
  }  // the guard shuts down: a last collection
  auto m = mem->last(name);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->points.at(0).as_int, 5);
  const auto st = logfire::metrics_stats();
  EXPECT_GT(st.points_produced, 0u);
  EXPECT_EQ(st.points_produced, st.points_exported + st.points_dropped_total());
  // The resource is the one the spans get.
  bool service = false;
  const auto batches = mem->batches();
  for (const auto& [k, v] : batches.back().resource)
    if (k == "service.name") service = true;
  EXPECT_TRUE(service);
}

TEST(metrics_configure, environment_variables) {
  auto mem = std::make_shared<logfire::memory_metric_exporter>();
  scoped_env pref("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "CUMULATIVE");
  scoped_env interval("OTEL_METRIC_EXPORT_INTERVAL", "50");
  const std::string name = unique("cfg.env");
  auto lf = logfire::configure(metric_options(mem, true));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  logfire::metric_counter(name).add(1);
  // Collections every 50 ms: one arrives without a flush (bounded wait for the event).
  for (int i = 0; i < 500 && !mem->last(name); ++i) std::this_thread::sleep_for(10ms);
  auto m = mem->last(name);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->temporality, logfire::aggregation_temporality::cumulative);
}

TEST(metrics_configure, a_bad_value_is_named) {
  auto mem = std::make_shared<logfire::memory_metric_exporter>();
  {
    scoped_env pref("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "sometimes");
    auto lf = logfire::configure(metric_options(mem, true));
    ASSERT_FALSE(lf);
    logfire::shutdown_guard lf_guard(lf);
    EXPECT_EQ(lf.error(),
              "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE is not cumulative, delta or lowmemory: "
              "'sometimes'");
  }
  scoped_env interval("OTEL_METRIC_EXPORT_INTERVAL", "soon");
  auto lf = logfire::configure(metric_options(mem, true));
  ASSERT_FALSE(lf);
  logfire::shutdown_guard lf_guard(lf);
  EXPECT_EQ(lf.error(), "OTEL_METRIC_EXPORT_INTERVAL is not a positive integer: 'soon'");
}

TEST(metrics_configure, callbacks_may_log_and_flush_while_another_thread_flushes) {
  auto mem = std::make_shared<logfire::memory_metric_exporter>();
  auto spans = std::make_shared<logfire::memory_exporter>();
  auto o = metric_options(mem);
  o.exporters = {spans};
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  const std::string name = unique("cfg.reentrant");
  std::string reconfigure_error;
  auto reg = logfire::metric_gauge_callback(name, [&](logfire::observer& obs) {
    logfire::info("collecting {n}", {{"n", 1}});
    EXPECT_TRUE(logfire::force_flush(1s));  // returns at once on the reader's thread
    auto again = logfire::configure(metric_options(mem));
    logfire::shutdown_guard again_guard(again);
    reconfigure_error = again.error();
    EXPECT_FALSE(logfire::shutdown(1s));
    obs.observe(1.0);
  });
  // This thread holds the configure lock while it waits for the reader, whose callback flushes.
  ASSERT_TRUE(logfire::force_flush(10s));
  EXPECT_TRUE(mem->last(name));
  EXPECT_EQ(reconfigure_error, "logfire::configure cannot be called from a metric callback");
  ASSERT_TRUE(logfire::force_flush(10s));
  bool logged = false;
  for (const auto& r : spans->records())
    if (r.name == "collecting {n}") logged = true;
  EXPECT_TRUE(logged);
}

TEST(metrics_configure, callbacks_may_read_stats_while_another_thread_flushes_or_shuts_down) {
  // An observable gauge of the SDK's own counters is a natural callback. flush(), shutdown() and
  // configure() hold the configure lock while they wait for the collection (shutdown() even runs
  // the last one on its own thread): stats() from the callback must not wait for that lock.
  auto mem = std::make_shared<logfire::memory_metric_exporter>();
  auto lf = logfire::configure(metric_options(mem));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  const std::string name = unique("cfg.sdk.produced");
  std::atomic<int> runs{0};
  auto reg = logfire::metric_gauge_callback(name, [&runs](logfire::observer& o) {
    o.observe(static_cast<std::int64_t>(logfire::stats().produced));
    o.observe(static_cast<std::int64_t>(logfire::metrics_stats().points_produced), {{"signal", "metrics"}});
    ++runs;
  });
  logfire::info("one record");
  ASSERT_TRUE(logfire::force_flush(10s));
  EXPECT_EQ(runs.load(), 1);
  auto m = mem->last(name);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->points.size(), 2u);
  EXPECT_TRUE(logfire::shutdown(10s));  // the last collection runs the callback on this thread
  EXPECT_EQ(runs.load(), 2);
}

TEST(metrics_configure, a_reconfiguration_continues_the_delta_intervals) {
  // The cells outlive a reader: the new reader's first delta point starts where the old reader's
  // last one ended, so consecutive intervals neither overlap nor leave a gap.
  const std::string name = unique("cfg.continued");
  auto c = logfire::metric_counter(name);
  auto first = std::make_shared<logfire::memory_metric_exporter>();
  auto lf = logfire::configure(metric_options(first));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  c.add(1);
  ASSERT_TRUE(logfire::force_flush());
  c.add(2);
  auto second = std::make_shared<logfire::memory_metric_exporter>();
  lf = logfire::configure(metric_options(second));  // the first reader's last collection takes the 2
  ASSERT_TRUE(lf) << lf.error();
  c.add(3);
  ASSERT_TRUE(logfire::force_flush());
  const auto before = first->last(name);
  const auto after = second->last(name);
  ASSERT_TRUE(before && after);
  EXPECT_EQ(before->points.at(0).as_int, 2);
  EXPECT_EQ(after->points.at(0).as_int, 3);
  EXPECT_EQ(after->points.at(0).start_unix_nano, before->points.at(0).time_unix_nano);
}

TEST(metrics_configure, without_metric_exporters_no_reader_runs) {
  const std::string name = unique("cfg.no.reader");
  auto lf = logfire::configure({.console = {.enabled = false}, .read_environment = false});
  ASSERT_TRUE(lf);
  logfire::shutdown_guard lf_guard(lf);
  logfire::metric_counter(name).add(3);
  ASSERT_TRUE(logfire::force_flush());
  // Still in the instrument: a later configuration with an exporter collects it.
  auto mem = std::make_shared<logfire::memory_metric_exporter>();
  auto lf2 = logfire::configure(metric_options(mem));
  logfire::shutdown_guard lf2_guard(lf2);
  ASSERT_TRUE(logfire::force_flush());
  auto m = mem->last(name);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->points.at(0).as_int, 3);
}

// Remembers how far away the deadline of the first flush it is asked for is.
class deadline_exporter final : public logfire::metric_exporter {
 public:
  std::string name() const override { return "deadline"; }
  void export_metrics(const logfire::metric_batch& batch) noexcept override {
    counter_->delivered(batch.point_count());
  }
  bool force_flush(logfire::clock::time_point deadline) noexcept override {
    std::int64_t expected = -1;
    remaining_ms.compare_exchange_strong(
        expected, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - logfire::clock::now()).count());
    return true;
  }
  std::atomic<std::int64_t> remaining_ms{-1};
};

TEST(metrics_configure, a_periodic_collection_flushes_its_exporters_until_the_export_timeout) {
  auto exp = std::make_shared<deadline_exporter>();
  logfire::options o;
  o.console.enabled = false;
  o.read_environment = false;
  o.metrics.exporters = {exp};
  o.metrics.export_interval = 20ms;
  o.metrics.export_timeout = 7000ms;
  logfire::metric_counter(unique("cfg.periodic")).add(1);
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  for (int i = 0; i < 1000 && exp->remaining_ms.load() < 0; ++i) std::this_thread::sleep_for(10ms);
  const std::int64_t remaining = exp->remaining_ms.load();
  ASSERT_GE(remaining, 0) << "no periodic collection flushed its exporter";
  EXPECT_LE(remaining, 7000);
  EXPECT_GT(remaining, 5000);  // the timeout, less the time the collection took before the flush
}

}  // namespace
