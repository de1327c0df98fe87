// Restarting `logfire-cpp serve` loses nothing that was acknowledged: not after a clean stop
// (SIGTERM), and not after the process is killed outright (SIGKILL) right after answering 200.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>

#include "backend/backend_support.hpp"
#include "logfire/config.hpp"
#include "logfire/logfire.hpp"
#include "logfire/stats.hpp"

namespace logfire::backend_test {
namespace {

std::vector<span_spec> batch(const std::string& label, int n) {
  std::vector<span_spec> spans;
  std::string trace = random_hex(16);
  for (int i = 0; i < n; ++i) {
    span_spec s;
    s.trace_id = trace;
    s.span_id = random_hex(8);
    s.name = label;
    spans.push_back(std::move(s));
  }
  return spans;
}

TEST(restart, acknowledged_records_survive_a_stop_and_a_kill) {
  temp_dir dir;
  std::string db = dir.file("restart.db");
  {
    serve_process first(db);
    ASSERT_TRUE(first.started()) << first.output();
    for (int i = 0; i < 5; ++i) {
      ASSERT_EQ(post(first.port(), "/v1/traces", trace_request(batch("before stop", 100)).SerializeAsString()).status,
                200);
    }
    EXPECT_EQ(first.stop(SIGTERM), 0) << first.output();
  }
  {
    serve_process second(db);
    ASSERT_TRUE(second.started()) << second.output();
    for (int i = 0; i < 5; ++i) {
      ASSERT_EQ(post(second.port(), "/v1/traces", trace_request(batch("before kill", 100)).SerializeAsString()).status,
                200);
    }
    // No chance to shut down: only what was committed before each 200 can survive.
    second.stop(SIGKILL);
  }
  serve_process third(db);
  ASSERT_TRUE(third.started()) << third.output();
  ASSERT_EQ(post(third.port(), "/v1/traces", trace_request(batch("after restart", 100)).SerializeAsString()).status,
            200);
  EXPECT_EQ(sql_count(db, "SELECT count(*) FROM records WHERE span_name = 'before stop'"), 500);
  EXPECT_EQ(sql_count(db, "SELECT count(*) FROM records WHERE span_name = 'before kill'"), 500);
  EXPECT_EQ(sql_count(db, "SELECT count(*) FROM records WHERE span_name = 'after restart'"), 100);
  EXPECT_EQ(sql_count(db, "SELECT count(DISTINCT span_id) FROM records"), 1100);
}

// A port that was free a moment ago (the restarted server must come back on the same one).
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

TEST(restart, the_sdk_exports_across_a_restart_of_serve) {
  if (kThreadSanitizer) GTEST_SKIP() << "ThreadSanitizer does not support threads after fork()";
  temp_dir dir;
  std::string db = dir.file("sdk-restart.db");
  std::string port = std::to_string(free_port());
  auto first = std::make_unique<serve_process>(db, std::vector<std::string>{"--port", port});
  ASSERT_TRUE(first->started()) << first->output();
  auto setup = configure({.service_name = "restart-test",
                          .console = {.enabled = false},
                          .otlp = {.endpoint = first->base_url(),
                                   .spool = false,
                                   .backoff_initial = std::chrono::milliseconds(100),
                                   .backoff_max = std::chrono::milliseconds(500)},
                          .read_environment = false});
  ASSERT_TRUE(setup.ok()) << setup.error();
  for (int i = 0; i < 100; ++i) span s("before restart {i}", {{"i", i}});
  ASSERT_TRUE(force_flush(std::chrono::seconds(20)));
  ASSERT_EQ(first->stop(SIGTERM), 0);
  first.reset();

  serve_process second(db, {"--port", port});
  ASSERT_TRUE(second.started()) << second.output();
  for (int i = 0; i < 100; ++i) span s("after restart {i}", {{"i", i}});
  ASSERT_TRUE(force_flush(std::chrono::seconds(30)));
  EXPECT_EQ(stats().dropped_total(), 0u) << stats().summary();
  EXPECT_EQ(sql_count(db, "SELECT count(*) FROM records WHERE span_name = 'before restart {i}'"), 100);
  EXPECT_EQ(sql_count(db, "SELECT count(*) FROM records WHERE span_name = 'after restart {i}'"), 100);
  EXPECT_EQ(sql_count(db, "SELECT count(DISTINCT span_id) FROM records"), 200);
  shutdown();
}

}  // namespace
}  // namespace logfire::backend_test
