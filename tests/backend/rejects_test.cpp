// Bad input to `logfire-cpp serve`: every class of rejected request gets its own status code and a
// message that says what is wrong, is counted in /api/stats, and never takes the server down.
#include <gtest/gtest.h>

#include <random>

#include "backend/backend_support.hpp"

namespace logfire::backend_test {
namespace {

std::string one_span_body() {
  span_spec s;
  s.trace_id = random_hex(16);
  s.span_id = random_hex(8);
  s.name = "ok";
  return trace_request({s}).SerializeAsString();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class rejects : public ::testing::Test {
 protected:
  void start(const std::vector<std::string>& extra = {}) {
    serve_ = std::make_unique<serve_process>(dir_.file("rejects.db"), extra);
    ASSERT_TRUE(serve_->started()) << serve_->output();
  }
  std::int64_t stat(const std::string& name) {
    auto reply = get(serve_->port(), "/api/stats", auth_);
    auto pos = reply.body.find("\"" + name + "\":");
    if (pos == std::string::npos) return -1;
    return std::stoll(reply.body.substr(pos + name.size() + 3));
  }
  temp_dir dir_;
  std::unique_ptr<serve_process> serve_;
  std::vector<std::pair<std::string, std::string>> auth_;
};

TEST_F(rejects, wrong_content_type_is_415_naming_the_type) {
  start();
  auto r = post(serve_->port(), "/v1/traces", one_span_body(), "text/plain");
  EXPECT_EQ(r.status, 415);
  EXPECT_TRUE(contains(r.body, "unsupported Content-Type 'text/plain'")) << r.body;
  EXPECT_TRUE(contains(r.body, "application/x-protobuf or application/json")) << r.body;
  auto enc =
      post(serve_->port(), "/v1/traces", one_span_body(), "application/x-protobuf", {{"Content-Encoding", "zstd"}});
  EXPECT_EQ(enc.status, 415);
  EXPECT_TRUE(contains(enc.body, "unsupported Content-Encoding 'zstd'")) << enc.body;
  EXPECT_EQ(stat("unsupported_media_type"), 2);
  EXPECT_EQ(sql_count(dir_.file("rejects.db"), "SELECT count(*) FROM records"), 0);
}

TEST_F(rejects, oversized_bodies_are_413_also_after_gzip_and_in_chunks) {
  start({"--max-body-size", "64KiB"});
  std::string big(100 * 1024, 'x');
  auto r = post(serve_->port(), "/v1/traces", big, "application/x-protobuf");
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(contains(r.body, "larger than the limit of 64 KiB")) << r.body;
  // 10 MB of zeros compress to ~10 KB: the limit applies after decompression too.
  auto bomb = post(serve_->port(), "/v1/traces", gzip(std::string(10 << 20, '\0')), "application/x-protobuf",
                   {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(bomb.status, 413);
  auto chunked = post_chunked(serve_->port(), "/v1/traces", big, "application/x-protobuf", 4096);
  EXPECT_EQ(chunked.status, 413);
  EXPECT_EQ(stat("too_large"), 3);
  // A body under the limit still works.
  EXPECT_EQ(post(serve_->port(), "/v1/traces", one_span_body()).status, 200);
}

TEST_F(rejects, more_rows_than_the_limit_are_413_and_nothing_of_them_is_stored) {
  start({"--max-request-rows", "3"});
  std::vector<span_spec> spans(4);
  for (auto& s : spans) {
    s.trace_id = random_hex(16);
    s.span_id = random_hex(8);
  }
  auto r = post(serve_->port(), "/v1/traces", trace_request(spans).SerializeAsString());
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(contains(r.body,
                       "request holds 4 spans, more than the limit of 3 per request; split the export or "
                       "raise --max-request-rows"))
      << r.body;
  EXPECT_EQ(stat("too_large"), 1);
  spans.pop_back();
  EXPECT_EQ(post(serve_->port(), "/v1/traces", trace_request(spans).SerializeAsString()).status, 200);
  EXPECT_EQ(sql_count(dir_.file("rejects.db"), "SELECT count(*) FROM records"), 3);
}

TEST_F(rejects, malformed_bodies_are_400_with_the_reason_in_the_request_format) {
  start();
  auto pb = post(serve_->port(), "/v1/traces", "\xff\xff\xff\xff garbage", "application/x-protobuf");
  EXPECT_EQ(pb.status, 400);
  EXPECT_EQ(pb.content_type, "application/x-protobuf");
  EXPECT_TRUE(contains(pb.body, "malformed protobuf body: not a valid ExportTraceServiceRequest")) << pb.body;
  auto json = post(serve_->port(), "/v1/logs", R"({"resourceLogs": [ {"scopeLogs": 12 } ]})", "application/json");
  EXPECT_EQ(json.status, 400);
  EXPECT_EQ(json.content_type, "application/json");
  EXPECT_TRUE(contains(json.body, R"({"code":3,"message":"malformed JSON body: not a valid ExportLogsServiceRequest)"))
      << json.body;
  auto bad_gzip = post(serve_->port(), "/v1/traces", "this is not gzip data", "application/x-protobuf",
                       {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(bad_gzip.status, 400);
  EXPECT_TRUE(contains(bad_gzip.body, "could not read the request body")) << bad_gzip.body;
  EXPECT_EQ(stat("malformed"), 2);
  EXPECT_EQ(stat("unreadable"), 1);
}

TEST_F(rejects, a_required_token_is_checked) {
  start({"--token", "s3cret"});
  auto none = post(serve_->port(), "/v1/traces", one_span_body());
  EXPECT_EQ(none.status, 401);
  EXPECT_TRUE(contains(none.body, "missing or wrong Authorization header")) << none.body;
  EXPECT_EQ(post(serve_->port(), "/v1/traces", one_span_body(), "application/x-protobuf", {{"Authorization", "wrong"}})
                .status,
            401);
  EXPECT_EQ(post(serve_->port(), "/v1/traces", one_span_body(), "application/x-protobuf", {{"Authorization", "s3cret"}})
                .status,
            200);
  EXPECT_EQ(post(serve_->port(), "/v1/traces", one_span_body(), "application/x-protobuf",
                 {{"Authorization", "Bearer s3cret"}})
                .status,
            200);
  // HTTP says the scheme is case-insensitive.
  EXPECT_EQ(post(serve_->port(), "/v1/traces", one_span_body(), "application/x-protobuf",
                 {{"Authorization", "bearer s3cret"}})
                .status,
            200);
  EXPECT_EQ(get(serve_->port(), "/api/traces").status, 401) << "the API needs the token too";
  auth_ = {{"Authorization", "s3cret"}};
  EXPECT_EQ(stat("unauthorized"), 3);
  EXPECT_EQ(sql_count(dir_.file("rejects.db"), "SELECT count(*) FROM records"), 3);
}

TEST_F(rejects, unknown_paths_and_methods_are_named) {
  start();
  auto r = post(serve_->port(), "/v1/profiles", one_span_body());
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(contains(r.body, "no such endpoint: POST /v1/profiles")) << r.body;
  auto g = get(serve_->port(), "/v1/traces");
  EXPECT_EQ(g.status, 405);
  EXPECT_TRUE(contains(g.body, "accepts POST")) << g.body;
  EXPECT_EQ(g.headers["Allow"], "POST");
  EXPECT_EQ(stat("not_found"), 1);
  EXPECT_EQ(stat("method_not_allowed"), 1);
}

TEST_F(rejects, random_bodies_never_crash_the_server) {
  start();
  std::mt19937 rng(1234);  // fixed seed: the same bodies every run
  int client_errors = 0;
  for (int i = 0; i < 200; ++i) {
    std::string body(static_cast<std::size_t>(rng() % 2000), '\0');
    for (auto& c : body) c = static_cast<char>(rng());
    const char* path = i % 3 == 0 ? "/v1/traces" : i % 3 == 1 ? "/v1/logs" : "/v1/metrics";
    auto r = post(serve_->port(), path, body, i % 2 ? "application/json" : "application/x-protobuf");
    ASSERT_NE(r.status, 0) << "the server stopped answering after " << i << " bodies";
    EXPECT_LT(r.status, 500);
    if (r.status >= 400) ++client_errors;
  }
  EXPECT_GT(client_errors, 150);
  EXPECT_EQ(post(serve_->port(), "/v1/traces", one_span_body()).status, 200);
}

}  // namespace
}  // namespace logfire::backend_test
