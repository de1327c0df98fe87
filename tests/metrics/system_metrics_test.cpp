// instrument_system_metrics(): Logfire's basic set read from /proc, through a real reader; and
// the /proc parsers on real and malformed text.
#include <sys/sysinfo.h>
#include <unistd.h>

#include "metrics/metrics_support.hpp"
#include "metrics/proc_stats.hpp"

namespace {

using namespace metrics_test;
namespace proc = logfire::detail::proc;

TEST(proc_parsers, cpu_line_of_stat) {
  const auto t = proc::parse_cpu_times("cpu  100 5 50 800 20 3 2 1 7 0\ncpu0 50 2 25 400 10 1 1 0 3 0\nintr 12345\n");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->total, 100u + 5 + 50 + 800 + 20 + 3 + 2 + 1);  // guest is already in user
  EXPECT_EQ(t->idle, 820u);
  // Old kernels print only four fields.
  const auto old = proc::parse_cpu_times("cpu 1 2 3 4\n");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->total, 10u);
  EXPECT_EQ(old->idle, 4u);
}

TEST(proc_parsers, malformed_cpu_lines_are_rejected) {
  EXPECT_FALSE(proc::parse_cpu_times(""));
  EXPECT_FALSE(proc::parse_cpu_times("cpu0 1 2 3 4\n"));                       // no aggregate line
  EXPECT_FALSE(proc::parse_cpu_times("cpu 1 2 x 4\n"));                        // not a number
  EXPECT_FALSE(proc::parse_cpu_times("cpu 1 2 3\n"));                          // too few fields
  EXPECT_FALSE(proc::parse_cpu_times("cpu -1 2 3 4\n"));                       // negative
  EXPECT_FALSE(proc::parse_cpu_times("cpu 99999999999999999999999 2 3 4\n"));  // overflow
  const auto sat = proc::parse_cpu_times("cpu 18446744073709551615 18446744073709551615 0 1\n");
  ASSERT_TRUE(sat);  // sums saturate instead of wrapping
  EXPECT_EQ(sat->total, 18446744073709551615u);
}

TEST(proc_parsers, busy_fraction_between_two_readings) {
  EXPECT_DOUBLE_EQ(*proc::busy_fraction({100, 80}, {200, 155}), 0.25);
  EXPECT_DOUBLE_EQ(*proc::busy_fraction({100, 80}, {200, 80}), 1.0);
  EXPECT_DOUBLE_EQ(*proc::busy_fraction({100, 80}, {200, 180}), 0.0);
  // iowait went back (the kernel allows it): the reading is kept, with no idle time.
  EXPECT_DOUBLE_EQ(*proc::busy_fraction({100, 80}, {110, 79}), 1.0);
  EXPECT_DOUBLE_EQ(*proc::busy_fraction({100, 80}, {110, 200}), 0.0);  // clamped
  EXPECT_FALSE(proc::busy_fraction({100, 80}, {100, 80}));             // no tick passed
  EXPECT_FALSE(proc::busy_fraction({100, 80}, {90, 70}));              // counters went back
}

TEST(proc_parsers, meminfo) {
  const auto m = proc::parse_meminfo(
      "MemTotal:       16000000 kB\nMemFree:  1000 kB\nMemAvailable:    4000000 kB\nSwapTotal: 2000 kB\n"
      "SwapFree: 500 kB\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->total_kb, 16000000u);
  EXPECT_EQ(m->available_kb, 4000000u);
  EXPECT_EQ(m->swap_total_kb, 2000u);
  EXPECT_EQ(m->swap_free_kb, 500u);
  EXPECT_FALSE(proc::parse_meminfo("MemTotal: 100 kB\n"));                      // no MemAvailable
  EXPECT_FALSE(proc::parse_meminfo("MemTotal: 0 kB\nMemAvailable: 0 kB\n"));    // zero total
  EXPECT_FALSE(proc::parse_meminfo("MemTotal: 10 kB\nMemAvailable: 20 kB\n"));  // inconsistent
  EXPECT_FALSE(proc::parse_meminfo("MemTotal: 10 kB\nMemAvailable: 5 kB\nSwapTotal: 1 kB\nSwapFree: 2 kB\n"));
  EXPECT_FALSE(proc::parse_meminfo("garbage"));
}

TEST(proc_parsers, the_real_files_parse) {
  EXPECT_TRUE(proc::parse_cpu_times(proc::read_file("/proc/stat")));
  const auto m = proc::parse_meminfo(proc::read_file("/proc/meminfo"));
  ASSERT_TRUE(m);
  struct sysinfo si {};
  ASSERT_EQ(sysinfo(&si), 0);
  // MemTotal agrees with the kernel's own figure (both in bytes, within rounding to kB).
  const double total = static_cast<double>(si.totalram) * si.mem_unit;
  EXPECT_NEAR(static_cast<double>(m->total_kb) * 1024, total, total * 0.01);
  EXPECT_GT(proc::count_processes(), 0u);
  EXPECT_TRUE(proc::read_file("/nonexistent/file").empty());
}

TEST(system_metrics, the_basic_set_is_reported) {
  reader_fixture r;
  logfire::instrument_system_metrics();
  logfire::instrument_system_metrics();  // idempotent: one set of callbacks
  r.collect();                           // the first round sets the baselines of the utilizations
  const auto before = proc::parse_cpu_times(proc::read_file("/proc/stat"));  // at or after the baseline
  ASSERT_TRUE(before);
  // Burn a little CPU so the process's utilization is above zero, and go on until /proc/stat's
  // counters have moved: they advance in clock ticks, and a collection within the same tick has no
  // interval to report system.cpu.simple_utilization over (bounded: a tick is 1-10 ms).
  volatile double x = 0;
  for (int round = 0; round < 10'000; ++round) {
    for (int i = 0; i < 300'000; ++i) x = x + i * 0.5;
    const auto now = proc::parse_cpu_times(proc::read_file("/proc/stat"));
    ASSERT_TRUE(now);
    if (now->total > before->total) break;  // the collection below reads this value or a later one
  }
  auto b = r.collect();
  for (const char* name : {"process.cpu.utilization", "system.cpu.simple_utilization", "system.memory.utilization",
                           "system.swap.utilization", "system.cpu.load_average.1m", "system.process.count"}) {
    const auto* m = b.find(name);
    ASSERT_NE(m, nullptr) << name;
    ASSERT_EQ(m->points.size(), 1u) << name;
  }
  auto value = [&b](const char* name) { return b.find(name)->points[0].value(); };
  EXPECT_GT(value("process.cpu.utilization"), 0.0);
  EXPECT_LE(value("process.cpu.utilization"), 1.0);
  EXPECT_GE(value("system.cpu.simple_utilization"), 0.0);
  EXPECT_LE(value("system.cpu.simple_utilization"), 1.0);
  EXPECT_GT(value("system.memory.utilization"), 0.0);
  EXPECT_LE(value("system.memory.utilization"), 1.0);
  EXPECT_TRUE(b.find("system.memory.utilization")->points[0].has_attributes({{"state", "available"}}));
  EXPECT_TRUE(b.find("system.swap.utilization")->points[0].has_attributes({{"state", "used"}}));
  EXPECT_GE(value("system.swap.utilization"), 0.0);
  EXPECT_GE(value("system.cpu.load_average.1m"), 0.0);
  EXPECT_GE(value("system.process.count"), 1.0);
  EXPECT_EQ(b.find("system.process.count")->kind, logfire::metric_kind::observable_up_down_counter);
  EXPECT_EQ(b.find("system.memory.utilization")->unit, "1");
  EXPECT_EQ(b.find("process.cpu.utilization")->type, logfire::metric_data_type::gauge);
}

}  // namespace
