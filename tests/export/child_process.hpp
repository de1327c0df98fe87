// A forked child for tests about process death: it reads the receiver's port from the parent,
// runs its body, reports "ready" with one byte, then waits for the parent's signal. Fork it
// before this process starts any thread; the child ends with _exit or a signal only.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <thread>

namespace logfire::test {

using namespace std::chrono_literals;

class child_process {
 public:
  template <typename Body>
  explicit child_process(Body body) {
    if (::pipe(to_child_) != 0 || ::pipe(to_parent_) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(to_child_[1]);
      ::close(to_parent_[0]);
      std::uint16_t port = 0;
      if (::read(to_child_[0], &port, sizeof port) != sizeof port) ::_exit(90);
      body(port, [fd = to_parent_[1]] {
        char b = 'r';
        if (::write(fd, &b, 1) != 1) ::_exit(91);
      });
      for (;;) ::pause();  // killed by the parent's signal
    }
    ::close(to_child_[0]);
    ::close(to_parent_[1]);
  }
  ~child_process() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(to_child_[1]);
    ::close(to_parent_[0]);
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  [[nodiscard]] bool started() const { return pid_ > 0; }
  bool send_port(std::uint16_t port) { return ::write(to_child_[1], &port, sizeof port) == sizeof port; }
  // Waits (bounded) for the child's ready byte.
  bool wait_ready(std::chrono::milliseconds timeout) {
    pollfd p{to_parent_[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
    char b = 0;
    return ::read(to_parent_[0], &b, 1) == 1 && b == 'r';
  }
  void signal(int sig) { ::kill(pid_, sig); }
  // Waits (bounded) for the child to end; returns its wait status, or -1 on timeout.
  int wait_exit(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return status;
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int to_child_[2] = {-1, -1};
  int to_parent_[2] = {-1, -1};
};

}  // namespace logfire::test
