// Four exporting processes at once: every span of every acknowledged request is stored, once.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/backend_support.hpp"
#include "logfire/config.hpp"
#include "logfire/logfire.hpp"
#include "logfire/stats.hpp"

namespace logfire::backend_test {
namespace {

constexpr int kClients = 4;
constexpr int kRequests = 60;
constexpr int kSpansPerRequest = 50;

// Runs in a forked child: sends kRequests requests and returns how many were not acknowledged.
int client_main(int port, int client) {
  int failures = 0;
  for (int r = 0; r < kRequests; ++r) {
    std::vector<span_spec> spans;
    std::string trace = random_hex(16);
    for (int s = 0; s < kSpansPerRequest; ++s) {
      span_spec spec;
      spec.trace_id = trace;
      spec.span_id = random_hex(8);
      spec.name = "client " + std::to_string(client) + " span";
      spec.attributes = {kv("request", std::int64_t{r}), kv("index", std::int64_t{s})};
      spans.push_back(std::move(spec));
    }
    std::string body = trace_request(spans, "client-" + std::to_string(client)).SerializeAsString();
    // Alternate plain and gzip bodies, as exporters configured differently would.
    auto reply = r % 2 == 0
                     ? post(port, "/v1/traces", body)
                     : post(port, "/v1/traces", gzip(body), "application/x-protobuf", {{"Content-Encoding", "gzip"}});
    if (reply.status != 200) ++failures;
  }
  return failures;
}

TEST(concurrency, four_exporting_processes_lose_nothing) {
  temp_dir dir;
  serve_process serve(dir.file("concurrent.db"));
  ASSERT_TRUE(serve.started()) << serve.output();

  std::vector<pid_t> children;
  for (int c = 0; c < kClients; ++c) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) _exit(std::min(client_main(serve.port(), c), 255));
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "requests not acknowledged by client " << pid;
  }

  std::string db = dir.file("concurrent.db");
  EXPECT_EQ(sql_count(db, "SELECT count(*) FROM records"), kClients * kRequests * kSpansPerRequest);
  EXPECT_EQ(sql_count(db, "SELECT count(DISTINCT span_id) FROM records"), kClients * kRequests * kSpansPerRequest);
  for (int c = 0; c < kClients; ++c) {
    EXPECT_EQ(sql_count(db, "SELECT count(*) FROM records WHERE service_name = 'client-" + std::to_string(c) + "'"),
              kRequests * kSpansPerRequest);
    EXPECT_EQ(sql_count(db, "SELECT count(DISTINCT trace_id) FROM records WHERE service_name = 'client-" +
                                std::to_string(c) + "'"),
              kRequests);
  }
}

// Runs in a forked child: the SDK exports kTraces traces of a span and a log each; returns 0
// when the SDK reports every record exported and none lost.
constexpr int kTraces = 500;
int sdk_client_main(const std::string& endpoint, int client) {
  auto setup = configure({.service_name = "sdk-client-" + std::to_string(client),
                          .console = {.enabled = false},
                          .batching = {.max_queue_size = 100'000},
                          .otlp = {.endpoint = endpoint, .spool = false},
                          .read_environment = false});
  if (!setup) return 10;
  for (int i = 0; i < kTraces; ++i) {
    span s("job {n}", {{"n", i}, {"client", client}});
    info("step of job {n}", {{"n", i}});
  }
  if (!force_flush(std::chrono::seconds(60))) return 11;
  auto st = stats();
  if (st.dropped_total() != 0) return 12;
  return st.exported == 2 * kTraces ? 0 : 13;
}

TEST(concurrency, four_sdk_processes_exporting_at_once_lose_nothing) {
  if (kThreadSanitizer) GTEST_SKIP() << "ThreadSanitizer does not support threads after fork()";
  temp_dir dir;
  serve_process serve(dir.file("sdk-concurrent.db"));
  ASSERT_TRUE(serve.started()) << serve.output();
  std::vector<pid_t> children;
  for (int c = 0; c < kClients; ++c) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) _exit(sdk_client_main(serve.base_url(), c));
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "10: configure failed, 11: flush timed out, 12: records lost, 13: miscount";
  }
  std::string db = dir.file("sdk-concurrent.db");
  for (int c = 0; c < kClients; ++c) {
    std::string service = "'sdk-client-" + std::to_string(c) + "'";
    EXPECT_EQ(sql_count(db, "SELECT count(*) FROM records WHERE service_name = " + service + " AND kind = 'span'"),
              kTraces);
    EXPECT_EQ(sql_count(db, "SELECT count(*) FROM records WHERE service_name = " + service + " AND kind = 'log'"),
              kTraces);
    EXPECT_EQ(sql_count(db, "SELECT count(DISTINCT trace_id) FROM records WHERE service_name = " + service), kTraces);
  }
}

}  // namespace
}  // namespace logfire::backend_test
