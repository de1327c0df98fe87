// fork() while threads record: the child records without deadlocking on a lock a parent thread
// held, starts from zero (the parent's measurements are the parent's to export), and its own
// reader thread collects; the parent's figures are untouched by the child.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "logfire/config.hpp"
#include "metrics/metrics_support.hpp"

namespace {

using namespace metrics_test;

#if defined(__SANITIZE_THREAD__)
#define LOGFIRE_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LOGFIRE_UNDER_TSAN 1
#endif
#endif

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

}  // namespace
