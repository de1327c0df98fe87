// fork() while other threads hold SDK locks. A producer whose ring overflows sends span
// updates and ends to the side queue (a mutex) and the background thread exports into a slow
// exporter; the main thread forks meanwhile. Every child must get a working SDK: its flush
// succeeds, its shutdown returns, its own ledger balances. (The prepare handler takes every SDK
// lock, so no child inherits one held by a thread that does not exist there.)
#include <sys/wait.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "accounting/accounting_support.hpp"

using namespace accounting_test;

namespace {

// Waits for `pid` for at most `limit`; kills it if it hangs. Its exit code, or -1 when killed.
int wait_for(pid_t pid, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(2ms);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -1;
}

[[noreturn]] void child_main() {
  logfire::info("child");
  const bool flushed = logfire::force_flush(5s);
  const bool shut_down = logfire::shutdown(500ms);
  const auto st = logfire::stats();
  int code = 0;
  if (!flushed) code = 1;
  if (!shut_down) code = code ? code : 2;
  if (st.produced != 1 || st.exported != 1 || !balanced(st)) code = code ? code : 3;
  ::_exit(code);  // the parent's other threads do not exist here: no exit handlers
}

}  // namespace

TEST(fork_locks, children_of_a_process_whose_ring_overflows_work) {
#ifdef LOGFIRE_UNDER_TSAN
  GTEST_SKIP() << "ThreadSanitizer does not support threads after fork()";
#endif
#ifdef LOGFIRE_UNDER_ASAN
  // The producer allocates (side-queue records, span handles) while the main thread forks.
  GTEST_SKIP() << "AddressSanitizer's allocator is not fork-safe here (accounting_support.hpp)";
#endif
  auto slow = std::make_shared<counting_exporter>(std::chrono::microseconds(300));
  logfire::options o = quiet_options({slow});
  o.limits.ring_bytes = 4096;
  o.limits.max_ring_bytes = 4096;  // no growth: the ring fills
  o.batching.max_export_batch_size = 8;
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);

  std::atomic<bool> stop{false};
  std::thread producer([&] {
    std::vector<logfire::span> held;
    for (std::int64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      // Updates come much faster than the background drains this thread's small ring: most
      // take the side queue (a mutex), so a fork often happens while this thread holds it.
      if (i % 2048 == 0) {
        held.clear();  // ends them
        for (int k = 0; k < 8; ++k) held.emplace_back("held {k}", std::initializer_list<logfire::arg>{{"k", k}});
      }
      held[static_cast<std::size_t>(i % 8)].set_attribute("payload", "0123456789abcdef0123456789abcdef");
    }
  });
  std::this_thread::sleep_for(20ms);  // the ring is full: updates and ends take the side queue

  int failed = 0;
  std::string codes;
  for (int k = 0; k < 60 && failed == 0; ++k) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) child_main();
    const int code = wait_for(child, 20s);
    if (code != 0) {
      ++failed;
      codes += " child " + std::to_string(k) + ": " + std::to_string(code);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500 * (k % 3)));
  }
  stop = true;
  producer.join();
  EXPECT_EQ(failed, 0) << "exit codes (-1: hung and killed; 1: flush failed; 2: shutdown failed; 3: ledger)" << codes;
  (void)logfire::shutdown(10s);
  expect_balanced(logfire::stats());
}
