// fork() while threads record: the child records without deadlocking on a lock a parent thread
// held, starts from zero (the parent's measurements are the parent's to export), and its own
// reader thread collects; the parent's figures are untouched by the child. A fork never
// deadlocks against a collection whose callback reads stats() or a shutdown() on another thread,
// whichever of configure() and the first instrument registered its fork handlers first (each
// such scenario runs in a fresh process: the handlers' order is set once per process).
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "logfire/config.hpp"
#include "logfire/logfire.hpp"
#include "logfire/memory_exporter.hpp"
#include "metrics/metrics_support.hpp"
#include "support/sanitizers.hpp"

namespace {

using namespace metrics_test;

TEST(metric_fork, the_child_starts_from_zero_and_collects_with_its_own_reader) {
#ifdef LOGFIRE_UNDER_TSAN
  GTEST_SKIP() << "ThreadSanitizer does not support threads after fork()";
#endif
  auto mem = std::make_shared<logfire::memory_metric_exporter>();
  logfire::options o;
  o.console.enabled = false;
  o.read_environment = false;
  o.metrics.exporters = {mem};
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  const std::string cn = unique("fork.counter"), hn = unique("fork.histogram");
  auto c = logfire::metric_counter(cn);
  auto h = logfire::metric_histogram(hn);
  c.add(5);
  // A thread records histogram values the whole time, so the fork may land while it holds its
  // shard's lock.
  std::atomic<bool> stop{false};
  std::thread recorder([&] {
    auto b = h.bind();
    for (int i = 0; !stop.load(std::memory_order_relaxed); ++i) b.record(i % 100);
  });
  std::this_thread::sleep_for(20ms);
  const auto before_fork = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  const pid_t pid = fork();
  ASSERT_NE(pid, -1);
  if (pid == 0) {
    int code = 0;
    mem->clear();
    c.add(2);
    h.record(1.5);  // the recorder's shard lock is not stuck here
    h.bind().record(2.5);
    if (!logfire::force_flush(std::chrono::seconds(10))) code = 1;
    const auto m = mem->last(cn);
    if (!m || m->points.size() != 1 || m->points[0].as_int != 2) code = code ? code : 2;
    const auto hm = mem->last(hn);
    if (!hm || hm->points.size() != 1 || hm->points[0].count != 2) code = code ? code : 3;
    // The child's interval starts at the fork, not at the parent's instruments' creation.
    if (m && m->points.at(0).start_unix_nano < before_fork) code = code ? code : 4;
    std::_Exit(code);
  }
  stop = true;
  recorder.join();
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  ASSERT_TRUE(logfire::force_flush(std::chrono::seconds(10)));
  const auto m = mem->last(cn);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->points.at(0).as_int, 5);  // the child's 2 are not here
  const auto hm = mem->last(hn);
  ASSERT_TRUE(hm);
  EXPECT_GT(hm->points.at(0).count, 0u);
}

TEST(metric_fork, a_fork_during_a_collection_waits_for_it) {
#ifdef LOGFIRE_UNDER_TSAN
  GTEST_SKIP() << "ThreadSanitizer does not support threads after fork()";
#endif
  auto mem = std::make_shared<logfire::memory_metric_exporter>();
  logfire::options o;
  o.console.enabled = false;
  o.read_environment = false;
  o.metrics.exporters = {mem};
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  const std::string name = unique("fork.slow.callback");
  std::atomic<bool> in_callback{false};
  auto reg = logfire::metric_gauge_callback(name, [&](logfire::observer& obs) {
    in_callback = true;
    // Records and creates instruments while the forking thread waits: the fork handlers take
    // the registry's locks only after the collection is over.
    logfire::metric_counter(unique("fork.inside.callback")).add(1);
    std::this_thread::sleep_for(100ms);
    obs.observe(1.0);
  });
  std::thread flusher([] { logfire::force_flush(std::chrono::seconds(10)); });
  while (!in_callback) std::this_thread::yield();
  const pid_t pid = fork();  // while the callback runs
  ASSERT_NE(pid, -1);
  if (pid == 0) {
    mem->clear();
    std::_Exit(logfire::force_flush(std::chrono::seconds(10)) && mem->last(name) ? 0 : 1);
  }
  flusher.join();
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(mem->last(name));
}

// ----- scenarios in a fresh process ----------------------------------------------------------

extern "C" char** environ;

constexpr const char* k_scenario_env = "LOGFIRE_TEST_FORK_SCENARIO";

// Runs this test binary again with only `test` selected and the scenario variable set; fails
// when it does not exit with 0 within 30 s (a deadlock), killing it by its pid then.
void run_scenario(const std::string& test) {
  const std::string filter = "--gtest_filter=metric_fork_scenario." + test;
  const std::string env_var = std::string(k_scenario_env) + "=" + test;
  std::vector<char*> env;
  for (char** e = environ; *e; ++e) env.push_back(*e);
  env.push_back(const_cast<char*>(env_var.c_str()));
  env.push_back(nullptr);
  char exe[] = "/proc/self/exe";
  char* argv[] = {exe, const_cast<char*>(filter.c_str()), nullptr};
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, exe, nullptr, nullptr, argv, env.data()), 0);
  int status = 0;
  pid_t done = 0;
  for (int i = 0; i < 300 && (done = waitpid(pid, &status, WNOHANG)) == 0; ++i) std::this_thread::sleep_for(100ms);
  if (done == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "the scenario '" << test << "' did not finish in 30 s (fork() deadlocked)";
  }
  ASSERT_EQ(done, pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "scenario " << test;
}

bool in_scenario(const char* test) {
  const char* v = std::getenv(k_scenario_env);
  return v && std::string(v) == test;
}

logfire::options periodic_options(std::shared_ptr<logfire::memory_metric_exporter> mem) {
  logfire::options o;
  o.console.enabled = false;
  o.read_environment = false;
  o.exporters = {std::make_shared<logfire::memory_exporter>()};  // the records have an output (no no_exporter loss)
  o.metrics.exporters = {std::move(mem)};
  o.metrics.export_interval = 50ms;  // collections on the reader's thread, holding no configure lock
  return o;
}

// Forks while the reader's thread runs a callback that sleeps and then reads logfire::stats()
// (which takes the records' thread registry lock); returns the child's exit status.
void fork_during_callback(std::atomic<bool>& in_callback, const std::function<void()>& meanwhile = {}) {
  while (!in_callback) std::this_thread::yield();
  std::thread other;
  if (meanwhile) other = std::thread(meanwhile);
  const pid_t pid = fork();
  ASSERT_NE(pid, -1);
  if (pid == 0) std::_Exit(0);
  if (other.joinable()) other.join();
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

logfire::callback_registration slow_stats_callback(std::atomic<bool>& in_callback) {
  return logfire::metric_gauge_callback(unique("fork.scenario.stats"), [&in_callback](logfire::observer& o) {
    in_callback = true;
    std::this_thread::sleep_for(300ms);
    o.observe(static_cast<double>(logfire::stats().produced));
  });
}

TEST(metric_fork, a_callback_reading_stats_does_not_deadlock_a_fork_when_an_instrument_came_first) {
#ifdef LOGFIRE_UNDER_TSAN
  GTEST_SKIP() << "ThreadSanitizer does not support threads after fork()";
#endif
  run_scenario("instrument_first");
}

TEST(metric_fork, a_shutdown_during_a_fork_does_not_deadlock_when_configure_came_first) {
#ifdef LOGFIRE_UNDER_TSAN
  GTEST_SKIP() << "ThreadSanitizer does not support threads after fork()";
#endif
  run_scenario("configure_first");
}

TEST(metric_fork, without_configure_the_metrics_layer_handles_the_fork_itself) {
#ifdef LOGFIRE_UNDER_TSAN
  GTEST_SKIP() << "ThreadSanitizer does not support threads after fork()";
#endif
  run_scenario("without_configure");
}

TEST(metric_fork_scenario, without_configure) {
  if (!in_scenario("without_configure")) GTEST_SKIP() << "runs in its own process";
  // No configure() in this process: only the metrics layer's own handlers run at fork().
  reader_fixture r;
  const std::string cn = unique("fork.alone.counter"), hn = unique("fork.alone.histogram");
  auto c = logfire::metric_counter(cn);
  auto h = logfire::metric_histogram(hn);
  c.add(5);
  std::atomic<bool> stop{false};
  std::atomic<bool> in_callback{false};
  auto reg = logfire::metric_gauge_callback(unique("fork.alone.gauge"), [&in_callback](logfire::observer& o) {
    in_callback = true;
    std::this_thread::sleep_for(100ms);
    o.observe(1.0);
  });
  std::thread recorder([&] {
    auto b = h.bind();
    for (int i = 0; !stop.load(std::memory_order_relaxed); ++i) b.record(i % 100);
  });
  // The fork waits for this collection (the flush itself may give up when the fork begins).
  std::thread collector([&r] { (void)r.reader->force_flush(std::chrono::steady_clock::now() + 10s); });
  while (!in_callback) std::this_thread::yield();
  const pid_t pid = fork();
  ASSERT_NE(pid, -1);
  if (pid == 0) {
    // The recorder's shard lock and the reader's locks are free here; the child's reader thread
    // collects only what the child recorded.
    r.mem->clear();
    c.add(2);
    h.record(1.5);
    const bool flushed = r.reader->force_flush(std::chrono::steady_clock::now() + 10s);
    const auto m = r.mem->last(cn);
    const auto hm = r.mem->last(hn);
    std::_Exit(flushed && m && m->points.at(0).as_int == 2 && hm && hm->points.at(0).count == 1 ? 0 : 1);
  }
  stop = true;
  recorder.join();
  collector.join();
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  reg.remove();
}

TEST(metric_fork_scenario, instrument_first) {
  if (!in_scenario("instrument_first")) GTEST_SKIP() << "runs in its own process";
  // The metrics layer registers its fork handlers before configure() registers the records'.
  auto early = logfire::metric_counter("fork.scenario.early");
  early.add(1);
  auto mem = std::make_shared<logfire::memory_metric_exporter>();
  auto lf = logfire::configure(periodic_options(mem));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  logfire::info("before the fork");
  std::atomic<bool> in_callback{false};
  auto reg = slow_stats_callback(in_callback);
  fork_during_callback(in_callback);
  reg.remove();
  EXPECT_TRUE(logfire::shutdown());
}

TEST(metric_fork_scenario, configure_first) {
  if (!in_scenario("configure_first")) GTEST_SKIP() << "runs in its own process";
  auto mem = std::make_shared<logfire::memory_metric_exporter>();
  auto lf = logfire::configure(periodic_options(mem));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  logfire::info("before the fork");
  std::atomic<bool> in_callback{false};
  auto reg = slow_stats_callback(in_callback);  // the metrics layer's fork handlers come second
  // Another thread shuts down while the fork waits for the collection.
  fork_during_callback(in_callback, [] {
    std::this_thread::sleep_for(50ms);
    EXPECT_TRUE(logfire::shutdown());
  });
  reg.remove();
}

}  // namespace
