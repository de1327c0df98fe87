// A program under test run as its own process, the way a platform runs it: its own environment,
// stdout and stderr into files the test reads, a "listening on http://HOST:PORT" line to wait
// for, SIGTERM to stop it. Killed (SIGKILL) if still running when the test lets go of it.
//
//   logfire::test::child_process svc({SERVICE_EXE, "--host", "127.0.0.1"},
//                                    logfire::test::test_environment({"PORT=0", "K_SERVICE=shop"}));
//   ASSERT_GT(svc.wait_for_port(), 0) << svc.output();
//   ... requests to 127.0.0.1:svc.port() ...
//   EXPECT_EQ(svc.terminate(), 0);  // SIGTERM, then the exit status
//
// Thread model: construct, query and destroy from one test thread. The environment is prepared
// before fork(): the child only redirects and execs (other threads of the test may be running).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern char** environ;

namespace logfire::test {

// This process's environment without the variables that configure the SDK or name a platform
// (LOGFIRE_*, OTEL_*, K_*, CLOUD_RUN_*, GCE_METADATA_HOST, PORT and the like), plus `extra`
// ("NAME=value" each): what a test's child sees, whatever the developer's shell exports.
inline std::vector<std::string> test_environment(std::initializer_list<std::string> extra = {}) {
  static constexpr std::string_view dropped_prefixes[] = {"LOGFIRE_",
                                                          "OTEL_",
                                                          "K_",
                                                          "CLOUD_RUN_",
                                                          "FUNCTION_",
                                                          "GAE_",
                                                          "GOOGLE_CLOUD_PROJECT=",
                                                          "GCP_PROJECT=",
                                                          "GCLOUD_PROJECT=",
                                                          "GCE_METADATA_HOST=",
                                                          "PORT=",
                                                          "AWS_LAMBDA_",
                                                          "WEBSITE_",
                                                          "KUBERNETES_",
                                                          "FLY_",
                                                          "DYNO=",
                                                          "FLUSH_AFTER_EACH_REQUEST="};
  std::vector<std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view v = *e;
    bool keep = true;
    for (const auto p : dropped_prefixes) keep = keep && !v.starts_with(p);
    if (keep) out.emplace_back(v);
  }
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

class child_process {
 public:
  // Starts `argv[0]` with `argv` and `env`; stdout and stderr go to two files in a fresh folder
  // under $TMPDIR (removed with the object).
  child_process(std::vector<std::string> argv, std::vector<std::string> env) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/logfire-child.XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) return;
    dir_ = templ;
    out_path_ = dir_ + "/stdout";
    err_path_ = dir_ + "/stderr";
    const int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    std::vector<char*> args, envp;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    if (out >= 0 && err >= 0) {
      pid_ = ::fork();
      if (pid_ == 0) {
        ::dup2(out, 1);
        ::dup2(err, 2);
        ::execve(args[0], args.data(), envp.data());
        ::_exit(127);
      }
    }
    if (out >= 0) ::close(out);
    if (err >= 0) ::close(err);
  }
  ~child_process() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (!dir_.empty()) {
      std::remove(out_path_.c_str());
      std::remove(err_path_.c_str());
      ::rmdir(dir_.c_str());
    }
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] int port() const noexcept { return port_; }

  // Waits (at most `timeout`) for "listening on http://HOST:PORT" on stdout; the port, or 0
  // when it never came (or the process ended first).
  int wait_for_port(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
      const std::string text = output();
      const auto at = text.find("listening on http://");
      if (at != std::string::npos) {
        const auto colon = text.find(':', at + 20);
        if (colon != std::string::npos) port_ = std::atoi(text.c_str() + colon + 1);
        return port_;
      }
      if (!reaped_ && ::waitpid(pid_, &status_, WNOHANG) == pid_) {
        reaped_ = true;
        return 0;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return 0;
  }

  // Waits (at most `timeout`) for the process to end by itself: its wait status, or -1.
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    if (pid_ <= 0) return -1;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!reaped_ && std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
        reaped_ = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return reaped_ ? status_ : -1;
  }

  // Sends `sig` and waits (at most `timeout`) for the process to end: its wait status, or -1.
  int terminate(int sig = SIGTERM, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    if (pid_ <= 0) return -1;
    if (!reaped_) ::kill(pid_, sig);
    return wait(timeout);
  }

  [[nodiscard]] std::string output() const { return slurp(out_path_); }
  [[nodiscard]] std::string errors() const { return slurp(err_path_); }

 private:
  static std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }

  pid_t pid_ = -1;
  int port_ = 0;
  int status_ = 0;
  bool reaped_ = false;
  std::string dir_, out_path_, err_path_;
};

}  // namespace logfire::test
