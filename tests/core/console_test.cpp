// The console as configure() sets it up: span starts and logs, indented by depth, with the
// options of console_options (output file, colours, min level, timestamps, tags, verbose).
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/core_support.hpp"

using namespace core_test;
using logfire::level;

namespace {

// "HH:MM:SS.mmm " at the start of `l`.
bool has_time_prefix(const std::string& l) {
  static constexpr std::string_view shape = "dd:dd:dd.ddd ";
  if (l.size() < shape.size()) return false;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const bool digit = l[i] >= '0' && l[i] <= '9';
    if (shape[i] == 'd' ? !digit : l[i] != shape[i]) return false;
  }
  return true;
}

// A console writing into a temporary file.
class console_file {
 public:
  console_file() : f_(std::tmpfile()) {}
  ~console_file() {
    if (f_) std::fclose(f_);
  }
  console_file(const console_file&) = delete;
  console_file& operator=(const console_file&) = delete;
  std::FILE* get() const { return f_; }
  std::string text() const {
    std::fflush(f_);
    std::string out;
    std::rewind(f_);
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f_)) > 0;) out.append(buf, n);
    return out;
  }
  // The lines, with the "HH:MM:SS.mmm " prefix checked and removed.
  std::vector<std::string> lines_without_time() const {
    std::vector<std::string> out;
    const std::string t = text();
    std::size_t start = 0;
    while (start < t.size()) {
      std::size_t nl = t.find('\n', start);
      if (nl == std::string::npos) nl = t.size();
      const std::string l = t.substr(start, nl - start);
      out.push_back(has_time_prefix(l) ? l.substr(13) : "<no time> " + l);
      start = nl + 1;
    }
    return out;
  }

 private:
  std::FILE* f_;
};

logfire::options console_options(const console_file& out) {
  logfire::options o;
  o.read_environment = false;
  o.console.output = out.get();
  o.console.colors = logfire::console_colors::never;
  return o;
}

}  // namespace

TEST(console, nested_spans_and_logs_are_indented) {
  console_file out;
  {
    auto lf = logfire::configure(console_options(out));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard guard(lf);  // the console is complete when the scope ends
    {
      logfire::span request("GET /orders/{id}", {{"id", 7}}, {.tags = {"http", "api"}});
      logfire::info("loading order {id}", {{"id", 7}});
      {
        logfire::span db("query {table}", {{"table", "orders"}});
        logfire::warn("slow query {ms}ms", {{"ms", 250}});
        logfire::debug("not shown: below the console's min level");
      }
      logfire::info("done");
    }
    logfire::info("outside");
  }
  const auto lines = out.lines_without_time();
  const std::vector<std::string> expected = {
      "GET /orders/7 [http,api]", "  loading order 7", "  query orders", "    slow query 250ms", "  done", "outside",
  };
  EXPECT_EQ(lines, expected) << out.text();
  // Colours never: no escape sequences at all.
  EXPECT_EQ(out.text().find('\x1b'), std::string::npos);
}

TEST(console, spans_are_shown_at_their_start) {
  console_file out;
  {
    auto lf = logfire::configure(console_options(out));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard guard(lf);  // the console is complete when the scope ends
    logfire::span long_running("long running");
    ASSERT_TRUE(logfire::force_flush());
    // Visible before it ends.
    EXPECT_EQ(out.lines_without_time(), std::vector<std::string>{"long running"});
  }
}

TEST(console, min_level_timestamps_and_tags_options) {
  console_file out;
  {
    logfire::options o = console_options(out);
    o.console.min_level = level::warn;
    o.console.include_timestamps = false;
    o.console.include_tags = false;
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard guard(lf);  // the console is complete when the scope ends
    logfire::info("hidden");
    logfire::warn("shown", {}, {.tags = {"t"}});
    logfire::error("also shown");
  }
  EXPECT_EQ(out.text(), "shown\nalso shown\n");
}

TEST(console, colours_always) {
  console_file out;
  {
    logfire::options o = console_options(out);
    o.console.colors = logfire::console_colors::always;
    o.console.include_timestamps = false;
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard guard(lf);  // the console is complete when the scope ends
    logfire::error("red");
    logfire::warn("yellow");
    logfire::info("plain", {}, {.tags = {"cyan"}});
  }
  const std::string t = out.text();
  EXPECT_NE(t.find("\x1b[31mred\x1b[0m"), std::string::npos) << t;
  EXPECT_NE(t.find("\x1b[33myellow\x1b[0m"), std::string::npos) << t;
  EXPECT_NE(t.find("plain \x1b[36m[cyan]\x1b[0m"), std::string::npos) << t;
}

TEST(console, verbose_shows_location_arguments_and_exceptions) {
  console_file out;
  {
    logfire::options o = console_options(out);
    o.console.verbose = true;
    o.console.include_timestamps = false;
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard guard(lf);  // the console is complete when the scope ends
    logfire::exception("payment failed for {user}", std::runtime_error("card declined"), {{"user", "ann"}});
  }
  const std::string t = out.text();
  EXPECT_EQ(t.rfind("payment failed for ann\n", 0), 0u) << t;
  EXPECT_NE(t.find("console_test.cpp:"), std::string::npos) << t;
  EXPECT_NE(t.find(" error\n"), std::string::npos) << t;
  EXPECT_NE(t.find("user=ann"), std::string::npos) << t;
  EXPECT_NE(t.find("std::runtime_error: card declined"), std::string::npos) << t;
}

TEST(console, the_console_alone_counts_as_the_destination) {
  console_file out;
  auto lf = logfire::configure(console_options(out));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard guard(lf);
  for (int i = 0; i < 5; ++i) logfire::info("line {i}", {{"i", i}});
  EXPECT_TRUE(logfire::force_flush());
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, 5u);
  EXPECT_EQ(st.exported, 5u);
  EXPECT_EQ(out.lines_without_time().size(), 5u);
}

TEST(console, disabled_console_prints_nothing) {
  console_file out;
  {
    logfire::options o = console_options(out);
    o.console.enabled = false;
    auto mem = std::make_shared<logfire::memory_exporter>();
    o.exporters = {mem};
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard guard(lf);  // the console is complete when the scope ends
    logfire::info("only in memory");
    EXPECT_TRUE(logfire::force_flush());
    EXPECT_EQ(mem->size(), 1u);
  }
  EXPECT_EQ(out.text(), "");
}

// Prompt mode (console_options::immediate): a command-line tool's own output and the console's
// lines come out in the order they happened. A child process writes both to its stdout (a pipe:
// fully buffered, the hardest case for ordering); the parent reads the pipe.
TEST(console, prompt_mode_lines_interleave_with_the_programs_own_output) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    if (::dup2(fds[1], STDOUT_FILENO) < 0) ::_exit(90);
    logfire::options o;
    o.read_environment = false;
    o.console.colors = logfire::console_colors::never;
    o.console.include_timestamps = false;
    o.console.immediate = true;  // stdout is a pipe here: not the default
    o.batching.schedule_delay = std::chrono::milliseconds(60'000);
    {
      auto lf = logfire::configure(o);
      if (!lf) ::_exit(91);
      logfire::shutdown_guard guard(lf);
      std::puts("program: start");
      {
        logfire::span job("job {n}", {{"n", 1}});
        std::puts("program: in job");
        logfire::info("step {i}", {{"i", 1}});
        std::printf("program: after step\n");
        logfire::warn("step {i} slow", {{"i", 2}});
      }
      logfire::info("done");
      std::puts("program: end");
    }
    std::fflush(stdout);
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(text,
            "program: start\n"
            "job 1\n"
            "program: in job\n"
            "  step 1\n"
            "program: after step\n"
            "  step 2 slow\n"
            "done\n"
            "program: end\n");
}

// A line is on the output when the call returns, before any flush, and printed once only.
TEST(console, prompt_mode_prints_at_the_call_and_only_once) {
  console_file out;
  logfire::options o = console_options(out);
  o.console.immediate = true;
  o.console.include_timestamps = false;
  o.batching.schedule_delay = std::chrono::milliseconds(60'000);
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard guard(lf);
  {
    logfire::span s("outer");
    EXPECT_EQ(out.text(), "outer\n");
    logfire::info("inner {x}", {{"x", "y"}});
    EXPECT_EQ(out.text(), "outer\n  inner y\n");
  }
  EXPECT_TRUE(logfire::force_flush());
  EXPECT_EQ(out.text(), "outer\n  inner y\n");  // the background export printed nothing again
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, 2u);
  EXPECT_EQ(st.exported, 2u) << st.summary();
}

// Two worker threads whose spans interleave, in a fixed order (each waits for its turn): with
// show-parents, a line whose span is not the one printed last gets that span reprinted above it.
TEST(console, prompt_mode_show_parents_tells_interleaved_threads_apart) {
  for (const auto style : {logfire::console_span_style::simple, logfire::console_span_style::indented,
                           logfire::console_span_style::show_parents}) {
    console_file out;
    logfire::options o = console_options(out);
    o.console.immediate = true;
    o.console.include_timestamps = false;
    o.console.span_style = style;
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard guard(lf);
    std::mutex m;
    std::condition_variable cv;
    int turn = 0;
    auto wait_turn = [&](int t) {
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return turn == t; });
    };
    auto next = [&] {
      {
        std::lock_guard lock(m);
        ++turn;
      }
      cv.notify_all();
    };
    std::thread a([&] {
      wait_turn(0);
      logfire::span s("worker a");
      logfire::info("a step 1");
      next();
      wait_turn(2);
      logfire::info("a step 2");
      next();
    });
    std::thread b([&] {
      wait_turn(1);
      logfire::span s("worker b");
      logfire::info("b step 1");
      next();
      wait_turn(3);
      logfire::info("b step 2");
    });
    a.join();
    b.join();
    EXPECT_TRUE(logfire::force_flush());
    const char* expected = style == logfire::console_span_style::simple     ? "worker a\n"
                                                                              "a step 1\n"
                                                                              "worker b\n"
                                                                              "b step 1\n"
                                                                              "a step 2\n"
                                                                              "b step 2\n"
                           : style == logfire::console_span_style::indented ? "worker a\n"
                                                                              "  a step 1\n"
                                                                              "worker b\n"
                                                                              "  b step 1\n"
                                                                              "  a step 2\n"
                                                                              "  b step 2\n"
                                                                            : "worker a\n"
                                                                              "  a step 1\n"
                                                                              "worker b\n"
                                                                              "  b step 1\n"
                                                                              "worker a\n"
                                                                              "  a step 2\n"
                                                                              "worker b\n"
                                                                              "  b step 2\n";
    EXPECT_EQ(out.text(), expected) << static_cast<int>(style);
    const auto st = logfire::stats();
    EXPECT_EQ(st.exported, 6u) << st.summary();
  }
}

// The line printed at the call is scrubbed like the exported record, and scrubbing is counted
// once (by the background thread), not once per pass.
TEST(console, prompt_mode_prints_scrubbed_values_and_counts_them_once) {
  console_file out;
  logfire::options o = console_options(out);
  o.console.immediate = true;
  o.console.include_timestamps = false;
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard guard(lf);
  logfire::info("login {password}", {{"password", "hunter2"}});
  const std::string text = out.text();
  EXPECT_NE(text.find("[Scrubbed due to 'password']"), std::string::npos) << text;
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  EXPECT_TRUE(logfire::force_flush());
  EXPECT_EQ(out.text(), text);
  const auto st = logfire::stats();
  ASSERT_EQ(st.scrubbed.size(), 1u) << st.summary();
  EXPECT_EQ(st.scrubbed[0].values, 1u) << st.summary();
}
