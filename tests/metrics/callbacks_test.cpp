// Observable instruments: callbacks run on the reader's thread at each collection, never under an
// SDK lock (a callback may create instruments, record, flush or remove itself), their totals
// become deltas where Logfire wants deltas, and removal waits for a running callback.
#include <condition_variable>
#include <mutex>
#include <thread>

#include "metrics/metrics_support.hpp"

namespace {

using namespace metrics_test;
using logfire::aggregation_temporality;
using logfire::metric_kind;

TEST(callbacks, observable_counter_totals_become_deltas) {
  reader_fixture r;
  const std::string name = unique("cpu.time");
  std::int64_t total = 100;
  auto reg = logfire::metric_counter_callback(name,
                                              [&total](logfire::observer& o) {
                                                o.observe(total, {{"state", "user"}});
                                              },
                                              {.unit = "s"});
  auto m1 = r.collect_one(name);
  EXPECT_EQ(m1.kind, metric_kind::observable_counter);
  EXPECT_EQ(m1.temporality, aggregation_temporality::delta);
  EXPECT_TRUE(m1.monotonic);
  ASSERT_EQ(m1.points.size(), 1u);
  EXPECT_EQ(m1.points[0].as_int, 100);  // first observation: the whole total
  total = 130;
  auto m2 = r.collect_one(name);
  ASSERT_EQ(m2.points.size(), 1u);
  EXPECT_EQ(m2.points[0].as_int, 30);
  EXPECT_EQ(m2.points[0].start_unix_nano, m1.points[0].time_unix_nano);
  total = 5;  // what was counted restarted: its whole value is the increase
  EXPECT_EQ(r.collect_one(name).points.at(0).as_int, 5);
}

TEST(callbacks, observable_counter_under_cumulative_repeats_its_start) {
  reader_fixture r(logfire::metric_temporality::cumulative);
  const std::string name = unique("cpu.time.cumulative");
  double total = 1.5;
  auto reg = logfire::metric_counter_callback(name, [&total](logfire::observer& o) { o.observe(total); });
  auto m1 = r.collect_one(name);
  EXPECT_EQ(m1.temporality, aggregation_temporality::cumulative);
  total = 2.5;
  auto m2 = r.collect_one(name);
  ASSERT_EQ(m2.points.size(), 1u);
  EXPECT_DOUBLE_EQ(m2.points[0].as_double, 2.5);
  EXPECT_EQ(m2.points[0].start_unix_nano, m1.points[0].start_unix_nano);
}

TEST(callbacks, up_down_counter_and_gauge_callbacks) {
  reader_fixture r;
  const std::string ud = unique("inventory");
  const std::string ga = unique("utilization");
  auto r1 = logfire::metric_up_down_counter_callback(ud, [](logfire::observer& o) { o.observe(-4); });
  auto r2 = logfire::metric_gauge_callback(ga, [](logfire::observer& o) {
    o.observe(0.25, {{"cpu", "0"}});
    o.observe(0.75, {{"cpu", "1"}});
  });
  auto b = r.collect();
  ASSERT_NE(b.find(ud), nullptr);
  EXPECT_EQ(b.find(ud)->temporality, aggregation_temporality::cumulative);
  EXPECT_FALSE(b.find(ud)->monotonic);
  EXPECT_EQ(b.find(ud)->points.at(0).as_int, -4);
  ASSERT_NE(b.find(ga), nullptr);
  EXPECT_EQ(b.find(ga)->type, logfire::metric_data_type::gauge);
  EXPECT_DOUBLE_EQ(b.find(ga)->point({{"cpu", "1"}})->as_double, 0.75);
}

TEST(callbacks, a_set_not_observed_again_is_not_exported_again) {
  reader_fixture r;
  const std::string name = unique("sometimes");
  bool second = false;
  auto reg = logfire::metric_gauge_callback(name, [&second](logfire::observer& o) {
    o.observe(1.0, {{"which", second ? "b" : "a"}});
  });
  EXPECT_TRUE(r.collect_one(name).point({{"which", "a"}}));
  second = true;
  auto m = r.collect_one(name);
  ASSERT_EQ(m.points.size(), 1u);
  EXPECT_TRUE(m.points[0].has_attributes({{"which", "b"}}));
}

TEST(callbacks, run_on_the_reader_thread_and_may_use_the_sdk_freely) {
  reader_fixture r;
  const std::string name = unique("reentrant");
  const std::string inner = unique("created.inside");
  std::thread::id ran_on;
  auto reg = logfire::metric_gauge_callback(name, [&](logfire::observer& o) {
    ran_on = std::this_thread::get_id();
    // None of these may deadlock: no SDK lock is held while a callback runs.
    auto c = logfire::metric_counter(inner);
    c.add(1);
    EXPECT_TRUE(r.reader->force_flush(std::chrono::steady_clock::now() + 1s));  // returns at once
    auto nested = logfire::metric_gauge_callback(unique("registered.inside"), [](logfire::observer&) {});
    o.observe(1.0);
  });
  auto b = r.collect();
  EXPECT_NE(ran_on, std::this_thread::get_id());
  EXPECT_NE(b.find(name), nullptr);
  // The counter created inside was collected before the callbacks ran: it shows up next time.
  EXPECT_EQ(r.collect_one(inner).points.at(0).as_int, 1);
}

TEST(callbacks, a_throwing_callback_loses_only_its_own_observations) {
  reader_fixture r;
  const std::string name = unique("throwing");
  const auto before = logfire::metrics_stats().callback_errors;
  auto good = logfire::metric_gauge_callback(name, [](logfire::observer& o) { o.observe(1.0, {{"who", "good"}}); });
  auto bad = logfire::metric_gauge_callback(name, [](logfire::observer& o) {
    o.observe(2.0, {{"who", "bad"}});
    throw std::runtime_error("boom");
  });
  auto m = r.collect_one(name);
  ASSERT_EQ(m.points.size(), 1u);
  EXPECT_TRUE(m.points[0].has_attributes({{"who", "good"}}));
  EXPECT_EQ(logfire::metrics_stats().callback_errors - before, 1u);
  EXPECT_NE(r.diagnostics().find("a callback of metric '" + name + "' threw"), std::string::npos);
}

TEST(callbacks, a_removed_callback_never_runs_again) {
  reader_fixture r;
  const std::string name = unique("removed");
  int runs = 0;
  {
    auto reg = logfire::metric_gauge_callback(name, [&runs](logfire::observer& o) {
      ++runs;
      o.observe(1.0);
    });
    r.collect();
    EXPECT_EQ(runs, 1);
  }  // unregistered here
  EXPECT_EQ(r.collect().find(name), nullptr);
  EXPECT_EQ(runs, 1);
}

TEST(callbacks, a_callback_may_remove_itself) {
  reader_fixture r;
  const std::string name = unique("self.removing");
  int runs = 0;
  logfire::callback_registration reg;
  reg = logfire::metric_gauge_callback(name, [&](logfire::observer& o) {
    ++runs;
    o.observe(1.0);
    reg.remove();  // from inside its own run: must not wait for itself
  });
  EXPECT_NE(r.collect().find(name), nullptr);
  r.collect();
  EXPECT_EQ(runs, 1);
}

TEST(callbacks, removal_waits_for_a_run_in_progress) {
  reader_fixture r;
  const std::string name = unique("slow");
  std::mutex m;
  std::condition_variable cv;
  bool entered = false, release = false, finished = false;
  auto reg = logfire::metric_gauge_callback(name, [&](logfire::observer& o) {
    std::unique_lock lock(m);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    finished = true;
    o.observe(1.0);
  });
  std::thread collector([&] { r.collect(); });
  {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return entered; });
  }
  std::thread releaser([&] {
    std::this_thread::sleep_for(50ms);
    std::lock_guard lock(m);
    release = true;
    cv.notify_all();
  });
  reg.remove();  // returns only after the run finished
  {
    std::lock_guard lock(m);
    EXPECT_TRUE(finished);
  }
  releaser.join();
  collector.join();
}

}  // namespace
