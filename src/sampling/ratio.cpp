#include "sampling/ratio.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace logfire::detail {

ratio_sampler::ratio_sampler(double rate) noexcept {
  if (!(rate > 0.0)) {  // 0, negative or NaN
    rate_ = 0.0;
    all_ = false;
    bound_ = 0;
    return;
  }
  if (rate >= 1.0) {
    rate_ = 1.0;
    all_ = true;
    return;
  }
  rate_ = rate;
  all_ = false;
  // For 0 < rate < 1 the largest double is 1 - 2^-53, so rate·2^64 <= 2^64 - 2^11: the product
  // is exact (a power-of-two scaling) and always fits, so the conversion is defined.
  bound_ = static_cast<std::uint64_t>(std::ldexp(rate, 64));
}

namespace {
std::string quoted(std::string_view variable, const char* what, std::string_view text) {
  std::string e(variable);
  e += what;
  e += '\'';
  e += text;
  e += '\'';
  return e;
}
}  // namespace

std::optional<double> parse_sample_rate(std::string_view text, std::string_view variable, std::string& error) {
  std::string_view t = text;
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t' || t.back() == '\n' || t.back() == '\r'))
    t.remove_suffix(1);
  if (!t.empty() && t.front() == '+') t.remove_prefix(1);
  double v = 0;
  const auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || r.ec == std::errc::invalid_argument || r.ptr != t.data() + t.size() || std::isnan(v)) {
    error = quoted(variable, " is not a number: ", text);
    return std::nullopt;
  }
  if (r.ec == std::errc::result_out_of_range || !(v >= 0.0 && v <= 1.0)) {
    error = quoted(variable, " must be between 0 and 1: ", text);
    return std::nullopt;
  }
  return v;
}

std::string validate_sample_rate(double rate, std::string_view option) {
  if (rate >= 0.0 && rate <= 1.0) return {};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", rate);
  return quoted(option, " must be between 0 and 1: ", buf);
}

}  // namespace logfire::detail
