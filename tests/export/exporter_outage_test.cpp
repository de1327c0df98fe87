// The backend goes away while the application keeps producing, then comes back: everything
// arrives, nothing is lost, duplicates (if any) are counted, and the caller never waits.
// One run uses the real 30 s outage; a short one runs with the sanitizers.
#include <gtest/gtest.h>

#include "export_test_util.hpp"

namespace logfire::test {
namespace {

struct outage_result {
  std::size_t produced = 0;
  std::chrono::steady_clock::duration worst_call{};
};

// Produces a batch of 20 spans every 100 ms: `before` healthy, `outage` with the receiver
// stopped, `after` with it back. Returns what was produced and the slowest export_batch call.
outage_result produce_through_outage(otlp_receiver& rx, exporter& exp, record_factory& f,
                                     std::vector<std::vector<span_record>>& keep, std::chrono::milliseconds before,
                                     std::chrono::milliseconds outage, std::chrono::milliseconds after) {
  outage_result r;
  const auto port = rx.port();
  auto phase = [&](std::chrono::milliseconds len) {
    const auto until = std::chrono::steady_clock::now() + len;
    while (std::chrono::steady_clock::now() < until) {
      keep.push_back(f.spans(20));
      auto t0 = std::chrono::steady_clock::now();
      exp.export_batch(keep.back());
      r.worst_call = std::max(r.worst_call, std::chrono::steady_clock::now() - t0);
      r.produced += 20;
      std::this_thread::sleep_for(100ms);
    }
  };
  phase(before);
  rx.stop();
  phase(outage);
  EXPECT_TRUE(rx.start(port));
  phase(after);
  return r;
}

void check_everything_arrived(const otlp_receiver& rx, const test_counter& counter, std::size_t produced) {
  auto got = arrived(rx);
  EXPECT_EQ(got.unique.size(), produced);
  EXPECT_EQ(counter.delivered(), produced);
  EXPECT_EQ(counter.dropped_total(), 0u);
  EXPECT_EQ(counter.accounted(), produced);
  // Whatever arrived twice was flagged as a possible duplicate.
  EXPECT_LE(got.duplicates(), counter.events(event_counter::duplicates));
  EXPECT_GT(counter.events(event_counter::records_spooled), 0u);
  EXPECT_EQ(counter.events(event_counter::records_replayed), counter.events(event_counter::records_spooled));
}

TEST(ExporterOutage, ShortOutageWhileProducing) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  temp_dir tmp;
  test_counter counter;
  auto exp = detail::make_otlp_exporter(fast_config(rx.traces_url(), tmp.path()), test_resource());
  exp->start(counter);
  record_factory f;
  std::vector<std::vector<span_record>> keep;
  auto r = produce_through_outage(rx, *exp, f, keep, 500ms, 3s, 500ms);
  EXPECT_TRUE(exp->shutdown(clock::now() + 20s));
  check_everything_arrived(rx, counter, r.produced);
  EXPECT_LT(r.worst_call, 1s);
  EXPECT_TRUE(spool_files(tmp.path()).empty());
}

TEST(ExporterOutage, ThirtySecondOutageWhileProducing) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  temp_dir tmp;
  test_counter counter;
  auto cfg = fast_config(rx.traces_url(), tmp.path());
  // The real schedule starts at 1 s; the cap is lowered from 128 s so that the probe after
  // the outage comes within seconds rather than up to a minute later.
  cfg.backoff_initial = 1s;
  cfg.backoff_max = 4s;
  auto exp = detail::make_otlp_exporter(cfg, test_resource());
  exp->start(counter);
  record_factory f;
  std::vector<std::vector<span_record>> keep;
  auto r = produce_through_outage(rx, *exp, f, keep, 2s, 30s, 2s);
  EXPECT_TRUE(exp->shutdown(clock::now() + 30s));
  check_everything_arrived(rx, counter, r.produced);
  EXPECT_GE(r.produced, 600u);
  // The application's calls never waited for the dead backend.
  EXPECT_LT(r.worst_call, 1s) << std::chrono::duration_cast<std::chrono::milliseconds>(r.worst_call).count();
  // During 30 s the exporter probed with growing waits, not in a tight loop.
  EXPECT_LT(counter.events(event_counter::batches_retried), 40u);
  EXPECT_TRUE(spool_files(tmp.path()).empty());
}

}  // namespace
}  // namespace logfire::test
