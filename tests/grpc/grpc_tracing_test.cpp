// Trace context across gRPC: a server applies the distributed_tracing setting to the context in
// its calls' metadata exactly as an HTTP server does (the Cloud Run default included, for
// requests that Cloud Run's front end marks "not sampled"), trusted methods and callers are
// always continued, and one trace runs HTTP -> gRPC -> HTTP through the cpp-httplib, gRPC and
// libcurl integrations.
#include <curl/curl.h>

#include "cloud_run/cloud_run_support.hpp"
#include "grpc/grpc_test_support.hpp"
#include "logfire/curl.hpp"
#include "logfire/stats.hpp"

namespace {

using namespace grpc_test;

constexpr const char* k_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* k_parent = "00f067aa0ba902b7";

struct outcome {
  std::vector<logfire::stored_record> records;
  logfire::pipeline_stats stats;
  std::string err;
};

// Configures with `o` (and the environment, as a deployed service would), serves one call from an
// uninstrumented client that sends `metadata` (a front end's headers), and shuts down.
outcome serve_one_call(logfire::options o, std::vector<std::pair<std::string, std::string>> metadata,
                       logfire::grpc_server_options server_opts = {}) {
  outcome out;
  auto mem = std::make_shared<logfire::memory_exporter>();
  o.service_name = "shop";
  o.send_to_logfire = logfire::send_to_logfire::no;
  o.console.enabled = false;
  o.read_environment = true;
  o.exporters = {mem};
  testing::internal::CaptureStderr();
  {
    auto lf = logfire::configure(std::move(o));
    EXPECT_TRUE(lf) << lf.error();
    sync_shop shop;
    running_grpc_server server(&shop, std::move(server_opts));
    EXPECT_TRUE(server.ok());
    auto stub = plain_stub(server.target());
    grpc::ClientContext ctx;
    for (const auto& [k, v] : metadata) ctx.AddMetadata(k, v);
    OrderRequest req;
    req.set_id("CR-1");
    OrderReply reply;
    EXPECT_TRUE(stub->GetOrder(&ctx, req, &reply).ok());
    EXPECT_TRUE(logfire::force_flush());
    out.records = mem->records();
    out.stats = logfire::stats();
  }
  out.err = testing::internal::GetCapturedStderr();
  return out;
}

std::vector<std::pair<std::string, std::string>> cloud_run_front_end() {
  return {{"traceparent", std::string("00-") + k_trace + "-" + k_parent + "-00"},
          {"x-cloud-trace-context", std::string(k_trace) + "/67667974448284343;o=0"}};
}

struct tracing : ::testing::Test {
  void SetUp() override {
    cloud_run_test::clean_environment();
    ::setenv("OTEL_PROPAGATORS", "tracecontext,baggage,xcloudtrace", 1);
  }
  void TearDown() override { cloud_run_test::clean_environment(); }
};

TEST_F(tracing, on_cloud_run_the_default_records_not_sampled_calls_in_the_platforms_trace) {
  cloud_run_test::on_cloud_run();
  const auto out = serve_one_call({}, cloud_run_front_end());
  const auto servers = of_kind(out.records, logfire::span_kind::server);
  ASSERT_EQ(servers.size(), 1u);
  const auto& s = servers[0];
  EXPECT_EQ(s.context.trace.to_hex(), k_trace);  // kept for correlation with the platform's logs
  EXPECT_EQ(s.parent.to_hex(), k_parent);
  EXPECT_TRUE(s.parent_is_remote);
  EXPECT_TRUE(s.context.sampled());  // our sampler decided, not the front end's flag
  EXPECT_EQ(httplib_test::logs(out.records).size(), 1u);
  EXPECT_EQ(out.stats.dropped_total(), 0u) << out.stats.summary();
  EXPECT_EQ(httplib_test::occurrences(out.err, cloud_run_test::k_platform_notice), 1u) << out.err;
}

TEST_F(tracing, continuing_obeys_the_front_ends_flag_and_counts_what_it_drops) {
  cloud_run_test::on_cloud_run();
  const auto out = serve_one_call({.distributed_tracing = logfire::distributed_tracing::on}, cloud_run_front_end());
  EXPECT_TRUE(of_kind(out.records, logfire::span_kind::server).empty());
  EXPECT_EQ(out.stats.dropped_by(logfire::drop_reason::remote_parent_not_sampled), 1u) << out.stats.summary();
  EXPECT_EQ(out.stats.dropped_by(logfire::drop_reason::parent_not_recorded), 1u) << out.stats.summary();
  EXPECT_EQ(out.stats.produced, out.stats.exported + out.stats.dropped_total());
}

TEST_F(tracing, off_ignores_the_incoming_context_and_link_links_to_it) {
  const auto off = serve_one_call({.distributed_tracing = logfire::distributed_tracing::off}, cloud_run_front_end());
  auto servers = of_kind(off.records, logfire::span_kind::server);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_NE(servers[0].context.trace.to_hex(), k_trace);
  EXPECT_FALSE(servers[0].parent.valid());

  const auto link = serve_one_call({.distributed_tracing = logfire::distributed_tracing::link}, cloud_run_front_end());
  servers = of_kind(link.records, logfire::span_kind::server);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_NE(servers[0].context.trace.to_hex(), k_trace);
  EXPECT_FALSE(servers[0].parent.valid());
  ASSERT_EQ(servers[0].links.size(), 1u);
  EXPECT_EQ(servers[0].links[0].context.trace.to_hex(), k_trace);
  EXPECT_EQ(servers[0].links[0].context.span.to_hex(), k_parent);
}

TEST_F(tracing, trusted_methods_and_callers_are_always_continued) {
  const std::vector<std::pair<std::string, std::string>> sampled = {
      {"traceparent", std::string("00-") + k_trace + "-" + k_parent + "-01"}, {"x-internal", "yes"}};
  const auto by_method = serve_one_call({.distributed_tracing = logfire::distributed_tracing::off}, sampled,
                                        {.trusted_methods = {"logfire.test.v1.Shop/*"}});
  auto servers = of_kind(by_method.records, logfire::span_kind::server);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0].context.trace.to_hex(), k_trace);

  logfire::grpc_server_options by_caller;
  by_caller.trusted_caller = [](const grpc::ServerContextBase& ctx) { return metadata(ctx, "x-internal") == "yes"; };
  const auto caller = serve_one_call({.distributed_tracing = logfire::distributed_tracing::off}, sampled, by_caller);
  servers = of_kind(caller.records, logfire::span_kind::server);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0].context.trace.to_hex(), k_trace);
  EXPECT_EQ(servers[0].parent.to_hex(), k_parent);

  const auto other =
      serve_one_call({.distributed_tracing = logfire::distributed_tracing::off}, sampled,
                     {.trusted_methods = {"logfire.test.v1.Other/*", "logfire.test.v1.Shop/ListOrders"}});
  servers = of_kind(other.records, logfire::span_kind::server);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_NE(servers[0].context.trace.to_hex(), k_trace);
}

// GETs `url` with libcurl through logfire::curl_easy_perform.
std::string curl_get(const std::string& url) {
  CURL* easy = curl_easy_init();
  if (!easy) return "downstream failed";
  std::string body;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(
      easy, CURLOPT_WRITEFUNCTION, +[](char* p, std::size_t size, std::size_t n, void* out) {
        static_cast<std::string*>(out)->append(p, size * n);
        return size * n;
      });
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &body);
  const CURLcode rc = logfire::curl_easy_perform(easy, nullptr);
  curl_easy_cleanup(easy);
  return rc == CURLE_OK ? body : "downstream failed";
}

// HTTP (cpp-httplib server) -> gRPC (client, then server) -> HTTP (libcurl client, then
// cpp-httplib server): one trace, each span the child of the one before it.
TEST_F(tracing, one_trace_from_http_through_grpc_to_http) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  auto o = httplib_test::quiet_options(mem);
  o.distributed_tracing = logfire::distributed_tracing::on;
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();

  httplib_test::running_server stock;
  logfire::instrument_httplib(stock.server()).get("/stock", [](const httplib::Request&, httplib::Response& res) {
    logfire::info("stock checked");
    res.set_content("in stock", "text/plain");
  });
  ASSERT_TRUE(stock.start());
  sync_shop shop;
  shop.downstream_base = stock.base_url();
  shop.downstream_fetch = curl_get;
  running_grpc_server orders(&shop);
  ASSERT_TRUE(orders.ok());
  auto stub = instrumented_stub(orders.target());
  httplib_test::running_server front;
  logfire::instrument_httplib(front.server()).post("/checkout", [&](const httplib::Request&, httplib::Response& res) {
    grpc::ClientContext ctx;
    OrderRequest req;
    req.set_id("C-9");
    req.set_downstream("/stock");
    OrderReply reply;
    const auto st = stub->GetOrder(&ctx, req, &reply);
    res.set_content(st.ok() ? reply.note() : "grpc failed", "text/plain");
  });
  ASSERT_TRUE(front.start());

  httplib::Client browser("127.0.0.1", front.port());
  auto res = browser.Post("/checkout", {{"traceparent", std::string("00-") + k_trace + "-" + k_parent + "-01"}}, "{}",
                          "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "in stock");
  ASSERT_TRUE(logfire::force_flush());
  const auto recs = mem->records();

  auto only = [&](logfire::span_kind kind, std::string_view name_prefix) -> const logfire::stored_record* {
    const logfire::stored_record* found = nullptr;
    for (const auto& r : recs)
      if (r.type == logfire::record_type::span && r.kind == kind && r.name.starts_with(name_prefix)) {
        EXPECT_EQ(found, nullptr) << "two spans " << r.name;
        found = &r;
      }
    return found;
  };
  const auto* http_in = only(logfire::span_kind::server, "POST");
  const auto* grpc_out = only(logfire::span_kind::client, "logfire.test.v1");
  const auto* grpc_in = only(logfire::span_kind::server, "logfire.test.v1");
  const auto* http_out = only(logfire::span_kind::client, "GET");
  const auto* stock_in = only(logfire::span_kind::server, "GET");
  ASSERT_TRUE(http_in && grpc_out && grpc_in && http_out && stock_in);
  for (const auto* s : {http_in, grpc_out, grpc_in, http_out, stock_in}) EXPECT_EQ(s->context.trace.to_hex(), k_trace);
  EXPECT_EQ(http_in->parent.to_hex(), k_parent);
  EXPECT_EQ(grpc_out->parent, http_in->context.span);
  EXPECT_EQ(grpc_in->parent, grpc_out->context.span);
  EXPECT_EQ(http_out->parent, grpc_in->context.span);
  EXPECT_EQ(stock_in->parent, http_out->context.span);
  // The downstream call is libcurl's span (the request libcurl sent, as it connected).
  ASSERT_TRUE(http_out->find("url.full") && http_out->find("url.full")->string());
  EXPECT_EQ(*http_out->find("url.full")->string(), stock.base_url() + "/stock");
  ASSERT_TRUE(http_out->find("network.peer.address") && http_out->find("network.peer.address")->string());
  EXPECT_EQ(*http_out->find("network.peer.address")->string(), "127.0.0.1");
  for (const auto& l : httplib_test::logs(recs)) {
    if (l.message == "stock checked") {
      EXPECT_EQ(l.parent, stock_in->context.span);
    }
    if (l.message == "handling order C-9") {
      EXPECT_EQ(l.parent, grpc_in->context.span);
    }
  }
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, st.exported + st.dropped_total()) << st.summary();
  EXPECT_EQ(st.dropped_total(), 0u);
}

}  // namespace
