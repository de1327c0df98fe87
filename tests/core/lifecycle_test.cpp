// flush and shutdown deliver everything produced before them, from any number of threads;
// stats() after shutdown; calls after shutdown; reconfiguration; the setup guard.
#include <algorithm>
#include <barrier>
#include <latch>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "core/core_support.hpp"

using namespace core_test;
using logfire::drop_reason;

namespace {

constexpr int k_threads = 4;
constexpr int k_per_thread = 500;

// Each thread: k_per_thread logs and k_per_thread / 10 spans (with a child log each).
void produce(int t) {
  for (int i = 0; i < k_per_thread; ++i) {
    logfire::info("log {t} {i}", {{"t", t}, {"i", i}});
    if (i % 10 == 0) {
      logfire::span s("span {t} {i}", {{"t", t}, {"i", i}});
      logfire::debug("inside");
    }
  }
}
constexpr std::size_t k_records_per_thread = k_per_thread + 2 * (k_per_thread / 10);

}  // namespace

TEST(lifecycle, force_flush_delivers_what_live_threads_produced) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  auto lf = logfire::configure(quiet_options({mem}));
  ASSERT_TRUE(lf) << lf.error();
  // The producing threads stay alive during the flush (their rings are not retired yet).
  std::latch produced(k_threads);
  std::latch flushed(1);
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&, t] {
      produce(t);
      produced.count_down();
      flushed.wait();
    });
  }
  produced.wait();
  EXPECT_TRUE(logfire::force_flush());
  EXPECT_EQ(mem->size(), k_threads * k_records_per_thread);
  flushed.count_down();
  for (auto& th : threads) th.join();
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, k_threads * k_records_per_thread);
  EXPECT_EQ(st.exported, st.produced);
  expect_accounted(st);
}

TEST(lifecycle, force_flush_delivers_what_exited_threads_produced) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  auto lf = logfire::configure(quiet_options({mem}));
  ASSERT_TRUE(lf) << lf.error();
  for (int round = 0; round < 3; ++round) {
    std::vector<std::thread> threads;
    for (int t = 0; t < k_threads; ++t) threads.emplace_back(produce, t);
    for (auto& th : threads) th.join();
    EXPECT_TRUE(logfire::force_flush());
    EXPECT_EQ(mem->size(), (round + 1) * k_threads * k_records_per_thread);
  }
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, 3 * k_threads * k_records_per_thread);
  EXPECT_EQ(st.exported, st.produced);
}

TEST(lifecycle, flush_from_several_threads_at_once) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  auto lf = logfire::configure(quiet_options({mem}));
  ASSERT_TRUE(lf) << lf.error();
  std::barrier sync(k_threads);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        for (int i = 0; i < 50; ++i) logfire::info("r{round} t{t}", {{"round", round}, {"t", t}});
        if (!logfire::force_flush()) ++failures;
        // Everything this thread produced so far has been delivered.
        std::size_t mine = 0;
        for (const auto& r : mem->records())
          if (int_attr(r, "t") == t) ++mine;
        if (mine != static_cast<std::size_t>((round + 1) * 50)) ++failures;
        sync.arrive_and_wait();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mem->size(), static_cast<std::size_t>(k_threads * 5 * 50));
}

TEST(lifecycle, shutdown_delivers_everything_and_stats_remain) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  auto lf = logfire::configure(quiet_options({mem}));
  ASSERT_TRUE(lf) << lf.error();
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t) threads.emplace_back(produce, t);
  for (auto& th : threads) th.join();
  produce(99);  // and the calling thread, without a flush
  EXPECT_TRUE(logfire::shutdown());
  EXPECT_FALSE(logfire::is_configured());
  EXPECT_EQ(mem->size(), (k_threads + 1) * k_records_per_thread);

  auto st = logfire::stats();
  EXPECT_EQ(st.produced, (k_threads + 1) * k_records_per_thread);
  EXPECT_EQ(st.exported, st.produced);
  EXPECT_EQ(st.dropped_total(), 0u);

  // After shutdown: cheap no-ops, counted, nothing delivered, no crash.
  {
    logfire::span s("after shutdown");
    EXPECT_FALSE(s.is_recording());
    s.set_attribute("k", 1);
    s.record_exception("E", "m");
    logfire::info("after shutdown log");
  }
  EXPECT_TRUE(logfire::force_flush());
  EXPECT_TRUE(logfire::shutdown());  // a second shutdown is harmless
  st = logfire::stats();
  EXPECT_EQ(st.dropped_by(drop_reason::not_configured), 2u) << st.summary();
  EXPECT_EQ(st.produced, (k_threads + 1) * k_records_per_thread + 2);
  expect_accounted(st);
  EXPECT_EQ(mem->size(), (k_threads + 1) * k_records_per_thread);
}

TEST(lifecycle, spans_open_at_shutdown_are_counted) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  auto lf = logfire::configure(quiet_options({mem}));
  ASSERT_TRUE(lf) << lf.error();
  stderr_capture capture;
  logfire::span open("still open");
  logfire::info("done");
  EXPECT_FALSE(logfire::shutdown());  // not everything was delivered
  const std::string err = capture.take();
  open.end();  // after shutdown: nothing happens
  const auto st = logfire::stats();
  EXPECT_EQ(st.dropped_by(drop_reason::open_at_shutdown), 1u) << st.summary();
  EXPECT_EQ(st.exported, 1u);
  expect_accounted(st);
  // The loss is explained, and summarised once.
  EXPECT_EQ(occurrences(err, "(open_at_shutdown)"), 1u) << err;
  EXPECT_EQ(occurrences(err, "logfire: shutdown:"), 1u) << err;
}

// Thousands of spans open at once (none of them a leaf), each with an update, ended in a
// shuffled order, twice: the background thread's open-span table grows, erases out of order and
// reuses the entries of ended spans. Every span arrives with its own update; a span whose entry
// the table lost would end with nothing to build (no count), so the totals would not add up.
TEST(lifecycle, thousands_of_open_spans_ended_in_any_order_all_arrive) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  auto lf = logfire::configure(quiet_options({mem}));
  ASSERT_TRUE(lf) << lf.error();
  constexpr int k_spans = 3000;
  std::mt19937 rng(42);
  for (int round = 0; round < 2; ++round) {
    std::vector<logfire::span> open;
    open.reserve(k_spans);
    for (int i = 0; i < k_spans; ++i)
      open.emplace_back("open {i}", std::initializer_list<logfire::arg>{{"i", i}, {"round", round}},
                        logfire::span_options{.current = false});
    for (int i = 0; i < k_spans; ++i) open[static_cast<std::size_t>(i)].set_attribute("twice", 2 * i);
    std::shuffle(open.begin(), open.end(), rng);
    for (auto& s : open) s.end();
  }
  ASSERT_TRUE(logfire::force_flush());
  const auto recs = mem->records();
  ASSERT_EQ(recs.size(), 2u * k_spans);
  std::vector<int> seen(2 * k_spans, 0);
  for (const auto& r : recs) {
    const auto i = r.find("i")->int64().value_or(-1);
    const auto round = r.find("round")->int64().value_or(-1);
    ASSERT_TRUE(i >= 0 && i < k_spans && (round == 0 || round == 1)) << r.name;
    EXPECT_EQ(r.find("twice")->int64(), 2 * i);
    ++seen[static_cast<std::size_t>(round * k_spans + i)];
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), 2 * k_spans);
  const auto st = logfire::stats();
  EXPECT_EQ(st.exported, 2u * k_spans);
  EXPECT_EQ(st.dropped_total(), 0u) << st.summary();
  expect_accounted(st);
}

TEST(lifecycle, a_shutdown_guard_shuts_down_at_scope_exit) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  {
    auto lf = logfire::configure(quiet_options({mem}));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard guard(lf);
    EXPECT_TRUE(logfire::is_configured());
    logfire::info("inside the guard");
  }
  EXPECT_FALSE(logfire::is_configured());
  EXPECT_EQ(mem->size(), 1u);
  // A moved guard shuts down once, from its new owner.
  {
    std::optional<logfire::shutdown_guard> outer;
    {
      ASSERT_TRUE(logfire::configure(quiet_options({mem})));
      logfire::shutdown_guard guard;  // binds to the configuration active now
      outer.emplace(std::move(guard));
    }
    EXPECT_TRUE(logfire::is_configured());
  }
  EXPECT_FALSE(logfire::is_configured());
  // A released guard leaves the SDK running.
  {
    ASSERT_TRUE(logfire::configure(quiet_options({mem})));
    logfire::shutdown_guard guard;
    guard.release();
  }
  EXPECT_TRUE(logfire::is_configured());
  EXPECT_TRUE(logfire::shutdown());
}

TEST(lifecycle, reconfigure_delivers_to_the_previous_exporters_first) {
  auto first = std::make_shared<logfire::memory_exporter>();
  auto second = std::make_shared<logfire::memory_exporter>();
  auto lf1 = logfire::configure(quiet_options({first}));
  ASSERT_TRUE(lf1);
  for (int i = 0; i < 100; ++i) logfire::info("to first");
  auto lf2 = logfire::configure(quiet_options({second}));
  ASSERT_TRUE(lf2);
  EXPECT_EQ(first->size(), 100u);
  logfire::info("to second");
  EXPECT_TRUE(logfire::force_flush());
  EXPECT_EQ(first->size(), 100u);
  EXPECT_EQ(second->size(), 1u);
  // stats() counts since the last configure().
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, 1u);
  EXPECT_EQ(st.exported, 1u);
}

TEST(lifecycle, flush_with_nothing_to_do) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  auto lf = logfire::configure(quiet_options({mem}));
  ASSERT_TRUE(lf);
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(logfire::force_flush());
  EXPECT_EQ(mem->size(), 0u);
  EXPECT_EQ(logfire::stats().produced, 0u);
}

TEST(lifecycle, an_old_guard_does_not_stop_a_newer_configuration) {
  auto first = std::make_shared<logfire::memory_exporter>();
  auto second = std::make_shared<logfire::memory_exporter>();
  auto lf2 = std::make_unique<logfire::shutdown_guard>();
  {
    auto lf1 = logfire::configure(quiet_options({first}));
    ASSERT_TRUE(lf1);
    logfire::shutdown_guard guard1(lf1);
    auto second_setup = logfire::configure(quiet_options({second}));
    ASSERT_TRUE(second_setup);
    *lf2 = logfire::shutdown_guard(second_setup);
  }  // guard1 ends here: its pipeline was already replaced
  EXPECT_TRUE(logfire::is_configured());
  logfire::info("to second");
  EXPECT_TRUE(logfire::force_flush());
  EXPECT_EQ(second->size(), 1u);
  lf2.reset();
  EXPECT_FALSE(logfire::is_configured());
}

namespace {

// An application's thread_local object whose destructor logs after a pause. It is made before
// the thread's first logfire call, so it is destroyed after everything the SDK keeps per
// thread in thread_local objects.
struct logs_at_thread_exit {
  bool armed = false;
  ~logs_at_thread_exit() {
    if (!armed) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the pipeline cycles meanwhile
    logfire::info("from a thread_local destructor");
  }
};
thread_local logs_at_thread_exit t_logs_at_exit;

}  // namespace

// A thread's state is retired only after all its thread_local destructors have run: a
// destructor that logs late uses the state as any other call (before, the background thread
// could free the state in the pause, and the call then wrote into freed memory).
TEST(lifecycle, a_thread_local_destructor_that_logs_after_a_pause_is_delivered) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  auto lf = logfire::configure(quiet_options({mem}));
  ASSERT_TRUE(lf) << lf.error();
  std::thread t([] {
    t_logs_at_exit.armed = true;
    logfire::info("from the thread");
  });
  // While the destructor pauses, flushes make the background thread collect exited threads.
  for (int i = 0; i < 30; ++i) {
    EXPECT_TRUE(logfire::force_flush());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  t.join();
  ASSERT_TRUE(logfire::force_flush());
  const auto recs = mem->records();
  EXPECT_NE(find_log(recs, "from the thread"), nullptr);
  EXPECT_NE(find_log(recs, "from a thread_local destructor"), nullptr);
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, 2u) << st.summary();
  EXPECT_EQ(st.exported, 2u) << st.summary();
}
