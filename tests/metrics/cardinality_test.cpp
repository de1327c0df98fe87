// The cardinality limit (OpenTelemetry metrics SDK, "Cardinality limits"): up to the limit every
// attribute set has its own point; measurements with further sets go to one point whose only
// attribute is otel.metric.overflow = true; nothing is double-counted or dropped; the overflow is
// counted and explained once on stderr.
#include <set>
#include <thread>

#include "metrics/metrics_support.hpp"

namespace {

using namespace metrics_test;

const logfire::stored_metric_point* overflow_point(const logfire::stored_metric& m) {
  for (const auto& p : m.points) {
    const logfire::stored_value* v = p.find("otel.metric.overflow");
    if (v && v->boolean() == true) return &p;
  }
  return nullptr;
}

TEST(cardinality, up_to_the_limit_no_overflow) {
  reader_fixture r;
  const std::string name = unique("limited");
  auto c = logfire::metric_counter(name, {.cardinality_limit = 10});
  for (int i = 0; i < 10; ++i) c.add(1, {{"user", i}});
  auto m = r.collect_one(name);
  EXPECT_EQ(m.points.size(), 10u);
  EXPECT_EQ(overflow_point(m), nullptr);
  EXPECT_EQ(r.diagnostics().find("cardinality limit"), std::string::npos);
}

TEST(cardinality, beyond_the_limit_one_overflow_point_keeps_the_total) {
  reader_fixture r;
  const std::string name = unique("limited");
  const auto before = logfire::metrics_stats().measurements_overflowed;
  auto c = logfire::metric_counter(name, {.cardinality_limit = 10});
  std::int64_t total = 0;
  for (int i = 0; i < 100; ++i) {
    c.add(i + 1, {{"user", i}});
    total += i + 1;
  }
  auto m = r.collect_one(name);
  ASSERT_EQ(m.points.size(), 11u);  // 10 sets + the overflow point
  const auto* of = overflow_point(m);
  ASSERT_NE(of, nullptr);
  EXPECT_EQ(of->attributes.size(), 1u);  // (only) the overflow attribute
  std::int64_t sum = 0;
  std::set<std::int64_t> users;
  for (const auto& p : m.points) {
    sum += p.as_int;
    if (&p != of) users.insert(*p.find("user")->int64());
  }
  EXPECT_EQ(sum, total);                                                     // nothing lost, nothing counted twice
  EXPECT_EQ(users, (std::set<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));  // the first-seen sets
  EXPECT_EQ(of->as_int, total - 55);
  EXPECT_EQ(logfire::metrics_stats().measurements_overflowed - before, 90u);
  const std::string d = r.diagnostics();
  EXPECT_EQ(count_of(d, "metric '" + name + "' reached its cardinality limit of 10"), 1u) << d;
  EXPECT_NE(d.find("otel.metric.overflow=true"), std::string::npos);
  // Explained once: more overflow in later collections prints nothing new.
  c.add(1, {{"user", 1000}});
  r.collect();
  EXPECT_EQ(count_of(r.diagnostics(), "cardinality limit"), 1u);
}

TEST(cardinality, sets_seen_before_the_overflow_keep_their_points_under_cumulative) {
  reader_fixture r(logfire::metric_temporality::cumulative);
  const std::string name = unique("limited.cumulative");
  auto c = logfire::metric_counter(name, {.cardinality_limit = 3});
  for (int i = 0; i < 3; ++i) c.add(1, {{"k", i}});
  r.collect();
  c.add(5, {{"k", 99}});  // overflow
  c.add(1, {{"k", 0}});   // a known set still gets its own point
  auto m = r.collect_one(name);
  ASSERT_EQ(m.points.size(), 4u);
  EXPECT_EQ(overflow_point(m)->as_int, 5);
  for (const auto& p : m.points) {
    if (const auto* k = p.find("k"); k && k->int64() == 0) {
      EXPECT_EQ(p.as_int, 2);
    }
  }
}

TEST(cardinality, binding_beyond_the_limit_binds_to_the_overflow_point) {
  reader_fixture r;
  const std::string name = unique("limited.bound");
  auto h = logfire::metric_histogram(name, {.cardinality_limit = 2});
  h.record(1, {{"a", 1}});
  h.record(1, {{"a", 2}});
  auto late = h.bind({{"a", 3}});  // evaluated at bind time, as the specification says
  late.record(7);
  late.record(8);
  auto m = r.collect_one(name);
  ASSERT_EQ(m.points.size(), 3u);
  const auto* of = overflow_point(m);
  ASSERT_NE(of, nullptr);
  EXPECT_EQ(of->count, 2u);
  EXPECT_DOUBLE_EQ(of->sum, 15.0);
}

TEST(cardinality, the_default_limit_is_2000) {
  reader_fixture r;
  const std::string name = unique("default.limit");
  auto c = logfire::metric_counter(name);
  for (int i = 0; i < 2100; ++i) c.add(1, {{"id", i}});
  auto m = r.collect_one(name);
  EXPECT_EQ(m.points.size(), 2001u);
  ASSERT_NE(overflow_point(m), nullptr);
  EXPECT_EQ(overflow_point(m)->as_int, 100);
}

TEST(cardinality, concurrent_new_sets_never_exceed_the_limit_and_lose_nothing) {
  reader_fixture r;
  const std::string name = unique("limited.threads");
  auto c = logfire::metric_counter(name, {.cardinality_limit = 50});
  constexpr int k_threads = 4, k_per_thread = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t)
    threads.emplace_back([&c, t] {
      for (int i = 0; i < k_per_thread; ++i) c.add(1, {{"t", t}, {"i", i % 40}});
    });
  for (auto& th : threads) th.join();
  auto m = r.collect_one(name);
  EXPECT_EQ(m.points.size(), 51u);
  std::int64_t sum = 0;
  for (const auto& p : m.points) sum += p.as_int;
  EXPECT_EQ(sum, k_threads * k_per_thread);
}

TEST(cardinality, observable_callbacks_keep_the_first_observed_sets) {
  reader_fixture r;
  const std::string name = unique("observed.limited");
  auto reg = logfire::metric_gauge_callback(name,
                                            [](logfire::observer& o) {
                                              for (int i = 0; i < 8; ++i) o.observe(i * 1.0, {{"i", i}});
                                            },
                                            {.cardinality_limit = 5});
  auto m = r.collect_one(name);
  ASSERT_EQ(m.points.size(), 6u);
  const auto* of = overflow_point(m);
  ASSERT_NE(of, nullptr);
  EXPECT_DOUBLE_EQ(of->as_double, 7.0);  // a gauge's overflow point keeps the last value
  EXPECT_NE(r.diagnostics().find("metric '" + name + "' observed more than its cardinality limit of 5"),
            std::string::npos);
}

}  // namespace
