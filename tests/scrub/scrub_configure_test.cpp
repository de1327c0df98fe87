// Scrubbing options through configure(): an invalid pattern or name fails configure() with a
// message naming it (and changes nothing), the LOGFIRE_SCRUBBING* variables fill what the code
// left unset, and options set in code win.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "logfire/config.hpp"
#include "logfire/logfire.hpp"
#include "setup/configure_env.hpp"

namespace {

logfire::options quiet(logfire::scrubbing_options scrubbing) {
  logfire::options o;
  o.console.enabled = false;
  o.read_environment = false;
  o.scrubbing = std::move(scrubbing);
  return o;
}

// An environment of the given variables only.
logfire::detail::env_lookup env_of(std::vector<std::pair<std::string, std::string>> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    for (const auto& [k, v] : vars)
      if (k == name) return v;
    return std::nullopt;
  };
}

}  // namespace

TEST(configure_scrubbing, rejects_a_pattern_re2_cannot_run_quoting_it) {
  auto lf = logfire::configure(quiet({.extra_patterns = {"(a+)+$", "(?!x)"}}));
  ASSERT_FALSE(lf);
  EXPECT_EQ(lf.error(),
            "options.scrubbing.extra_patterns[1] '(?!x)' is not a pattern RE2 accepts (matching runs in linear time, "
            "so lookarounds and backreferences are not available): invalid perl operator: (?!");
  EXPECT_FALSE(logfire::is_configured());
}

TEST(configure_scrubbing, rejects_an_unknown_disabled_pattern) {
  auto lf = logfire::configure(quiet({.disabled_patterns = {"sessions"}}));
  ASSERT_FALSE(lf);
  EXPECT_EQ(lf.error().rfind("options.scrubbing.disabled_patterns (LOGFIRE_SCRUBBING_DISABLED_PATTERNS): 'sessions' "
                             "is not one of the default patterns",
                             0),
            0u);
}

TEST(configure_scrubbing, accepts_valid_options_and_skips_checks_when_scrubbing_is_off) {
  {
    auto lf = logfire::configure(quiet({.extra_patterns = {"(a+)+$"}, .safe_keys = {"session_id"}}));
    EXPECT_TRUE(lf) << lf.error();
  }
  auto off = logfire::configure(quiet({.enabled = false, .extra_patterns = {"(?=x)"}}));
  EXPECT_TRUE(off) << off.error();
}

TEST(scrubbing_environment, fills_unset_options) {
  logfire::options o;
  const auto err = logfire::detail::resolve_options(
      o, env_of({{"LOGFIRE_SCRUBBING", "false"},
                 {"LOGFIRE_SCRUBBING_SAFE_KEYS", "session_id, browserSessionId,,myapp.*"},
                 {"LOGFIRE_SCRUBBING_DISABLED_PATTERNS", "auth,session"}}));
  ASSERT_EQ(err, "");
  EXPECT_EQ(o.scrubbing.enabled, false);
  EXPECT_EQ(o.scrubbing.safe_keys, (std::vector<std::string>{"session_id", "browserSessionId", "myapp.*"}));
  EXPECT_EQ(o.scrubbing.disabled_patterns, (std::vector<std::string>{"auth", "session"}));
}

TEST(scrubbing_environment, code_wins) {
  logfire::options o;
  o.scrubbing.enabled = true;
  o.scrubbing.safe_keys = {"mine"};
  const auto err = logfire::detail::resolve_options(
      o, env_of({{"LOGFIRE_SCRUBBING", "0"}, {"LOGFIRE_SCRUBBING_SAFE_KEYS", "theirs"}}));
  ASSERT_EQ(err, "");
  EXPECT_EQ(o.scrubbing.enabled, true);
  EXPECT_EQ(o.scrubbing.safe_keys, (std::vector<std::string>{"mine"}));
}

TEST(scrubbing_environment, bad_values_are_named) {
  logfire::options o;
  EXPECT_EQ(logfire::detail::resolve_options(o, env_of({{"LOGFIRE_SCRUBBING", "maybe"}})),
            "LOGFIRE_SCRUBBING is not a boolean (1/true/t or 0/false/f): 'maybe'");
}

TEST(scrubbing_environment, reaches_configure) {
  ::setenv("LOGFIRE_SCRUBBING_DISABLED_PATTERNS", "session,nope", 1);
  logfire::options o = quiet({});
  o.read_environment = true;
  auto lf = logfire::configure(std::move(o));
  ::unsetenv("LOGFIRE_SCRUBBING_DISABLED_PATTERNS");
  ASSERT_FALSE(lf);
  EXPECT_NE(lf.error().find("LOGFIRE_SCRUBBING_DISABLED_PATTERNS): 'nope' is not one of the default patterns"),
            std::string::npos)
      << lf.error();
}
