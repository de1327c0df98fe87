// The web view's server side: the page and its assets are served from the binary, and the JSON
// API returns recent traces, one trace's records and read-only SQL results. (The browser test in
// tests/browser/ checks what the page renders.)
#include <gtest/gtest.h>

#include "backend/backend_support.hpp"

namespace logfire::backend_test {
namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

constexpr const char* kTrace = "5a1b2c3d4e5f60718293a4b5c6d7e8f9";

void send_trace(int port) {
  span_spec root;
  root.trace_id = kTrace;
  root.span_id = "aaaaaaaaaaaaaaa1";
  root.name = "handle {route}";
  root.attributes = {kv("logfire.msg", "handle /pay"), kv("route", "/pay")};
  span_spec failing = root;
  failing.span_id = "aaaaaaaaaaaaaaa2";
  failing.parent_span_id = root.span_id;
  failing.name = "charge";
  failing.attributes = {kv("amount", std::int64_t{1200})};
  failing.error = true;
  failing.exception = std::make_pair("CardDeclined", "insufficient funds");
  failing.stacktrace = "at charge()";
  ASSERT_EQ(post(port, "/v1/traces", trace_request({root, failing}, "web-svc").SerializeAsString()).status, 200);
}

TEST(web_api, page_assets_and_api_answer) {
  temp_dir dir;
  serve_process serve(dir.file("web.db"));
  ASSERT_TRUE(serve.started()) << serve.output();
  send_trace(serve.port());

  auto page = get(serve.port(), "/");
  ASSERT_EQ(page.status, 200);
  EXPECT_TRUE(contains(page.content_type, "text/html"));
  EXPECT_TRUE(contains(page.body, "<script src=\"assets/app.js\">")) << page.body;
  auto js = get(serve.port(), "/assets/app.js");
  ASSERT_EQ(js.status, 200);
  EXPECT_TRUE(contains(js.content_type, "javascript"));
  EXPECT_TRUE(contains(js.body, "renderWaterfall"));
  EXPECT_EQ(get(serve.port(), "/assets/style.css").status, 200);
  EXPECT_EQ(get(serve.port(), "/assets/missing.js").status, 404);

  auto traces = get(serve.port(), "/api/traces");
  ASSERT_EQ(traces.status, 200);
  EXPECT_TRUE(contains(traces.body, std::string(R"("trace_id":")") + kTrace)) << traces.body;
  EXPECT_TRUE(contains(traces.body, R"("span_count":2,"log_count":0,"error_count":1)")) << traces.body;
  EXPECT_TRUE(contains(traces.body, R"("root_message":"handle /pay","service_name":"web-svc")")) << traces.body;

  auto trace = get(serve.port(), std::string("/api/trace/") + kTrace);
  ASSERT_EQ(trace.status, 200);
  EXPECT_TRUE(contains(trace.body, R"("attributes":{"amount":1200})")) << trace.body;
  EXPECT_TRUE(contains(trace.body, R"("exception_type":"CardDeclined","exception_message":"insufficient funds")"))
      << trace.body;
  EXPECT_TRUE(contains(trace.body, R"("parent_span_id":"aaaaaaaaaaaaaaa1")")) << trace.body;
  auto unknown = get(serve.port(), "/api/trace/00000000000000000000000000000001");
  EXPECT_EQ(unknown.status, 200);
  EXPECT_TRUE(contains(unknown.body, R"("records":[])")) << unknown.body;

  auto q = post(serve.port(), "/api/query", "SELECT span_name, level FROM records ORDER BY level", "text/plain");
  ASSERT_EQ(q.status, 200) << q.body;
  EXPECT_EQ(q.body,
            R"({"columns":["span_name","level"],"rows":[["handle {route}",9],["charge",17]],"truncated":false})");
  auto q_json = post(serve.port(), "/api/query", R"({"sql":"SELECT count(*) AS n FROM records"})", "application/json");
  EXPECT_EQ(q_json.body, R"({"columns":["n"],"rows":[[2]],"truncated":false})");
  auto write = post(serve.port(), "/api/query", "DROP TABLE records", "text/plain");
  EXPECT_EQ(write.status, 400);
  EXPECT_EQ(write.body, R"({"error":"attempt to write a readonly database"})");
  auto bad = post(serve.port(), "/api/query", "SELEC 1", "text/plain");
  EXPECT_EQ(bad.status, 400);
  EXPECT_TRUE(contains(bad.body, "syntax error")) << bad.body;
  EXPECT_EQ(sql_count(dir.file("web.db"), "SELECT count(*) FROM records"), 2);
}

TEST(web_api, pages_refuse_foreign_host_names) {
  temp_dir dir;
  serve_process serve(dir.file("host.db"));
  ASSERT_TRUE(serve.started()) << serve.output();
  // A page on another site that rebinds its DNS name to 127.0.0.1 must not read the data.
  EXPECT_EQ(get(serve.port(), "/api/traces", {{"Host", "attacker.example:4318"}}).status, 403);
  EXPECT_EQ(get(serve.port(), "/api/traces", {{"Host", "localhost:4318"}}).status, 200);
}

TEST(web_api, an_in_memory_database_serves_its_own_data) {
  serve_process serve(":memory:");
  ASSERT_TRUE(serve.started()) << serve.output();
  send_trace(serve.port());
  auto q = post(serve.port(), "/api/query", "SELECT count(*) FROM records", "text/plain");
  EXPECT_EQ(q.body, R"J({"columns":["count(*)"],"rows":[[2]],"truncated":false})J");
  auto traces = get(serve.port(), "/api/traces");
  EXPECT_TRUE(contains(traces.body, kTrace)) << traces.body;
}

}  // namespace
}  // namespace logfire::backend_test

namespace logfire::backend_test {
namespace {

TEST(web_api, records_are_searched_and_filtered_newest_first) {
  temp_dir dir;
  serve_process serve(dir.file("records.db"));
  ASSERT_TRUE(serve.started()) << serve.output();
  send_trace(serve.port());
  span_spec other;
  other.trace_id = "00000000000000000000000000000abc";
  other.span_id = "ccccccccccccccc1";
  other.name = "other work";
  other.attributes = {kv("note", "nested {\"deep\": \"PAYLOAD-7\"}")};
  ASSERT_EQ(post(serve.port(), "/v1/traces", trace_request({other}, "other-svc").SerializeAsString()).status, 200);

  auto all = get(serve.port(), "/api/records");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_TRUE(contains(all.body, "\"span_name\":\"charge\"") && contains(all.body, "\"span_name\":\"other work\""))
      << all.body;
  // Text over attribute values (case-insensitive), percent-encoded as a browser sends it.
  auto by_text = get(serve.port(), "/api/records?q=payload%2D7");
  ASSERT_EQ(by_text.status, 200);
  EXPECT_TRUE(contains(by_text.body, "other work")) << by_text.body;
  EXPECT_FALSE(contains(by_text.body, "charge")) << by_text.body;
  // Span names and messages.
  EXPECT_TRUE(contains(get(serve.port(), "/api/records?q=handle%20%2Fpay").body, R"("message":"handle /pay")"));
  // Service, and errors only (level >= 17).
  auto by_service = get(serve.port(), "/api/records?service=other-svc").body;
  EXPECT_TRUE(contains(by_service, "other work") && !contains(by_service, "charge")) << by_service;
  auto errors = get(serve.port(), "/api/records?level=17").body;
  EXPECT_TRUE(contains(errors, "\"span_name\":\"charge\"")) << errors;
  EXPECT_FALSE(contains(errors, "other work") || contains(errors, "handle {route}")) << errors;
  // A time range: the spans were sent now, so the last hour holds them; a limit cuts and says so.
  EXPECT_TRUE(contains(get(serve.port(), "/api/records?since=3600").body, "other work"));
  EXPECT_TRUE(contains(get(serve.port(), "/api/records?limit=1").body, "\"truncated\":true"));
  EXPECT_EQ(get(serve.port(), "/api/records?q=" + std::string(500, 'x')).status, 400);
  EXPECT_EQ(get(serve.port(), "/api/records?q=%zz").status, 400);
}

}  // namespace
}  // namespace logfire::backend_test

namespace logfire::backend_test {
namespace {

TEST(web_api, the_trace_list_filters_by_service_and_duration) {
  temp_dir dir;
  serve_process serve(dir.file("filters.db"));
  ASSERT_TRUE(serve.started()) << serve.output();
  send_trace(serve.port());  // web-svc, 1 ms spans
  span_spec slow;
  slow.trace_id = "00000000000000000000000000000def";
  slow.span_id = "ddddddddddddddd1";
  slow.name = "slow batch";
  slow.duration_ns = 2'500'000'000;
  ASSERT_EQ(post(serve.port(), "/v1/traces", trace_request({slow}, "batch-svc").SerializeAsString()).status, 200);

  auto by_service = get(serve.port(), "/api/traces?service=batch%2Dsvc").body;
  EXPECT_TRUE(contains(by_service, slow.trace_id) && !contains(by_service, kTrace)) << by_service;
  auto slow_only = get(serve.port(), "/api/traces?min_duration_ms=1000").body;
  EXPECT_TRUE(contains(slow_only, slow.trace_id) && !contains(slow_only, kTrace)) << slow_only;
  auto both = get(serve.port(), "/api/traces?min_duration_ms=0.5").body;
  EXPECT_TRUE(contains(both, slow.trace_id) && contains(both, kTrace)) << both;
  EXPECT_EQ(get(serve.port(), "/api/traces?service=%zz").status, 400);
}

}  // namespace
}  // namespace logfire::backend_test
