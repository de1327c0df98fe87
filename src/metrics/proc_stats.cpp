#include "metrics/proc_stats.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>

namespace logfire::detail::proc {
namespace {

// The next unsigned decimal number after spaces; false at the end of the line or on anything else.
bool next_number(std::string_view& s, std::uint64_t& out) noexcept {
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  if (i == s.size() || s[i] == '\n') return false;
  const char* begin = s.data() + i;
  const auto [end, ec] = std::from_chars(begin, s.data() + s.size(), out);
  if (ec != std::errc() || end == begin) return false;
  s.remove_prefix(static_cast<std::size_t>(end - s.data()));
  return true;
}

// Adds without wrapping (malformed input may hold huge numbers).
std::uint64_t add_sat(std::uint64_t a, std::uint64_t b) noexcept {
  return a + b < a ? std::numeric_limits<std::uint64_t>::max() : a + b;
}

}  // namespace

std::optional<cpu_times> parse_cpu_times(std::string_view stat) noexcept {
  std::size_t pos = 0;
  while (pos < stat.size()) {
    std::size_t eol = stat.find('\n', pos);
    if (eol == std::string_view::npos) eol = stat.size();
    std::string_view line = stat.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.substr(0, 4) != "cpu ") continue;
    line.remove_prefix(4);
    // user nice system idle iowait irq softirq steal guest guest_nice (at least the first four).
    std::array<std::uint64_t, 10> f{};
    std::size_t n = 0;
    while (n < f.size() && next_number(line, f[n])) ++n;
    if (n < 4) return std::nullopt;
    cpu_times t;
    for (std::size_t i = 0; i < n && i < 8; ++i) t.total = add_sat(t.total, f[i]);
    t.idle = add_sat(f[3], n > 4 ? f[4] : 0);
    if (t.idle > t.total) return std::nullopt;
    return t;
  }
  return std::nullopt;
}

std::optional<double> busy_fraction(const cpu_times& before, const cpu_times& now) noexcept {
  if (now.total <= before.total) return std::nullopt;
  const double total = static_cast<double>(now.total - before.total);
  const double idle = now.idle > before.idle ? static_cast<double>(now.idle - before.idle) : 0.0;
  return std::clamp(1.0 - idle / total, 0.0, 1.0);
}

std::optional<memory_info> parse_meminfo(std::string_view text) noexcept {
  memory_info m;
  bool total = false, available = false;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = line.substr(0, colon);
    std::string_view rest = line.substr(colon + 1);
    std::uint64_t v = 0;
    if (!next_number(rest, v)) continue;
    if (key == "MemTotal") {
      m.total_kb = v;
      total = true;
    } else if (key == "MemAvailable") {
      m.available_kb = v;
      available = true;
    } else if (key == "SwapTotal") {
      m.swap_total_kb = v;
    } else if (key == "SwapFree") {
      m.swap_free_kb = v;
    }
  }
  if (!total || !available || m.total_kb == 0 || m.available_kb > m.total_kb || m.swap_free_kb > m.swap_total_kb)
    return std::nullopt;
  return m;
}

std::string read_file(const char* path, std::size_t max_bytes) {
  std::string out;
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  out.resize(max_bytes);
  std::size_t used = 0;
  while (used < max_bytes) {
    const ssize_t n = ::read(fd, out.data() + used, max_bytes - used);
    if (n <= 0) break;
    used += static_cast<std::size_t>(n);
  }
  ::close(fd);
  out.resize(used);
  return out;
}

std::uint64_t count_processes() noexcept {
  DIR* d = ::opendir("/proc");
  if (!d) return 0;
  std::uint64_t n = 0;
  while (const dirent* e = ::readdir(d)) {
    const char* p = e->d_name;
    if (*p < '1' || *p > '9') continue;
    while (*p >= '0' && *p <= '9') ++p;
    if (*p == '\0') ++n;
  }
  ::closedir(d);
  return n;
}

}  // namespace logfire::detail::proc
