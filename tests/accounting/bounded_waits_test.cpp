// Every wait is bounded by the caller's deadline: an exporter that stalls does not hold
// force_flush() or shutdown() beyond it, and what it still held is counted when the deadline
// passes (shutdown_timeout); a report the stalled exporter makes later changes nothing.
#include <thread>

#include "accounting/accounting_support.hpp"

using namespace accounting_test;

TEST(bounded_waits, shutdown_returns_by_its_deadline_while_an_exporter_stalls) {
  auto exp = std::make_shared<stalling_exporter>();
  auto lf = logfire::configure(quiet_options({exp}));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  for (int i = 0; i < 10; ++i) logfire::info("held {i}", {{"i", i}});
  EXPECT_FALSE(logfire::force_flush(200ms));  // the exporter is stuck: not delivered by then
  ASSERT_TRUE(exp->stalled.load());

  bool ok = true;
  const bool returned = returns_within(
      20s, [&] { ok = logfire::shutdown(300ms); }, [&] { exp->release = true; });
  EXPECT_TRUE(returned) << "shutdown(300ms) waited for a stalled exporter";
  EXPECT_FALSE(ok);
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, 10u);
  EXPECT_EQ(st.dropped_by(logfire::drop_reason::shutdown_timeout), 10u) << st.summary();
  expect_balanced(st);

  // The exporter wakes up and reports its batch: the closed ledger does not change.
  exp->release = true;
  std::this_thread::sleep_for(50ms);
  const auto later = logfire::stats();
  EXPECT_EQ(later.exported, st.exported);
  expect_balanced(later);
}

TEST(bounded_waits, flush_returns_by_its_deadline_while_an_exporter_stalls) {
  auto exp = std::make_shared<stalling_exporter>();
  auto lf = logfire::configure(quiet_options({exp}));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  logfire::info("held");
  bool flushed = true;
  const bool returned = returns_within(
      20s, [&] { flushed = logfire::force_flush(300ms); }, [&] { exp->release = true; });
  EXPECT_TRUE(returned);
  EXPECT_FALSE(flushed);
  exp->release = true;
  EXPECT_TRUE(logfire::shutdown(5s));
  const auto st = logfire::stats();
  EXPECT_EQ(st.exported, 1u) << st.summary();
  expect_balanced(st);
}

namespace {

// Blocks in every export_batch until the test hands it a permit; counts the calls.
class gated_exporter final : public logfire::exporter {
 public:
  std::string name() const override { return "gated"; }
  void export_batch(std::span<const logfire::span_record> records) noexcept override {
    ++entered;
    for (;;) {
      int p = permits.load();
      if (p > 0 && permits.compare_exchange_weak(p, p - 1)) break;
      std::this_thread::sleep_for(1ms);
    }
    if (counter_) counter_->delivered(records.size());
  }
  bool wait_entered(int n, std::chrono::milliseconds limit) const {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (entered.load() < n && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
    return entered.load() >= n;
  }
  std::atomic<int> entered{0};
  std::atomic<int> permits{0};
};

}  // namespace

// A background thread that shutdown() left behind in a stalled exporter must never touch the
// rings again once the next pipeline drains them: resuming in the middle of a drain, it would
// move a ring's read position back, and the next pipeline would export its own records twice
// (or lose them, or read garbage). Two places to stall: in a pass with few records, and in the
// middle of a backlog whose full batches go to the exporters while the pass goes on.
class abandoned_thread : public testing::TestWithParam<int> {};

TEST_P(abandoned_thread, never_touches_the_next_pipelines_rings) {
  const int first_records = GetParam();
  auto gate = std::make_shared<gated_exporter>();
  logfire::options o = quiet_options({gate});
  o.batching.max_export_batch_size = 1;  // one batch per record: the stall leaves records behind
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  for (int i = 0; i < first_records; ++i) logfire::info("first pipeline {i}", {{"i", i}});
  EXPECT_FALSE(logfire::force_flush(200ms));
  ASSERT_TRUE(gate->wait_entered(1, 5s));
  const bool returned = returns_within(
      20s, [] { EXPECT_FALSE(logfire::shutdown(100ms)); }, [&] { gate->permits = 1'000'000; });
  ASSERT_TRUE(returned) << "shutdown(100ms) waited for a stalled exporter";

  auto mem = std::make_shared<logfire::memory_exporter>();
  lf = logfire::configure(quiet_options({mem}));
  ASSERT_TRUE(lf) << lf.error();
  for (int i = 0; i < 5; ++i) logfire::info("second pipeline {i}", {{"i", i}});
  ASSERT_TRUE(logfire::force_flush()) << logfire::stats().summary();
  // The left-behind thread finishes its export; if it goes on with its drain it stops in the
  // exporter again (a second call), having moved the ring's read position.
  gate->permits = 1;
  (void)gate->wait_entered(2, 1s);
  logfire::info("after the wake-up");
  ASSERT_TRUE(logfire::force_flush()) << logfire::stats().summary();
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, 6u) << st.summary();
  EXPECT_EQ(st.exported, 6u) << st.summary();
  EXPECT_EQ(mem->size(), 6u);
  expect_balanced(st);
  // Let it run free: whatever it does now must not reach this pipeline.
  gate->permits = 1'000'000;
  std::this_thread::sleep_for(200ms);
  logfire::info("last");
  ASSERT_TRUE(logfire::force_flush()) << logfire::stats().summary();
  const auto end = logfire::stats();
  EXPECT_EQ(end.produced, 7u) << end.summary();
  EXPECT_EQ(end.exported, 7u) << end.summary();
  EXPECT_EQ(mem->size(), 7u);
  expect_balanced(end);
  EXPECT_TRUE(logfire::shutdown(5s));
}

INSTANTIATE_TEST_SUITE_P(stalls, abandoned_thread, testing::Values(3, 40));
