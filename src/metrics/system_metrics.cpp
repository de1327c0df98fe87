// logfire::instrument_system_metrics(): Logfire's basic set of system metrics as observable
// instruments whose callbacks read /proc (and the process's CPU clock) at each collection, on the
// reader's thread. Utilizations are fractions between 0 and 1 over the time since the previous
// collection, as Logfire's Python SDK reports them.
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>

#include "logfire/metric_callbacks.hpp"
#include "metrics/proc_stats.hpp"

namespace logfire {
namespace {

std::uint64_t process_cpu_nanos() noexcept {
  timespec ts{};
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t monotonic_nanos() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

// What the callbacks remember between collections (they all run on the reader's thread, one at a
// time, so this needs no lock).
struct system_state {
  std::uint64_t process_cpu = process_cpu_nanos();
  std::uint64_t wall = monotonic_nanos();
  std::optional<detail::proc::cpu_times> cpu = detail::proc::parse_cpu_times(detail::proc::read_file("/proc/stat"));
  double cpus = static_cast<double>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
};

void register_all() {
  auto st = std::make_shared<system_state>();
  // The process's CPU time over wall time since the previous collection, divided by the number
  // of CPUs (psutil's cpu_percent() / 100 / cpu_count(), as Logfire reports it).
  metric_gauge_callback(
      "process.cpu.utilization",
      [st](observer& o) {
        const std::uint64_t cpu = process_cpu_nanos();
        const std::uint64_t wall = monotonic_nanos();
        if (wall > st->wall && cpu >= st->process_cpu)
          o.observe(static_cast<double>(cpu - st->process_cpu) / static_cast<double>(wall - st->wall) / st->cpus);
        st->process_cpu = cpu;
        st->wall = wall;
      },
      {.unit = "1", .description = "Runtime CPU utilization"})
      .release();
  // Busy time of all CPUs over total time since the previous collection (/proc/stat).
  metric_gauge_callback(
      "system.cpu.simple_utilization",
      [st](observer& o) {
        const auto now = detail::proc::parse_cpu_times(detail::proc::read_file("/proc/stat"));
        if (!now) return;
        if (st->cpu)
          if (const auto busy = detail::proc::busy_fraction(*st->cpu, *now)) o.observe(*busy);
        st->cpu = now;
      },
      {.unit = "1", .description = "Average CPU usage across all cores, as a fraction between 0 and 1."})
      .release();
  metric_gauge_callback(
      "system.memory.utilization",
      [](observer& o) {
        if (const auto m = detail::proc::parse_meminfo(detail::proc::read_file("/proc/meminfo")))
          o.observe(static_cast<double>(m->available_kb) / static_cast<double>(m->total_kb), {{"state", "available"}});
      },
      {.unit = "1", .description = "System memory utilization"})
      .release();
  metric_gauge_callback("system.swap.utilization",
                        [](observer& o) {
                          if (const auto m = detail::proc::parse_meminfo(detail::proc::read_file("/proc/meminfo")))
                            o.observe(m->swap_total_kb ? static_cast<double>(m->swap_total_kb - m->swap_free_kb) /
                                                             static_cast<double>(m->swap_total_kb)
                                                       : 0.0,
                                      {{"state", "used"}});
                        },
                        {.unit = "1", .description = "System swap utilization"})
      .release();
  metric_gauge_callback("system.cpu.load_average.1m",
                        [](observer& o) {
                          double load[1];
                          if (getloadavg(load, 1) == 1) o.observe(load[0]);
                        },
                        {.unit = "{thread}", .description = "Average CPU load over 1 minute"})
      .release();
  metric_up_down_counter_callback("system.process.count",
                                  [](observer& o) {
                                    if (const std::uint64_t n = detail::proc::count_processes())
                                      o.observe(static_cast<std::int64_t>(n));
                                  },
                                  {.unit = "{process}", .description = "Total number of processes on the system"})
      .release();
}

}  // namespace

void instrument_system_metrics() noexcept {
  static std::once_flag once;
  try {
    std::call_once(once, register_all);
  } catch (...) {
  }
}

}  // namespace logfire
