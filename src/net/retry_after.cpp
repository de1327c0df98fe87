// Retry-After (RFC 9110, section 10.2.3): delta-seconds or an HTTP date. Transport-independent.
#include <algorithm>
#include <cstring>
#include <ctime>

#include "net/http_transport.hpp"
#include "text/ascii.hpp"

namespace logfire::detail {
namespace {

using ascii::iequals;
using ascii::trim;

int month_index(std::string_view m) noexcept {
  static constexpr std::string_view names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                               "jul", "aug", "sep", "oct", "nov", "dec"};
  for (int i = 0; i < 12; ++i)
    if (iequals(m, names[i])) return i;
  return -1;
}

bool parse_int(std::string_view s, int& out) noexcept {
  if (s.empty() || s.size() > 9) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

bool parse_clock(std::string_view s, std::tm& tm) noexcept {
  if (s.size() != 8 || s[2] != ':' || s[5] != ':') return false;
  return parse_int(s.substr(0, 2), tm.tm_hour) && parse_int(s.substr(3, 2), tm.tm_min) &&
         parse_int(s.substr(6, 2), tm.tm_sec);
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now) noexcept {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 9) return std::chrono::milliseconds(std::chrono::hours(24 * 365));
    int secs = 0;
    parse_int(value, secs);
    return std::chrono::milliseconds(std::chrono::seconds(secs));
  }
  // Split on spaces, commas and dashes: every HTTP date form becomes a list of tokens.
  std::string_view tok[8];
  int n = 0;
  std::size_t i = 0;
  while (i < value.size() && n < 8) {
    while (i < value.size() && (value[i] == ' ' || value[i] == ',' || value[i] == '-')) ++i;
    std::size_t start = i;
    while (i < value.size() && value[i] != ' ' && value[i] != ',' && value[i] != '-') ++i;
    if (i > start) tok[n++] = value.substr(start, i - start);
  }
  std::tm tm{};
  int year = 0;
  bool ok = false;
  if (n == 6 && iequals(tok[5], "GMT")) {
    // IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT" or RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT".
    ok = parse_int(tok[1], tm.tm_mday) && (tm.tm_mon = month_index(tok[2])) >= 0 && parse_int(tok[3], year) &&
         parse_clock(tok[4], tm);
    if (ok && tok[3].size() == 2) year += year < 70 ? 2000 : 1900;
  } else if (n == 5) {
    // asctime "Sun Nov  6 08:49:37 1994".
    ok = (tm.tm_mon = month_index(tok[1])) >= 0 && parse_int(tok[2], tm.tm_mday) && parse_clock(tok[3], tm) &&
         parse_int(tok[4], year);
  }
  if (!ok || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
    return std::nullopt;
  tm.tm_year = year - 1900;
  std::time_t at = timegm(&tm);
  if (at == static_cast<std::time_t>(-1)) return std::nullopt;
  auto wait = std::chrono::system_clock::from_time_t(at) - now;
  if (wait < std::chrono::system_clock::duration::zero()) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(wait);
}

}  // namespace logfire::detail
