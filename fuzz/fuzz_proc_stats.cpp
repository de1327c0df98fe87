// The /proc parsers of the system metrics on arbitrary text. Beyond "no crash": what
// parse_cpu_times accepts is consistent (idle within total), and what parse_meminfo accepts is too
// (available within total, swap free within swap total); written back in the kernel's format, it
// parses to the same figures.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "metrics/proc_stats.hpp"

namespace proc = logfire::detail::proc;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (const auto t = proc::parse_cpu_times(text)) {
    if (t->idle > t->total) std::abort();
  }
  if (const auto m = proc::parse_meminfo(text)) {
    if (m->available_kb > m->total_kb || m->swap_free_kb > m->swap_total_kb || m->total_kb == 0) std::abort();
    const std::string again = "MemTotal: " + std::to_string(m->total_kb) +
                              " kB\nMemAvailable: " + std::to_string(m->available_kb) +
                              " kB\nSwapTotal: " + std::to_string(m->swap_total_kb) +
                              " kB\nSwapFree: " + std::to_string(m->swap_free_kb) + " kB\n";
    const auto m2 = proc::parse_meminfo(again);
    if (!m2 || m2->total_kb != m->total_kb || m2->available_kb != m->available_kb ||
        m2->swap_total_kb != m->swap_total_kb || m2->swap_free_kb != m->swap_free_kb)
      std::abort();
  }
  return 0;
}
