// configure() and the environment: an invalid value is an error naming the variable and the
// value, and changes nothing; options set in code win over the environment; an empty
// variable counts as unset.
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "core/core_support.hpp"
#include "support/scoped_env.hpp"

using namespace core_test;
using logfire::drop_reason;
using logfire::level;

namespace {

// Options that read the environment, with only `e` as exporter. The console is left unset
// (so LOGFIRE_CONSOLE is read) only when asked.
logfire::options env_options(std::shared_ptr<logfire::exporter> e, bool console_from_env = false) {
  logfire::options o = quiet_options({std::move(e)});
  o.read_environment = true;
  if (console_from_env) o.console.enabled.reset();
  return o;
}

}  // namespace

TEST(env, invalid_values_are_named_and_change_nothing) {
  auto active = std::make_shared<logfire::memory_exporter>();
  auto lf = logfire::configure(env_options(active));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);

  struct bad_case {
    const char* name;
    const char* value;
  };
  const bad_case cases[] = {
      {"LOGFIRE_TRACE_SAMPLE_RATE", "abc"},  {"LOGFIRE_MIN_LEVEL", "loud"},
      {"OTEL_BSP_MAX_QUEUE_SIZE", "-1"},     {"LOGFIRE_CONSOLE", "maybe"},
      {"LOGFIRE_TRACE_SAMPLE_RATE", "2"},    {"OTEL_BSP_SCHEDULE_DELAY", "soon"},
      {"LOGFIRE_CONSOLE_COLORS", "rainbow"}, {"LOGFIRE_CONSOLE_SPAN_STYLE", "tree"},
      {"LOGFIRE_CONSOLE_IMMEDIATE", "soon"}, {"LOGFIRE_STACK_TRACES", "deep"},
  };
  std::size_t expected = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.name) + "=" + c.value);
    auto rejected_exporter = std::make_shared<logfire::memory_exporter>();
    {
      scoped_env env(c.name, c.value);
      auto bad = logfire::configure(env_options(rejected_exporter, /*console_from_env=*/true));
      ASSERT_FALSE(bad);
      logfire::shutdown_guard bad_guard(bad);
      EXPECT_FALSE(bad.ok());
      EXPECT_NE(bad.error().find(c.name), std::string::npos) << bad.error();
      EXPECT_NE(bad.error().find(std::string("'") + c.value + "'"), std::string::npos) << bad.error();
    }
    // The configuration in force is untouched.
    EXPECT_TRUE(logfire::is_configured());
    logfire::info("still here");
    ++expected;
    EXPECT_TRUE(logfire::force_flush());
    EXPECT_EQ(active->size(), expected);
    EXPECT_EQ(rejected_exporter->size(), 0u);
  }
  EXPECT_EQ(logfire::stats().produced, expected);
}

TEST(env, invalid_value_without_a_previous_configuration) {
  logfire::shutdown();  // what earlier tests configured
  scoped_env env("LOGFIRE_MIN_LEVEL", "loud");
  auto mem = std::make_shared<logfire::memory_exporter>();
  auto bad = logfire::configure(env_options(mem));
  ASSERT_FALSE(bad);
  logfire::shutdown_guard bad_guard(bad);
  EXPECT_EQ(bad.error(),
            "LOGFIRE_MIN_LEVEL is not a level (trace, debug, info, notice, warn, error, fatal or 1-24): 'loud'");
  EXPECT_FALSE(logfire::is_configured());
}

TEST(env, the_reference_error_text) {
  scoped_env env("LOGFIRE_TRACE_SAMPLE_RATE", "abc");
  auto bad = logfire::configure(env_options(std::make_shared<logfire::memory_exporter>()));
  EXPECT_EQ(bad.error(), "LOGFIRE_TRACE_SAMPLE_RATE is not a number: 'abc'");
  logfire::shutdown_guard bad_guard(bad);
}

TEST(env, environment_applies_when_the_option_is_unset) {
  scoped_env min_level("LOGFIRE_MIN_LEVEL", "warn");
  scoped_env value_limit("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "5");
  auto mem = std::make_shared<logfire::memory_exporter>();
  auto lf = logfire::configure(env_options(mem));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  logfire::info("filtered");
  logfire::warn("kept {v}", {{"v", "0123456789"}});
  auto recs = std::vector<logfire::stored_record>{};
  EXPECT_TRUE(logfire::force_flush());
  recs = mem->records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].string_attr("v"), "01234");
  const auto st = logfire::stats();
  EXPECT_EQ(st.dropped_by(drop_reason::filtered_by_level), 1u);
  expect_accounted(st);
}

TEST(env, sample_rate_from_the_environment) {
  scoped_env rate("LOGFIRE_TRACE_SAMPLE_RATE", "0");
  auto mem = std::make_shared<logfire::memory_exporter>();
  auto lf = logfire::configure(env_options(mem));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  for (int i = 0; i < 10; ++i) logfire::info("never sampled");
  EXPECT_TRUE(logfire::force_flush());
  EXPECT_EQ(mem->size(), 0u);
  EXPECT_EQ(logfire::stats().dropped_by(drop_reason::not_sampled), 10u);
}

TEST(env, options_from_code_win) {
  scoped_env min_level("LOGFIRE_MIN_LEVEL", "error");
  scoped_env rate("LOGFIRE_TRACE_SAMPLE_RATE", "0");
  scoped_env console("LOGFIRE_CONSOLE", "maybe");  // not even parsed: the code set it
  scoped_env value_limit("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "5");
  auto mem = std::make_shared<logfire::memory_exporter>();
  logfire::options o = env_options(mem);
  o.min_level = level::debug;
  o.trace_sample_rate = 1.0;
  o.limits.max_value_length = 100;
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  logfire::debug("debug kept {v}", {{"v", "0123456789"}});
  logfire::trace("trace filtered");
  EXPECT_TRUE(logfire::force_flush());
  auto recs = mem->records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].name, "debug kept {v}");
  EXPECT_EQ(recs[0].string_attr("v"), "0123456789");
  EXPECT_EQ(logfire::stats().dropped_by(drop_reason::filtered_by_level), 1u);
}

TEST(env, empty_variables_count_as_unset) {
  scoped_env min_level("LOGFIRE_MIN_LEVEL", "");
  scoped_env rate("LOGFIRE_TRACE_SAMPLE_RATE", "");
  auto mem = std::make_shared<logfire::memory_exporter>();
  auto lf = logfire::configure(env_options(mem));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  logfire::trace("kept");
  EXPECT_TRUE(logfire::force_flush());
  EXPECT_EQ(mem->size(), 1u);
}

TEST(env, read_environment_false_ignores_it) {
  scoped_env min_level("LOGFIRE_MIN_LEVEL", "loud");
  auto mem = std::make_shared<logfire::memory_exporter>();
  auto lf = logfire::configure(quiet_options({mem}));  // read_environment = false
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  logfire::trace("kept");
  EXPECT_TRUE(logfire::force_flush());
  EXPECT_EQ(mem->size(), 1u);
}

TEST(env, booleans_accept_the_documented_spellings) {
  for (const char* v : {"1", "true", "T", "TRUE", "0", "false", "f", "False"}) {
    SCOPED_TRACE(v);
    scoped_env console("LOGFIRE_CONSOLE", v);
    auto mem = std::make_shared<logfire::memory_exporter>();
    logfire::options o = env_options(mem, /*console_from_env=*/true);
    std::FILE* out = std::tmpfile();
    ASSERT_NE(out, nullptr);
    o.console.output = out;
    o.console.colors = logfire::console_colors::never;
    {
      auto lf = logfire::configure(std::move(o));
      ASSERT_TRUE(lf) << lf.error();
      logfire::shutdown_guard guard(lf);  // flushes the console when the scope ends
      logfire::info("shown?");
    }
    const bool on = v[0] == '1' || v[0] == 't' || v[0] == 'T';
    EXPECT_EQ(std::ftell(out) > 0, on);
    std::fclose(out);
  }
}

TEST(env, console_span_style_and_prompt_mode_from_the_environment) {
  scoped_env style("LOGFIRE_CONSOLE_SPAN_STYLE", "Simple");
  scoped_env immediate("LOGFIRE_CONSOLE_IMMEDIATE", "true");
  scoped_env timestamps("LOGFIRE_CONSOLE_INCLUDE_TIMESTAMP", "false");
  auto mem = std::make_shared<logfire::memory_exporter>();
  logfire::options o = env_options(mem, /*console_from_env=*/true);
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  o.console.output = out;  // a file: prompt mode is on only because the variable says so
  o.console.colors = logfire::console_colors::never;
  {
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard guard(lf);
    {
      logfire::span s("outer");
      logfire::info("inner");
    }
    // Written at the calls, not indented: no flush needed.
    std::rewind(out);
    char buf[64] = {};
    EXPECT_EQ(std::string(buf, std::fread(buf, 1, sizeof buf - 1, out)), "outer\ninner\n");
    std::fseek(out, 0, SEEK_END);
  }
  std::fclose(out);
}

TEST(env, stack_traces_off_from_the_environment) {
  for (const char* value : {"false", "true"}) {
    SCOPED_TRACE(value);
    scoped_env off("LOGFIRE_STACK_TRACES", value);
    auto mem = std::make_shared<logfire::memory_exporter>();
    auto lf = logfire::configure(env_options(mem));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard guard(lf);
    try {
      throw std::runtime_error("declined");
    } catch (const std::exception& e) {
      logfire::exception("charge failed", e);
    }
    ASSERT_TRUE(logfire::force_flush());
    const auto recs = mem->records();
    ASSERT_EQ(recs.size(), 1u);
    ASSERT_EQ(recs[0].events.size(), 1u);
    EXPECT_EQ(recs[0].events[0].find("exception.stacktrace") != nullptr, std::string_view(value) == "true");
  }
}
