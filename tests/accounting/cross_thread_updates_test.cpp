// Span updates made on other threads: set_attribute / set_status / add_event on a worker, end()
// on the owning thread (the worker's ring may be drained after the owner's). Every update that
// happened before the span's end is applied to the exported span. Updates to spans of an earlier
// configuration never accumulate in the new pipeline.
#include <malloc.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
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

// Bytes allocated and not yet freed, by anyone in this process (this binary replaces operator
// new and delete): exact where RSS would hide a table that reuses memory freed before it.
namespace {
std::atomic<std::int64_t> g_live_bytes{0};
void* counted_allocate(std::size_t n) {
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  g_live_bytes.fetch_add(static_cast<std::int64_t>(::malloc_usable_size(p)), std::memory_order_relaxed);
  return p;
}
void counted_free(void* p) noexcept {
  if (!p) return;
  g_live_bytes.fetch_sub(static_cast<std::int64_t>(::malloc_usable_size(p)), std::memory_order_relaxed);
  std::free(p);
}
}  // namespace

void* operator new(std::size_t n) {
  return counted_allocate(n);
}
void* operator new[](std::size_t n) {
  return counted_allocate(n);
}
void operator delete(void* p) noexcept {
  counted_free(p);
}
void operator delete[](void* p) noexcept {
  counted_free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  counted_free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  counted_free(p);
}

// Spans opened under one configuration and ended under the next: their ends have no start in
// the new pipeline. Before, each one stayed in a table forever (a leak per reconfigure); they
// are not sent to the new pipeline at all, so they cost it neither memory nor a loss report.
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
  const std::int64_t before = g_live_bytes.load();
  int n = 0;
  for (auto& s : spans) {
    s.set_attribute("late", 1);
    s.end();
    if (++n % 2'000 == 0) (void)logfire::force_flush();
  }
  ASSERT_TRUE(logfire::force_flush());
  ASSERT_TRUE(logfire::force_flush());
  const std::int64_t grown = g_live_bytes.load() - before;
  EXPECT_LT(grown, 1 << 20) << "the SDK kept " << grown << " bytes for 150,000 ends it cannot use";
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, 0u) << st.summary();
  // Not this pipeline's spans: their ends are not reported as its lost updates either.
  EXPECT_EQ(st.count_of(logfire::event_counter::span_updates_lost), 0u) << st.summary();
  expect_balanced(st);
}
