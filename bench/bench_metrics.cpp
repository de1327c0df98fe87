// The caller's cost of metrics, beside a plain std::atomic add as the floor. A metrics reader
// runs for real (collecting every second into an exporter that discards), so its thread's work
// is part of the run. Targets (medians, 2-core machine): bound counter add <= 5 ns, no cache-line
// contention between 2 threads, bound histogram record <= 25 ns, unbound add with 2 attributes
// <= 60 ns.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "logfire/metric_exporter.hpp"
#include "logfire/metric_stats.hpp"
#include "logfire/metrics.hpp"
#include "metrics/reader.hpp"

namespace {

class discard_metrics final : public logfire::metric_exporter {
 public:
  std::string name() const override { return "discard"; }
  void export_metrics(const logfire::metric_batch& batch) noexcept override {
    if (counter_) counter_->delivered(batch.point_count());
  }
};

// ---- the floor: a plain atomic ----

std::atomic<std::int64_t> g_plain{0};
struct alignas(64) padded_atomic {
  std::atomic<std::int64_t> v{0};
};
padded_atomic g_per_thread[2];

void BM_atomic_add(benchmark::State& state) {
  for (auto _ : state) g_plain.fetch_add(1, std::memory_order_relaxed);
}
BENCHMARK(BM_atomic_add);
// Both threads on one atomic: the cost of a shared cache line.
BENCHMARK(BM_atomic_add)->Threads(2)->UseRealTime();

// Each thread on its own line: the floor without contention.
void BM_atomic_add_own_line(benchmark::State& state) {
  auto& a = g_per_thread[state.thread_index() & 1].v;
  for (auto _ : state) a.fetch_add(1, std::memory_order_relaxed);
}
BENCHMARK(BM_atomic_add_own_line)->Threads(2)->UseRealTime();

// ---- instruments ----

auto g_requests = logfire::metric_counter("bench.requests", {.unit = "{request}"});
auto g_bound = g_requests.bind({{"route", "/checkout"}, {"method", "POST"}});
auto g_bytes = logfire::metric_counter<double>("bench.bytes", {.unit = "By"}).bind({{"route", "/checkout"}});
auto g_latency = logfire::metric_histogram("bench.latency", {.unit = "ms"});
auto g_latency_bound = g_latency.bind({{"route", "/checkout"}});
auto g_explicit =
    logfire::metric_histogram(
        "bench.size", {.explicit_bounds = {0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000}})
        .bind({{"route", "/checkout"}});
auto g_gauge = logfire::metric_gauge("bench.temperature").bind({{"room", "a"}});

// Latencies of a service: log-normal around 20 ms, from 0.1 ms to a few seconds.
const std::vector<double>& latencies() {
  static const std::vector<double> v = [] {
    std::mt19937_64 rng(1);
    std::lognormal_distribution<double> d(3.0, 1.0);
    std::vector<double> out(4096);
    for (double& x : out) x = d(rng);
    return out;
  }();
  return v;
}

void BM_bound_counter_add(benchmark::State& state) {
  for (auto _ : state) g_bound.add(1);
}
BENCHMARK(BM_bound_counter_add);
// Both threads on the same bound handle: each adds to its own shard.
BENCHMARK(BM_bound_counter_add)->Threads(2)->UseRealTime();

void BM_bound_double_counter_add(benchmark::State& state) {
  for (auto _ : state) g_bytes.add(512.0);
}
BENCHMARK(BM_bound_double_counter_add);

void BM_bound_histogram_record(benchmark::State& state) {
  const auto& v = latencies();
  std::size_t i = 0;
  for (auto _ : state) g_latency_bound.record(v[i++ & 4095]);
}
BENCHMARK(BM_bound_histogram_record);
BENCHMARK(BM_bound_histogram_record)->Threads(2)->UseRealTime();

void BM_bound_explicit_histogram_record(benchmark::State& state) {
  const auto& v = latencies();
  std::size_t i = 0;
  for (auto _ : state) g_explicit.record(v[i++ & 4095]);
}
BENCHMARK(BM_bound_explicit_histogram_record);

void BM_bound_gauge_set(benchmark::State& state) {
  double x = 0;
  for (auto _ : state) g_gauge.set(x += 0.5);
}
BENCHMARK(BM_bound_gauge_set);

void BM_unbound_counter_add_2_attributes(benchmark::State& state) {
  for (auto _ : state) g_requests.add(1, {{"route", "/checkout"}, {"method", "POST"}});
}
BENCHMARK(BM_unbound_counter_add_2_attributes);
BENCHMARK(BM_unbound_counter_add_2_attributes)->Threads(2)->UseRealTime();

void BM_unbound_counter_add_no_attributes(benchmark::State& state) {
  for (auto _ : state) g_requests.add(1);
}
BENCHMARK(BM_unbound_counter_add_no_attributes);

void BM_unbound_histogram_record_2_attributes(benchmark::State& state) {
  const auto& v = latencies();
  std::size_t i = 0;
  for (auto _ : state) g_latency.record(v[i++ & 4095], {{"route", "/checkout"}, {"status", 200}});
}
BENCHMARK(BM_unbound_histogram_record_2_attributes);

// The reader's side: one collection (the running reader's, asked for by a flush) of 1,000 counter
// series and 100 histogram series of 50 values each, exported to the discarding exporter.
logfire::detail::metric_reader* g_reader = nullptr;

void BM_collect_1000_series(benchmark::State& state) {
  auto c = logfire::metric_counter("bench.collect.counter");
  auto h = logfire::metric_histogram("bench.collect.histogram");
  std::vector<logfire::bound_counter<>> counters;
  std::vector<logfire::bound_histogram> histograms;
  for (int i = 0; i < 1000; ++i) counters.push_back(c.bind({{"id", i}}));
  for (int i = 0; i < 100; ++i) histograms.push_back(h.bind({{"id", i}}));
  const auto& v = latencies();
  for (auto _ : state) {
    state.PauseTiming();
    for (auto& b : counters) b.add(1);
    for (std::size_t i = 0; i < histograms.size(); ++i)
      for (std::size_t k = 0; k < 50; ++k) histograms[i].record(v[(i * 50 + k) & 4095]);
    state.ResumeTiming();
    g_reader->force_flush(std::chrono::steady_clock::now() + std::chrono::seconds(10));
  }
}
BENCHMARK(BM_collect_1000_series)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // The reader the caller benchmarks run beside: it collects every second, as a busy service's
  // reader would every minute, so its drains and exports happen during the runs.
  logfire::detail::metric_reader_settings s;
  s.interval = std::chrono::seconds(1);
  s.exporters = {std::make_shared<discard_metrics>()};
  logfire::detail::metric_reader reader(std::move(s));
  reader.start();
  g_reader = &reader;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  reader.shutdown(std::chrono::steady_clock::now() + std::chrono::seconds(10));
  std::fprintf(stderr, "logfire metrics: %s\n", logfire::metrics_stats().summary().c_str());
  return 0;
}
