// Parsers for the Linux /proc files the system metrics read (/proc/stat's cpu line,
// /proc/meminfo). The text comes from outside the process: each parser takes a bounded view,
// never throws, and rejects what it does not understand rather than guess.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace logfire::detail::proc {

// Jiffies of the aggregate "cpu" line of /proc/stat.
struct cpu_times {
  std::uint64_t total = 0;  // every field except guest and guest_nice (already in user and nice)
  std::uint64_t idle = 0;   // idle + iowait
};

// The first line starting with "cpu " in `stat` (the file's text).
std::optional<cpu_times> parse_cpu_times(std::string_view stat) noexcept;

// The busy share of the CPUs' time between two readings, between 0 and 1; nullopt when no tick
// passed between them (or the counters went back: another boot's file, a restored container).
// The kernel's iowait may decrease between readings (Documentation/filesystems/proc.rst), so an
// idle time that went back counts as no idle time rather than losing the reading.
std::optional<double> busy_fraction(const cpu_times& before, const cpu_times& now) noexcept;

struct memory_info {
  std::uint64_t total_kb = 0;
  std::uint64_t available_kb = 0;
  std::uint64_t swap_total_kb = 0;
  std::uint64_t swap_free_kb = 0;
};

// MemTotal, MemAvailable, SwapTotal and SwapFree from /proc/meminfo's text; nullopt when
// MemTotal or MemAvailable is missing or malformed (kernels before 3.14 lack MemAvailable).
std::optional<memory_info> parse_meminfo(std::string_view meminfo) noexcept;

// Reads at most `max_bytes` of a file (the /proc files are small: 64 KiB is plenty). Empty when
// the file cannot be read.
std::string read_file(const char* path, std::size_t max_bytes = 64 * 1024);

// Processes on the system: the numeric entries of /proc (0 when /proc cannot be read).
std::uint64_t count_processes() noexcept;

}  // namespace logfire::detail::proc
