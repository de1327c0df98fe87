// Zero heap allocations on the caller's thread for bound handles (counter, up-down counter,
// histogram, gauge), and for unbound recording into an attribute set that already has its series.
// This executable replaces the global operator new/delete (support/counting_allocator.hpp).
#include <thread>

#include "metrics/metrics_support.hpp"
#include "support/counting_allocator.hpp"

namespace {

using namespace metrics_test;
using counting_allocator::allocations_of;

TEST(metric_allocations, the_counter_sees_allocations) {
  EXPECT_GE(allocations_of([] { std::string s(100, 'x'); }), 1u);
  // A new attribute set allocates its series: the instrument does see that.
  auto c = logfire::metric_counter(unique("alloc.new.set"));
  EXPECT_GE(allocations_of([&c] { c.add(1, {{"fresh", 1}}); }), 1u);
}

TEST(metric_allocations, bound_handles_allocate_nothing) {
  reader_fixture r;
  auto counter = logfire::metric_counter(unique("alloc.counter")).bind({{"route", "/a"}});
  auto dcounter = logfire::metric_counter<double>(unique("alloc.dcounter")).bind({{"route", "/a"}});
  auto updown = logfire::metric_up_down_counter(unique("alloc.updown")).bind({{"route", "/a"}});
  const std::string histogram_name = unique("alloc.histogram");
  auto histogram = logfire::metric_histogram(histogram_name).bind({{"route", "/a"}});
  auto explicit_h =
      logfire::metric_histogram(unique("alloc.explicit"), {.explicit_bounds = {1, 10, 100}}).bind({{"route", "/a"}});
  auto gauge = logfire::metric_gauge(unique("alloc.gauge")).bind({{"route", "/a"}});
  auto record_all = [&] {
    for (int i = 0; i < 1000; ++i) {
      counter.add(1);
      dcounter.add(0.5);
      updown.add(i % 2 ? 1 : -1);
      histogram.record(i * 1.5);  // the scale adjusts down as the range grows: in place
      explicit_h.record(i);
      gauge.set(i);
    }
  };
  // No warm-up: the first records of this thread, and of threads that did not bind (each has
  // its own cell and histogram shard), allocate nothing either.
  EXPECT_EQ(allocations_of(record_all), 0u);
  for (int t = 0; t < 3; ++t) {
    std::size_t n = 1;
    std::thread other([&] { n = allocations_of(record_all); });
    other.join();
    EXPECT_EQ(n, 0u) << "thread " << t;
  }
  auto b = r.collect();
  EXPECT_EQ(b.metrics.size() >= 6, true);
  const auto* h = b.find(histogram_name);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->points.at(0).count, 4000u);
}

TEST(metric_allocations, unbound_recording_into_existing_sets_allocates_nothing) {
  reader_fixture r;
  const std::string cn = unique("alloc.unbound.counter");
  const std::string hn = unique("alloc.unbound.histogram");
  auto c = logfire::metric_counter(cn);
  auto h = logfire::metric_histogram(hn);
  auto g = logfire::metric_gauge(unique("alloc.unbound.gauge"));
  const std::string route = "/checkout";  // a long-lived string passed by view
  for (int i = 0; i < 4; ++i) {
    c.add(1, {{"route", route}, {"code", i}});
    h.record(1.0, {{"route", route}});
    g.set(1.0, {{"route", route}});
    c.add(1);
  }
  EXPECT_EQ(allocations_of([&] {
              for (int i = 0; i < 1000; ++i) {
                c.add(1, {{"route", route}, {"code", i % 4}});
                c.add(1, {{"code", i % 4}, {"route", route}});  // another order, same set
                c.add(1);
                h.record(i, {{"route", route}});
                g.set(i, {{"route", route}});
              }
            }),
            0u);
  auto m = r.collect_one(cn);
  std::int64_t total = 0;
  for (const auto& p : m.points) total += p.as_int;
  EXPECT_EQ(total, 8 + 3000);
}

TEST(metric_allocations, recording_into_the_overflow_point_allocates_nothing) {
  reader_fixture r;
  const std::string name = unique("alloc.overflow");
  auto c = logfire::metric_counter(name, {.cardinality_limit = 1});
  c.add(1, {{"k", 0}});  // the one set kept: full now
  EXPECT_EQ(allocations_of([&] {
              for (int i = 1; i <= 1000; ++i) c.add(1, {{"k", i}});
            }),
            0u);
  auto m = r.collect_one(name);
  ASSERT_EQ(m.points.size(), 2u);
}

}  // namespace
