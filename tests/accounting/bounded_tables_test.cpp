// The background thread's tables are bounded, and what does not fit is counted: spans open at
// once (limits.max_open_spans, open_spans_full), and the updates kept for one open span (4 MiB,
// span_updates_lost, with a line saying so). Before, both grew without limit.
#include <mutex>
#include <string>
#include <vector>

#include "accounting/accounting_support.hpp"
#include "pipeline/pipeline.hpp"

using namespace accounting_test;

TEST(bounded_tables, spans_beyond_max_open_spans_are_dropped_counted_and_explained) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  logfire::options o = quiet_options({mem});
  o.limits.max_open_spans = 16;
  stderr_capture capture;
  {
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    std::vector<logfire::span> spans;
    spans.reserve(20);
    for (int i = 0; i < 20; ++i) {
      spans.emplace_back("open {i}", std::initializer_list<logfire::arg>{{"i", i}});
      spans.back().set_attribute("step", i);
    }
    EXPECT_FALSE(logfire::force_flush());  // all 20 starts were read: 4 spans were lost
    spans.clear();                         // ends them
    EXPECT_TRUE(logfire::force_flush());   // nothing lost since
    const auto st = logfire::stats();
    EXPECT_EQ(st.produced, 20u) << st.summary();
    EXPECT_EQ(st.exported, 16u) << st.summary();
    EXPECT_EQ(mem->size(), 16u);
    EXPECT_EQ(dropped_named(st, "open_spans_full"), 4u) << st.summary();
    // The updates of the 4 dropped spans had nowhere to go.
    EXPECT_EQ(st.count_of(logfire::event_counter::span_updates_lost), 4u) << st.summary();
    expect_balanced(st);
  }
  const std::string err = capture.take();
  EXPECT_EQ(occurrences(err, "(open_spans_full)"), 1u) << err;
  EXPECT_NE(err.find("options.limits.max_open_spans"), std::string::npos) << err;
}

// A leaf span (its end follows its start in the thread's ring, with nothing between) is built
// straight from the ring: it takes no entry in the open-span table, so long-lived spans that
// fill the table do not make it drop their children.
TEST(bounded_tables, leaf_spans_take_no_room_in_the_open_span_table) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  logfire::options o = quiet_options({mem});
  o.limits.max_open_spans = 2;
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  logfire::span_context handler_context;
  {
    // The background thread waits until every record is in the ring, so that it never reads a
    // leaf's start without its end (a span still open needs an entry like any other).
    std::lock_guard hold(logfire::detail::consumer_mutex());
    logfire::span request("request");
    logfire::span handler("handler");
    handler_context = handler.context();
    for (int i = 0; i < 50; ++i) logfire::span query("query {i}", {{"i", i}});
  }
  ASSERT_TRUE(logfire::force_flush()) << logfire::stats().summary();
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, 52u) << st.summary();
  EXPECT_EQ(st.exported, 52u) << st.summary();
  EXPECT_EQ(dropped_named(st, "open_spans_full"), 0u) << st.summary();
  expect_balanced(st);
  const auto recs = mem->records();
  ASSERT_EQ(recs.size(), 52u);
  int queries = 0;
  for (const auto& r : recs) {
    if (!r.name.starts_with("query")) continue;
    EXPECT_EQ(r.message, "query " + std::to_string(int_attr(r, "i")));
    EXPECT_EQ(r.parent.value, handler_context.span.value);
    EXPECT_EQ(r.context.trace.hi, handler_context.trace.hi);
    EXPECT_EQ(r.context.trace.lo, handler_context.trace.lo);
    EXPECT_LE(r.start_unix_nano, r.end_unix_nano);
    ++queries;
  }
  EXPECT_EQ(queries, 50);
}

TEST(bounded_tables, updates_of_one_open_span_are_bounded_and_the_excess_counted_and_explained) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  stderr_capture capture;
  {
    auto lf = logfire::configure(quiet_options({mem}));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    const std::string value(16000, 'v');
    {
      logfire::span s("long lived");
      // 400 updates of 16 kB: 6.4 MB for one span, more than the 4 MiB kept per open span. The
      // flushes keep the ring from filling, so every update reaches the background thread.
      for (int i = 0; i < 400; ++i) {
        s.set_attribute("payload", value);
        if (i % 20 == 19) (void)logfire::force_flush();
      }
    }
    ASSERT_TRUE(logfire::force_flush()) << logfire::stats().summary();
    const auto st = logfire::stats();
    EXPECT_EQ(st.exported, 1u) << st.summary();
    const auto lost = st.count_of(logfire::event_counter::span_updates_lost);
    EXPECT_GT(lost, 100u) << st.summary();
    EXPECT_LT(lost, 200u) << st.summary();
    expect_balanced(st);
  }
  // The span arrived without some of its updates: one line says so, and why.
  const std::string err = capture.take();
  EXPECT_EQ(occurrences(err, "(span_updates_lost)"), 1u) << err;
  EXPECT_NE(err.find("more than 4 MiB of updates"), std::string::npos) << err;
}

// The open-span table reuses the entries of ended spans (no allocation per span): a reused
// entry carries nothing of the span it held before, whether its updates were small or over the
// size kept for reuse.
TEST(bounded_tables, an_open_span_entry_reused_carries_nothing_of_its_previous_span) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  auto lf = logfire::configure(quiet_options({mem}));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  const std::string big(8000, 'b');
  for (int i = 0; i < 300; ++i) {  // more spans than entries kept for reuse
    {
      logfire::span with("with updates {i}", {{"i", i}});
      with.set_attribute("only_here", i);
      if (i % 7 == 0) with.set_attribute("big", big);
      with.set_level(logfire::level::warn);
    }
    logfire::span without("without updates {i}", {{"i", i}});
  }
  ASSERT_TRUE(logfire::force_flush()) << logfire::stats().summary();
  const auto recs = mem->records();
  ASSERT_EQ(recs.size(), 600u) << logfire::stats().summary();
  for (const auto& r : recs) {
    if (r.name.starts_with("without")) {
      EXPECT_EQ(r.find("only_here"), nullptr) << r.name;
      EXPECT_EQ(r.find("big"), nullptr) << r.name;
      EXPECT_EQ(r.level, logfire::level::info) << r.name;
    } else {
      EXPECT_EQ(int_attr(r, "only_here"), int_attr(r, "i")) << r.name;
      EXPECT_EQ(r.level, logfire::level::warn) << r.name;
    }
  }
  expect_balanced(logfire::stats());
}
