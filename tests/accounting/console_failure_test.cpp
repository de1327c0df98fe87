// The console when it is the only output (no token, no endpoint: the default): a record it
// could not write, or did not print, is not "exported". Writes to /dev/full fail with ENOSPC,
// like a full disk or a closed pipe behind stdout.
#include <cstdio>
#include <string>

#include "accounting/accounting_support.hpp"

using namespace accounting_test;

namespace {

logfire::options console_only(std::FILE* out) {
  logfire::options o;
  o.console.enabled = true;
  o.console.output = out;
  o.console.colors = logfire::console_colors::never;
  o.read_environment = false;
  return o;
}

}  // namespace

TEST(console_failure, failed_console_writes_are_dropped_and_explained) {
  std::FILE* full = std::fopen("/dev/full", "w");
  ASSERT_NE(full, nullptr);
  stderr_capture capture;
  {
    auto lf = logfire::configure(console_only(full));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    for (int i = 0; i < 10; ++i) logfire::info("lost line {i}", {{"i", i}});
    EXPECT_FALSE(logfire::force_flush());  // nothing reached the only output
    const auto st = logfire::stats();
    EXPECT_EQ(st.produced, 10u);
    EXPECT_EQ(st.exported, 0u) << st.summary();
    EXPECT_EQ(dropped_named(st, "console_write_failed"), 10u) << st.summary();
    expect_balanced(st);
  }
  const std::string err = capture.take();
  EXPECT_EQ(occurrences(err, "(console_write_failed)"), 1u) << err;
  EXPECT_NE(err.find("No space left on device"), std::string::npos) << err;
  std::fclose(full);
}

TEST(console_failure, a_failing_console_next_to_a_destination_loses_nothing) {
  std::FILE* full = std::fopen("/dev/full", "w");
  ASSERT_NE(full, nullptr);
  auto mem = std::make_shared<logfire::memory_exporter>();
  logfire::options o = console_only(full);
  o.exporters = {mem};
  {
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    for (int i = 0; i < 10; ++i) logfire::info("line {i}", {{"i", i}});
    EXPECT_TRUE(logfire::force_flush());  // the console is only a view here
    const auto st = logfire::stats();
    EXPECT_EQ(st.exported, 10u) << st.summary();
    EXPECT_EQ(st.dropped_total(), 0u) << st.summary();
    expect_balanced(st);
  }
  std::fclose(full);
}

TEST(console_failure, records_the_console_does_not_print_are_not_exported) {
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  logfire::options o = console_only(out);
  o.console.min_level = logfire::level::warn;
  stderr_capture capture;
  {
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    logfire::info("not shown");
    logfire::debug("not shown either");
    logfire::warn("shown");
    { logfire::span s("shown span", {}, {.level = logfire::level::error}); }
    EXPECT_TRUE(logfire::force_flush());  // a deliberate filter, like min_level
    const auto st = logfire::stats();
    EXPECT_EQ(st.exported, 2u) << st.summary();
    EXPECT_EQ(dropped_named(st, "below_console_level"), 2u) << st.summary();
    expect_balanced(st);
  }
  const std::string err = capture.take();
  EXPECT_EQ(occurrences(err, "(below_console_level)"), 1u) << err;
  EXPECT_NE(err.find("LOGFIRE_CONSOLE_MIN_LOG_LEVEL"), std::string::npos) << err;
  std::fclose(out);
}

TEST(console_failure, with_no_output_at_all_nothing_is_called_exported) {
  logfire::options o;
  o.console.enabled = false;
  o.read_environment = false;
  stderr_capture capture;
  {
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    logfire::info("nowhere");
    EXPECT_FALSE(logfire::force_flush());
    const auto st = logfire::stats();
    EXPECT_EQ(st.exported, 0u) << st.summary();
    EXPECT_EQ(dropped_named(st, "no_exporter"), 1u) << st.summary();
    expect_balanced(st);
  }
  const std::string err = capture.take();
  EXPECT_EQ(occurrences(err, "(no_exporter)"), 1u) << err;
}

// Prompt mode (console_options::immediate): lines are written at the call; the ledger still
// counts each record once, by what that write did.
TEST(console_failure, prompt_mode_failed_writes_are_counted_once) {
  std::FILE* full = std::fopen("/dev/full", "w");
  ASSERT_NE(full, nullptr);
  std::setvbuf(full, nullptr, _IONBF, 0);
  logfire::options o = console_only(full);
  o.console.immediate = true;
  stderr_capture capture;
  {
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    for (int i = 0; i < 10; ++i) logfire::info("lost line {i}", {{"i", i}});
    { logfire::span s("lost span"); }
    EXPECT_FALSE(logfire::force_flush());
    const auto st = logfire::stats();
    EXPECT_EQ(st.produced, 11u);
    EXPECT_EQ(st.exported, 0u) << st.summary();
    EXPECT_EQ(dropped_named(st, "console_write_failed"), 11u) << st.summary();
    expect_balanced(st);
  }
  EXPECT_EQ(occurrences(capture.take(), "(console_write_failed)"), 1u);
  std::fclose(full);
}

TEST(console_failure, prompt_mode_records_below_the_console_level_are_counted_once) {
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  logfire::options o = console_only(out);
  o.console.min_level = logfire::level::warn;
  o.console.immediate = true;
  o.console.include_timestamps = false;
  stderr_capture capture;
  {
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    {
      logfire::span quiet("quiet span", {}, {.level = logfire::level::debug});
      logfire::info("not shown");
      logfire::warn("shown");
    }
    { logfire::span s("shown span", {}, {.level = logfire::level::error}); }
    EXPECT_TRUE(logfire::force_flush());
    const auto st = logfire::stats();
    EXPECT_EQ(st.exported, 2u) << st.summary();
    EXPECT_EQ(dropped_named(st, "below_console_level"), 2u) << st.summary();
    expect_balanced(st);
  }
  std::rewind(out);
  char buf[256] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, out);
  EXPECT_EQ(std::string(buf, n), "  shown\nshown span\n");
  std::fclose(out);
}
