// Synchronous instruments through a real reader and the in-memory metric exporter: what each kind
// exports, under each temporality preference, with the start timestamps the specification asks
// for; bound handles; rejected measurements; duplicate registration; points an exporter reports
// lost, counted by reason and explained once.
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "metrics/exponential.hpp"
#include "metrics/metrics_support.hpp"

namespace {

using namespace metrics_test;
using logfire::aggregation_temporality;
using logfire::metric_data_type;
using logfire::metric_kind;
using logfire::metric_temporality;

TEST(instruments, counter_is_a_monotonic_delta_sum_by_default) {
  reader_fixture r;
  const std::string name = unique("requests");
  auto c = logfire::metric_counter(name, {.unit = "{request}", .description = "requests served"});
  c.add(2, {{"route", "/a"}});
  c.add(3, {{"route", "/a"}});
  c.add(1, {{"route", "/b"}});
  auto m = r.collect_one(name);
  EXPECT_EQ(m.kind, metric_kind::counter);
  EXPECT_EQ(m.type, metric_data_type::sum);
  EXPECT_EQ(m.temporality, aggregation_temporality::delta);
  EXPECT_TRUE(m.monotonic);
  EXPECT_EQ(m.unit, "{request}");
  EXPECT_EQ(m.description, "requests served");
  ASSERT_EQ(m.points.size(), 2u);
  ASSERT_NE(m.point({{"route", "/a"}}), nullptr);
  EXPECT_EQ(m.point({{"route", "/a"}})->as_int, 5);
  EXPECT_FALSE(m.point({{"route", "/a"}})->is_double);
  EXPECT_EQ(m.point({{"route", "/b"}})->as_int, 1);

  // Delta: the next interval starts where this one ended and holds only what came since.
  const std::uint64_t first_end = m.points[0].time_unix_nano;
  c.add(4, {{"route", "/a"}});
  auto m2 = r.collect_one(name);
  ASSERT_EQ(m2.points.size(), 1u);  // /b had no measurement: no point
  EXPECT_EQ(m2.points[0].as_int, 4);
  EXPECT_EQ(m2.points[0].start_unix_nano, first_end);
  EXPECT_GT(m2.points[0].time_unix_nano, first_end);
}

TEST(instruments, counter_under_the_cumulative_preference_keeps_totals_and_start) {
  reader_fixture r(metric_temporality::cumulative);
  const std::string name = unique("bytes");
  auto c = logfire::metric_counter<double>(name, {.unit = "By"});
  c.add(1.5);
  auto m = r.collect_one(name);
  EXPECT_EQ(m.temporality, aggregation_temporality::cumulative);
  ASSERT_EQ(m.points.size(), 1u);
  EXPECT_TRUE(m.points[0].is_double);
  EXPECT_DOUBLE_EQ(m.points[0].as_double, 1.5);
  const std::uint64_t start = m.points[0].start_unix_nano;
  EXPECT_GT(start, 0u);
  c.add(2.25);
  auto m2 = r.collect_one(name);
  ASSERT_EQ(m2.points.size(), 1u);
  EXPECT_DOUBLE_EQ(m2.points[0].as_double, 3.75);
  EXPECT_EQ(m2.points[0].start_unix_nano, start);  // (T0, T2] after (T0, T1]
  // No new measurement: a cumulative sum is exported again with the same total.
  auto m3 = r.collect_one(name);
  ASSERT_EQ(m3.points.size(), 1u);
  EXPECT_DOUBLE_EQ(m3.points[0].as_double, 3.75);
}

TEST(instruments, up_down_counter_is_cumulative_even_under_the_delta_preference) {
  reader_fixture r;
  const std::string name = unique("queue.depth");
  auto q = logfire::metric_up_down_counter(name);
  q.add(5);
  q.add(-2);
  auto m = r.collect_one(name);
  EXPECT_EQ(m.kind, metric_kind::up_down_counter);
  EXPECT_EQ(m.temporality, aggregation_temporality::cumulative);
  EXPECT_FALSE(m.monotonic);
  ASSERT_EQ(m.points.size(), 1u);
  EXPECT_EQ(m.points[0].as_int, 3);
  q.add(-4);
  EXPECT_EQ(r.collect_one(name).points.at(0).as_int, -1);
  // A net change of zero is still a measurement: the series exists with value 0.
  const std::string zero = unique("zero.net");
  auto z = logfire::metric_up_down_counter(zero);
  z.add(1);
  z.add(-1);
  auto mz = r.collect_one(zero);
  ASSERT_EQ(mz.points.size(), 1u);
  EXPECT_EQ(mz.points[0].as_int, 0);
}

TEST(instruments, gauge_exports_the_last_value_and_keeps_it_while_cumulative) {
  reader_fixture r;
  const std::string name = unique("temperature");
  auto g = logfire::metric_gauge(name, {.unit = "Cel"});
  g.set(20.5, {{"room", "a"}});
  g.set(21.0, {{"room", "a"}});
  auto m = r.collect_one(name);
  EXPECT_EQ(m.type, metric_data_type::gauge);
  EXPECT_EQ(m.temporality, aggregation_temporality::unspecified);
  ASSERT_EQ(m.points.size(), 1u);
  EXPECT_DOUBLE_EQ(m.points[0].as_double, 21.0);
  // Gauges are cumulative for Logfire: the last value is reported again until it changes.
  EXPECT_DOUBLE_EQ(r.collect_one(name).points.at(0).as_double, 21.0);
  auto gi = logfire::metric_gauge<std::int64_t>(unique("pool.size"));
  gi.set(7);
  (void)gi;
}

TEST(instruments, gauge_under_low_memory_is_still_cumulative_and_int_gauges_stay_int) {
  reader_fixture r(metric_temporality::low_memory);
  const std::string name = unique("pool.size");
  auto g = logfire::metric_gauge<std::int64_t>(name);
  g.set(7);
  auto m = r.collect_one(name);
  ASSERT_EQ(m.points.size(), 1u);
  EXPECT_FALSE(m.points[0].is_double);
  EXPECT_EQ(m.points[0].as_int, 7);
  EXPECT_EQ(r.collect_one(name).points.size(), 1u);
}

TEST(instruments, histogram_is_a_delta_exponential_histogram_by_default) {
  reader_fixture r;
  const std::string name = unique("duration");
  auto h = logfire::metric_histogram(name, {.unit = "ms"});
  for (double v : {0.0, 1.0, 2.0, 3.0, 10.0, 1000.0}) h.record(v, {{"route", "/a"}});
  auto m = r.collect_one(name);
  EXPECT_EQ(m.type, metric_data_type::exponential_histogram);
  EXPECT_EQ(m.temporality, aggregation_temporality::delta);
  ASSERT_EQ(m.points.size(), 1u);
  const auto& p = m.points[0];
  EXPECT_EQ(p.count, 6u);
  EXPECT_DOUBLE_EQ(p.sum, 1016.0);
  EXPECT_DOUBLE_EQ(p.min, 0.0);
  EXPECT_DOUBLE_EQ(p.max, 1000.0);
  EXPECT_EQ(p.zero_count, 1u);
  std::uint64_t in_buckets = 0;
  for (auto c : p.bucket_counts) in_buckets += c;
  EXPECT_EQ(in_buckets, 5u);
  EXPECT_LE(p.bucket_counts.size(), 160u);
  // 1 and 1000 both fit: the first bucket holds 1.0, the last 1000.0.
  EXPECT_EQ(p.positive_offset, logfire::detail::expo::map_to_index(1.0, p.scale));
  EXPECT_EQ(p.positive_offset + static_cast<std::int32_t>(p.bucket_counts.size()) - 1,
            logfire::detail::expo::map_to_index(1000.0, p.scale));
  // The next interval starts empty, at the maximum scale again.
  h.record(5.0, {{"route", "/a"}});
  auto m2 = r.collect_one(name);
  ASSERT_EQ(m2.points.size(), 1u);
  EXPECT_EQ(m2.points[0].count, 1u);
  EXPECT_EQ(m2.points[0].scale, 20);
}

TEST(instruments, histogram_with_explicit_bounds) {
  reader_fixture r(metric_temporality::cumulative);
  const std::string name = unique("size");
  auto h = logfire::metric_histogram(name, {.unit = "By", .explicit_bounds = {0, 10, 100}});
  for (double v : {0.0, 5.0, 10.0, 11.0, 100.0, 1e6}) h.record(v);
  auto m = r.collect_one(name);
  EXPECT_EQ(m.type, metric_data_type::histogram);
  EXPECT_EQ(m.temporality, aggregation_temporality::cumulative);
  ASSERT_EQ(m.points.size(), 1u);
  const auto& p = m.points[0];
  EXPECT_EQ(p.explicit_bounds, (std::vector<double>{0, 10, 100}));
  // (-inf, 0], (0, 10], (10, 100], (100, +inf): upper bounds inclusive.
  EXPECT_EQ(p.bucket_counts, (std::vector<std::uint64_t>{1, 2, 2, 1}));
  EXPECT_EQ(p.count, 6u);
  h.record(50.0);
  auto m2 = r.collect_one(name);
  EXPECT_EQ(m2.points.at(0).bucket_counts, (std::vector<std::uint64_t>{1, 2, 3, 1}));
  EXPECT_EQ(m2.points.at(0).start_unix_nano, p.start_unix_nano);
}

TEST(instruments, invalid_explicit_bounds_fall_back_to_exponential_buckets) {
  reader_fixture r;
  const std::string name = unique("bad.bounds");
  auto h = logfire::metric_histogram(name, {.explicit_bounds = {10, 5}});
  h.record(1.0);
  EXPECT_EQ(r.collect_one(name).type, metric_data_type::exponential_histogram);
}

TEST(instruments, bound_handles_record_into_their_series) {
  reader_fixture r;
  const std::string cn = unique("bound.counter");
  const std::string hn = unique("bound.histogram");
  const std::string gn = unique("bound.gauge");
  const std::string un = unique("bound.updown");
  auto checkout = logfire::metric_counter(cn).bind({{"route", "/checkout"}, {"method", "POST"}});
  auto latency = logfire::metric_histogram(hn).bind({{"route", "/checkout"}});
  auto level = logfire::metric_gauge(gn).bind({{"tank", "1"}});
  auto inflight = logfire::metric_up_down_counter(un).bind({});
  for (int i = 0; i < 10; ++i) {
    checkout.add(1);
    latency.record(i);
    inflight.add(1);
  }
  inflight.add(-3);
  level.set(0.75);
  // The same attribute set recorded unbound, in another order, lands in the same series.
  logfire::metric_counter(cn).add(5, {{"method", "POST"}, {"route", "/checkout"}});
  auto b = r.collect();
  ASSERT_NE(b.find(cn), nullptr);
  ASSERT_EQ(b.find(cn)->points.size(), 1u);
  EXPECT_EQ(b.find(cn)->points[0].as_int, 15);
  EXPECT_EQ(b.find(hn)->points.at(0).count, 10u);
  EXPECT_DOUBLE_EQ(b.find(hn)->points.at(0).sum, 45.0);
  EXPECT_DOUBLE_EQ(b.find(gn)->points.at(0).as_double, 0.75);
  EXPECT_EQ(b.find(un)->points.at(0).as_int, 7);
}

TEST(instruments, attribute_values_of_every_scalar_type) {
  reader_fixture r;
  const std::string name = unique("typed");
  auto c = logfire::metric_counter(name);
  c.add(1, {{"s", "x"}, {"i", -3}, {"u", 7u}, {"d", 0.5}, {"b", true}, {"big", std::uint64_t{18446744073709551615u}}});
  auto m = r.collect_one(name);
  ASSERT_EQ(m.points.size(), 1u);
  const auto& p = m.points[0];
  EXPECT_EQ(*p.find("s")->string(), "x");
  EXPECT_EQ(p.find("i")->int64(), -3);
  EXPECT_EQ(p.find("u")->int64(), 7);
  EXPECT_EQ(p.find("d")->float64(), 0.5);
  EXPECT_EQ(p.find("b")->boolean(), true);
  EXPECT_EQ(*p.find("big")->string(), "18446744073709551615");  // beyond int64: decimal text
  // Keys are sorted; a repeated key keeps its last value.
  const std::string dup = unique("dup");
  logfire::metric_counter(dup).add(1, {{"k", "first"}, {"k", "last"}});
  auto md = r.collect_one(dup);
  ASSERT_EQ(md.points.size(), 1u);
  EXPECT_TRUE(md.points[0].has_attributes({{"k", "last"}}));
}

TEST(instruments, values_metrics_do_not_take_are_dropped_and_counted) {
  reader_fixture r;
  const std::string name = unique("dropped.attr");
  const auto before = logfire::metrics_stats().attributes_dropped;
  logfire::metric_counter(name).add(1, {{"ok", "y"}, {"list", logfire::array{1, 2}}, {"none", logfire::null}});
  auto m = r.collect_one(name);
  ASSERT_EQ(m.points.size(), 1u);
  EXPECT_TRUE(m.points[0].has_attributes({{"ok", "y"}}));
  EXPECT_EQ(logfire::metrics_stats().attributes_dropped - before, 2u);
  EXPECT_NE(r.diagnostics().find("metric attribute value(s) dropped"), std::string::npos);
}

TEST(instruments, negative_nan_and_infinite_values_are_rejected_and_counted) {
  reader_fixture r;
  const std::string cn = unique("rejecting.counter");
  const std::string hn = unique("rejecting.histogram");
  const auto before = logfire::metrics_stats().measurements_rejected;
  auto c = logfire::metric_counter(cn);
  auto cd = logfire::metric_counter<double>(unique("rejecting.double"));
  auto h = logfire::metric_histogram(hn);
  auto g = logfire::metric_gauge(unique("rejecting.gauge"));
  c.add(-1);
  c.bind().add(-5);
  cd.add(std::nan(""));
  cd.add(std::numeric_limits<double>::infinity());
  h.record(-0.5);
  h.bind().record(std::nan(""));
  g.set(std::numeric_limits<double>::infinity());
  c.add(2);
  h.record(1.0);
  EXPECT_EQ(logfire::metrics_stats().measurements_rejected - before, 7u);
  auto b = r.collect();
  EXPECT_EQ(b.find(cn)->points.at(0).as_int, 2);
  EXPECT_EQ(b.find(hn)->points.at(0).count, 1u);
  const std::string d = r.diagnostics();
  EXPECT_EQ(count_of(d, "rejected: counters and histograms take values >= 0"), 1u);
  // More rejections within the minute: no second line.
  c.add(-1);
  r.collect();
  EXPECT_EQ(count_of(r.diagnostics(), "metric measurement"), 1u);
}

TEST(instruments, same_name_and_type_is_the_same_instrument_case_insensitively) {
  reader_fixture r;
  const std::string name = unique("Shared.Name");
  std::string lower = name;
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto a = logfire::metric_counter(name, {.unit = "1"});
  auto b = logfire::metric_counter(lower, {.unit = "1"});
  a.add(1);
  b.add(2);
  auto m = r.collect_one(name);  // the first-seen spelling is kept
  ASSERT_EQ(m.points.size(), 1u);
  EXPECT_EQ(m.points[0].as_int, 3);
}

TEST(instruments, same_name_with_another_value_type_is_exported_as_its_own_metric) {
  reader_fixture r;
  const std::string name = unique("two.types");
  logfire::metric_counter(name).add(2);
  logfire::metric_counter<double>(name).add(0.5);
  auto b = r.collect();
  int ints = 0, doubles = 0;
  for (const auto& m : b.metrics) {
    if (m.name != name) continue;
    ASSERT_EQ(m.points.size(), 1u);
    if (m.points[0].is_double) {
      ++doubles;
      EXPECT_DOUBLE_EQ(m.points[0].as_double, 0.5);
    } else {
      ++ints;
      EXPECT_EQ(m.points[0].as_int, 2);
    }
  }
  EXPECT_EQ(ints, 1);
  EXPECT_EQ(doubles, 1);
}

TEST(instruments, a_handle_of_nothing_records_nothing) {
  logfire::counter<> c;
  c.add(1, {{"a", 1}});
  logfire::bound_counter<> bc;
  bc.add(1);
  logfire::bound_histogram bh;
  bh.record(1.0);
  logfire::bound_gauge<> bg;
  bg.set(1.0);
  logfire::histogram h;
  h.record(2.0);
  SUCCEED();  // nothing to export, nothing crashes
}

TEST(instruments, measurements_before_a_reader_starts_are_exported_by_its_first_collection) {
  const std::string name = unique("early");
  auto c = logfire::metric_counter(name);
  c.add(9);  // no reader yet (as before configure())
  reader_fixture r;
  auto m = r.collect_one(name);
  ASSERT_EQ(m.points.size(), 1u);
  EXPECT_EQ(m.points[0].as_int, 9);
}

TEST(instruments, the_batch_carries_resource_and_scope) {
  reader_fixture r;
  const std::string name = unique("scoped");
  logfire::metric_counter(name).add(1);
  auto b = r.collect();
  EXPECT_EQ(b.scope_name, "logfire");
  EXPECT_FALSE(b.scope_version.empty());
  ASSERT_FALSE(b.resource.empty());
  EXPECT_EQ(b.resource[0].first, "service.name");
  EXPECT_EQ(*b.resource[0].second.string(), "metrics-test");
}

// An exporter that delivers the first point of each batch and reports the others lost, with the
// reason it is given.
class losing_exporter final : public logfire::metric_exporter {
 public:
  std::string name() const override { return "losing"; }
  void export_metrics(const logfire::metric_batch& batch) noexcept override {
    const std::size_t n = batch.point_count();
    counter_->delivered(1);
    counter_->dropped(reason, n - 1, "the collector said no");
  }
  logfire::drop_reason reason = logfire::drop_reason::export_failed;
};

TEST(instruments, points_an_exporter_loses_are_counted_by_reason_and_explained_once) {
  auto losing = std::make_shared<losing_exporter>();
  std::FILE* diag = std::tmpfile();
  ASSERT_TRUE(diag);
  logfire::detail::metric_reader_settings s;
  s.exporters = {losing};
  s.diagnostics = diag;
  s.interval = std::chrono::hours(1);
  logfire::detail::metric_reader reader(std::move(s));
  reader.start();
  auto c = logfire::metric_counter(unique("lost"));
  auto g = logfire::metric_gauge(unique("lost.gauge"));
  c.add(1, {{"k", "a"}});
  c.add(1, {{"k", "b"}});
  g.set(1.5);
  ASSERT_TRUE(reader.force_flush(std::chrono::steady_clock::now() + 10s));
  auto st = reader.stats();
  const auto failed = static_cast<std::size_t>(logfire::drop_reason::export_failed);
  ASSERT_GE(st.points_produced, 3u);  // other tests' cumulative instruments may add points
  EXPECT_EQ(st.points_exported, 1u);
  EXPECT_EQ(st.points_dropped[failed], st.points_produced - 1);
  EXPECT_EQ(st.points_produced, st.points_exported + st.points_dropped_total());
  EXPECT_EQ(logfire::metrics_stats().points_dropped[failed], st.points_dropped[failed]);  // the public view

  // A second loss of the same kind within the minute adds to the count without a second line;
  // another reason gets its own line.
  c.add(1, {{"k", "a"}});
  c.add(1, {{"k", "b"}});
  ASSERT_TRUE(reader.force_flush(std::chrono::steady_clock::now() + 10s));
  losing->reason = logfire::drop_reason::rejected_by_backend;
  c.add(1, {{"k", "a"}});
  c.add(1, {{"k", "b"}});
  ASSERT_TRUE(reader.force_flush(std::chrono::steady_clock::now() + 10s));
  st = reader.stats();
  const auto rejected = static_cast<std::size_t>(logfire::drop_reason::rejected_by_backend);
  EXPECT_GE(st.points_dropped[rejected], 1u);
  EXPECT_EQ(st.points_produced, st.points_exported + st.points_dropped_total());
  EXPECT_EQ(st.points_exported, 3u);
  reader.shutdown(std::chrono::steady_clock::now() + 5s);

  std::fflush(diag);
  std::rewind(diag);
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, diag)) > 0;) out.append(buf, n);
  std::fclose(diag);
  EXPECT_EQ(count_of(out, "(export_failed) not delivered"), 1u) << out;
  EXPECT_EQ(count_of(out, "(export_failed) not delivered: the collector said no"), 1u) << out;
  EXPECT_EQ(count_of(out, "(rejected_by_backend) not delivered"), 1u) << out;
}

}  // namespace
