// Restarting `logfire-cpp serve` loses nothing that was acknowledged: not after a clean stop
// (SIGTERM), and not after the process is killed outright (SIGKILL) right after answering 200.
#include <gtest/gtest.h>

#include <csignal>

#include "backend/backend_support.hpp"

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

}  // namespace
}  // namespace logfire::backend_test
