// Sustained load, whole cost: producer threads create spans with 4 (or 12) attributes for a fixed time,
// flat out or paced, with the default settings (1 MiB ring per thread, batches of 512), then
// one flush. Counts what the whole process spent, the background thread included:
//   produced, delivered, dropped by reason      from logfire::stats() after the flush
//   process CPU-ns per delivered span           getrusage(RUSAGE_SELF), all threads, from the
//                                               producers' start to the end of the flush
//   caller CPU-ns per produced span             getrusage(RUSAGE_THREAD) in each producer
//   background CPU-ns per delivered span        the process's CPU less the producers' and the
//                                               main thread's (the background thread: drain,
//                                               decode, build, batch, and the exporter's work)
//   RSS                                         VmRSS and VmHWM of /proc/self/status at the end
//   background wake-ups per second              voluntary context switches of the thread named
//                                               logfire-drain, while the producers run
// One run per process (so that peak RSS is this run's), printed as one line
//   result producers=1 rate=0 exporter=otlp seconds=3.00 produced=... delivered=... ...
// for scripts/bench, and a readable summary on stderr. Exits 1 when the loss identity
// produced == delivered + dropped does not hold after the flush.
//
//   bench_sustained --producers=1 --rate=0 --exporter=otlp --seconds=3
//   bench_sustained --producers=2 --rate=1000000 --exporter=otlp_gzip
//   bench_sustained --producers=1 --rate=200000 --exporter=discard --tail=drop
//   bench_sustained --rate=200000 --exporter=discard --attributes=12 --scrubbing=off
// --rate is spans per second per producer (0: flat out); --exporter is discard, otlp or
// otlp_gzip (bench_support.hpp); --tail is off (default), keep or drop: tail sampling with
// level_or_duration, keeping every trace (background rate 1) or none (0; each span is a trace,
// buffered until it ends, then dropped and counted). Each span is a root: one trace per span.
// --attributes is 4 (bench_core's span) or 12 (bench_scrub's record: ids, amounts, a route, a
// JSON cart, free text; with --matches=2 a password and a cookie in it); --scrubbing on (the
// default, as configure() does) or off. --ring sets options::limits::ring_bytes (each thread's
// ring segment; default 1 MiB). --updates=1 sets one attribute on each 4-attribute span after
// it started (a record with an update).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <latch>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "support/thread_wakeups.hpp"

namespace {

struct args {
  int producers = 1;
  double rate = 0;  // spans/s per producer; 0 = flat out
  double seconds = 3;
  std::string exporter = "otlp";
  std::string tail = "off";
  int attributes = 4;
  int matches = 0;
  bool scrubbing = true;
  std::string overflow = "drop";
  std::size_t ring_bytes = 0;  // 0: the default (options::limits::ring_bytes)
  int updates = 0;             // attributes set on each 4-attribute span after it started
};

bool parse(int argc, char** argv, args& a) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view s(argv[i]);
    auto value = [&](std::string_view name, std::string& out) {
      if (s.substr(0, name.size()) != name) return false;
      out = std::string(s.substr(name.size()));
      return true;
    };
    std::string v;
    if (value("--producers=", v)) {
      a.producers = std::atoi(v.c_str());
    } else if (value("--rate=", v)) {
      a.rate = std::atof(v.c_str());
    } else if (value("--seconds=", v)) {
      a.seconds = std::atof(v.c_str());
    } else if (value("--exporter=", v)) {
      a.exporter = v;
    } else if (value("--tail=", v)) {
      a.tail = v;
    } else if (value("--attributes=", v)) {
      a.attributes = std::atoi(v.c_str());
    } else if (value("--matches=", v)) {
      a.matches = std::atoi(v.c_str());
    } else if (value("--overflow=", v)) {
      if (v != "drop" && v != "block") return false;
      a.overflow = v;
    } else if (value("--updates=", v)) {
      a.updates = std::atoi(v.c_str());
    } else if (value("--ring=", v)) {
      a.ring_bytes = static_cast<std::size_t>(std::strtoull(v.c_str(), nullptr, 10));
      if (a.ring_bytes == 0) return false;
    } else if (value("--scrubbing=", v)) {
      if (v != "on" && v != "off") return false;
      a.scrubbing = v == "on";
    } else {
      return false;
    }
  }
  return a.producers >= 1 && a.producers <= 64 && a.rate >= 0 && a.seconds > 0 &&
         (a.tail == "off" || a.tail == "keep" || a.tail == "drop") && (a.attributes == 4 || a.attributes == 12) &&
         (a.matches == 0 || a.matches == 2) && (a.updates == 0 || a.updates == 1) &&
         (a.updates == 0 || a.attributes == 4);
}

struct producer_result {
  std::uint64_t spans = 0;
  std::uint64_t cpu_ns = 0;
};

// Flat out: spans back to back until stopped. Paced: chunks of spans at `rate` on average,
// sleeping between chunks (a paced producer spends no CPU waiting); a producer that fell
// behind catches up at most 10 ms of backlog, then gives the rest up (its produced/s says so).
// The 12-attribute span (bench_scrub's record), with or without two values to scrub.
void span_12_attributes(std::int64_t i, bool matches) noexcept {
  static constexpr std::string_view cart = R"({"items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"coupon":null})";
  logfire::span s("checkout {order_id}",
                  {{"user_id", 123456},
                   {"order_id", "ord_01HZX8K2M4"},
                   {"amount", 42.5},
                   {"currency", "EUR"},
                   {"http.route", "/checkout/{id}"},
                   {"region", "europe-west1"},
                   {matches ? "password" : "retry", i},
                   {"customer", "ann@example.com"},
                   {"cart", cart},
                   {"note", matches ? "reset the session cookie before retrying" : "customer asked for gift wrapping"},
                   {"latency_ms", 12.75},
                   {"payment_provider", "stripe"}});
}

void one_span(const args& a, std::int64_t i) noexcept {
  if (a.attributes == 12)
    span_12_attributes(i, a.matches != 0);
  else
    bench::span_4_attributes(i, a.updates == 1);
}

void produce(const args& a, std::latch& start, const std::atomic<bool>& stop, producer_result& out) {
  start.wait();
  const std::uint64_t cpu0 = bench::cpu_ns(RUSAGE_THREAD);
  std::int64_t i = 0;
  if (a.rate <= 0) {
    while (!stop.load(std::memory_order_relaxed))
      for (int k = 0; k < 64; ++k) one_span(a, i++);
  } else {
    constexpr int k_chunk = 200;
    const auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(k_chunk / a.rate));
    auto next = std::chrono::steady_clock::now();
    while (!stop.load(std::memory_order_relaxed)) {
      for (int k = 0; k < k_chunk; ++k) one_span(a, i++);
      next += period;
      const auto now = std::chrono::steady_clock::now();
      if (next > now)
        std::this_thread::sleep_until(next);
      else if (now - next > std::chrono::milliseconds(10))
        next = now - std::chrono::milliseconds(10);
    }
  }
  out.cpu_ns = bench::cpu_ns(RUSAGE_THREAD) - cpu0;
  out.spans = static_cast<std::uint64_t>(i);
}

}  // namespace

int main(int argc, char** argv) {
  args a;
  if (!parse(argc, argv, a)) {
    std::fprintf(stderr,
                 "usage: bench_sustained [--producers=N] [--rate=SPANS_PER_S_PER_PRODUCER (0: flat out)] "
                 "[--seconds=S] [--exporter=discard|otlp|otlp_gzip] [--tail=off|keep|drop] [--attributes=4|12] "
                 "[--matches=0|2] [--scrubbing=on|off] [--overflow=drop|block] [--ring=BYTES] [--updates=0|1]\n");
    return 2;
  }
  auto exp = bench::make_exporter(a.exporter);
  if (!exp) {
    std::fprintf(stderr, "unknown exporter '%s' (discard, otlp, otlp_gzip)\n", a.exporter.c_str());
    return 2;
  }
  auto opts = bench::default_options(exp);
  opts.scrubbing.enabled = a.scrubbing;
  if (a.overflow == "block") opts.limits.overflow = logfire::overflow_policy::block;
  if (a.ring_bytes != 0) opts.limits.ring_bytes = a.ring_bytes;
  if (a.tail != "off")
    opts.sampling =
        logfire::level_or_duration(1.0, logfire::level::error, std::chrono::hours(1), a.tail == "keep" ? 1.0 : 0.0);
  auto lf = logfire::configure(std::move(opts));
  logfire::shutdown_guard lf_guard(lf);
  if (!lf) {
    std::fprintf(stderr, "configure failed: %s\n", lf.error().c_str());
    return 1;
  }

  std::latch start(1);
  std::atomic<bool> stop{false};
  std::vector<producer_result> results(static_cast<std::size_t>(a.producers));
  std::vector<std::thread> threads;
  for (auto& r : results) threads.emplace_back([&] { produce(a, start, stop, r); });

  const std::uint64_t process0 = bench::cpu_ns(RUSAGE_SELF);
  const std::uint64_t main0 = bench::cpu_ns(RUSAGE_THREAD);
  const std::uint64_t wakeups0 = logfire::test::thread_wakeups("logfire-drain").value_or(0);
  const auto t0 = std::chrono::steady_clock::now();
  start.count_down();
  std::this_thread::sleep_for(std::chrono::duration<double>(a.seconds));
  stop.store(true, std::memory_order_relaxed);
  for (auto& t : threads) t.join();
  const double window = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::uint64_t wakeups = logfire::test::thread_wakeups("logfire-drain").value_or(0) - wakeups0;
  // Returns false after any ring_full: the identity below is what tells.
  (void)logfire::force_flush(std::chrono::seconds(60));
  const std::uint64_t process_cpu = bench::cpu_ns(RUSAGE_SELF) - process0;
  const std::uint64_t main_cpu = bench::cpu_ns(RUSAGE_THREAD) - main0;
  const auto st = logfire::stats();

  std::uint64_t spans = 0;
  std::uint64_t caller_cpu = 0;
  for (const auto& r : results) {
    spans += r.spans;
    caller_cpu += r.cpu_ns;
  }
  const std::uint64_t background_cpu =
      process_cpu > caller_cpu + main_cpu ? process_cpu - caller_cpu - main_cpu : std::uint64_t{0};
  const std::uint64_t delivered = st.exported;
  const std::uint64_t dropped = st.dropped_total();
  const bool identity = st.produced == delivered + dropped && st.produced == spans;
  auto per = [](std::uint64_t ns, std::uint64_t n) {
    return n ? static_cast<double>(ns) / static_cast<double>(n) : 0.0;
  };
  const double dropped_pct = st.produced ? 100.0 * static_cast<double>(dropped) / static_cast<double>(st.produced) : 0;

  std::printf(
      "result producers=%d rate=%.0f exporter=%s attributes=%d matches=%d scrubbing=%s seconds=%.3f produced=%" PRIu64
      " delivered=%" PRIu64 " dropped=%" PRIu64
      " dropped_pct=%.3f produced_per_s=%.0f delivered_per_s=%.0f"
      " process_cpu_ns_per_delivered=%.1f caller_cpu_ns_per_produced=%.1f"
      " background_cpu_ns_per_delivered=%.1f rss_kib=%" PRIu64 " rss_peak_kib=%" PRIu64
      " tail=%s overflow=%s updates=%d background_cpu_ns_per_produced=%.1f background_wakeups_per_s=%.0f identity=%s "
      "%s\n",
      a.producers, a.rate, a.exporter.c_str(), a.attributes, a.matches, a.scrubbing ? "on" : "off", window, st.produced,
      delivered, dropped, dropped_pct, static_cast<double>(st.produced) / window,
      static_cast<double>(delivered) / window, per(process_cpu, delivered), per(caller_cpu, st.produced),
      per(background_cpu, delivered), bench::status_kib("VmRSS"), bench::status_kib("VmHWM"), a.tail.c_str(),
      a.overflow.c_str(), a.updates, per(background_cpu, st.produced), static_cast<double>(wakeups) / window,
      identity ? "held" : "broken", bench::dropped_by_reason(st).c_str());
  std::fprintf(stderr,
               "%d producer(s) %s, %s, %.2f s: produced %.2f M/s, delivered %.2f M/s, dropped %.2f %%; "
               "CPU per delivered span: process %.0f ns, background %.0f ns; caller %.0f ns per span; "
               "peak RSS %.1f MiB\n  %s\n",
               a.producers, a.rate > 0 ? (std::to_string(a.rate / 1e6) + " M/s each").c_str() : "flat out",
               a.exporter.c_str(), window, static_cast<double>(st.produced) / window / 1e6,
               static_cast<double>(delivered) / window / 1e6, dropped_pct, per(process_cpu, delivered),
               per(background_cpu, delivered), per(caller_cpu, st.produced),
               static_cast<double>(bench::status_kib("VmHWM")) / 1024.0, st.summary().c_str());
  return identity ? 0 : 1;
}
