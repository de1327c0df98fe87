// The CLI as a user runs it: `logfire-cpp query`, `traces`, `tail` and every --help, against a
// database filled through `serve`. Errors must name what is wrong.
#include <gtest/gtest.h>

#include <cstdlib>
#include <future>

#include "backend/backend_support.hpp"

namespace logfire::backend_test {
namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

constexpr const char* kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";

class cli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new temp_dir();
    serve_ = new serve_process(db());
    ASSERT_TRUE(serve_->started()) << serve_->output();
    std::uint64_t t0 = now_ns() - 60'000'000'000ULL;
    span_spec root;
    root.trace_id = kTrace;
    root.span_id = "1000000000000001";
    root.name = "GET /orders";
    root.start_ns = t0;
    root.duration_ns = 300'000'000;
    root.attributes = {kv("logfire.msg", "GET /orders"), kv_tags({"api"})};
    span_spec child = root;
    child.span_id = "1000000000000002";
    child.parent_span_id = root.span_id;
    child.name = "load orders";
    child.start_ns = t0 + 10'000'000;
    child.duration_ns = 100'000'000;
    child.attributes = {kv("logfire.msg", "load orders")};
    span_spec log = root;
    log.span_id = "1000000000000003";
    log.parent_span_id = child.span_id;
    log.name = "slow query";
    log.start_ns = t0 + 20'000'000;
    log.duration_ns = 0;
    log.attributes = {kv("logfire.span_type", "log"), kv("logfire.level_num", std::int64_t{17}),
                      kv("logfire.msg", "slow query took 90ms")};
    auto reply = post(serve_->port(), "/v1/traces", trace_request({root, child, log}, "orders").SerializeAsString());
    ASSERT_EQ(reply.status, 200);
  }
  static void TearDownTestSuite() {
    delete serve_;
    delete dir_;
  }
  static std::string db() { return dir_->file("cli.db"); }

  static temp_dir* dir_;
  static serve_process* serve_;
};
temp_dir* cli::dir_ = nullptr;
serve_process* cli::serve_ = nullptr;

TEST_F(cli, every_command_has_help) {
  for (const char* cmd : {"serve", "query", "tail", "traces"}) {
    auto r = run_cli({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_TRUE(contains(r.out, std::string("Usage: logfire-cpp ") + cmd)) << r.out;
    EXPECT_TRUE(contains(r.out, "--db")) << r.out;
  }
  auto top = run_cli({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_TRUE(contains(top.out, "serve") && contains(top.out, "query") && contains(top.out, "tail") &&
              contains(top.out, "traces"))
      << top.out;
  auto none = run_cli({});
  EXPECT_EQ(none.exit_code, 2);
  auto unknown = run_cli({"frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_TRUE(contains(unknown.err, "unknown command 'frobnicate'")) << unknown.err;
  auto bad_option = run_cli({"query", "--colour", "x", "SELECT 1"});
  EXPECT_EQ(bad_option.exit_code, 2);
  EXPECT_TRUE(contains(bad_option.err, "unknown option '--colour'")) << bad_option.err;
}

TEST_F(cli, query_prints_table_json_and_csv) {
  std::string q =
      "SELECT span_id, level, message FROM records WHERE trace_id = '" + std::string(kTrace) + "' ORDER BY span_id";
  auto table = run_cli({"query", "--db", db(), q});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(contains(table.out, "span_id          │ level │ message")) << table.out;
  EXPECT_TRUE(contains(table.out, "1000000000000003 │    17 │ slow query took 90ms")) << table.out;
  EXPECT_TRUE(contains(table.out, "(3 rows)")) << table.out;

  auto json = run_cli({"query", "--db", db(), "--format", "json", q});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_TRUE(contains(json.out, R"({"span_id": "1000000000000001", "level": 9, "message": "GET /orders"})"))
      << json.out;

  auto csv = run_cli({"query", "--db", db(), "--format=csv", q});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(csv.out,
            "span_id,level,message\r\n1000000000000001,9,GET /orders\r\n1000000000000002,9,load orders\r\n"
            "1000000000000003,17,slow query took 90ms\r\n");

  auto from_stdin = run_cli({"query", "--db", db(), "--format", "csv"}, "SELECT count(*) AS n FROM records;\n");
  ASSERT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  EXPECT_EQ(from_stdin.out, "n\r\n3\r\n");
}

TEST_F(cli, query_errors_name_the_problem) {
  auto write = run_cli({"query", "--db", db(), "DELETE FROM records"});
  EXPECT_EQ(write.exit_code, 1);
  EXPECT_TRUE(contains(write.err, "attempt to write a readonly database")) << write.err;
  EXPECT_EQ(sql_count(db(), "SELECT count(*) FROM records"), 3) << "nothing was deleted";

  auto attach = run_cli({"query", "--db", db(), "ATTACH DATABASE '" + dir_->file("other.db") + "' AS other"});
  EXPECT_EQ(attach.exit_code, 1);

  auto bad = run_cli({"query", "--db", db(), "SELECT nonsense FROM records"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(contains(bad.err, "no such column: nonsense")) << bad.err;

  auto two = run_cli({"query", "--db", db(), "SELECT 1; SELECT 2"});
  EXPECT_EQ(two.exit_code, 1);
  EXPECT_TRUE(contains(two.err, "one SQL statement at a time")) << two.err;

  std::string missing = dir_->file("nowhere/missing.db");
  auto none = run_cli({"query", "--db", missing, "SELECT 1"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_TRUE(contains(none.err, "no database at " + missing)) << none.err;

  // Without --db the default location is used, and named when absent.
  setenv("XDG_DATA_HOME", dir_->file("xdg").c_str(), 1);
  unsetenv("LOGFIRE_LOCAL_DB");
  auto dflt = run_cli({"traces"});
  unsetenv("XDG_DATA_HOME");
  EXPECT_EQ(dflt.exit_code, 1);
  EXPECT_TRUE(contains(dflt.err, "no database at " + dir_->file("xdg") + "/logfire-cpp/logfire.db")) << dflt.err;
}

TEST_F(cli, traces_lists_duration_span_count_and_errors) {
  auto r = run_cli({"traces", "--db", db()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "duration │ spans │ logs │ errors │ service │ trace_id")) << r.out;
  EXPECT_TRUE(contains(r.out, "300.0ms  │     2 │    1 │      1 │ orders  │ " + std::string(kTrace) + " │ GET /orders"))
      << r.out;
  auto json = run_cli({"traces", "--db", db(), "--format", "json"});
  ASSERT_EQ(json.exit_code, 0);
  EXPECT_TRUE(contains(json.out, R"("span_count":2,"log_count":1,"error_count":1)")) << json.out;
}

TEST_F(cli, tail_prints_records_nested_by_depth_with_colours) {
  auto r = run_cli({"tail", "--db", db(), "--no-follow", "--color", "always"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Logfire console style: time, two spaces per depth, the message; errors red, tags cyan.
  EXPECT_TRUE(contains(r.out, "\033[2m")) << r.out;
  EXPECT_TRUE(contains(r.out, " GET /orders\033[36m [api]\033[0m\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "   load orders\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "     \033[31mslow query took 90ms\033[0m\n")) << r.out;
  auto plain = run_cli({"tail", "--db", db(), "--no-follow", "--color", "never", "--min-level", "error"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_FALSE(contains(plain.out, "GET /orders")) << plain.out;
  EXPECT_TRUE(contains(plain.out, "     slow query took 90ms\n")) << plain.out;
}

TEST_F(cli, tail_follows_new_records_live) {
  // tail runs until killed; run_cli stops it after 6 s and returns what it printed.
  auto tail = std::async(std::launch::async, [] {
    return run_cli({"tail", "--db", db(), "--last", "0", "--interval", "100ms", "--color", "never"}, {},
                   std::chrono::seconds(6));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  span_spec s;
  s.trace_id = random_hex(16);
  s.span_id = random_hex(8);
  s.name = "arrived while tailing";
  ASSERT_EQ(post(serve_->port(), "/v1/traces", trace_request({s}).SerializeAsString()).status, 200);
  auto r = tail.get();
  EXPECT_TRUE(contains(r.out, " arrived while tailing\n")) << r.out << r.err;
  EXPECT_FALSE(contains(r.out, "GET /orders")) << "--last 0 starts at the end";
}

}  // namespace
}  // namespace logfire::backend_test
