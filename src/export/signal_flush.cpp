// SIGTERM / SIGINT flush (see signal_flush.hpp). The handler runs on whatever thread the
// kernel picks and does only async-signal-safe things: getpid, write, sigaction, raise.
// Everything else happens on the flush thread, which is created with every signal blocked.
#include "export/signal_flush.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <mutex>
#include <thread>

namespace logfire::detail {
namespace {

constexpr int k_signals[] = {SIGTERM, SIGINT};

// Read by the handler: plain atomics (lock-free) and sigactions written before the handler is
// installed and never while it is.
std::atomic<int> g_pipe_wr{-1};
std::atomic<pid_t> g_owner{0};        // the process that installed (a forked child is not it)
std::atomic<bool> g_flushing{false};  // a signal is being handled: the next one acts at once
struct sigaction g_prev[2];

int slot(int signo) noexcept {
  return signo == SIGTERM ? 0 : 1;
}

void take_normal_effect(int signo) noexcept {
  ::sigaction(signo, &g_prev[slot(signo)], nullptr);
  ::raise(signo);
}

extern "C" void on_signal(int signo) {
  const int saved_errno = errno;
  const int fd = g_pipe_wr.load();
  if (fd < 0 || g_owner.load() != ::getpid() || g_flushing.exchange(true)) {
    // Not ours to flush (a forked child, or uninstalled meanwhile), or a second signal while
    // flushing: the signal acts now as it would have without us.
    take_normal_effect(signo);
  } else {
    auto b = static_cast<unsigned char>(signo);
    if (::write(fd, &b, 1) != 1) take_normal_effect(signo);
  }
  errno = saved_errno;
}

struct installed {
  int pipe_rd = -1;
  int pipe_wr = -1;
  std::thread thread;
};

std::mutex g_mu;  // install / uninstall
installed* g_installed = nullptr;

void flush_thread_main(int rd, signal_flush_function flush, std::chrono::milliseconds grace) {
  for (;;) {
    unsigned char b = 0;
    ssize_t r = ::read(rd, &b, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r != 1 || b == 0) return;  // uninstall
    const int signo = b;
    try {
      flush(grace);
    } catch (...) {
      // a flush that throws must not keep the signal from taking effect
    }
    // Let the signal take its normal effect: with the previous disposition restored, raise it
    // on this thread (unblocked for the moment), which usually ends the process here.
    struct sigaction ours {};
    ::sigaction(signo, &g_prev[slot(signo)], &ours);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, signo);
    ::raise(signo);  // pending until unblocked just below
    ::pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
    ::pthread_sigmask(SIG_BLOCK, &one, nullptr);
    // Still alive: the previous disposition ignored or handled it. Handle the next one again.
    ::sigaction(signo, &ours, nullptr);
    g_flushing.store(false);
  }
}

}  // namespace

bool install_signal_flush(signal_flush_function flush, std::chrono::milliseconds grace) noexcept {
  std::lock_guard lock(g_mu);
  if (g_installed != nullptr || !flush) return false;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  auto* st = new (std::nothrow) installed{fds[0], fds[1], {}};
  if (st == nullptr) {
    ::close(fds[0]);
    ::close(fds[1]);
    return false;
  }
  // The flush thread must never run the handler itself, except when it re-raises on purpose.
  sigset_t all;
  sigset_t old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  try {
    st->thread = std::thread(flush_thread_main, fds[0], std::move(flush), grace);
  } catch (...) {
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    ::close(fds[0]);
    ::close(fds[1]);
    delete st;
    return false;
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);

  g_pipe_wr.store(fds[1]);
  g_owner.store(::getpid());
  g_flushing.store(false);
  struct sigaction sa {};
  sa.sa_handler = &on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // the application's interrupted system calls carry on
  for (int s : k_signals) ::sigaction(s, &sa, &g_prev[slot(s)]);
  g_installed = st;
  return true;
}

void uninstall_signal_flush() noexcept {
  std::lock_guard lock(g_mu);
  installed* st = g_installed;
  if (st == nullptr) return;
  for (int s : k_signals) ::sigaction(s, &g_prev[slot(s)], nullptr);
  g_pipe_wr.store(-1);
  unsigned char stop = 0;
  ssize_t w = 0;
  do {
    w = ::write(st->pipe_wr, &stop, 1);
  } while (w < 0 && errno == EINTR);
  if (st->thread.joinable()) st->thread.join();
  ::close(st->pipe_rd);
  ::close(st->pipe_wr);
  delete st;
  g_installed = nullptr;
}

bool signal_flush_installed() noexcept {
  std::lock_guard lock(g_mu);
  return g_installed != nullptr;
}

}  // namespace logfire::detail
