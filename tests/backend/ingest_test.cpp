// Ingest over real HTTP: what a client sends to `logfire-cpp serve` (protobuf, JSON, gzip,
// chunked; traces, logs, metrics) comes back from SQL over `records` and `metrics` exactly:
// ids, parent links, levels, messages, tags, attributes, exceptions.
#include <gtest/gtest.h>

#include "backend/backend_support.hpp"

namespace logfire::backend_test {
namespace {

constexpr const char* kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* kRoot = "00f067aa0ba902b7";
constexpr const char* kChild = "5fb397be34d26b51";
constexpr const char* kLog = "7d0e4b2c91a3f6e8";

class ingest : public ::testing::Test {
 protected:
  void SetUp() override {
    serve_ = std::make_unique<serve_process>(db());
    ASSERT_TRUE(serve_->started()) << serve_->output();
  }
  std::string db() const { return dir_.file("ingest.db"); }
  temp_dir dir_;
  std::unique_ptr<serve_process> serve_;
};

std::vector<span_spec> sample_trace(std::uint64_t t0) {
  span_spec root;
  root.trace_id = kTrace;
  root.span_id = kRoot;
  root.name = "checkout {cart_id}";
  root.start_ns = t0;
  root.duration_ns = 250'000'000;
  root.attributes = {
      kv("logfire.msg_template", "checkout {cart_id}"),
      kv("logfire.msg", "checkout 42"),
      kv("logfire.span_type", "span"),
      kv("cart_id", std::int64_t{42}),
      kv_tags({"shop", "web"}),
      kv("cart", R"({"items":[{"sku":"A1","qty":2}]})"),
      kv("logfire.json_schema", R"({"type":"object","properties":{"cart_id":{},"cart":{"type":"object"}}})")};

  span_spec child;
  child.trace_id = kTrace;
  child.span_id = kChild;
  child.parent_span_id = kRoot;
  child.name = "charge card";
  child.start_ns = t0 + 50'000'000;
  child.duration_ns = 100'000'000;
  child.error = true;
  child.exception = std::make_pair("PaymentDeclined", "card 4242 declined");
  child.stacktrace = "#0 charge() at pay.cpp:12\n#1 checkout() at shop.cpp:40";

  span_spec log;
  log.trace_id = kTrace;
  log.span_id = kLog;
  log.parent_span_id = kChild;
  log.name = "retrying {attempt}";
  log.start_ns = t0 + 120'000'000;
  log.duration_ns = 0;
  log.attributes = {kv("logfire.span_type", "log"), kv("logfire.level_num", std::int64_t{13}),
                    kv("logfire.msg", "retrying 2"), kv("attempt", std::int64_t{2})};
  return {root, child, log};
}

void expect_sample_trace_stored(const std::string& db, std::uint64_t t0) {
  auto rows = sql(db, std::string("SELECT * FROM records WHERE trace_id = '") + kTrace + "' ORDER BY start_timestamp");
  ASSERT_EQ(rows.size(), 3u);
  const auto& root = rows[0];
  EXPECT_EQ(root.at("span_id"), kRoot);
  EXPECT_EQ(root.at("parent_span_id"), "NULL");
  EXPECT_EQ(root.at("kind"), "span");
  EXPECT_EQ(root.at("level"), "9");
  EXPECT_EQ(root.at("span_name"), "checkout {cart_id}");
  EXPECT_EQ(root.at("message"), "checkout 42");
  EXPECT_EQ(root.at("tags"), R"(["shop","web"])");
  EXPECT_EQ(root.at("service_name"), "backend-test");
  EXPECT_EQ(root.at("otel_scope_name"), "logfire");
  EXPECT_EQ(root.at("duration"), "0.25");
  EXPECT_EQ(root.at("is_exception"), "0");
  EXPECT_EQ(root.at("otel_resource_attributes"), R"({"service.name":"backend-test"})");

  const auto& child = rows[1];
  EXPECT_EQ(child.at("span_id"), kChild);
  EXPECT_EQ(child.at("parent_span_id"), kRoot);
  EXPECT_EQ(child.at("level"), "17") << "status ERROR without logfire.level_num is level error";
  EXPECT_EQ(child.at("message"), "charge card") << "no logfire.msg: the span name";
  EXPECT_EQ(child.at("otel_status_code"), "ERROR");
  EXPECT_EQ(child.at("otel_status_message"), "PaymentDeclined: card 4242 declined");
  EXPECT_EQ(child.at("is_exception"), "1");
  EXPECT_EQ(child.at("exception_type"), "PaymentDeclined");
  EXPECT_EQ(child.at("exception_message"), "card 4242 declined");
  EXPECT_EQ(child.at("exception_stacktrace"), "#0 charge() at pay.cpp:12\n#1 checkout() at shop.cpp:40");

  const auto& log = rows[2];
  EXPECT_EQ(log.at("span_id"), kLog);
  EXPECT_EQ(log.at("parent_span_id"), kChild);
  EXPECT_EQ(log.at("kind"), "log");
  EXPECT_EQ(log.at("level"), "13");
  EXPECT_EQ(log.at("message"), "retrying 2");
  EXPECT_EQ(log.at("duration"), "0.0");
  EXPECT_EQ(log.at("start_timestamp"), log.at("end_timestamp"));

  // Attributes are JSON: scalars typed, structured values (per logfire.json_schema) as JSON.
  auto attrs = sql(db, std::string("SELECT attributes->>'$.cart_id' AS id, attributes->>'$.cart.items[0].sku' AS sku, "
                                   "json_type(attributes, '$.cart') AS t FROM records WHERE span_id = '") +
                           kRoot + "'");
  ASSERT_EQ(attrs.size(), 1u);
  EXPECT_EQ(attrs[0].at("id"), "42");
  EXPECT_EQ(attrs[0].at("sku"), "A1");
  EXPECT_EQ(attrs[0].at("t"), "object");

  // Timestamps: UTC text with microseconds, comparable with SQLite's date functions.
  auto ts = sql(db, std::string("SELECT CAST(round((julianday(start_timestamp) - 2440587.5) * 86400) AS INTEGER) AS "
                                "secs FROM records WHERE span_id = '") +
                        kRoot + "'");
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_NEAR(std::stod(ts[0].at("secs")), static_cast<double>(t0 / 1'000'000'000), 1.0);
}

TEST_F(ingest, protobuf_spans_come_back_from_sql_exactly) {
  std::uint64_t t0 = now_ns() - 10'000'000'000ULL;
  auto reply = post(serve_->port(), "/v1/traces", trace_request(sample_trace(t0)).SerializeAsString());
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.content_type, "application/x-protobuf");
  pb::trace_response response;
  ASSERT_TRUE(response.ParseFromString(reply.body));
  EXPECT_FALSE(response.has_partial_success());
  // Acknowledged means committed: the rows are readable by another connection right away.
  expect_sample_trace_stored(db(), t0);
}

TEST_F(ingest, json_with_hex_ids_is_stored_like_protobuf) {
  std::uint64_t t0 = now_ns() - 5'000'000'000ULL;
  std::string t = std::to_string(t0);
  std::string t_end = std::to_string(t0 + 250'000'000);
  std::string body =
      R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"json-svc"}}]},
    "scopeSpans":[{"scope":{"name":"logfire"},"spans":[
      {"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","name":"GET /items","kind":2,
       "startTimeUnixNano":")" +
      t + R"(","endTimeUnixNano":")" + t_end + R"(",
       "attributes":[{"key":"logfire.msg","value":{"stringValue":"GET /items"}},
                     {"key":"http.route","value":{"stringValue":"/items"}},
                     {"key":"http.response.status_code","value":{"intValue":"200"}},
                     {"key":"ratio","value":{"doubleValue":0.5}},
                     {"key":"ok","value":{"boolValue":true}}],
       "futureField":{"ignored":true}},
      {"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"5fb397be34d26b51","parentSpanId":"00f067aa0ba902b7",
       "name":"query","startTimeUnixNano":")" +
      t + R"(","endTimeUnixNano":")" + t_end + R"(",
       "status":{"code":2,"message":"timeout"},
       "links":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331"}]}]}]}]})";
  auto reply = post(serve_->port(), "/v1/traces", body, "application/json");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.content_type, "application/json");
  EXPECT_EQ(reply.body, "{}");
  auto rows = sql(db(), "SELECT * FROM records ORDER BY parent_span_id IS NOT NULL");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("trace_id"), kTrace);
  EXPECT_EQ(rows[0].at("span_id"), kRoot);
  EXPECT_EQ(rows[0].at("service_name"), "json-svc");
  EXPECT_EQ(rows[0].at("otel_span_kind"), "server");
  EXPECT_EQ(rows[0].at("http_route"), "/items");
  EXPECT_EQ(rows[0].at("http_response_status_code"), "200");
  EXPECT_EQ(
      rows[0].at("attributes"),
      R"({"logfire.msg":"GET /items","http.route":"/items","http.response.status_code":200,"ratio":0.5,"ok":true})");
  EXPECT_EQ(rows[1].at("parent_span_id"), kRoot);
  EXPECT_EQ(rows[1].at("level"), "17");
  EXPECT_EQ(rows[1].at("otel_links"),
            R"([{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","attributes":{}}])");
}

TEST_F(ingest, gzip_and_chunked_bodies_are_accepted) {
  std::uint64_t t0 = now_ns() - 1'000'000'000ULL;
  auto make = [&](const std::string& name) {
    span_spec s;
    s.trace_id = random_hex(16);
    s.span_id = random_hex(8);
    s.name = name;
    s.start_ns = t0;
    return trace_request({s}).SerializeAsString();
  };
  auto gz = post(serve_->port(), "/v1/traces", gzip(make("gzip body")), "application/x-protobuf",
                 {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(gz.status, 200) << gz.body;
  auto chunked = post_chunked(serve_->port(), "/v1/traces", make("chunked body"), "application/x-protobuf", 7);
  EXPECT_EQ(chunked.status, 200) << chunked.body;
  auto both = post_chunked(serve_->port(), "/v1/traces", gzip(make("gzip chunked body")), "application/x-protobuf", 16,
                           {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(both.status, 200) << both.body;
  auto json_gz = post(serve_->port(), "/v1/traces",
                      gzip(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":")" + random_hex(16) +
                           R"(","spanId":")" + random_hex(8) + R"(","name":"gzip json","startTimeUnixNano":")" +
                           std::to_string(t0) + R"(","endTimeUnixNano":")" + std::to_string(t0 + 1000) + R"("}]}]}]})"),
                      "application/json", {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(json_gz.status, 200) << json_gz.body;
  auto rows = sql(db(), "SELECT span_name FROM records ORDER BY span_name");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].at("span_name"), "chunked body");
  EXPECT_EQ(rows[1].at("span_name"), "gzip body");
  EXPECT_EQ(rows[2].at("span_name"), "gzip chunked body");
  EXPECT_EQ(rows[3].at("span_name"), "gzip json");
}

TEST_F(ingest, otlp_log_records_become_log_rows) {
  pb::logs_request req;
  auto* rl = req.add_resource_logs();
  *rl->mutable_resource()->add_attributes() = kv("service.name", "worker");
  auto* sl = rl->add_scope_logs();
  sl->mutable_scope()->set_name("spdlog");
  std::uint64_t t0 = now_ns() - 2'000'000'000ULL;
  auto* in_span = sl->add_log_records();
  in_span->set_time_unix_nano(t0);
  in_span->set_severity_number(opentelemetry::proto::logs::v1::SEVERITY_NUMBER_WARN);
  in_span->set_severity_text("WARN");
  in_span->mutable_body()->set_string_value("disk 91% full");
  in_span->set_trace_id(bytes_from_hex(kTrace));
  in_span->set_span_id(bytes_from_hex(kRoot));
  *in_span->add_attributes() = kv("disk", "/var");
  auto* alone = sl->add_log_records();
  alone->set_time_unix_nano(t0 + 1000);
  alone->set_severity_number(opentelemetry::proto::logs::v1::SEVERITY_NUMBER_ERROR);
  alone->mutable_body()->set_string_value("worker crashed");
  *alone->add_attributes() = kv("exception.type", "std::runtime_error");
  *alone->add_attributes() = kv("exception.message", "boom");

  auto reply = post(serve_->port(), "/v1/logs", req.SerializeAsString());
  ASSERT_EQ(reply.status, 200) << reply.body;
  pb::logs_response response;
  ASSERT_TRUE(response.ParseFromString(reply.body));
  EXPECT_FALSE(response.has_partial_success());

  auto rows = sql(db(), "SELECT * FROM records ORDER BY start_timestamp");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("kind"), "log");
  EXPECT_EQ(rows[0].at("level"), "13");
  EXPECT_EQ(rows[0].at("message"), "disk 91% full");
  EXPECT_EQ(rows[0].at("trace_id"), kTrace);
  EXPECT_EQ(rows[0].at("parent_span_id"), kRoot) << "the span active when logging is the log's parent";
  EXPECT_EQ(rows[0].at("span_id").size(), 16u);
  EXPECT_EQ(rows[0].at("service_name"), "worker");
  EXPECT_EQ(rows[0].at("otel_scope_name"), "spdlog");
  EXPECT_EQ(rows[0].at("attributes"), R"({"disk":"/var"})");
  EXPECT_EQ(rows[1].at("level"), "17");
  EXPECT_EQ(rows[1].at("trace_id").size(), 32u) << "a log without trace context still gets a trace id";
  EXPECT_EQ(rows[1].at("parent_span_id"), "NULL");
  EXPECT_EQ(rows[1].at("is_exception"), "1");
  EXPECT_EQ(rows[1].at("exception_type"), "std::runtime_error");
}

TEST_F(ingest, metric_points_go_to_the_metrics_table) {
  namespace m = opentelemetry::proto::metrics::v1;
  pb::metrics_request req;
  auto* rm = req.add_resource_metrics();
  *rm->mutable_resource()->add_attributes() = kv("service.name", "metrics-svc");
  auto* sm = rm->add_scope_metrics();
  sm->mutable_scope()->set_name("logfire");
  std::uint64_t t = now_ns();
  auto* counter = sm->add_metrics();
  counter->set_name("http.requests");
  counter->set_unit("1");
  counter->mutable_sum()->set_aggregation_temporality(m::AGGREGATION_TEMPORALITY_DELTA);
  counter->mutable_sum()->set_is_monotonic(true);
  auto* p = counter->mutable_sum()->add_data_points();
  p->set_time_unix_nano(t);
  p->set_start_time_unix_nano(t - 60'000'000'000ULL);
  p->set_as_int(17);
  *p->add_attributes() = kv("route", "/buy");
  auto* hist = sm->add_metrics();
  hist->set_name("http.duration");
  hist->set_unit("ms");
  hist->mutable_histogram()->set_aggregation_temporality(m::AGGREGATION_TEMPORALITY_DELTA);
  auto* hp = hist->mutable_histogram()->add_data_points();
  hp->set_time_unix_nano(t);
  hp->set_count(3);
  hp->set_sum(33.5);
  hp->set_min(1.5);
  hp->set_max(30);
  hp->add_explicit_bounds(10);
  hp->add_bucket_counts(2);
  hp->add_bucket_counts(1);
  auto* gauge = sm->add_metrics();
  gauge->set_name("queue.depth");
  gauge->mutable_gauge()->add_data_points()->set_as_double(2.5);

  auto reply = post(serve_->port(), "/v1/metrics", req.SerializeAsString());
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto rows = sql(db(), "SELECT * FROM metrics ORDER BY metric_name");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].at("metric_name"), "http.duration");
  EXPECT_EQ(rows[0].at("metric_type"), "histogram");
  EXPECT_EQ(rows[0].at("histogram_count"), "3");
  EXPECT_EQ(rows[0].at("histogram_sum"), "33.5");
  EXPECT_EQ(rows[0].at("histogram_min"), "1.5");
  EXPECT_EQ(rows[0].at("histogram_max"), "30.0");
  EXPECT_EQ(rows[0].at("histogram_buckets"), R"({"explicit_bounds":[10],"bucket_counts":[2,1]})");
  EXPECT_EQ(rows[1].at("metric_name"), "http.requests");
  EXPECT_EQ(rows[1].at("metric_type"), "sum");
  EXPECT_EQ(rows[1].at("scalar_value"), "17.0");
  EXPECT_EQ(rows[1].at("aggregation_temporality"), "delta");
  EXPECT_EQ(rows[1].at("is_monotonic"), "1");
  EXPECT_EQ(rows[1].at("attributes"), R"({"route":"/buy"})");
  EXPECT_EQ(rows[1].at("service_name"), "metrics-svc");
  EXPECT_EQ(rows[2].at("metric_type"), "gauge");
  EXPECT_EQ(rows[2].at("scalar_value"), "2.5");
}

TEST_F(ingest, unusable_spans_are_reported_as_partial_success) {
  span_spec good;
  good.trace_id = random_hex(16);
  good.span_id = random_hex(8);
  good.name = "good";
  auto req = trace_request({good});
  auto* bad = req.mutable_resource_spans(0)->mutable_scope_spans(0)->add_spans();
  bad->set_trace_id("short");  // 5 bytes
  bad->set_span_id(bytes_from_hex("0102030405060708"));
  bad->set_name("bad trace id");
  auto reply = post(serve_->port(), "/v1/traces", req.SerializeAsString());
  ASSERT_EQ(reply.status, 200) << reply.body;
  pb::trace_response response;
  ASSERT_TRUE(response.ParseFromString(reply.body));
  ASSERT_TRUE(response.has_partial_success());
  EXPECT_EQ(response.partial_success().rejected_spans(), 1);
  EXPECT_NE(response.partial_success().error_message().find("invalid trace_id"), std::string::npos)
      << response.partial_success().error_message();
  EXPECT_EQ(sql_count(db(), "SELECT count(*) FROM records"), 1);

  // The same in JSON: partialSuccess with OTLP/JSON's field names.
  std::string json =
      R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"","spanId":"0102030405060708","name":"x"}]}]}]})";
  auto json_reply = post(serve_->port(), "/v1/traces", json, "application/json");
  ASSERT_EQ(json_reply.status, 200) << json_reply.body;
  EXPECT_NE(json_reply.body.find(R"("partialSuccess":{"rejectedSpans":"1")"), std::string::npos) << json_reply.body;
}

}  // namespace
}  // namespace logfire::backend_test
