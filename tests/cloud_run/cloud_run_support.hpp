// The Cloud Run scenario's moving parts, shared by its memory-exporter and OTLP variants: the
// ids Cloud Run's front end would put on each request, an environment cleaned of variables
// that would change the configuration, and one run of the instrumented service (1,000 requests
// over loopback from 4 keep-alive clients, stderr captured from configure() to shutdown()).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>

#include "httplib/httplib_test_support.hpp"
#include "logfire/httplib.hpp"

namespace cloud_run_test {

using namespace httplib_test;
using logfire::drop_reason;

constexpr int k_requests = 1000;
constexpr int k_clients = 4;

// The ids Cloud Run's front end would have put on request i (distinct per request).
struct incoming_ids {
  std::string trace;   // 32 hex
  std::string parent;  // 16 hex
  std::uint64_t parent_value = 0;
};

inline incoming_ids ids_for(int i) {
  incoming_ids ids;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016" PRIx64 "%016" PRIx64, std::uint64_t{0x5eedc0de00000000} + std::uint64_t(i),
                std::uint64_t{0x9e3779b97f4a7c15} * std::uint64_t(i + 1));
  ids.trace = buf;
  ids.parent_value = std::uint64_t{0xc2b2ae3d27d4eb4f} ^ (std::uint64_t(i + 1) << 20);
  std::snprintf(buf, sizeof buf, "%016" PRIx64, ids.parent_value);
  ids.parent = buf;
  return ids;
}

// Variables that would change what these tests configure, if the environment running them had them.
inline constexpr const char* k_clean_env[] = {"K_SERVICE",
                                              "K_REVISION",
                                              "K_CONFIGURATION",
                                              "FUNCTION_TARGET",
                                              "FUNCTION_NAME",
                                              "GAE_SERVICE",
                                              "CLOUD_RUN_JOB",
                                              "LOGFIRE_DISTRIBUTED_TRACING",
                                              "OTEL_PROPAGATORS",
                                              "LOGFIRE_TOKEN",
                                              "LOGFIRE_SEND_TO_LOGFIRE",
                                              "LOGFIRE_TRACE_SAMPLE_RATE",
                                              "OTEL_TRACES_SAMPLER_ARG",
                                              "LOGFIRE_MIN_LEVEL",
                                              "OTEL_EXPORTER_OTLP_ENDPOINT",
                                              "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                                              "LOGFIRE_CONSOLE",
                                              "OTEL_EXPORTER_OTLP_HEADERS",
                                              "LOGFIRE_SPOOL",
                                              "LOGFIRE_BASE_URL",
                                              "OTEL_SERVICE_NAME",
                                              "LOGFIRE_SERVICE_NAME"};

inline void clean_environment() {
  for (const char* v : k_clean_env) ::unsetenv(v);
}

inline void on_cloud_run() {
  ::setenv("K_SERVICE", "checkout", 1);
  ::setenv("K_REVISION", "checkout-00042-xyz", 1);
  ::setenv("K_CONFIGURATION", "checkout", 1);
}

struct run_result {
  logfire::pipeline_stats stats;
  std::string err;  // everything printed on stderr from configure() to shutdown()
  int answered = 0;
};

// Configures the SDK with `o` (plus OTEL_PROPAGATORS = tracecontext,baggage,xcloudtrace from the
// environment, read at configure() like K_SERVICE), serves `requests` Cloud Run requests with an
// instrumented cpp-httplib service whose handler logs once, flushes, takes stats(), runs
// `after_flush` (to copy what was delivered), and shuts down.
template <class AfterFlush>
run_result run_service(logfire::options o, bool traceparent, AfterFlush after_flush, int requests = k_requests) {
  run_result out;
  ::setenv("OTEL_PROPAGATORS", "tracecontext,baggage,xcloudtrace", 1);
  o.service_name = "checkout";
  o.send_to_logfire = logfire::send_to_logfire::no;
  o.console.enabled = false;
  o.read_environment = true;

  testing::internal::CaptureStderr();
  {
    auto lf = logfire::configure(std::move(o));
    EXPECT_TRUE(lf) << lf.error();
    logfire::shutdown_guard guard(lf);
    running_server srv;
    auto routes = logfire::instrument_httplib(srv.server());
    routes.post(R"(/checkout/(\d+))",
                [](const httplib::Request& req, httplib::Response& res) {
                  logfire::info("priced cart {request}", {{"request", req.get_header_value("X-Request")}});
                  res.set_content("ok", "text/plain");
                },
                "/checkout/{cart}");
    EXPECT_TRUE(srv.start());

    std::atomic<int> answered{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < k_clients; ++c) {
      clients.emplace_back([&, c] {
        httplib::Client cli("127.0.0.1", srv.port());
        for (int i = c; i < requests; i += k_clients) {
          const auto ids = ids_for(i);
          httplib::Headers h = {{"X-Cloud-Trace-Context", ids.trace + "/" + std::to_string(ids.parent_value) + ";o=0"},
                                {"X-Request", std::to_string(i)}};
          if (traceparent) h.emplace("traceparent", "00-" + ids.trace + "-" + ids.parent + "-00");
          auto res = cli.Post("/checkout/" + std::to_string(i), h, "{}", "application/json");
          if (res && res->status == 200) ++answered;
        }
      });
    }
    for (auto& t : clients) t.join();
    out.answered = answered.load();
    EXPECT_TRUE(logfire::force_flush(std::chrono::seconds(60)));
    out.stats = logfire::stats();
    after_flush();
    srv.stop();
  }  // shutdown: the background thread has printed everything it will print
  out.err = testing::internal::GetCapturedStderr();
  return out;
}

// Every record produced is exported or dropped under a named reason: a span and a log per request.
inline void expect_accounted(const logfire::pipeline_stats& st, int requests = k_requests) {
  EXPECT_EQ(st.produced, st.exported + st.dropped_total()) << st.summary();
  EXPECT_EQ(st.produced, static_cast<std::uint64_t>(2 * requests)) << st.summary();
}

// The one-time explanatory line of a drop reason (not the rate-limited "so far" reminders).
inline std::size_t explanatory_lines(const std::string& err, std::string_view reason) {
  std::size_t n = 0;
  const std::string needle = "(" + std::string(reason) + ") not recorded because";
  std::size_t start = 0;
  while (start < err.size()) {
    const std::size_t end = std::min(err.find('\n', start), err.size());
    const std::string_view line(err.data() + start, end - start);
    if (line.find(needle) != std::string_view::npos && line.find("so far") == std::string_view::npos) ++n;
    start = end + 1;
  }
  return n;
}

inline constexpr std::string_view k_platform_notice = "Google Cloud Run marked an incoming request \"not sampled\"";
inline constexpr std::string_view k_continue_warning = "continuing the trace from an incoming";

}  // namespace cloud_run_test
