// Every wait is bounded by the caller's deadline: an exporter that stalls does not hold
// force_flush() or shutdown() beyond it, and what it still held is counted when the deadline
// passes (shutdown_timeout); a report the stalled exporter makes later changes nothing.
#include <thread>

#include "accounting/accounting_support.hpp"

using namespace accounting_test;

namespace {

// Blocks in export_batch (on the pipeline's background thread) until released, then reports
// the batch as delivered.
class stalling_exporter final : public logfire::exporter {
 public:
  std::string name() const override { return "stalling"; }
  void export_batch(std::span<const logfire::span_record> records) noexcept override {
    stalled = true;
    while (!release.load()) std::this_thread::sleep_for(1ms);
    if (counter_) counter_->delivered(records.size());
  }
  std::atomic<bool> stalled{false};
  std::atomic<bool> release{false};
};

}  // namespace

TEST(bounded_waits, shutdown_returns_by_its_deadline_while_an_exporter_stalls) {
  auto exp = std::make_shared<stalling_exporter>();
  auto lf = logfire::configure(quiet_options({exp}));
  ASSERT_TRUE(lf) << lf.error();
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
