// Boolean environment variables all accept the same spellings (one parser): 1/true/t/yes/y/on
// and 0/false/f/no/n/off in any case, and all reject the same others with the same message.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "resource/detect.hpp"
#include "setup/configure_env.hpp"
#include "setup/otlp_destinations.hpp"

namespace {

using logfire::detail::env_lookup;

env_lookup one_variable(std::string name, std::string value) {
  return [name, value](std::string_view n) -> std::optional<std::string> {
    if (n == name) return value;
    return std::nullopt;
  };
}

// Resolves every place that reads `name`, and returns the first error ("" = accepted).
std::string resolve(const std::string& name, const std::string& value) {
  const env_lookup env = one_variable(name, value);
  logfire::options o;
  if (auto err = logfire::detail::resolve_options(o, env); !err.empty()) return err;
  bool flush = false;
  std::chrono::milliseconds grace{};
  if (auto err = logfire::detail::resolve_signal_flush(o, env, flush, grace); !err.empty()) return err;
  std::vector<logfire::detail::otlp_exporter_config> configs;
  std::vector<std::string> notices;
  logfire::detail::resource res;
  res.set("service.name", std::string("env-bool-test"));
  return logfire::detail::resolve_destinations(o, res, env, configs, notices);
}

const char* const k_variables[] = {
    "LOGFIRE_CONSOLE", "LOGFIRE_CONSOLE_INCLUDE_TIMESTAMP", "LOGFIRE_CONSOLE_VERBOSE", "LOGFIRE_SCRUBBING",
    "LOGFIRE_SPOOL",   "LOGFIRE_FLUSH_ON_SIGNAL",           "LOGFIRE_SEND_TO_LOGFIRE", "LOGFIRE_DISTRIBUTED_TRACING"};

}  // namespace

TEST(env_bool, one_parser_for_every_spelling) {
  for (const char* t : {"1", "true", "t", "yes", "y", "on", "TRUE", "Yes", "ON", " on "})
    EXPECT_EQ(logfire::detail::parse_bool_value(t), std::optional<bool>(true)) << t;
  for (const char* f : {"0", "false", "f", "no", "n", "off", "FALSE", "No", "Off"})
    EXPECT_EQ(logfire::detail::parse_bool_value(f), std::optional<bool>(false)) << f;
  for (const char* bad : {"", "2", "maybe", "yess", "enabled", "o"})
    EXPECT_EQ(logfire::detail::parse_bool_value(bad), std::nullopt) << bad;
}

TEST(env_bool, every_boolean_variable_accepts_the_same_spellings) {
  for (const char* name : k_variables) {
    for (const char* value : {"no", "off", "0", "false", "F", "N"})
      EXPECT_EQ(resolve(name, value), "") << name << "=" << value;
  }
  // Spellings of "on" (LOGFIRE_SEND_TO_LOGFIRE=yes needs a token, and says so).
  for (const char* name : k_variables) {
    if (std::string_view(name) == "LOGFIRE_SEND_TO_LOGFIRE") continue;
    for (const char* value : {"yes", "on", "1", "TRUE", "t", "Y"})
      EXPECT_EQ(resolve(name, value), "") << name << "=" << value;
  }
  for (const char* value : {"yes", "on", "1"})
    EXPECT_NE(resolve("LOGFIRE_SEND_TO_LOGFIRE", value).find("there is no token"), std::string::npos) << value;
}

TEST(env_bool, every_boolean_variable_rejects_the_same_way) {
  for (const char* name : k_variables) {
    const std::string err = resolve(name, "maybe");
    EXPECT_NE(err.find(std::string(name) + " "), std::string::npos) << err;
    EXPECT_NE(err.find("true/false, 1/0, yes/no or on/off"), std::string::npos) << err;
    EXPECT_NE(err.find("'maybe'"), std::string::npos) << err;
  }
}
