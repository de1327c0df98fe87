// The caller's cost of spans and logs, with the SDK running for real: the default settings
// (1 MiB ring per thread), a background thread that drains every ring, builds the records and
// hands batches to an exporter that discards them. Targets (medians, 2-core machine): span with
// 4 attributes <= 100 ns, log with 2 attributes <= 60 ns, filtered log <= 1 ns.
//
// The timer is never paused in the headline rows: a caller that outruns the background thread
// fills its ring, and what that costs (the background thread competing for the machine, the
// records dropped as ring_full) is part of the figure. Each row reports the share of its calls
// that were dropped ("dropped_pct"), since a dropped call is cheaper than a recorded one. Rows
// whose name says "paused_flush" pause the timer to flush every k_flush_every calls, so that
// the ring never fills: they measure the caller alone, with an idle background thread.
//
// main() turns on random interleaving of repetitions (--benchmark_enable_random_interleaving)
// unless the command line sets it, so that the machine's load drifts across every row alike.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "context/wall_clock.hpp"
#include "logfire/config.hpp"
#include "logfire/exporter.hpp"
#include "logfire/instrument.hpp"
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

// Calls between flushes in the paused rows: 1,024 spans with 4 attributes take about a quarter
// of the default 1 MiB ring, below the half-full wake-up, so the background thread stays idle
// while the caller is timed.
constexpr int k_flush_every = 1024;

logfire::options bench_options() {
  logfire::options o;
  o.read_environment = false;
  o.console.enabled = false;
  o.min_level = logfire::level::info;  // so that debug() is the filtered call
  o.exporters = {g_exporter};
  return o;
}

std::uint64_t ring_full() {
  return logfire::stats().dropped_by(logfire::drop_reason::ring_full);
}

std::uint64_t produced() {
  return logfire::stats().produced;
}

// After a row: flushes, then reports the calls dropped as ring_full during it ("dropped" and
// "dropped_pct" of the records produced). Thread 0 only.
void report_drops(benchmark::State& state, std::uint64_t dropped_before, std::uint64_t produced_before) {
  logfire::force_flush(std::chrono::seconds(30));
  const std::uint64_t dropped = ring_full() - dropped_before;
  const std::uint64_t n = produced() - produced_before;
  state.counters["dropped"] = static_cast<double>(dropped);
  state.counters["dropped_pct"] = n ? 100.0 * static_cast<double>(dropped) / static_cast<double>(n) : 0.0;
}

// Runs `body` per iteration with the timer running throughout.
template <typename Body>
void run(benchmark::State& state, std::int64_t records_per_iteration, Body&& body) {
  // Every row starts from an empty ring, whatever the row before it left.
  if (state.thread_index() == 0) logfire::force_flush(std::chrono::seconds(30));
  const std::uint64_t dropped_before = state.thread_index() == 0 ? ring_full() : 0;
  const std::uint64_t produced_before = state.thread_index() == 0 ? produced() : 0;
  for (auto _ : state) body();
  state.SetItemsProcessed(state.iterations() * records_per_iteration);
  if (state.thread_index() == 0) report_drops(state, dropped_before, produced_before);
}

// Runs `body` per iteration; flushes with the timer paused every k_flush_every iterations, so
// the ring never fills (the "paused_flush" rows). Any drop is an error here.
template <typename Body>
void run_paused_flush(benchmark::State& state, Body&& body) {
  logfire::force_flush(std::chrono::seconds(30));
  const std::uint64_t dropped_before = ring_full();
  const std::uint64_t produced_before = produced();
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
  state.SetItemsProcessed(state.iterations());
  report_drops(state, dropped_before, produced_before);
  if (state.counters["dropped"] > 0) state.SkipWithError("records were dropped (ring_full): the ring overflowed");
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

// The same span setting one attribute after it started, as a server span sets its status code.
void BM_span_4_attributes_1_update(benchmark::State& state) {
  run(state, 1, [] {
    logfire::span s("charge {user}", {{"user", "u-42"}, {"amount", 12.5}, {"attempt", 3}, {"ok", true}});
    s.set_attribute("http.response.status_code", 200);
  });
}
BENCHMARK(BM_span_4_attributes_1_update);

void BM_span_4_attributes_paused_flush(benchmark::State& state) {
  run_paused_flush(state, [] {
    logfire::span s("charge {user}", {{"user", "u-42"}, {"amount", 12.5}, {"attempt", 3}, {"ok", true}});
  });
}
BENCHMARK(BM_span_4_attributes_paused_flush);

void BM_log_2_attributes(benchmark::State& state) {
  run(state, 1, [] { logfire::info("card {last4} accepted", {{"last4", "4242"}, {"attempt", 3}}); });
}
BENCHMARK(BM_log_2_attributes);
BENCHMARK(BM_log_2_attributes)->Threads(2)->UseRealTime();

void BM_log_2_attributes_paused_flush(benchmark::State& state) {
  run_paused_flush(state, [] { logfire::info("card {last4} accepted", {{"last4", "4242"}, {"attempt", 3}}); });
}
BENCHMARK(BM_log_2_attributes_paused_flush);

void BM_log_filtered_by_level(benchmark::State& state) {
  run(state, 1, [] { logfire::debug("cache miss {key}", {{"key", "k-1"}, {"size", 512}}); });
}
BENCHMARK(BM_log_filtered_by_level);

// The same call through the macro, which builds the attributes only when the level is enabled.
void BM_log_filtered_by_level_macro(benchmark::State& state) {
  run(state, 1, [] { LOGFIRE_DEBUG("cache miss {key}", {{"key", "k-1"}, {"size", 512}}); });
}
BENCHMARK(BM_log_filtered_by_level_macro);

// The same without attributes: what remains is the level test, the defaulted log_options and
// source_location the call site builds, and the counter of filtered calls.
void BM_log_filtered_no_attributes(benchmark::State& state) {
  run(state, 1, [] { logfire::debug("cache miss"); });
}
BENCHMARK(BM_log_filtered_no_attributes);

// logfire::exception() in a catch block: the exception's type and message, and the caller's
// stack (one backtrace() call; symbolized on the background thread). BENCH_CORE_STACK_TRACES=0
// runs it without the stack (options::stack_traces = false).
void BM_log_exception(benchmark::State& state) {
  const std::runtime_error e("card declined");
  run(state, 1, [&] { logfire::exception("charge failed", e); });
}
BENCHMARK(BM_log_exception);

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

// logfire/instrument.hpp against the span it replaces: the same function instrumented by hand,
// by the macro and by the function wrapper (each call: a span with 2 attributes).
[[gnu::noinline]] double charge_by_hand(int user, double amount) {
  logfire::span s("charge {user}", {{"user", user}, {"amount", amount}});
  return amount * 2;
}
[[gnu::noinline]] double charge_by_macro(int user, double amount) {
  LOGFIRE_INSTRUMENT("charge {user}", user, amount);
  return amount * 2;
}
[[gnu::noinline]] double charge_impl(int, double amount) {
  return amount * 2;
}
const auto charge_by_wrapper = logfire::instrument("charge {user}", {"user", "amount"}, charge_impl);

void BM_instrument_by_hand(benchmark::State& state) {
  run(state, 1, [] { benchmark::DoNotOptimize(charge_by_hand(42, 12.5)); });
}
BENCHMARK(BM_instrument_by_hand);
void BM_instrument_macro(benchmark::State& state) {
  run(state, 1, [] { benchmark::DoNotOptimize(charge_by_macro(42, 12.5)); });
}
BENCHMARK(BM_instrument_macro);
void BM_instrument_wrapper(benchmark::State& state) {
  run(state, 1, [] { benchmark::DoNotOptimize(charge_by_wrapper(42, 12.5)); });
}
BENCHMARK(BM_instrument_wrapper);

// The timestamps of spans and logs: the SDK's wall clock (the time-stamp counter and an anchor
// all threads share, src/context/wall_clock.hpp) against clock_gettime(CLOCK_REALTIME), which
// it replaces on the caller's thread. A span reads the clock twice, a log once.
// A row that makes no records still has the columns of report_drops(): the CSV reporter
// aborts on a row without a column of its header, made from whichever row comes first.
void report_no_records(benchmark::State& state) {
  state.counters["dropped"] = 0;
  state.counters["dropped_pct"] = 0;
}
void BM_wall_clock_read(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(logfire::detail::wall_now_ns());
  report_no_records(state);
}
BENCHMARK(BM_wall_clock_read);
void BM_clock_gettime_read(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(logfire::detail::now_unix_nano());
  report_no_records(state);
}
BENCHMARK(BM_clock_gettime_read);

// Background drain: records piled up in a ring while the background thread is held in an
// export, then timed from its release until a flush has drained, built and exported them all.
// 4,096 logs with 2 attributes (about 640 KiB) fit in the default ring. bench_sustained
// measures the background thread's cost under load, in CPU per span.
void BM_background_drain(benchmark::State& state) {
  constexpr int k_records = 4096;
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
  state.counters["dropped_pct"] =
      100.0 * static_cast<double>(dropped) / static_cast<double>(state.iterations() * k_records);
  if (dropped) state.SkipWithError("records were dropped (ring_full): the ring overflowed");
}
BENCHMARK(BM_background_drain)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  // Repetitions interleaved at random unless the command line says otherwise.
  std::vector<char*> args(argv, argv + argc);
  bool interleaving_set = false;
  for (int i = 1; i < argc; ++i)
    interleaving_set =
        interleaving_set || std::string_view(argv[i]).starts_with("--benchmark_enable_random_interleaving");
  std::string interleave = "--benchmark_enable_random_interleaving=true";
  if (!interleaving_set) args.push_back(interleave.data());
  argc = static_cast<int>(args.size());
  args.push_back(nullptr);
  argv = args.data();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // BENCH_CORE_TAIL=1: with tail sampling on (level_or_duration keeping nothing in the
  // background), to show the caller's cost does not depend on it (docs/sampling.md).
  auto opts = bench_options();
  if (const char* t = std::getenv("BENCH_CORE_TAIL"); t && std::string_view(t) == "1")
    opts.sampling = logfire::level_or_duration(1.0, logfire::level::error, std::chrono::hours(1), 0.0);
  if (const char* t = std::getenv("BENCH_CORE_STACK_TRACES"); t && std::string_view(t) == "0")
    opts.stack_traces = false;
  // BENCH_CORE_CONSOLE=batched / immediate: the console on too, writing to /dev/null, printed by
  // the background thread with each batch, or at the call (prompt mode; docs/console.md).
  if (const char* c = std::getenv("BENCH_CORE_CONSOLE"); c && *c) {
    opts.console.enabled = true;
    opts.console.output = std::fopen("/dev/null", "w");
    opts.console.colors = logfire::console_colors::never;
    opts.console.immediate = std::string_view(c) == "immediate";
  }
  auto lf = logfire::configure(std::move(opts));
  logfire::shutdown_guard lf_guard(lf);
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
