#include "time_bound.hpp"

#include <cmath>
#include <cstdlib>
#include <string>

#include "db.hpp"

namespace logfire::backend {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view view) {
  if (view.empty()) return std::nullopt;
  const std::string text(view);  // strtod needs the NUL
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || !std::isfinite(v) || v < 0) return std::nullopt;
  std::string_view unit(end);
  double ms = 0;
  if (unit.empty() || unit == "s") {
    ms = v * 1000;
  } else if (unit == "ms") {
    ms = v;
  } else if (unit == "m" || unit == "min") {
    ms = v * 60'000;
  } else if (unit == "h") {
    ms = v * 3'600'000;
  } else if (unit == "d") {
    ms = v * 86'400'000;
  } else {
    return std::nullopt;
  }
  // At most 100 years, so that every caller can turn the duration into Unix nanoseconds and
  // subtract it from now without overflowing an int64.
  constexpr double max_ms = 100.0 * 365 * 86'400'000;
  if (ms > max_ms) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

namespace {

bool digits(std::string_view t, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > t.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (t[i] < '0' || t[i] > '9') return false;
    out = out * 10 + (t[i] - '0');
  }
  return true;
}

// RFC 3339 (and the stored form): parse_timestamp() reads the date, time and fraction; this
// checks the fields' ranges and reads the zone, which must end the text.
std::optional<std::int64_t> parse_rfc3339(std::string_view t) {
  int y, mo, d, h, mi, s;
  if (t.size() < 19 || !digits(t, 0, 4, y) || !digits(t, 5, 2, mo) || !digits(t, 8, 2, d) || !digits(t, 11, 2, h) ||
      !digits(t, 14, 2, mi) || !digits(t, 17, 2, s) || y < 1970 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
      h > 23 || mi > 59 || s > 60) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  if (pos < t.size() && t[pos] == '.') {
    const std::size_t first = ++pos;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') ++pos;
    if (pos == first || pos - first > 9) return std::nullopt;
  }
  auto ns = parse_timestamp(t.substr(0, pos));
  if (!ns) return std::nullopt;
  std::string_view zone = t.substr(pos);
  if (zone.empty() || zone == "Z" || zone == "z") return ns;
  int oh, om;
  if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || !digits(zone, 1, 2, oh) || zone[3] != ':' ||
      !digits(zone, 4, 2, om) || oh > 23 || om > 59) {
    return std::nullopt;
  }
  const std::int64_t offset_ns = (oh * 3600LL + om * 60LL) * 1'000'000'000LL;
  return zone[0] == '+' ? *ns - offset_ns : *ns + offset_ns;
}

}  // namespace

std::optional<std::int64_t> parse_time_bound(std::string_view text, std::int64_t now_ns) {
  if (text.size() >= 19 && text[4] == '-') return parse_rfc3339(text);
  auto d = parse_duration(text);
  if (!d) return std::nullopt;
  return now_ns - std::chrono::duration_cast<std::chrono::nanoseconds>(*d).count();
}

std::int64_t unix_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace logfire::backend
