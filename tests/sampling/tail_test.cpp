// Tail sampling through the whole SDK: traces buffered on the background thread, kept by level
// or duration (also while still running), a background share decided from the trace id (the
// same in two processes), late spans, pending spans, remote parents, each bound with exact
// counts, head sampling and the Cloud Run default, shutdown. What the backend received is
// decoded by libprotobuf at a real OTLP receiver; the ledger balances in every test.
#include "sampling/tail.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <limits>
#include <thread>

#include "core/core_support.hpp"
#include "logfire/handoff.hpp"
#include "sampling/tail_support.hpp"
#include "support/child_process.hpp"

using namespace tail_test;
using logfire::drop_reason;
using logfire::level;

namespace {

constexpr std::uint64_t k_quarter = std::uint64_t{1} << 62;  // 0.25 · 2^64

// A remote parent with a chosen trace id (sampled), as an incoming traceparent would give.
logfire::span_context remote_parent(std::uint64_t hi, std::uint64_t lo, std::uint8_t flags = 1) {
  logfire::span_context c;
  c.trace = {hi, lo};
  c.span = {0x1234};
  c.flags = flags;
  c.is_remote = true;
  return c;
}

}  // namespace

TEST(tail_sampling, keeps_traces_by_level_and_drops_the_rest_counted_and_explained_once) {
  lt::otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  core_test::stderr_capture err;
  {
    auto lf = logfire::configure(to_receiver(rx, logfire::level_or_duration()));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    {
      logfire::span root("kept root");
      { logfire::span child("kept child"); }
      logfire::warn("kept warning");  // the trace reaches notice: kept
    }
    {
      logfire::span root("error root");
      logfire::span child("error child");
      child.set_level(level::error);
    }
    for (int i = 0; i < 3; ++i) {
      logfire::span root("quiet root");
      { logfire::span child("quiet child"); }
      logfire::info("quiet log");
    }
    logfire::info("outside any trace");  // passes through
    ASSERT_TRUE(logfire::force_flush(10s));
    ASSERT_TRUE(rx.wait_for_spans(6, 10s));
    EXPECT_TRUE(logfire::shutdown(10s));
  }
  const std::string text = err.take();
  const auto spans = rx.spans();
  EXPECT_EQ(named(spans, "kept root"), 1u);
  EXPECT_EQ(named(spans, "kept child"), 1u);
  EXPECT_EQ(named(spans, "kept warning"), 1u);
  EXPECT_EQ(named(spans, "error root"), 1u);
  EXPECT_EQ(named(spans, "error child"), 1u);
  EXPECT_EQ(named(spans, "outside any trace"), 1u);
  EXPECT_EQ(named(spans, "quiet root") + named(spans, "quiet child") + named(spans, "quiet log"), 0u);
  EXPECT_EQ(spans.size(), 6u);
  const auto s = logfire::stats();
  EXPECT_EQ(dropped(s, drop_reason::tail_sampled_out), 9u) << s.summary();
  EXPECT_EQ(dropped(s, drop_reason::not_sampled), 0u);
  expect_identity(s);
  EXPECT_EQ(core_test::occurrences(text, "tail sampling did not keep their trace"), 1u) << text;
}

TEST(tail_sampling, a_long_trace_is_released_before_it_finishes) {
  lt::otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  auto lf = logfire::configure(to_receiver(rx, logfire::level_or_duration(1.0, level::error, 200ms)));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  {
    logfire::span root("long root");
    { logfire::span early("early child"); }
    ASSERT_TRUE(logfire::force_flush(10s));
    EXPECT_EQ(rx.span_count(), 0u);  // buffered
    std::this_thread::sleep_for(250ms);
    // Its start is 250 ms after the trace's first span: the trace is kept at this start.
    { logfire::span late("later child"); }
    ASSERT_TRUE(logfire::force_flush(10s));
    ASSERT_TRUE(rx.wait_for_spans(2, 10s));
    const auto while_running = rx.spans();
    EXPECT_EQ(named(while_running, "early child"), 1u);
    EXPECT_EQ(named(while_running, "later child"), 1u);
    EXPECT_EQ(named(while_running, "long root"), 0u);  // still running
    logfire::info("after the decision");               // straight through
  }
  ASSERT_TRUE(logfire::force_flush(10s));
  ASSERT_TRUE(rx.wait_for_spans(4, 10s));
  EXPECT_EQ(named(rx.spans(), "long root"), 1u);
  EXPECT_EQ(trace_ids(rx.spans()).size(), 1u);
  const auto s = logfire::stats();
  EXPECT_EQ(s.exported, 4u) << s.summary();
  expect_identity(s);
}

TEST(tail_sampling, the_background_rate_is_drawn_from_the_trace_id) {
  lt::otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  auto o = to_receiver(rx, logfire::level_or_duration(1.0, level::error, 1h, 0.25));
  o.sampling.max_traces = 8192;  // a burst of 4000 traces may all start within one pass
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  constexpr int n = 4000;
  for (int i = 0; i < n; ++i) {
    logfire::span root("background root");
    logfire::info("background log");
  }
  ASSERT_TRUE(logfire::force_flush(20s));
  EXPECT_TRUE(logfire::shutdown(10s));
  const auto s = logfire::stats();
  const auto spans = rx.spans();
  // Exactly the traces whose id's low 64 bits are below 0.25·2^64, each whole.
  std::size_t roots = 0;
  for (const auto& sp : spans) {
    EXPECT_LT(trace_lo(sp), k_quarter);
    roots += sp.name() == "background root" ? 1 : 0;
  }
  EXPECT_EQ(named(spans, "background log"), roots);
  // Random ids: about 1000 of 4000 (6 standard deviations either side).
  EXPECT_GT(roots, 835u);
  EXPECT_LT(roots, 1165u);
  EXPECT_EQ(s.exported, 2 * roots);
  EXPECT_EQ(dropped(s, drop_reason::tail_sampled_out), 2u * (n - roots));
  expect_identity(s);
}

// The child half of the determinism test: decides 200 given trace ids and sends what it keeps.
TEST(tail_sampling_child, decides_given_trace_ids) {
  const char* endpoint = std::getenv("TAIL_TEST_CHILD_ENDPOINT");
  if (!endpoint) GTEST_SKIP() << "run by tail_sampling.two_processes_decide_the_same_traces";
  logfire::options o;
  o.console.enabled = false;
  o.read_environment = false;
  o.otlp.endpoint = endpoint;
  o.otlp.spool = false;
  o.sampling = logfire::level_or_duration(1.0, level::error, 1h, 0.3);
  o.sampling.buffer_remote = true;
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  for (std::uint64_t i = 0; i < 200; ++i) {
    logfire::span s("same trace", {}, {.parent = remote_parent(i + 1, (i + 1) * 0x9E3779B97F4A7C15ull)});
  }
  EXPECT_TRUE(logfire::shutdown(10s));
}

TEST(tail_sampling, two_processes_decide_the_same_traces) {
  lt::otlp_receiver here;
  lt::otlp_receiver there;
  ASSERT_TRUE(here.start());
  ASSERT_TRUE(there.start());
  {
    auto o = to_receiver(here, logfire::level_or_duration(1.0, level::error, 1h, 0.3));
    o.sampling.buffer_remote = true;
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    for (std::uint64_t i = 0; i < 200; ++i) {
      logfire::span s("same trace", {}, {.parent = remote_parent(i + 1, (i + 1) * 0x9E3779B97F4A7C15ull)});
    }
    EXPECT_TRUE(logfire::shutdown(10s));
    expect_identity(logfire::stats());
  }
  char exe[4096] = {};
  const ssize_t len = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  ASSERT_GT(len, 0);
  lt::child_process child({exe, "--gtest_filter=tail_sampling_child.decides_given_trace_ids"},
                          lt::test_environment({"TAIL_TEST_CHILD_ENDPOINT=" + there.endpoint()}));
  EXPECT_EQ(child.wait(60s), 0) << child.output() << child.errors();
  const auto mine = trace_ids(here.spans());
  const auto theirs = trace_ids(there.spans());
  EXPECT_GT(mine.size(), 20u);
  EXPECT_LT(mine.size(), 120u);
  EXPECT_EQ(mine, theirs);
}

TEST(tail_sampling, late_spans_get_their_traces_decision) {
  lt::otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  auto lf = logfire::configure(to_receiver(rx, logfire::level_or_duration()));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  logfire::span_context kept_root, dropped_root;
  {
    logfire::span root("kept root");
    kept_root = root.context();
    logfire::warn("keeps it");
  }
  {
    logfire::span root("dropped root");
    dropped_root = root.context();
  }
  ASSERT_TRUE(logfire::force_flush(10s));  // both decided: all their spans ended
  { logfire::span late("late in kept", {}, {.parent = kept_root}); }
  {
    // Meets the criteria, but its trace was decided without it: dropped (docs/sampling.md).
    logfire::span late("late in dropped", {}, {.level = level::error, .parent = dropped_root});
    logfire::error("late log in dropped");
  }
  // A span still open when its root ends holds the buffer: the trace waits for it.
  {
    std::optional<logfire::span> straggler;
    {
      logfire::span root("held root");
      straggler.emplace("straggler", std::initializer_list<logfire::arg>{}, logfire::span_options{.current = false});
    }
    ASSERT_TRUE(logfire::force_flush(10s));
    straggler->set_level(level::warn);  // decides when it ends, after its root
  }
  ASSERT_TRUE(logfire::force_flush(10s));
  ASSERT_TRUE(rx.wait_for_spans(5, 10s));
  const auto spans = rx.spans();
  EXPECT_EQ(spans.size(), 5u);
  EXPECT_EQ(named(spans, "late in kept"), 1u);
  EXPECT_EQ(named(spans, "late in dropped"), 0u);
  EXPECT_EQ(named(spans, "late log in dropped"), 0u);
  EXPECT_EQ(named(spans, "held root"), 1u);
  EXPECT_EQ(named(spans, "straggler"), 1u);
  const auto s = logfire::stats();
  EXPECT_EQ(dropped(s, drop_reason::tail_sampled_out), 3u) << s.summary();  // dropped root, late span, late log
  EXPECT_EQ(s.exported, 5u);
  expect_identity(s);
}

TEST(tail_sampling, pending_spans_are_never_orphaned) {
  lt::otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  auto mem = std::make_shared<logfire::memory_exporter>(true);  // shows pending spans
  auto o = to_receiver(rx, logfire::level_or_duration());
  o.exporters.push_back(mem);
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  for (int i = 0; i < 20; ++i) {
    logfire::span root("root {i}", {{"i", i}});
    logfire::span child("child");
    if (i % 4 == 0) logfire::warn("keeps trace {i}", {{"i", i}});
  }
  ASSERT_TRUE(logfire::force_flush(10s));
  const auto recs = mem->records();
  std::set<std::uint64_t> finished, pending;
  for (const auto& r : recs) {
    if (r.type == logfire::record_type::pending_span)
      pending.insert(r.parent.value);  // a pending span is a child of the span it previews
    else if (r.type == logfire::record_type::span)
      finished.insert(r.context.span.value);
  }
  EXPECT_EQ(finished.size(), 10u);  // 5 kept traces of 2 spans
  EXPECT_EQ(pending, finished);     // each pending span shown has its span, and the other way round
  const auto s = logfire::stats();
  EXPECT_EQ(dropped(s, drop_reason::tail_sampled_out), 30u) << s.summary();
  expect_identity(s);
}

TEST(tail_sampling, remote_parents_pass_through_unless_buffered) {
  for (const bool buffer_remote : {false, true}) {
    SCOPED_TRACE(buffer_remote);
    lt::otlp_receiver rx;
    ASSERT_TRUE(rx.start());
    auto o = to_receiver(rx, logfire::level_or_duration());
    if (buffer_remote) o.sampling.buffer_remote = true;
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    {
      logfire::span server("handler", {}, {.parent = remote_parent(7, 7)});
      logfire::span inner("inner");
      logfire::info("inner log");
    }
    { logfire::span local("local root"); }
    ASSERT_TRUE(logfire::force_flush(10s));
    EXPECT_TRUE(logfire::shutdown(10s));
    const auto spans = rx.spans();
    EXPECT_EQ(named(spans, "handler") + named(spans, "inner") + named(spans, "inner log"), buffer_remote ? 0u : 3u);
    EXPECT_EQ(named(spans, "local root"), 0u);
    const auto s = logfire::stats();
    EXPECT_EQ(dropped(s, drop_reason::tail_sampled_out), buffer_remote ? 4u : 1u) << s.summary();
    expect_identity(s);
  }
}

TEST(tail_sampling, max_traces_decides_the_oldest_early_with_exact_counts) {
  lt::otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  auto o = to_receiver(rx, logfire::level_or_duration());
  o.sampling.max_traces = 3;
  core_test::stderr_capture err;
  {
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    std::vector<logfire::span> roots;
    for (int i = 0; i < 5; ++i) {
      roots.emplace_back("open root", std::initializer_list<logfire::arg>{}, logfire::span_options{.current = false});
      logfire::span child("child", {}, {.parent = roots.back().context()});
    }
    ASSERT_TRUE(logfire::force_flush(10s));
    // Traces 1 and 2 were decided when traces 4 and 5 came: not kept, their child counted.
    auto s = logfire::stats();
    EXPECT_EQ(dropped(s, drop_reason::tail_bound), 2u) << s.summary();
    roots.clear();  // the roots end: 2 more by the remembered decision, 6 sampled out
    ASSERT_TRUE(logfire::force_flush(10s));
    s = logfire::stats();
    EXPECT_EQ(dropped(s, drop_reason::tail_bound), 4u) << s.summary();
    EXPECT_EQ(dropped(s, drop_reason::tail_sampled_out), 6u) << s.summary();
    EXPECT_EQ(s.exported, 0u);
    expect_identity(s);
    EXPECT_TRUE(logfire::shutdown(10s));
  }
  const std::string text = err.take();
  EXPECT_EQ(core_test::occurrences(text, "LOGFIRE_TAIL_MAX_TRACES"), 1u) << text;
  EXPECT_NE(text.find("3 traces"), std::string::npos) << text;
}

TEST(tail_sampling, max_bytes_decides_every_trace_at_once_when_nothing_fits) {
  lt::otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  auto o = to_receiver(rx, logfire::level_or_duration(1.0, level::notice, 5s, 0.0));
  o.sampling.max_bytes = 1;  // no trace fits: each is decided at its first record
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  for (int i = 0; i < 10; ++i) {
    logfire::span root("root");
    logfire::span child("child");
    logfire::info("log");
  }
  {
    logfire::span root("warn root", {}, {.level = level::warn});  // kept at its first record
    logfire::info("log in kept");
  }
  ASSERT_TRUE(logfire::force_flush(10s));
  const auto s = logfire::stats();
  EXPECT_EQ(dropped(s, drop_reason::tail_bound), 30u) << s.summary();
  EXPECT_EQ(dropped(s, drop_reason::tail_sampled_out), 0u) << s.summary();
  EXPECT_EQ(s.exported, 2u);
  EXPECT_LE(logfire::detail::tail_memory_figures().peak_bytes, 1u);
  expect_identity(s);
}

TEST(tail_sampling, max_age_decides_by_the_criteria_so_far_or_drops_by_option) {
  for (const bool drop_on_bound : {false, true}) {
    SCOPED_TRACE(drop_on_bound);
    lt::otlp_receiver rx;
    ASSERT_TRUE(rx.start());
    auto o = to_receiver(rx, logfire::level_or_duration(1.0, level::error, 100ms));
    o.sampling.max_age = 200ms;
    o.sampling.drop_on_bound = drop_on_bound;
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    {
      logfire::span root("waiting root");
      { logfire::span child("done child"); }
      std::this_thread::sleep_for(400ms);  // past max_age: decided with 400 ms of duration so far
      ASSERT_TRUE(logfire::force_flush(10s));
    }
    ASSERT_TRUE(logfire::force_flush(10s));
    EXPECT_TRUE(logfire::shutdown(10s));
    const auto s = logfire::stats();
    EXPECT_EQ(s.exported, drop_on_bound ? 0u : 2u) << s.summary();
    EXPECT_EQ(dropped(s, drop_reason::tail_bound), drop_on_bound ? 2u : 0u) << s.summary();
    expect_identity(s);
  }
}

TEST(tail_sampling, head_sampling_comes_first_and_the_background_rate_cannot_exceed_it) {
  {
    logfire::options bad;
    bad.read_environment = false;
    bad.console.enabled = false;
    bad.sampling = logfire::level_or_duration(0.1, level::notice, 5s, 0.5);
    auto lf = logfire::configure(std::move(bad));
    ASSERT_FALSE(lf);
    logfire::shutdown_guard lf_guard(lf);
    EXPECT_NE(lf.error().find("background rate (0.500000) must be between 0 and the head rate (0.100000)"),
              std::string::npos)
        << lf.error();
  }
  lt::otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  auto lf = logfire::configure(to_receiver(rx, logfire::level_or_duration(0.5, level::notice, 1h, 0.25)));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  for (int i = 0; i < 2000; ++i) {
    logfire::span root("root");
    if (i % 100 == 0) logfire::error("keeps it if the head kept it");
  }
  EXPECT_TRUE(logfire::shutdown(10s));
  const auto s = logfire::stats();
  const auto spans = rx.spans();
  for (const auto& sp : spans) EXPECT_LT(trace_lo(sp), 2 * k_quarter);  // the head kept every one
  EXPECT_GT(dropped(s, drop_reason::not_sampled), 0u);
  EXPECT_GT(dropped(s, drop_reason::tail_sampled_out), 0u);
  EXPECT_EQ(s.exported, spans.size());
  expect_identity(s);
}

TEST(tail_sampling, on_cloud_run_the_platforms_parent_is_buffered_in_the_default_mode) {
  // The platform injects a traceparent into every request; in the default mode it decides
  // nothing, so tail sampling buffers those traces (else it would never apply there).
  ::setenv("K_SERVICE", "shop", 1);
  ::setenv("GCE_METADATA_HOST", "127.0.0.1:1", 1);  // the metadata lookup fails at once
  lt::otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  auto o = to_receiver(rx, logfire::level_or_duration());
  o.read_environment = true;
  {
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    {
      // "not sampled" by the platform's front end, as Cloud Run sends it.
      logfire::attach_context in(
          logfire::header_list{{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"}},
          {.third_party = true});
      logfire::span req("quiet request", {}, {.kind = logfire::span_kind::server});
    }
    {
      logfire::attach_context in(
          logfire::header_list{{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}},
          {.third_party = true});
      logfire::span req("failing request", {}, {.kind = logfire::span_kind::server});
      logfire::error("failed");
    }
    EXPECT_TRUE(logfire::shutdown(10s));
  }
  ::unsetenv("K_SERVICE");
  ::unsetenv("GCE_METADATA_HOST");
  const auto spans = rx.spans();
  EXPECT_EQ(named(spans, "quiet request"), 0u);
  EXPECT_EQ(named(spans, "failing request"), 1u);
  EXPECT_EQ(named(spans, "failed"), 1u);
  const auto s = logfire::stats();
  EXPECT_EQ(dropped(s, drop_reason::tail_sampled_out), 1u) << s.summary();
  EXPECT_EQ(dropped(s, drop_reason::remote_parent_not_sampled), 0u) << s.summary();
  expect_identity(s);
}

TEST(tail_sampling, shutdown_decides_buffered_traces_by_their_records_so_far) {
  lt::otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  auto lf = logfire::configure(to_receiver(rx, logfire::level_or_duration(1.0, level::error, 500ms)));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  logfire::span slow("slow open root", {}, {.current = false});
  { logfire::span child("slow child", {}, {.parent = slow.context()}); }
  std::this_thread::sleep_for(700ms);  // the slow trace is past its duration threshold by now
  logfire::span quiet("quiet open root", {}, {.current = false});
  logfire::info("quiet log", {}, {.parent = quiet.context()});
  EXPECT_FALSE(logfire::shutdown(10s));  // two spans are still open
  const auto spans = rx.spans();
  EXPECT_EQ(named(spans, "slow child"), 1u);
  EXPECT_EQ(named(spans, "quiet log"), 0u);
  const auto s = logfire::stats();
  EXPECT_EQ(dropped(s, drop_reason::tail_sampled_out), 1u) << s.summary();  // the quiet log
  EXPECT_EQ(dropped(s, drop_reason::open_at_shutdown), 2u) << s.summary();  // both roots
  expect_identity(s);
}

TEST(tail_sampling, bounds_come_from_the_environment_and_bad_values_are_named) {
  ::setenv("LOGFIRE_TAIL_MAX_TRACES", "abc", 1);
  {
    logfire::options o;
    o.console.enabled = false;
    o.sampling = logfire::level_or_duration();
    auto lf = logfire::configure(std::move(o));
    ASSERT_FALSE(lf);
    logfire::shutdown_guard lf_guard(lf);
    EXPECT_EQ(lf.error(), "LOGFIRE_TAIL_MAX_TRACES is not a positive integer: 'abc'");
  }
  {
    logfire::options o;
    o.read_environment = false;
    o.console.enabled = false;
    o.trace_sample_rate = 0.5;
    o.sampling.head = 0.25;
    auto lf = logfire::configure(std::move(o));
    ASSERT_FALSE(lf);
    logfire::shutdown_guard lf_guard(lf);
    EXPECT_NE(lf.error().find("options.sampling.head and options.trace_sample_rate"), std::string::npos) << lf.error();
  }
  ::setenv("LOGFIRE_TAIL_MAX_TRACES", "1", 1);
  lt::otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  auto o = to_receiver(rx, logfire::level_or_duration());
  o.read_environment = true;
  {
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    logfire::span a("first", {}, {.current = false});
    logfire::span b("second", {}, {.current = false});  // the first trace is decided now
    a.end();
    b.end();
    EXPECT_TRUE(logfire::shutdown(10s));
  }
  ::unsetenv("LOGFIRE_TAIL_MAX_TRACES");
  const auto s = logfire::stats();
  EXPECT_EQ(dropped(s, drop_reason::tail_bound), 1u) << s.summary();
  EXPECT_EQ(dropped(s, drop_reason::tail_sampled_out), 1u) << s.summary();
  expect_identity(s);
}
