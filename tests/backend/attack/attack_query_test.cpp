// Issue 11, cases 4 and 6: the SQL door. Results were unbounded (`SELECT zeroblob(999999999)`
// took the server to 7.86 GB) and the door was not read-only enough: BEGIN left a pooled
// connection inside a transaction (the web view froze on an old snapshot and the WAL could not
// be checkpointed), and fts3_tokenizer was callable. Now a result is bounded in rows, bytes and
// time with "truncated" said, values a query computes are bounded, exactly one read-only
// statement runs, and a connection goes back to the pool only as it came.
#include <gtest/gtest.h>

#include <cstdio>

#include "backend/backend_support.hpp"

namespace logfire::backend_test {
namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

http_reply query(int port, const std::string& sql) {
  return post(port, "/api/query", sql, "text/plain");
}

void send_spans(int port, int n, const std::string& name) {
  std::vector<span_spec> spans;
  for (int i = 0; i < n; ++i) {
    span_spec s;
    s.trace_id = random_hex(16);
    s.span_id = random_hex(8);
    s.name = name;
    spans.push_back(s);
  }
  ASSERT_EQ(post(port, "/v1/traces", trace_request(spans).SerializeAsString()).status, 200);
}

TEST(attack_4_query_results, a_huge_value_is_refused_before_it_is_allocated) {
  temp_dir dir;
  serve_process serve(dir.file("q.db"));
  ASSERT_TRUE(serve.started()) << serve.output();
  std::int64_t before = memory_of(serve.pid()).anon;
  anon_peak_sampler sampler(serve.pid());
  auto r = query(serve.port(), "SELECT zeroblob(300000000)");
  EXPECT_EQ(r.status, 400) << r.body.substr(0, 200);
  EXPECT_TRUE(contains(r.body, "values are limited to 16 MiB here (--query-max-bytes)")) << r.body.substr(0, 200);
  std::printf("peak RssAnon growth: %lld MiB\n", static_cast<long long>((sampler.peak() - before) >> 20));
  if (!kSanitized) {
    EXPECT_LT(sampler.peak() - before, 64 << 20);
  }
}

TEST(attack_4_query_results, results_stop_at_their_byte_limit_and_say_so) {
  temp_dir dir;
  serve_process serve(dir.file("q.db"));
  ASSERT_TRUE(serve.started()) << serve.output();
  std::int64_t before = memory_of(serve.pid()).anon;
  anon_peak_sampler sampler(serve.pid());
  // 100 rows of 1 MB each: 100 MB unbounded.
  auto r = query(serve.port(),
                 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 100) "
                 "SELECT i, printf('%.*c', 1000000, 'x') AS big FROM n");
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 200);
  EXPECT_TRUE(contains(r.body,
                       "\"truncated\":true,\"truncated_note\":\"stopped after 16 rows at 16 MiB "
                       "(--query-max-bytes)\""))
      << r.body.substr(r.body.size() - 200);
  EXPECT_LT(r.body.size(), 20u << 20);
  std::printf("peak RssAnon growth: %lld MiB\n", static_cast<long long>((sampler.peak() - before) >> 20));
  if (!kSanitized) {
    EXPECT_LT(sampler.peak() - before, 128 << 20);
  }
}

TEST(attack_4_query_results, rows_and_time_are_bounded) {
  temp_dir dir;
  serve_process serve(dir.file("q.db"), {"--query-timeout", "500ms", "--query-max-rows", "10"});
  ASSERT_TRUE(serve.started()) << serve.output();
  auto rows = query(serve.port(), "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i FROM n");
  ASSERT_EQ(rows.status, 200) << rows.body;
  EXPECT_TRUE(contains(rows.body,
                       "[10]],\"truncated\":true,\"truncated_note\":\"stopped at 10 rows "
                       "(--query-max-rows)\""))
      << rows.body;
  auto slow =
      query(serve.port(), "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n");
  EXPECT_EQ(slow.status, 400);
  EXPECT_TRUE(contains(slow.body, "interrupted: the query ran longer than 500 ms (--query-timeout)")) << slow.body;
}

// The old door took BEGIN: the pooled connection kept its transaction, and every later query on
// it saw the database as it was then.
TEST(attack_6_sql_door, a_transaction_cannot_freeze_the_view) {
  temp_dir dir;
  std::string db = dir.file("q.db");
  serve_process serve(db);
  ASSERT_TRUE(serve.started()) << serve.output();
  send_spans(serve.port(), 10, "before");
  auto begin = query(serve.port(), "BEGIN");
  EXPECT_EQ(begin.status, 400);
  EXPECT_TRUE(contains(begin.body, "transactions (BEGIN, COMMIT, SAVEPOINT...) are not allowed")) << begin.body;
  EXPECT_EQ(query(serve.port(), "SAVEPOINT s").status, 400);
  EXPECT_EQ(query(serve.port(), "SELECT count(*) FROM records").status, 200);  // would pin a snapshot
  send_spans(serve.port(), 10, "after");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(query(serve.port(), "SELECT count(*) FROM records").body,
              R"J({"columns":["count(*)"],"rows":[[20]],"truncated":false})J");
  }
  EXPECT_EQ(sql_count(db, "SELECT count(*) FROM records"), 20);
}

TEST(attack_6_sql_door, only_reading_is_allowed) {
  temp_dir dir;
  serve_process serve(dir.file("q.db"));
  ASSERT_TRUE(serve.started()) << serve.output();
  // One argument leaks a pointer into libsqlite3; two register one.
  auto tokenizer = query(serve.port(), "SELECT hex(fts3_tokenizer('simple'))");
  EXPECT_EQ(tokenizer.status, 400) << tokenizer.body;
  EXPECT_TRUE(contains(tokenizer.body, "fts3_tokenizer")) << tokenizer.body;
  auto pragma = query(serve.port(), "PRAGMA query_only = 0");
  EXPECT_EQ(pragma.status, 400);
  EXPECT_TRUE(contains(pragma.body, "PRAGMA query_only is not allowed here")) << pragma.body;
  EXPECT_EQ(query(serve.port(), "PRAGMA writable_schema = 1").status, 400);
  EXPECT_EQ(query(serve.port(), "ATTACH '/tmp/x.db' AS x").status, 400);
  EXPECT_EQ(query(serve.port(), "SELECT load_extension('/tmp/x')").status, 400);
  EXPECT_EQ(query(serve.port(), "DELETE FROM records").body, R"({"error":"attempt to write a readonly database"})");
  EXPECT_EQ(query(serve.port(), "SELECT 1; SELECT 2").status, 400);
  EXPECT_EQ(query(serve.port(), "UPDATE sqlite_master SET sql = ''").status, 400);
  // Reading the schema and table-valued functions still work.
  auto info = query(serve.port(), "SELECT name FROM pragma_table_info('records') WHERE name = 'span_name'");
  EXPECT_EQ(info.body, R"({"columns":["name"],"rows":[["span_name"]],"truncated":false})");
  auto each = query(serve.port(), "SELECT value FROM json_each('[1,2]')");
  EXPECT_EQ(each.body, R"({"columns":["value"],"rows":[[1],[2]],"truncated":false})");
  EXPECT_EQ(query(serve.port(), "PRAGMA table_info(records)").status, 200);
}

}  // namespace
}  // namespace logfire::backend_test
