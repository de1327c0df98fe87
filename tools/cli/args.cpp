#include "args.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "backend/time_bound.hpp"

namespace logfire::cli {

args::args(std::string command, std::string usage, std::string description, std::vector<option_spec> options,
           std::size_t max_positionals)
    : command_(std::move(command)),
      usage_(std::move(usage)),
      description_(std::move(description)),
      options_(std::move(options)),
      max_positionals_(max_positionals) {}

// `name` or `name=value` (after the "--"); a value may be the next argument, argv[i + 1].
bool args::take_option(std::string name, int& i, int argc, char** argv, std::string& error) {
  std::optional<std::string> inline_value;
  if (auto eq = name.find('='); eq != std::string::npos) {
    inline_value = name.substr(eq + 1);
    name = name.substr(0, eq);
  }
  auto spec = std::find_if(options_.begin(), options_.end(), [&](const option_spec& o) { return o.name == name; });
  if (spec == options_.end()) {
    error = "unknown option '--" + name + "' for `logfire-cpp " + command_ + "` (see --help)";
    return false;
  }
  if (spec->value_name.empty()) {
    if (inline_value) {
      error = "--" + name + " takes no value";
      return false;
    }
    values_[name] = "1";
  } else if (inline_value) {
    values_[name] = *inline_value;
  } else if (i + 1 < argc) {
    values_[name] = argv[++i];
  } else {
    error = "--" + name + " needs a value (" + spec->value_name + ")";
    return false;
  }
  return true;
}

bool args::parse(int argc, char** argv, int first, std::string& error) {
  bool only_positionals = false;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (only_positionals || a.size() < 2 || a[0] != '-' || a == "-") {
      if (positionals_.size() >= max_positionals_) {
        error = max_positionals_ == 0 ? "`" + command_ + "` takes no arguments, got '" + a + "'"
                                      : "unexpected extra argument '" + a + "'";
        return false;
      }
      positionals_.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positionals = true;
      continue;
    }
    if (a == "-h" || a == "--help") {
      help_ = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      error = "unknown option '" + a + "' (options are spelled --name; see `logfire-cpp " + command_ + " --help`)";
      return false;
    }
    if (!take_option(a.substr(2), i, argc, argv, error)) return false;
  }
  return true;
}

std::optional<std::string> args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string args::help_text() const {
  std::string out = "Usage: logfire-cpp " + command_ + " " + usage_ + "\n\n" + description_ + "\n";
  if (!options_.empty()) out += "\nOptions:\n";
  std::size_t width = 0;
  for (const auto& o : options_)
    width = std::max(width, o.name.size() + (o.value_name.empty() ? 0 : o.value_name.size() + 1));
  for (const auto& o : options_) {
    std::string left = "--" + o.name + (o.value_name.empty() ? "" : " " + o.value_name);
    out += "  " + left + std::string(width + 4 - left.size() + 2, ' ');
    // Continuation lines of a long help text line up under its first line.
    std::string indent(width + 8, ' ');
    std::string text = o.help;
    std::size_t pos = 0;
    while ((pos = text.find('\n', pos)) != std::string::npos) {
      text.insert(pos + 1, indent);
      pos += indent.size() + 1;
    }
    out += text + "\n";
  }
  out += "  -h, --help" + std::string(width + 4 - 8, ' ') + "show this help\n";
  return out;
}

std::optional<std::chrono::milliseconds> parse_duration(const std::string& text) {
  return backend::parse_duration(text);
}

std::optional<std::int64_t> parse_size(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || !std::isfinite(v) || v < 0) return std::nullopt;
  std::string unit(end);
  std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return std::tolower(c); });
  double mult = 1;
  if (unit.empty() || unit == "b") {
    mult = 1;
  } else if (unit == "k" || unit == "kb" || unit == "kib") {
    mult = 1024.0;
  } else if (unit == "m" || unit == "mb" || unit == "mib") {
    mult = 1024.0 * 1024;
  } else if (unit == "g" || unit == "gb" || unit == "gib") {
    mult = 1024.0 * 1024 * 1024;
  } else {
    return std::nullopt;
  }
  double bytes = v * mult;
  if (bytes > 9e18) return std::nullopt;
  return static_cast<std::int64_t>(bytes);
}

std::optional<long long> parse_count(const std::string& text, long long min, long long max) {
  if (text.empty() || text.size() > 18 ||
      !std::all_of(text.begin(), text.end(), [](unsigned char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  long long n = std::stoll(text);
  if (n < min || n > max) return std::nullopt;
  return n;
}

std::optional<int> parse_level(const std::string& text) {
  std::string t = text;
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  static const std::map<std::string, int> names = {{"trace", 1}, {"debug", 5},    {"info", 9},   {"notice", 10},
                                                   {"warn", 13}, {"warning", 13}, {"error", 17}, {"fatal", 21}};
  if (auto it = names.find(t); it != names.end()) return it->second;
  if (!t.empty() && std::all_of(t.begin(), t.end(), [](unsigned char c) { return std::isdigit(c); }) && t.size() < 4) {
    return std::atoi(t.c_str());
  }
  return std::nullopt;
}

}  // namespace logfire::cli
