// Issue 11, case 10, the smaller findings: --host with a bad address or a name said "already in
// use", and an empty one bound ::1 printing `http://:4610`; lowercase `bearer` was refused while
// a token in the URL (which ends up in logs) was taken; a start time of 2^64-1 was stored as the
// year 2262 with a negative duration, first in every list; and the JSON error echoed the body.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "backend/backend_support.hpp"

namespace logfire::backend_test {
namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(attack_10_small, a_bad_host_is_named_as_such) {
  temp_dir dir;
  for (const std::string& host : {std::string("999.1.1.1"), std::string("example.com"), std::string()}) {
    auto r = run_cli({"serve", "--host", host, "--port", "0", "--db", dir.file("h.db")}, {}, std::chrono::seconds(10));
    EXPECT_EQ(r.exit_code, 2) << "--host '" << host << "': " << r.out << r.err;
    EXPECT_TRUE(contains(r.err, "--host must be an IP address such as 127.0.0.1, ::1 or 0.0.0.0")) << r.err;
  }
  // An address that is not this machine's says so.
  auto r =
      run_cli({"serve", "--host", "192.0.2.1", "--port", "0", "--db", dir.file("h.db")}, {}, std::chrono::seconds(10));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "192.0.2.1 is not an address of this machine")) << r.err;
}

TEST(attack_10_small, the_token_is_a_header_in_any_case_and_never_a_url_parameter) {
  temp_dir dir;
  serve_process serve(dir.file("t.db"), {"--token", "s3cret-longer-than-a-short-string"});
  ASSERT_TRUE(serve.started()) << serve.output();
  EXPECT_TRUE(contains(serve.output(), "/#token=s3cret-longer-than-a-short-string"))
      << "the banner puts the token in the fragment";
  EXPECT_EQ(get(serve.port(), "/api/stats", {{"Authorization", "bearer s3cret-longer-than-a-short-string"}}).status,
            200);
  EXPECT_EQ(get(serve.port(), "/api/stats", {{"Authorization", "BEARER s3cret-longer-than-a-short-string"}}).status,
            200);
  EXPECT_EQ(get(serve.port(), "/api/stats", {{"Authorization", "s3cret-longer-than-a-short-string"}}).status, 200);
  EXPECT_EQ(get(serve.port(), "/api/stats?token=s3cret-longer-than-a-short-string").status, 401)
      << "a token in the URL ends up in logs";
  EXPECT_EQ(get(serve.port(), "/api/stats", {{"Authorization", "Bearer s3cret-longer-than-a-short-strin"}}).status,
            401);
}

TEST(attack_10_small, times_far_in_the_future_are_refused_not_stored) {
  temp_dir dir;
  std::string db = dir.file("t.db");
  serve_process serve(db);
  ASSERT_TRUE(serve.started()) << serve.output();
  span_spec future;
  future.trace_id = random_hex(16);
  future.span_id = random_hex(8);
  future.name = "from 2262";
  span_spec backwards = future;
  backwards.span_id = random_hex(8);
  backwards.name = "ends before it starts";
  span_spec fine = future;
  fine.span_id = random_hex(8);
  fine.name = "fine";
  auto req = trace_request({future, backwards, fine});
  auto* spans = req.mutable_resource_spans(0)->mutable_scope_spans(0);
  spans->mutable_spans(0)->set_start_time_unix_nano(UINT64_MAX);
  spans->mutable_spans(0)->set_end_time_unix_nano(UINT64_MAX);
  spans->mutable_spans(1)->set_end_time_unix_nano(spans->spans(1).start_time_unix_nano() - 1);
  auto r = post(serve.port(), "/v1/traces", req.SerializeAsString());
  ASSERT_EQ(r.status, 200);
  pb::trace_response response;
  ASSERT_TRUE(response.ParseFromString(r.body));
  EXPECT_EQ(response.partial_success().rejected_spans(), 2);
  EXPECT_TRUE(contains(response.partial_success().error_message(), "span 'from 2262' is dated 2262-04-11"))
      << response.partial_success().error_message();
  EXPECT_TRUE(contains(response.partial_success().error_message(), "raise --max-future-skew"));
  EXPECT_EQ(sql_count(db, "SELECT count(*) FROM records"), 1);
  EXPECT_EQ(sql_count(db, "SELECT count(*) FROM records WHERE duration < 0"), 0);
}

TEST(attack_10_small, a_json_error_does_not_echo_the_body) {
  temp_dir dir;
  serve_process serve(dir.file("t.db"));
  ASSERT_TRUE(serve.started()) << serve.output();
  const std::string marker = "SECRET-7f3a";
  const std::string spans = R"({"resourceSpans":[{"scopeSpans":[{"spans":[{)";
  for (const std::string& body :
       {spans + R"("startTimeUnixNano":")" + marker + "\"}]}]}]}", spans + R"("name":)" + marker + "}]}]}]}",
        spans + R"("attributes":[{"key":"k","value":{"intValue":")" + marker + "\"}}]}]}]}]}",
        spans + R"("traceId":")" + marker + "!!\"}]}]}]}"}) {
    auto r = post(serve.port(), "/v1/traces", body, "application/json");
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_TRUE(contains(r.body, "malformed JSON body")) << r.body;
    EXPECT_FALSE(contains(r.body, marker)) << r.body;
  }
}

// Not in the review, found while writing docs/security.md: SQLite creates files 0644, so other
// users could read telemetry (and the secrets services log).
TEST(attack_10_small, a_new_database_is_readable_by_its_user_only) {
  temp_dir dir;
  std::string db = dir.file("private/sub/t.db");
  serve_process serve(db);
  ASSERT_TRUE(serve.started()) << serve.output();
  ASSERT_EQ(post(serve.port(), "/v1/traces", trace_request({span_spec{}}).SerializeAsString()).status, 200);
  for (const std::string& path : {db, db + "-wal", dir.file("private/sub")}) {
    struct stat st {};
    ASSERT_EQ(stat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_mode & 077, 0u) << path << " is readable by others: " << std::oct << (st.st_mode & 0777);
  }
}

}  // namespace
}  // namespace logfire::backend_test
