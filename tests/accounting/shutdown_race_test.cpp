// Shutdown while other threads log — the common case of an atexit shutdown in a service with
// worker threads. A thread that was inside a logfire call when shutdown() began finishes its
// call before the final drain (shutdown waits for it, bounded by its deadline), so every
// record is delivered or counted by the pipeline that produced it, and a later pipeline never
// exports an earlier one's records.
#include <thread>
#include <vector>

#include "accounting/accounting_support.hpp"

using namespace accounting_test;

namespace {

// Three workers log and open spans with updates without pause until told to stop.
class workers {
 public:
  workers() {
    for (int t = 0; t < 3; ++t) {
      threads_.emplace_back([this, t] {
        for (std::int64_t i = 0; !stop_.load(std::memory_order_relaxed); ++i) {
          logfire::info("worker {t} {i}", {{"t", t}, {"i", i}});
          if (i % 7 == 0) {
            logfire::span s("unit {i}", {{"i", i}});
            s.set_attribute("step", i);
          }
        }
      });
    }
  }
  ~workers() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

}  // namespace

TEST(shutdown_race, every_pipeline_balances_while_threads_keep_logging) {
#ifdef LOGFIRE_UNDER_TSAN
  constexpr int k_rounds = 40;
#else
  constexpr int k_rounds = 150;
#endif
  workers w;
  int unbalanced = 0;
  int exported_more_than_produced = 0;
  int exporter_disagrees = 0;
  std::string first_bad;
  for (int round = 0; round < k_rounds; ++round) {
    auto exp = std::make_shared<counting_exporter>();
    logfire::options o = quiet_options({exp});
    o.limits.ring_bytes = 64 * 1024;
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    std::this_thread::sleep_for(std::chrono::microseconds(300 + 500 * (round % 4)));
    (void)logfire::shutdown(5s);
    const auto st = logfire::stats();
    if (!balanced(st)) {
      ++unbalanced;
      if (first_bad.empty()) first_bad = "round " + std::to_string(round) + ": " + st.summary();
    }
    if (st.exported > st.produced) ++exported_more_than_produced;
    // The exporter was handed exactly what this pipeline calls exported: nothing of an earlier
    // pipeline's rings.
    if (exp->received.load() != st.exported) ++exporter_disagrees;
  }
  EXPECT_EQ(unbalanced, 0) << first_bad;
  EXPECT_EQ(exported_more_than_produced, 0);
  EXPECT_EQ(exporter_disagrees, 0);
}

// A record pushed by a call that outlived shutdown's deadline belongs to the pipeline that was
// shut down: the next one does not export it.
TEST(shutdown_race, a_call_that_outlives_shutdown_never_reaches_the_next_pipeline) {
  std::atomic<bool> entered{false};
  std::atomic<bool> release{false};
  auto first = std::make_shared<logfire::memory_exporter>();
  logfire::options o = quiet_options({first});
  o.sampler = [&](const logfire::sampling_input& in) {
    if (in.name == "slow decision") {
      entered = true;
      while (!release.load()) std::this_thread::sleep_for(1ms);
    }
    return true;
  };
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  std::thread caller([] { logfire::info("slow decision"); });
  while (!entered.load()) std::this_thread::sleep_for(1ms);

  // shutdown must not wait for the blocked caller beyond its own deadline.
  const bool returned = returns_within(
      20s, [] { (void)logfire::shutdown(300ms); }, [&] { release = true; });
  EXPECT_TRUE(returned) << "shutdown(300ms) waited for a caller blocked in the sampler hook";
  const auto after_shutdown = logfire::stats();
  expect_balanced(after_shutdown);

  auto second = std::make_shared<logfire::memory_exporter>();
  auto lf2 = logfire::configure(quiet_options({second}));
  ASSERT_TRUE(lf2) << lf2.error();
  release = true;
  caller.join();  // its record is now in its ring, pushed under the first pipeline's settings
  logfire::info("second");
  ASSERT_TRUE(logfire::force_flush());
  const auto recs = second->records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].name, "second");
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, 1u) << st.summary();
  expect_balanced(st);
  EXPECT_TRUE(first->records().empty());
}
