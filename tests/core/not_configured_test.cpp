// Calls made before configure() are cheap no-ops: nothing recorded, one warning in total (not
// one per call), and each call counted as not_configured. Its own executable: the warning is
// printed once per process, so no other test may instrument anything before this one.
#include <stdexcept>

#include "core/core_support.hpp"

using namespace core_test;
using logfire::drop_reason;

TEST(not_configured, calls_before_configure_are_counted_noops_with_one_warning) {
  ASSERT_FALSE(logfire::is_configured());
  stderr_capture capture;
  for (int i = 0; i < 100; ++i) {
    logfire::span s("before {i}", {{"i", i}});
    EXPECT_FALSE(s.is_recording());
    s.set_attribute("k", 1);
    s.set_level(logfire::level::warn);
    s.add_event("e");
    s.record_exception(std::runtime_error("x"));
    EXPECT_FALSE(logfire::current_span_context().valid());
    logfire::info("log before {i}", {{"i", i}});
    logfire::exception("failed", std::runtime_error("y"));
  }
  EXPECT_TRUE(logfire::force_flush());
  const std::string err = capture.take();
  EXPECT_EQ(occurrences(err, "logfire: "), 1u) << err;
  EXPECT_NE(err.find("configure()"), std::string::npos) << err;

  // Counted: 100 spans and 200 logs, none delivered.
  auto st = logfire::stats();
  EXPECT_EQ(st.produced, 300u) << st.summary();
  EXPECT_EQ(st.dropped_by(drop_reason::not_configured), 300u) << st.summary();
  EXPECT_EQ(st.exported, 0u);

  // configure() afterwards works, and its stats start from zero.
  auto mem = std::make_shared<logfire::memory_exporter>();
  stderr_capture capture2;
  {
    auto lf = logfire::configure(quiet_options({mem}));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard guard(lf);
    logfire::info("after configure");
    EXPECT_TRUE(logfire::force_flush());
    EXPECT_EQ(mem->size(), 1u);
    st = logfire::stats();
    EXPECT_EQ(st.produced, 1u);
    EXPECT_EQ(st.exported, 1u);
    EXPECT_EQ(st.dropped_by(drop_reason::not_configured), 0u);
  }
  // After shutdown: the line says what happened (not "before configure()"), once.
  logfire::info("after shutdown");
  logfire::info("after shutdown again");
  const std::string err2 = capture2.take();
  EXPECT_EQ(occurrences(err2, "before logfire::configure()"), 0u) << err2;
  EXPECT_EQ(occurrences(err2, "after logfire::shutdown()"), 1u) << err2;
  EXPECT_EQ(logfire::stats().dropped_by(drop_reason::not_configured), 2u);
}
