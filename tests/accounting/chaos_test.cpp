// The ledger under fire: a randomized stress test. Rounds of configure() → work → shutdown(),
// while worker threads keep doing random operations through the rounds (logs, spans started on
// one thread and updated or ended on others, nested spans, contexts attached across threads,
// remote "not sampled" parents, filtered levels), against tiny rings, exporters that fail,
// stall past the deadlines, fail internally or answer slowly, a real OTLP exporter whose
// receiver answers 200/429/500/400/413 with delays (with or without a small disk spool), a
// sampler hook that sometimes blocks, and the console on a descriptor that fails. The control
// thread flushes, forks (each child checks its own ledger) and shuts down at random moments.
//
// After every round: produced == exported + Σ dropped + in_spool + spool_taken_over, exactly
// (per destination with several); every flush and shutdown returned within its deadline plus
// a small margin; every child exited cleanly in time.
//
// A run prints its seed; LOGFIRE_CHAOS_SEED=<seed> repeats its choices (thread timing differs).
// LOGFIRE_CHAOS_SECONDS (default 20) bounds the run, LOGFIRE_CHAOS_ROUNDS bounds the rounds.
#include <sys/wait.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "accounting/accounting_support.hpp"
#include "logfire/handoff.hpp"
#include "support/otlp_receiver.hpp"

using namespace accounting_test;

// Forks only in the plain build: see LOGFIRE_UNDER_TSAN and LOGFIRE_UNDER_ASAN in
// accounting_support.hpp.

namespace {

using steady = std::chrono::steady_clock;

// How much later than its deadline a flush or shutdown may return: shutdown's own grace for a
// stuck background thread (1 s, see pipeline.hpp) plus room for a loaded machine.
constexpr auto k_margin = std::chrono::milliseconds(1000 + 2500);

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

// A destination whose every batch meets a random fate, drawn from its own seeded generator.
class chaos_exporter final : public logfire::exporter {
 public:
  explicit chaos_exporter(std::uint64_t seed, std::string name) : rng_(seed), name_(std::move(name)) {}
  std::string name() const override { return name_; }
  bool wants_pending_spans() const noexcept override { return pending_; }
  void set_pending(bool p) { pending_ = p; }
  void export_batch(std::span<const logfire::span_record> records) noexcept override {
    std::uint64_t finished = 0;
    for (const auto& r : records) finished += r.type == logfire::record_type::pending_span ? 0 : 1;
    if (!counter_) return;
    const int fate = std::uniform_int_distribution<int>(0, 99)(rng_);
    if (fate < 55) {
      counter_->delivered(finished);
    } else if (fate < 70) {  // slow
      std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(1, 30)(rng_)));
      counter_->delivered(finished);
    } else if (fate < 80) {
      counter_->dropped(logfire::drop_reason::export_failed, finished, "chaos: the destination refused the batch");
    } else if (fate < 88) {  // partly delivered
      counter_->delivered(finished / 2);
      counter_->dropped(logfire::drop_reason::rejected_by_backend, finished - finished / 2, "chaos: half rejected");
    } else if (fate < 95) {  // an internal failure (an exception caught inside the exporter)
      try {
        throw std::runtime_error("chaos: encoder failure");
      } catch (const std::exception& e) {
        counter_->dropped(logfire::drop_reason::export_failed, finished, e.what());
      }
    } else {  // stalls, often past a flush's or shutdown's deadline
      std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(100, 900)(rng_)));
      counter_->delivered(finished);
    }
  }

 private:
  std::mt19937_64 rng_;  // the pipeline's background thread only
  std::string name_;
  bool pending_ = false;
};

// Work the worker threads hand to each other.
struct shared_work {
  std::mutex mutex;
  std::deque<std::unique_ptr<logfire::span>> spans;  // started on one thread, finished on another
  std::deque<logfire::context> contexts;             // attached on another thread
};

void worker_main(std::uint64_t seed, shared_work& shared, const std::atomic<bool>& stop) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  std::vector<std::unique_ptr<logfire::span>> kept;  // open across rounds, ended later
  for (std::int64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
    switch (pick(10)) {
      case 0:
        logfire::info("chaos log {i} {a} {b} {c} {d} {e}",
                      {{"i", i}, {"a", 1}, {"b", "two"}, {"c", 3.0}, {"d", true}, {"e", i}});
        break;
      case 1: {
        // A root now and then (a span handed to another thread stays current on this one).
        logfire::span s("chaos span {i}", {{"i", i}}, {.new_trace = pick(2) == 0});
        s.set_attribute("k", i);
        s.add_event("step", {{"n", 1}});
        if (pick(4) == 0) s.set_status(logfire::status_code::error, "chaos");
        if (pick(8) == 0) s.record_exception(std::runtime_error("chaos exception"));
        logfire::debug("inside {i}", {{"i", i}});
        break;
      }
      case 2: {
        auto s = std::make_unique<logfire::span>("handed {i}", std::initializer_list<logfire::arg>{{"i", i}});
        s->set_attribute("from", "starter");
        std::lock_guard lock(shared.mutex);
        if (shared.spans.size() < 256) shared.spans.push_back(std::move(s));
        break;
      }
      case 3: {
        std::unique_ptr<logfire::span> s;
        {
          std::lock_guard lock(shared.mutex);
          if (!shared.spans.empty()) {
            s = std::move(shared.spans.front());
            shared.spans.pop_front();
          }
        }
        if (s) {
          s->set_attribute("to", "finisher");
          s->set_level(logfire::level::warn);
          if (pick(3) == 0 && kept.size() < 32)
            kept.push_back(std::move(s));  // ended in a later round, or at thread exit
          else
            s->end();
        }
        break;
      }
      case 4: {
        logfire::span outer("outer {i}", {{"i", i}});
        {
          logfire::span inner("inner");
          logfire::warn("nested");
        }
        std::lock_guard lock(shared.mutex);
        if (shared.contexts.size() < 64) shared.contexts.push_back(logfire::capture_context());
        break;
      }
      case 5: {
        logfire::context ctx;
        {
          std::lock_guard lock(shared.mutex);
          if (shared.contexts.empty()) break;
          ctx = shared.contexts.front();
          shared.contexts.pop_front();
        }
        logfire::context_scope scope(ctx);
        logfire::info("attached elsewhere");
        break;
      }
      case 6: {
        const logfire::header_list headers = {
            {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0" + std::to_string(pick(2))}};
        logfire::attach_context in(headers, {.third_party = true});
        logfire::span s("remote child");
        break;
      }
      case 7:
        logfire::trace("fine detail {i}", {{"i", i}});
        break;
      case 8:
        if (!kept.empty()) kept.pop_back();  // ends it, maybe under a later pipeline
        break;
      default:
        logfire::info("big {v}", {{"v", std::string(static_cast<std::size_t>(pick(3000)), 'x')}});
        break;
    }
    if (pick(64) == 0) std::this_thread::sleep_for(std::chrono::microseconds(pick(2000)));
  }
}

// The workers: three threads, restarted now and then (a new thread gets a ring of the current
// configuration's size; an exiting thread's ring is drained and freed).
class workers {
 public:
  explicit workers(std::uint64_t seed) : seed_(seed) {}
  ~workers() { stop(); }
  void start() {
    stop_ = false;
    for (int t = 0; t < 3; ++t)
      threads_.emplace_back(worker_main, seed_ + 7919ull * (++started_), std::ref(shared_), std::cref(stop_));
  }
  void stop() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
    std::lock_guard lock(shared_.mutex);
    shared_.spans.clear();
    shared_.contexts.clear();
  }

 private:
  std::uint64_t seed_;
  std::uint64_t started_ = 0;
  shared_work shared_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

struct round_config {
  std::size_t ring_bytes = 0;
  std::size_t ring_segments = 1;  // the most a thread's ring may grow to, in segments of ring_bytes
  std::size_t max_batch = 0;
  std::size_t max_open_spans = 0;
  int chaos_destinations = 0;
  bool otlp = false;
  bool spool = false;
  int console = 0;  // 0 off, 1 on a tmpfile, 2 on /dev/full
  bool min_level = false;
  bool blocking_hook = false;

  [[nodiscard]] std::string describe() const {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "ring %zu x %zu, batch %zu, open spans %zu, chaos exporters %d, otlp %d (spool %d), console %d, "
                  "min_level %d, blocking hook %d",
                  ring_bytes, ring_segments, max_batch, max_open_spans, chaos_destinations, otlp ? 1 : 0, spool ? 1 : 0,
                  console, min_level ? 1 : 0, blocking_hook ? 1 : 0);
    return buf;
  }
};

// The child of a fork: its own pipeline (inherited, with a new generation), its own ledger.
[[noreturn, maybe_unused]] void child_main(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 50; ++i) {
    logfire::span s("child {i}", {{"i", i}});
    s.set_attribute("n", static_cast<std::int64_t>(rng() % 100));
    logfire::info("child log");
  }
  (void)logfire::force_flush(std::chrono::milliseconds(500));
  (void)logfire::shutdown(std::chrono::milliseconds(500));
  ::_exit(balanced(logfire::stats()) ? 0 : 3);
}

}  // namespace

TEST(chaos, the_ledger_balances_after_every_round) {
  const std::uint64_t seed =
      env_number("LOGFIRE_CHAOS_SEED", std::random_device{}() | (std::uint64_t{std::random_device{}()} << 32));
  const auto seconds = env_number("LOGFIRE_CHAOS_SECONDS", 20);
  const auto max_rounds = env_number("LOGFIRE_CHAOS_ROUNDS", 1'000'000);
  std::printf("chaos seed %" PRIu64 " (repeat with LOGFIRE_CHAOS_SEED=%" PRIu64 "), up to %" PRIu64 " s\n", seed, seed,
              seconds);
  std::fflush(stdout);
  std::mt19937_64 rng(seed);
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };

  std::mutex rx_mutex;  // before the receiver: its responder uses them until it stops
  std::mt19937_64 rx_rng(seed ^ 0x5eedULL);
  logfire::test::otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  rx.set_responder([&](const logfire::test::request_info& info) {
    std::lock_guard lock(rx_mutex);
    const int fate = std::uniform_int_distribution<int>(0, 99)(rx_rng);
    const auto delay = std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 150)(rx_rng));
    if (fate < 60) return logfire::test::reply::of(200).with_delay(delay);
    if (fate < 70) return logfire::test::reply::of(500).with_delay(delay);
    if (fate < 78) return logfire::test::reply::of(429).with_header("Retry-After", "1");
    if (fate < 83) return logfire::test::reply::of(400).with_body("chaos: bad request");
    if (fate < 90 && info.span_count > 1) return logfire::test::reply::of(413);
    return logfire::test::reply::of(200).with_delay(std::chrono::milliseconds(400));  // slower than some deadlines
  });
  char spool_dir[] = "/tmp/logfire-chaos-XXXXXX";
  ASSERT_NE(::mkdtemp(spool_dir), nullptr);

  workers w(seed);
  w.start();
  std::atomic<int> hook_blocks{0};
  const auto end = steady::now() + std::chrono::seconds(seconds);
  std::uint64_t rounds = 0, forks = 0, flushes = 0, produced = 0, exported = 0, dropped = 0, stuck = 0;
  std::vector<std::string> failures;
  std::array<std::uint64_t, logfire::drop_reason_count> by_reason{};

  for (; steady::now() < end && rounds < max_rounds && failures.size() < 5; ++rounds) {
    round_config rc;
    rc.ring_bytes = std::size_t{4096} << pick(5);
    rc.ring_segments = 1 + static_cast<std::size_t>(pick(4));
    rc.max_batch = std::size_t{1} << pick(8);
    rc.max_open_spans = pick(4) == 0 ? 16 : 65536;
    rc.chaos_destinations = pick(3);
    rc.otlp = pick(3) == 0;
    rc.spool = rc.otlp && pick(2) == 0;
    rc.console = pick(3);
    rc.min_level = pick(3) == 0;
    rc.blocking_hook = pick(4) == 0;

    logfire::options o;
    o.service_name = "chaos";
    o.read_environment = false;
    o.limits.ring_bytes = rc.ring_bytes;
    o.limits.max_ring_bytes = rc.ring_bytes * rc.ring_segments;
    o.limits.max_open_spans = rc.max_open_spans;
    o.limits.max_attributes = 4;
    o.batching.max_export_batch_size = rc.max_batch;
    o.batching.schedule_delay = std::chrono::milliseconds(1 + pick(50));
    o.batching.max_queue_size = 16 + static_cast<std::size_t>(pick(200));
    o.trace_sample_rate = pick(3) == 0 ? 0.5 : 1.0;
    if (rc.min_level) o.min_level = logfire::level::debug;
    std::FILE* console_out = nullptr;
    o.console.enabled = rc.console != 0;
    if (rc.console) {
      console_out = rc.console == 1 ? std::tmpfile() : std::fopen("/dev/full", "w");
      o.console.output = console_out;
      o.console.colors = logfire::console_colors::never;
    }
    for (int d = 0; d < rc.chaos_destinations; ++d) {
      auto e = std::make_shared<chaos_exporter>(rng(), "chaos " + std::to_string(d));
      e->set_pending(pick(2) == 0);
      o.exporters.push_back(std::move(e));
    }
    if (rc.otlp) {
      o.otlp.endpoint = rx.endpoint();
      o.otlp.spool = rc.spool;
      o.otlp.spool_directory = spool_dir;
      o.otlp.spool_max_bytes = 64 * 1024;
      o.otlp.backoff_initial = std::chrono::milliseconds(20);
      o.otlp.backoff_max = std::chrono::milliseconds(100);
      o.otlp.timeout = std::chrono::milliseconds(300);
    }
    if (rc.blocking_hook) {
      o.sampler = [&hook_blocks](const logfire::sampling_input& in) {
        // Now and then a caller blocks in the hook, maybe across a shutdown.
        if ((in.trace.lo & 0x3ff) == 7) {
          ++hook_blocks;
          std::this_thread::sleep_for(std::chrono::milliseconds(300));
        }
        return true;
      };
    }

    stderr_capture quiet;  // the explanation lines of hundreds of rounds
    auto lf = logfire::configure(std::move(o));
    logfire::shutdown_guard lf_guard(lf);
    if (!lf) {
      failures.push_back("configure: " + lf.error());
      break;
    }
    if (pick(6) == 0) {  // new threads: rings of this round's size
      w.stop();
      w.start();
    }
    const int steps = 1 + pick(4);
    for (int step = 0; step < steps; ++step) {
      std::this_thread::sleep_for(std::chrono::milliseconds(pick(60)));
      const int action = pick(4);
      if (action == 0) {
        const auto timeout = std::chrono::milliseconds(10 + pick(400));
        const auto t0 = steady::now();
        (void)logfire::force_flush(timeout);
        ++flushes;
        if (steady::now() - t0 > timeout + k_margin)
          failures.push_back("round " + std::to_string(rounds) + " (" + rc.describe() +
                             "): force_flush overran its deadline");
      } else if (action == 1) {
#if !defined(LOGFIRE_UNDER_TSAN) && !defined(LOGFIRE_UNDER_ASAN)
        const pid_t child = ::fork();
        if (child == 0) child_main(rng());
        ++forks;
        int status = -1;
        const auto until = steady::now() + std::chrono::seconds(20);
        while (steady::now() < until) {
          if (::waitpid(child, &status, WNOHANG) == child) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
          status = -1;
        }
        if (status == -1) {
          ::kill(child, SIGKILL);
          ::waitpid(child, nullptr, 0);
          failures.push_back("round " + std::to_string(rounds) + ": a forked child hung");
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
          failures.push_back("round " + std::to_string(rounds) + ": a forked child failed, status " +
                             std::to_string(status));
        }
#endif
      }
    }
    const auto timeout = std::chrono::milliseconds(20 + pick(500));
    const auto t0 = steady::now();
    const bool stopped = logfire::shutdown(timeout);
    const auto took = steady::now() - t0;
    const auto st = logfire::stats();
    (void)quiet.take();
    if (took > timeout + k_margin)
      failures.push_back("round " + std::to_string(rounds) + " (" + rc.describe() + "): shutdown(" +
                         std::to_string(timeout.count()) + " ms) took " +
                         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()) + " ms");
    if (!balanced(st) || !st.balanced())
      failures.push_back("round " + std::to_string(rounds) + " (" + rc.describe() + "): " + st.summary());
    produced += st.produced;
    exported += st.exported;
    dropped += st.dropped_total();
    stuck += st.dropped_by(logfire::drop_reason::shutdown_timeout) ? 1 : 0;
    for (std::size_t i = 0; i < logfire::drop_reason_count; ++i) by_reason[i] += st.dropped[i];
    lf = logfire::setup();  // already shut down
    // After a shutdown whose deadline passed, the abandoned background thread may still be
    // printing a batch to the console's FILE (options::console.output): closing it then is the
    // program's error ("glibc detected an invalid stdio handle"). Kept open for the process.
    if (console_out && stopped) std::fclose(console_out);
    rx.clear();
  }
  w.stop();
  rx.stop();
  std::system(("rm -rf '" + std::string(spool_dir) + "'").c_str());

  std::string reasons;
  for (std::size_t i = 0; i < logfire::drop_reason_count; ++i)
    if (by_reason[i])
      reasons +=
          " " + std::string(to_string(static_cast<logfire::drop_reason>(i))) + "=" + std::to_string(by_reason[i]);
  std::printf("chaos seed %" PRIu64 ": %" PRIu64 " rounds, %" PRIu64 " forks, %" PRIu64 " flushes; produced %" PRIu64
              ", exported %" PRIu64 ", dropped %" PRIu64 " (%s ); rounds with shutdown_timeout %" PRIu64
              ", hook blocks %d\n",
              seed, rounds, forks, flushes, produced, exported, dropped, reasons.c_str(), stuck, hook_blocks.load());
  EXPECT_GT(rounds, 0u);
  for (const auto& f : failures) ADD_FAILURE() << "seed " << seed << ", " << f;
}
