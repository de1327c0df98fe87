// min_level filtering, head sampling by ratio, and the sampler hook: what is dropped is
// counted under its reason, and produced == exported + dropped.
#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "core/core_support.hpp"

using namespace core_test;
using logfire::drop_reason;
using logfire::level;

class min_level : public memory_sdk {
 protected:
  void adjust(logfire::options& o) override { o.min_level = level::warn; }
};

TEST_F(min_level, below_is_filtered_and_counted) {
  for (int i = 0; i < 10; ++i) {
    logfire::trace("t");
    logfire::debug("d");
    logfire::info("i");
    logfire::notice("n");
    logfire::warn("w");
    logfire::error("e");
    logfire::fatal("f");
    logfire::log(level::info, "via log()");
  }
  auto recs = flushed();
  ASSERT_EQ(recs.size(), 30u);
  std::set<std::string> names;
  for (const auto& r : recs) names.insert(r.name);
  EXPECT_EQ(names, (std::set<std::string>{"w", "e", "f"}));
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, 80u);
  EXPECT_EQ(st.dropped_by(drop_reason::filtered_by_level), 50u);
  EXPECT_EQ(st.exported, 30u);
  expect_accounted(st);
}

// The macros evaluate nothing of a filtered call and count it; an enabled one is logged with
// its arguments, at the macro's line.
TEST_F(min_level, macros_evaluate_nothing_below_the_level_and_count_it) {
  int built = 0;
  const auto costly = [&built] {
    ++built;
    return std::string("v") + std::to_string(built);
  };
  for (int i = 0; i < 5; ++i) {
    LOGFIRE_DEBUG("debug {v}", {{"v", costly()}});
    LOGFIRE_LOG(level::info, "info {v}", {{"v", costly()}});
  }
  const std::int64_t line = __LINE__ + 1;
  LOGFIRE_ERROR("error {v}", {{"v", costly()}});
  LOGFIRE_WARN("no arguments");
  EXPECT_EQ(built, 1);
  const auto recs = flushed();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].message, "error v1");
  EXPECT_EQ(recs[0].level, level::error);
  EXPECT_EQ(int_attr(recs[0], "code.lineno"), line);
  EXPECT_EQ(recs[1].message, "no arguments");
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, 12u);
  EXPECT_EQ(st.dropped_by(drop_reason::filtered_by_level), 10u);
  expect_accounted(st);
}

TEST_F(min_level, spans_below_are_filtered_too) {
  {
    logfire::span s("debug span", {}, {.level = level::debug});
    EXPECT_FALSE(s.is_recording());
  }
  { logfire::span s("error span", {}, {.level = level::error}); }
  auto recs = flushed();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].name, "error span");
  const auto st = logfire::stats();
  EXPECT_EQ(st.dropped_by(drop_reason::filtered_by_level), 1u);
  expect_accounted(st);
}

// A filtered log is counted inline on its thread (logfire.hpp): each configuration's ledger
// holds the counts made while it was the configured one, from live and exited threads.
TEST(min_level_counts, follow_the_configuration_and_the_thread) {
  auto count = [](int n) {
    for (int i = 0; i < n; ++i) logfire::debug("filtered {i}", {{"i", i}});
  };
  logfire::options o = quiet_options({std::make_shared<logfire::memory_exporter>()});
  o.min_level = level::warn;
  {
    auto sdk = logfire::configure(o);
    ASSERT_TRUE(sdk) << sdk.error();
    count(7);
    std::thread([&] { count(5); }).join();  // an exited thread's counts stay in the ledger
    ASSERT_TRUE(logfire::force_flush());
    const auto st = logfire::stats();
    EXPECT_EQ(st.produced, 12u) << st.summary();
    EXPECT_EQ(st.dropped_by(drop_reason::filtered_by_level), 12u) << st.summary();
  }
  o.exporters = {std::make_shared<logfire::memory_exporter>()};
  auto sdk = logfire::configure(o);  // shuts the first one down: a new ledger
  ASSERT_TRUE(sdk) << sdk.error();
  count(3);
  std::thread([&] { count(4); }).join();
  ASSERT_TRUE(logfire::force_flush());
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, 7u) << st.summary();
  EXPECT_EQ(st.dropped_by(drop_reason::filtered_by_level), 7u) << st.summary();
  expect_accounted(st);
}

namespace {
logfire::options rate_options(std::shared_ptr<logfire::exporter> e, double rate) {
  logfire::options o = quiet_options({std::move(e)});
  o.trace_sample_rate = rate;
  return o;
}
}  // namespace

TEST(head_sampling, rate_zero_records_nothing_and_counts_everything) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  auto lf = logfire::configure(rate_options(mem, 0.0));
  ASSERT_TRUE(lf) << lf.error();
  for (int i = 0; i < 50; ++i) {
    logfire::span s("root {i}", {{"i", i}});
    EXPECT_FALSE(s.is_recording());
    EXPECT_TRUE(s.context().valid());  // ids still flow to children and outgoing requests
    EXPECT_FALSE(s.context().sampled());
    logfire::info("child log");
    logfire::span child("child span");
    EXPECT_EQ(child.context().trace, s.context().trace);
  }
  for (int i = 0; i < 50; ++i) logfire::info("root log");
  EXPECT_TRUE(logfire::force_flush());
  EXPECT_EQ(mem->size(), 0u);
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, 200u);
  EXPECT_EQ(st.exported, 0u);
  // Roots are not sampled; their children follow the parent's decision.
  EXPECT_EQ(st.dropped_by(drop_reason::not_sampled), 100u) << st.summary();
  EXPECT_EQ(st.dropped_total(), 200u) << st.summary();
  expect_accounted(st);
}

TEST(head_sampling, rate_half_keeps_whole_traces_by_trace_id) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  auto lf = logfire::configure(rate_options(mem, 0.5));
  ASSERT_TRUE(lf) << lf.error();
  constexpr int k_traces = 2000;
  for (int i = 0; i < k_traces; ++i) {
    logfire::span s("root {i}", {{"i", i}});
    logfire::info("child {i}", {{"i", i}});
    logfire::span c("child span {i}", {{"i", i}});
  }
  EXPECT_TRUE(logfire::force_flush(std::chrono::seconds(30)));
  const auto recs = mem->records();
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, 3u * k_traces);
  expect_accounted(st);
  EXPECT_EQ(st.exported, recs.size());
  // Binomial(2000, 0.5): 1000 +- 22; [800, 1200] is 9 standard deviations wide.
  const std::size_t roots = count_type(recs, record_type::span) / 2;
  EXPECT_GT(roots, 800u);
  EXPECT_LT(roots, 1200u);
  EXPECT_EQ(st.dropped_by(drop_reason::not_sampled), k_traces - roots) << st.summary();
  // Every kept trace is complete, and passed the ratio test on the low 64 bits.
  std::map<std::string, int> per_trace;
  for (const auto& r : recs) {
    ++per_trace[r.context.trace.to_hex()];
    EXPECT_LT(r.context.trace.lo, 1ULL << 63);
    EXPECT_TRUE(r.context.sampled());
  }
  for (const auto& [trace, n] : per_trace) EXPECT_EQ(n, 3) << trace;
}

TEST(sampler_hook, decides_for_roots_only) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  std::atomic<int> calls{0};
  std::atomic<int> log_calls{0};
  std::atomic<int> errors_seen{0};
  logfire::options o = quiet_options({mem});
  o.sampler = [&](const logfire::sampling_input& in) {
    ++calls;
    if (in.is_log) ++log_calls;
    if (in.level >= level::error) ++errors_seen;
    EXPECT_FALSE(in.parent.valid());
    EXPECT_TRUE(in.trace.valid());
    return in.name.find("health") == std::string_view::npos;
  };
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  for (int i = 0; i < 10; ++i) {
    {
      logfire::span s("GET /health");
      logfire::info("inside health");  // follows its parent: not asked
    }
    {
      logfire::span s("GET /orders");
      logfire::info("inside orders");
    }
    logfire::error("healthcheck failed");
    logfire::info("plain log");
  }
  EXPECT_TRUE(logfire::force_flush());
  EXPECT_EQ(calls.load(), 40);
  EXPECT_EQ(log_calls.load(), 20);
  EXPECT_EQ(errors_seen.load(), 10);
  const auto recs = mem->records();
  EXPECT_EQ(recs.size(), 30u);
  for (const auto& r : recs) EXPECT_EQ(r.name.find("health"), std::string::npos) << r.name;
  const auto st = logfire::stats();
  EXPECT_EQ(st.dropped_by(drop_reason::sampler_hook), 20u) << st.summary();
  EXPECT_EQ(st.produced, 60u);
  expect_accounted(st);
}

TEST(sampler_hook, a_throwing_hook_keeps_the_record) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  logfire::options o = quiet_options({mem});
  o.sampler = [](const logfire::sampling_input&) -> bool { throw std::runtime_error("hook bug"); };
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  logfire::info("kept");
  { logfire::span s("kept span"); }
  EXPECT_TRUE(logfire::force_flush());
  EXPECT_EQ(mem->size(), 2u);
}

TEST(sampler_hook, runs_after_the_ratio) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  std::atomic<int> calls{0};
  logfire::options o = rate_options(mem, 0.0);
  o.sampler = [&](const logfire::sampling_input&) {
    ++calls;
    return true;
  };
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  for (int i = 0; i < 10; ++i) logfire::info("never");
  EXPECT_TRUE(logfire::force_flush());
  EXPECT_EQ(calls.load(), 0);
  EXPECT_EQ(logfire::stats().dropped_by(drop_reason::not_sampled), 10u);
}
