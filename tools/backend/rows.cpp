#include "rows.hpp"

namespace logfire::backend {

std::size_t format_timestamp(std::int64_t unix_ns, char (&out)[32]) {
  if (unix_ns < 0) unix_ns = 0;
  std::int64_t secs = unix_ns / 1'000'000'000;
  auto micros = static_cast<int>((unix_ns % 1'000'000'000) / 1000);
  auto days = secs / 86'400;
  auto rem = static_cast<int>(secs % 86'400);
  // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm): no gmtime, no locale.
  std::int64_t z = days + 719'468;
  std::int64_t era = z / 146'097;
  auto doe = static_cast<unsigned>(z - era * 146'097);
  unsigned yoe = (doe - doe / 1460 + doe / 36'524 - doe / 146'096) / 365;
  std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  unsigned d = doy - (153 * mp + 2) / 5 + 1;
  unsigned m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  auto put = [&](std::size_t pos, std::int64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) {
      out[pos + static_cast<std::size_t>(i)] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
  };
  put(0, y, 4);
  out[4] = '-';
  put(5, m, 2);
  out[7] = '-';
  put(8, d, 2);
  out[10] = ' ';
  put(11, rem / 3600, 2);
  out[13] = ':';
  put(14, (rem / 60) % 60, 2);
  out[16] = ':';
  put(17, rem % 60, 2);
  out[19] = '.';
  put(20, micros, 6);
  out[26] = '\0';
  return 26;
}

std::string format_timestamp(std::int64_t unix_ns) {
  char buf[32];
  return std::string(buf, format_timestamp(unix_ns, buf));
}

}  // namespace logfire::backend
