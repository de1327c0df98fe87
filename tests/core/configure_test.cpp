// configure() as a Logfire Python user writes it: `logfire::configure();` on its own line keeps
// the SDK configured until exit (flushed there); an error nobody looked at is printed; a
// shutdown_guard binds the SDK's lifetime to a scope for those who want it.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/core_support.hpp"

using namespace core_test;

TEST(configure, the_python_habit_keeps_the_sdk_configured) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  stderr_capture capture;
  logfire::configure(quiet_options({mem}));  // the result is not kept, as in Python
  EXPECT_TRUE(logfire::is_configured());
  logfire::info("after configure");
  {
    logfire::span s("a span");
    EXPECT_TRUE(s.is_recording());
  }
  EXPECT_TRUE(logfire::force_flush());
  EXPECT_EQ(mem->size(), 2u);
  const auto st = logfire::stats();
  EXPECT_EQ(st.dropped_by(logfire::drop_reason::not_configured), 0u) << st.summary();
  const std::string err = capture.take();
  EXPECT_EQ(err.find("configure()"), std::string::npos) << err;
  EXPECT_TRUE(logfire::shutdown());
}

TEST(configure, an_unchecked_error_is_printed_and_a_checked_one_is_not) {
  logfire::options bad = quiet_options({});
  bad.trace_sample_rate = 2.0;
  {
    stderr_capture capture;
    logfire::configure(bad);
    const std::string err = capture.take();
    EXPECT_NE(
        err.find("logfire: configure() failed, nothing changed: options.trace_sample_rate must be between 0 and 1"),
        std::string::npos)
        << err;
    EXPECT_EQ(occurrences(err, "logfire: "), 1u) << err;
  }
  {
    stderr_capture capture;
    auto lf = logfire::configure(bad);
    EXPECT_FALSE(lf);
    EXPECT_NE(lf.error().find("trace_sample_rate"), std::string::npos);
    logfire::setup moved = std::move(lf);  // a moved result does not print either
    EXPECT_FALSE(moved.ok());
    const std::string err = capture.take();
    EXPECT_EQ(err, "");
  }
  EXPECT_FALSE(logfire::is_configured());
}

TEST(configure, a_configuration_nobody_keeps_is_flushed_at_exit) {
  // A child process configures without keeping anything, logs and returns from its work
  // normally: the console line appears because exit() flushes the SDK.
  char path[] = "/tmp/logfire-configure-test.XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    logfire::options o;
    o.read_environment = false;
    o.console.output = std::fopen(path, "w");
    o.console.colors = logfire::console_colors::never;
    o.batching.schedule_delay = std::chrono::milliseconds(60'000);  // only the exit flush delivers
    logfire::configure(o);
    logfire::info("written before exit {n}", {{"n", 7}});
    std::exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  ::unlink(path);
  EXPECT_NE(text.str().find("written before exit 7"), std::string::npos) << text.str();
}

TEST(configure, no_destination_at_all_is_a_counted_loss_said_in_one_line) {
  // Console off, no token, no endpoint, no exporter: every record is lost, and stats() and
  // stderr say so (not "exported", not "telemetry goes to the console only").
  logfire::options o;
  o.read_environment = false;
  o.console.enabled = false;
  stderr_capture capture;
  ASSERT_TRUE(logfire::configure(o));
  for (int i = 0; i < 3; ++i) logfire::info("nowhere {i}", {{"i", i}});
  { logfire::span s("nowhere either"); }
  (void)logfire::force_flush();
  const auto st = logfire::stats();
  EXPECT_TRUE(logfire::shutdown() || true);
  const std::string err = capture.take();
  EXPECT_EQ(st.produced, 4u) << st.summary();
  EXPECT_EQ(st.exported, 0u) << st.summary();
  EXPECT_EQ(st.dropped_by(logfire::drop_reason::no_exporter), 4u) << st.summary();
  expect_accounted(st);
  EXPECT_EQ(err.find("console only"), std::string::npos) << err;
  EXPECT_EQ(occurrences(err, "(no_exporter) dropped because there is no output"), 1u) << err;
}
