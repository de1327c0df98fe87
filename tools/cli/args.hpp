// Command-line parsing for the logfire-cpp subcommands: `--name value`, `--name=value` and
// `--flag`, positional arguments, and a --help text generated from the same option table, so
// the help can never drift from what is parsed.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace logfire::cli {

struct option_spec {
  std::string name;        // without the leading "--"
  std::string value_name;  // empty for a flag
  std::string help;        // states the default and the environment variable, if any
};

class args {
 public:
  args(std::string command, std::string usage, std::string description, std::vector<option_spec> options,
       std::size_t max_positionals = 0);

  // Parses argv[first..argc). Returns false with a message naming the bad argument.
  bool parse(int argc, char** argv, int first, std::string& error);

  [[nodiscard]] const std::string& command() const { return command_; }
  [[nodiscard]] bool help_requested() const { return help_; }
  [[nodiscard]] std::string help_text() const;
  [[nodiscard]] std::optional<std::string> get(const std::string& name) const;
  [[nodiscard]] bool flag(const std::string& name) const { return values_.count(name) > 0; }
  [[nodiscard]] const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  bool take_option(std::string name, int& i, int argc, char** argv, std::string& error);
  std::string command_, usage_, description_;
  std::vector<option_spec> options_;
  std::size_t max_positionals_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positionals_;
  bool help_ = false;
};

// "30s", "15m", "12h", "7d", "250ms", or plain seconds, up to 100 years. nullopt when malformed or longer
// (backend/time_bound.hpp: the JSON API reads durations with the same parser).
[[nodiscard]] std::optional<std::chrono::milliseconds> parse_duration(const std::string& text);
// "64MiB", "64M", "512k", "1G", or plain bytes (k/M/G are powers of 1024). nullopt when malformed.
[[nodiscard]] std::optional<std::int64_t> parse_size(const std::string& text);
// A whole number of ASCII digits within [min, max]; nullopt otherwise (signs, spaces, "12abc").
[[nodiscard]] std::optional<long long> parse_count(const std::string& text, long long min, long long max);
// A Logfire level by name (trace, debug, info, notice, warn, error, fatal) or number.
[[nodiscard]] std::optional<int> parse_level(const std::string& text);

}  // namespace logfire::cli
