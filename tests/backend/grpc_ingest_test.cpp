// OTLP/gRPC into `logfire-cpp serve`, through gRPC C++'s own generated client stubs over a real
// HTTP/2 connection on 127.0.0.1: traces, logs and metrics are stored, an OK comes only after
// the commit, partial success is answered the OTLP way, and every limit of the HTTP door (token,
// message size, rows, memory) holds here too with the status codes OTLP/gRPC specifies
// (RESOURCE_EXHAUSTED carries RetryInfo only where retrying can help).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend/backend_support.hpp"
#include "opentelemetry/proto/collector/logs/v1/logs_service.grpc.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"

namespace logfire::backend_test {
namespace {

namespace collector = opentelemetry::proto::collector;

struct grpc_server {
  explicit grpc_server(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"--grpc-port", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    serve = std::make_unique<serve_process>(dir.file("grpc.db"), args);
  }
  [[nodiscard]] std::string db() const { return dir.file("grpc.db"); }
  [[nodiscard]] std::shared_ptr<grpc::Channel> channel() const {
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(256 << 20);
    return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(serve->grpc_port()),
                                     grpc::InsecureChannelCredentials(), args);
  }
  temp_dir dir;
  std::unique_ptr<serve_process> serve;
};

std::unique_ptr<grpc::ClientContext> call_context(const std::string& token = {}) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
  return ctx;
}

grpc::Status export_trace(const grpc_server& s, const pb::trace_request& req, pb::trace_response& response,
                          const std::string& token = {}) {
  auto stub = collector::trace::v1::TraceService::NewStub(s.channel());
  return stub->Export(call_context(token).get(), req, &response);
}

std::vector<span_spec> spans(int n, const std::string& trace = random_hex(16)) {
  std::vector<span_spec> out;
  for (int i = 0; i < n; ++i) {
    span_spec sp;
    sp.trace_id = trace;
    sp.span_id = random_hex(8);
    sp.name = "grpc span " + std::to_string(i);
    out.push_back(sp);
  }
  return out;
}

// Whether a status carries a google.rpc.RetryInfo in its details (grpc-status-details-bin).
bool has_retry_info(const grpc::Status& status) {
  return status.error_details().find("type.googleapis.com/google.rpc.RetryInfo") != std::string::npos;
}

class grpc_ingest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (run_cli({"serve", "--help"}).out.find("--grpc-port") == std::string::npos) {
      GTEST_SKIP() << "this logfire-cpp has no --grpc-port";
    }
  }
};

TEST_F(grpc_ingest, traces_logs_and_metrics_are_stored_before_the_ok) {
  grpc_server s;
  ASSERT_TRUE(s.serve->started()) << s.serve->output();
  if (s.serve->grpc_port() == 0) GTEST_SKIP() << "built without OTLP/gRPC: " << s.serve->output();

  pb::trace_response tr;
  auto trace = spans(3, "0af7651916cd43dd8448eb211c80319c");
  trace[0].attributes = {kv("logfire.msg", "checkout 42"), kv("cart_id", std::int64_t{42})};
  grpc::Status st = export_trace(s, trace_request(trace, "grpc-shop"), tr);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_FALSE(tr.has_partial_success());
  // Acknowledged means committed: the rows are in the file the moment the call returns.
  auto rows = sql(s.db(), "SELECT service_name, message, attributes FROM records ORDER BY span_name");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].at("service_name"), "grpc-shop");
  EXPECT_EQ(rows[0].at("message"), "checkout 42");
  EXPECT_EQ(rows[0].at("attributes"), R"({"logfire.msg":"checkout 42","cart_id":42})");

  pb::logs_request logs;
  auto* lr = logs.add_resource_logs()->add_scope_logs()->add_log_records();
  lr->set_time_unix_nano(now_ns());
  lr->set_severity_number(opentelemetry::proto::logs::v1::SEVERITY_NUMBER_ERROR);
  lr->mutable_body()->set_string_value("payment failed over gRPC");
  pb::logs_response lresp;
  auto logs_stub = collector::logs::v1::LogsService::NewStub(s.channel());
  st = logs_stub->Export(call_context().get(), logs, &lresp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(sql_count(s.db(),
                      "SELECT count(*) FROM records WHERE kind = 'log' AND level = 17 AND "
                      "message = 'payment failed over gRPC'"),
            1);

  pb::metrics_request metrics;
  auto* m = metrics.add_resource_metrics()->add_scope_metrics()->add_metrics();
  m->set_name("grpc.requests");
  auto* p = m->mutable_gauge()->add_data_points();
  p->set_time_unix_nano(now_ns());
  p->set_as_int(7);
  collector::metrics::v1::ExportMetricsServiceResponse mresp;
  auto metrics_stub = collector::metrics::v1::MetricsService::NewStub(s.channel());
  st = metrics_stub->Export(call_context().get(), metrics, &mresp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(sql_count(s.db(), "SELECT count(*) FROM metrics WHERE metric_name = 'grpc.requests' AND scalar_value = 7"),
            1);

  auto stats = get(s.serve->port(), "/api/stats");
  EXPECT_NE(stats.body.find("\"grpc_export_requests\":3"), std::string::npos) << stats.body;
}

TEST_F(grpc_ingest, unusable_spans_get_a_partial_success_and_the_rest_is_stored) {
  grpc_server s;
  ASSERT_TRUE(s.serve->started()) << s.serve->output();
  if (s.serve->grpc_port() == 0) GTEST_SKIP() << "built without OTLP/gRPC";
  auto req = trace_request(spans(2));
  req.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(1)->set_trace_id("abc");
  pb::trace_response tr;
  grpc::Status st = export_trace(s, req, tr);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_TRUE(tr.has_partial_success());
  EXPECT_EQ(tr.partial_success().rejected_spans(), 1);
  EXPECT_NE(tr.partial_success().error_message().find("invalid trace_id"), std::string::npos)
      << tr.partial_success().error_message();
  EXPECT_EQ(sql_count(s.db(), "SELECT count(*) FROM records"), 1);
}

TEST_F(grpc_ingest, the_token_is_required_in_the_authorization_metadata) {
  grpc_server s({"--token", "s3cret"});
  ASSERT_TRUE(s.serve->started()) << s.serve->output();
  if (s.serve->grpc_port() == 0) GTEST_SKIP() << "built without OTLP/gRPC";
  pb::trace_response tr;
  grpc::Status st = export_trace(s, trace_request(spans(1)), tr);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(st.error_message().find("--token"), std::string::npos) << st.error_message();
  st = export_trace(s, trace_request(spans(1)), tr, "wrong");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(sql_count(s.db(), "SELECT count(*) FROM records"), 0);
  st = export_trace(s, trace_request(spans(1)), tr, "s3cret");
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(sql_count(s.db(), "SELECT count(*) FROM records"), 1);
}

TEST_F(grpc_ingest, too_many_rows_is_invalid_and_stores_nothing) {
  grpc_server s({"--max-request-rows", "2"});
  ASSERT_TRUE(s.serve->started()) << s.serve->output();
  if (s.serve->grpc_port() == 0) GTEST_SKIP() << "built without OTLP/gRPC";
  pb::trace_response tr;
  grpc::Status st = export_trace(s, trace_request(spans(3)), tr);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("--max-request-rows"), std::string::npos) << st.error_message();
  EXPECT_FALSE(has_retry_info(st)) << "retrying the same request cannot help";
  EXPECT_EQ(sql_count(s.db(), "SELECT count(*) FROM records"), 0);
}

TEST_F(grpc_ingest, a_message_over_the_size_limit_is_refused_without_retry_info) {
  grpc_server s({"--max-body-size", "4KiB"});
  ASSERT_TRUE(s.serve->started()) << s.serve->output();
  if (s.serve->grpc_port() == 0) GTEST_SKIP() << "built without OTLP/gRPC";
  auto big = spans(1);
  big[0].attributes = {kv("blob", std::string(8192, 'x'))};
  pb::trace_response tr;
  grpc::Status st = export_trace(s, trace_request(big), tr);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  EXPECT_FALSE(has_retry_info(st)) << "OTLP clients must not retry a message that can never fit";
  EXPECT_EQ(sql_count(s.db(), "SELECT count(*) FROM records"), 0);
  // A small one still goes through.
  EXPECT_TRUE(export_trace(s, trace_request(spans(1)), tr).ok());
}

TEST_F(grpc_ingest, the_memory_budget_answers_resource_exhausted_with_retry_info) {
  grpc_server s({"--max-memory", "16MiB"});
  ASSERT_TRUE(s.serve->started()) << s.serve->output();
  if (s.serve->grpc_port() == 0) GTEST_SKIP() << "built without OTLP/gRPC";
  // 9 MiB: the message and its flat copy need 18 MiB of the 16 MiB budget.
  auto big = spans(1);
  big[0].attributes = {kv("blob", std::string(9u << 20, 'x'))};
  pb::trace_response tr;
  grpc::Status st = export_trace(s, trace_request(big), tr);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  EXPECT_NE(st.error_message().find("--max-memory"), std::string::npos) << st.error_message();
  EXPECT_TRUE(has_retry_info(st)) << "OTLP/gRPC clients retry RESOURCE_EXHAUSTED only with RetryInfo";
  EXPECT_EQ(sql_count(s.db(), "SELECT count(*) FROM records"), 0);
  auto stats = get(s.serve->port(), "/api/stats");
  EXPECT_NE(stats.body.find("\"too_many_requests\":1"), std::string::npos) << stats.body;
}

TEST_F(grpc_ingest, grpc_alone_serves_and_a_taken_port_is_an_error) {
  grpc_server s({"--no-http"});
  ASSERT_TRUE(s.serve->started()) << s.serve->output();
  if (s.serve->grpc_port() == 0) GTEST_SKIP() << "built without OTLP/gRPC";
  EXPECT_EQ(s.serve->output().find("OTLP/HTTP endpoint"), std::string::npos) << s.serve->output();
  pb::trace_response tr;
  EXPECT_TRUE(export_trace(s, trace_request(spans(2)), tr).ok());
  EXPECT_EQ(sql_count(s.db(), "SELECT count(*) FROM records"), 2);

  // The port named explicitly but taken: serve says so and exits 1.
  temp_dir other;
  auto r =
      run_cli({"serve", "--db", other.file("b.db"), "--port", "0", "--grpc-port", std::to_string(s.serve->grpc_port())},
              {}, std::chrono::seconds(20));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("cannot listen for OTLP/gRPC"), std::string::npos) << r.err;
  EXPECT_EQ(run_cli({"serve", "--no-http", "--no-grpc"}).exit_code, 2);
}

}  // namespace
}  // namespace logfire::backend_test
