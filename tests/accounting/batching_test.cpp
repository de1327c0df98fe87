// Batches handed to exporters never hold more than max_export_batch_size records, also when
// a backlog is drained at once (a flush after a burst, a long schedule delay).
#include <algorithm>

#include "accounting/accounting_support.hpp"

using namespace accounting_test;

namespace {

class batch_recorder final : public logfire::exporter {
 public:
  explicit batch_recorder(bool pending) : pending_(pending) {}
  std::string name() const override { return "batch recorder"; }
  bool wants_pending_spans() const noexcept override { return pending_; }
  void export_batch(std::span<const logfire::span_record> records) noexcept override {
    std::uint64_t finished = 0;
    for (const auto& r : records) finished += r.type == logfire::record_type::pending_span ? 0 : 1;
    std::uint64_t seen = largest.load();
    while (records.size() > seen && !largest.compare_exchange_weak(seen, records.size())) {
    }
    total += records.size();
    if (counter_) counter_->delivered(finished);
  }
  std::atomic<std::uint64_t> largest{0};
  std::atomic<std::uint64_t> total{0};

 private:
  bool pending_;
};

}  // namespace

TEST(batching, a_drained_backlog_is_exported_in_batches_of_at_most_the_maximum) {
  auto plain = std::make_shared<batch_recorder>(false);
  auto with_pending = std::make_shared<batch_recorder>(true);
  logfire::options o = quiet_options({plain, with_pending});
  o.batching.max_export_batch_size = 64;
  o.batching.schedule_delay = std::chrono::milliseconds(60'000);  // only the flush exports
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  ASSERT_TRUE(logfire::force_flush());
  for (int i = 0; i < 3000; ++i) {
    logfire::info("backlog {i}", {{"i", i}});
    if (i % 10 == 0) logfire::span s("unit {i}", {{"i", i}});
  }
  ASSERT_TRUE(logfire::force_flush());
  EXPECT_LE(plain->largest.load(), 64u);
  EXPECT_LE(with_pending->largest.load(), 64u);
  EXPECT_EQ(plain->total.load(), 3300u);
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, 3300u);
  EXPECT_EQ(st.exporters.size(), 2u);
  for (const auto& e : st.exporters) EXPECT_EQ(e.exported, 3300u) << e.name;
  expect_balanced(st);
}
