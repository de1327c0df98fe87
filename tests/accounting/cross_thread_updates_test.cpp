// Span updates made on other threads: set_attribute / set_status / add_event on a worker, end()
// on the owning thread (the worker's ring may be drained after the owner's). Every update that
// happened before the span's end is applied to the exported span. Updates to spans of an earlier
// configuration never accumulate in the new pipeline.
#include <fstream>
#include <thread>
#include <vector>

#include "accounting/accounting_support.hpp"

using namespace accounting_test;

TEST(cross_thread_updates, updates_from_a_worker_before_the_end_are_applied) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  auto lf = logfire::configure(quiet_options({mem}));
  ASSERT_TRUE(lf) << lf.error();
  constexpr int k_rounds = 50;
  for (int round = 0; round < k_rounds; ++round) {
    logfire::span s("job {n}", {{"n", round}});
    std::thread worker([&] {  // a new thread each round: its ring is registered last
      s.set_attribute("worker", round);
      s.set_status(logfire::status_code::error, "failed on the worker");
      s.add_event("checkpoint");
    });
    worker.join();
    s.end();  // on the owning thread, after the worker's updates
  }
  ASSERT_TRUE(logfire::force_flush());
  int missing = 0;
  for (const auto& r : mem->records()) {
    if (r.name != "job {n}") continue;
    const bool ok =
        int_attr(r, "worker") == int_attr(r, "n") && r.status == logfire::status_code::error && r.events.size() == 1;
    missing += ok ? 0 : 1;
  }
  EXPECT_EQ(mem->size(), static_cast<std::size_t>(k_rounds));
  EXPECT_EQ(missing, 0) << "spans whose worker updates were lost";
  const auto st = logfire::stats();
  EXPECT_EQ(st.count_of(logfire::event_counter::span_updates_lost), 0u);
  expect_balanced(st);
}

TEST(cross_thread_updates, a_span_ended_on_another_thread_keeps_every_update) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  auto lf = logfire::configure(quiet_options({mem}));
  ASSERT_TRUE(lf) << lf.error();
  for (int round = 0; round < 30; ++round) {
    logfire::span s("handed {n}", {{"n", round}});
    s.set_attribute("owner", 1);
    std::thread finisher([&] {
      s.set_attribute("finisher", 2);
      s.end();
    });
    finisher.join();
  }
  ASSERT_TRUE(logfire::force_flush());
  const auto recs = mem->records();
  ASSERT_EQ(recs.size(), 30u);
  for (const auto& r : recs) {
    EXPECT_EQ(int_attr(r, "owner"), 1) << r.message;
    EXPECT_EQ(int_attr(r, "finisher"), 2) << r.message;
  }
}

namespace {
std::size_t rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
  return 0;
}
}  // namespace

// Spans opened under one configuration and ended under the next: their ends have no start in
// the new pipeline. Before, each one stayed in a table forever (a leak per reconfigure).
TEST(cross_thread_updates, ends_of_spans_from_an_earlier_configuration_cost_no_memory) {
  constexpr int k_spans = 150'000;
  std::vector<logfire::span> spans;
  spans.reserve(k_spans);
  {
    logfire::options o = quiet_options({std::make_shared<counting_exporter>()});
    o.limits.max_open_spans = 2 * k_spans;
    auto first = logfire::configure(std::move(o));
    ASSERT_TRUE(first) << first.error();
    for (int i = 0; i < k_spans; ++i) {
      spans.emplace_back("left open");
      if (i % 2'000 == 0) (void)logfire::force_flush();  // the ring never fills
    }
    (void)logfire::shutdown();  // counted as open_at_shutdown
    EXPECT_EQ(logfire::stats().dropped_by(logfire::drop_reason::open_at_shutdown), static_cast<std::uint64_t>(k_spans));
  }
  auto second = logfire::configure(quiet_options({std::make_shared<counting_exporter>()}));
  ASSERT_TRUE(second) << second.error();
  ASSERT_TRUE(logfire::force_flush());
  const std::size_t before = rss_kib();
  int n = 0;
  for (auto& s : spans) {
    s.set_attribute("late", 1);
    s.end();
    if (++n % 2'000 == 0) (void)logfire::force_flush();
  }
  ASSERT_TRUE(logfire::force_flush());
  ASSERT_TRUE(logfire::force_flush());
  const std::size_t after = rss_kib();
  EXPECT_LT(after, before + 6 * 1024) << "RSS grew from " << before << " KiB to " << after << " KiB";
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, 0u) << st.summary();
  expect_balanced(st);
}
