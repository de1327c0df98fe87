// The caller's cost of spans and logs, and the background thread's drain throughput. The SDK
// runs for real: its background thread drains every ring and hands batches to an exporter
// that discards them. Targets (medians, 2-core machine): span with 4 attributes <= 100 ns,
// log with 2 attributes <= 80 ns, filtered log <= 2 ns, drain >= 2 M records/s.
//
// The ring never overflows silently: each caller benchmark flushes (timer paused) every
// k_flush_every iterations, and every benchmark reports the records lost under ring_full in
// the "dropped" counter (and fails when it is not zero).
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "logfire/config.hpp"
#include "logfire/exporter.hpp"
#include "logfire/logfire.hpp"
#include "logfire/stats.hpp"

namespace {

// Discards batches; counts them as delivered. When armed, the next batch blocks until
// released (the drain benchmark uses it to hold the background thread while records pile up).
class discard_exporter final : public logfire::exporter {
 public:
  std::string name() const override { return "discard"; }
  void export_batch(std::span<const logfire::span_record> records) noexcept override {
    if (armed_.load(std::memory_order_acquire)) {
      std::unique_lock lock(mutex_);
      blocked_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !armed_.load(); });
      blocked_ = false;
    }
    if (counter_) counter_->delivered(records.size());
  }
  void arm() { armed_.store(true, std::memory_order_release); }
  void wait_until_blocked() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return blocked_; });
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      armed_.store(false);
    }
    cv_.notify_all();
  }

 private:
  std::atomic<bool> armed_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool blocked_ = false;
};

std::shared_ptr<discard_exporter> g_exporter = std::make_shared<discard_exporter>();

constexpr int k_flush_every = 4096;       // iterations between flushes (~1 MiB of records)
constexpr std::size_t k_ring = 4u << 20;  // per-thread ring: a few batches, as in production

logfire::options bench_options() {
  logfire::options o;
  o.read_environment = false;
  o.console.enabled = false;
  o.min_level = logfire::level::info;  // so that debug() is the filtered call
  o.limits.ring_bytes = k_ring;
  o.exporters = {g_exporter};
  return o;
}

std::uint64_t ring_full() {
  return logfire::stats().dropped_by(logfire::drop_reason::ring_full);
}

// Runs `body` per iteration; flushes with the timer paused every k_flush_every iterations.
template <typename Body>
void run(benchmark::State& state, std::int64_t records_per_iteration, Body&& body) {
  const std::uint64_t dropped_before = state.thread_index() == 0 ? ring_full() : 0;
  int n = 0;
  for (auto _ : state) {
    body();
    if (++n == k_flush_every) [[unlikely]] {
      state.PauseTiming();
      logfire::force_flush(std::chrono::seconds(10));
      state.ResumeTiming();
      n = 0;
    }
  }
  state.SetItemsProcessed(state.iterations() * records_per_iteration);
  if (state.thread_index() == 0) {
    logfire::force_flush(std::chrono::seconds(10));
    const std::uint64_t dropped = ring_full() - dropped_before;
    state.counters["dropped"] = static_cast<double>(dropped);
    if (dropped) state.SkipWithError("records were dropped (ring_full): the ring overflowed");
  }
}

void BM_span_0_attributes(benchmark::State& state) {
  run(state, 1, [] { logfire::span s("handle request"); });
}
BENCHMARK(BM_span_0_attributes);

void BM_span_4_attributes(benchmark::State& state) {
  run(state, 1, [] {
    logfire::span s("charge {user}", {{"user", "u-42"}, {"amount", 12.5}, {"attempt", 3}, {"ok", true}});
  });
}
BENCHMARK(BM_span_4_attributes);
BENCHMARK(BM_span_4_attributes)->Threads(2)->UseRealTime();

void BM_log_2_attributes(benchmark::State& state) {
  run(state, 1, [] { logfire::info("card {last4} accepted", {{"last4", "4242"}, {"attempt", 3}}); });
}
BENCHMARK(BM_log_2_attributes);
BENCHMARK(BM_log_2_attributes)->Threads(2)->UseRealTime();

void BM_log_filtered_by_level(benchmark::State& state) {
  run(state, 1, [] { logfire::debug("cache miss {key}", {{"key", "k-1"}, {"size", 512}}); });
}
BENCHMARK(BM_log_filtered_by_level);

// The same without attributes: what remains is the level test, the defaulted log_options and
// source_location the call site builds, and the counter of filtered calls.
void BM_log_filtered_no_attributes(benchmark::State& state) {
  run(state, 1, [] { logfire::debug("cache miss"); });
}
BENCHMARK(BM_log_filtered_no_attributes);

// An outer span and a child span per iteration (2 records).
void BM_span_nested(benchmark::State& state) {
  run(state, 2, [] {
    logfire::span outer("outer {id}", {{"id", 7}});
    logfire::span inner("inner {step}", {{"step", "load"}});
  });
}
BENCHMARK(BM_span_nested);

// A child span of a long-lived parent (the common case inside a request).
void BM_span_child_of_open_parent(benchmark::State& state) {
  logfire::span parent("request");
  run(state, 1, [] { logfire::span child("step {n}", {{"n", 1}}); });
}
BENCHMARK(BM_span_child_of_open_parent);

// Background drain: records piled up in a ring while the background thread is held in an
// export, then timed from its release until a flush has drained, built and exported them all.
void BM_background_drain(benchmark::State& state) {
  constexpr int k_records = 16384;
  const std::uint64_t dropped_before = ring_full();
  for (auto _ : state) {
    g_exporter->arm();
    std::thread blocker([] {
      logfire::info("hold the background thread");
      logfire::force_flush(std::chrono::seconds(30));
    });
    g_exporter->wait_until_blocked();
    for (int i = 0; i < k_records; ++i) logfire::info("card {last4} attempt {i}", {{"last4", "4242"}, {"i", i}});
    const auto start = std::chrono::steady_clock::now();
    g_exporter->release();
    logfire::force_flush(std::chrono::seconds(30));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    state.SetIterationTime(std::chrono::duration<double>(elapsed).count());
    blocker.join();
  }
  // items_per_second: records drained per second of (manual) drain time.
  state.SetItemsProcessed(state.iterations() * k_records);
  const std::uint64_t dropped = ring_full() - dropped_before;
  state.counters["dropped"] = static_cast<double>(dropped);
  if (dropped) state.SkipWithError("records were dropped (ring_full): the ring overflowed");
}
BENCHMARK(BM_background_drain)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  auto lf = logfire::configure(bench_options());
  if (!lf) {
    std::fprintf(stderr, "configure failed: %s\n", lf.error().c_str());
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  const auto st = logfire::stats();
  std::fprintf(stderr, "logfire stats: %s\n", st.summary().c_str());
  return 0;
}
