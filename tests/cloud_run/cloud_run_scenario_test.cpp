// The Cloud Run scenario, over real HTTP on 127.0.0.1. Cloud Run's front end puts a
// `traceparent: 00-<trace>-<span>-00` and an `X-Cloud-Trace-Context: <trace>/<decimal>;o=0` on
// every request, because it samples (at most ~0.1 request/s per instance) for its own tracing.
// A standard OpenTelemetry SDK obeys that "not sampled" flag and silently records nothing.
//
// An instrumented cpp-httplib service (K_SERVICE/K_REVISION set, OTEL_PROPAGATORS =
// tracecontext,baggage,xcloudtrace) receives 1,000 such requests; each handler logs once.
// Per distributed_tracing mode, what reaches the exporter, what stats() counts and what is
// printed on stderr:
//   unset (default): all 1,000 server spans and logs, with the incoming trace ids; one notice.
//   off:  all delivered, in new traces.        link: all delivered, new traces linked to the incoming.
//   on:   none; 1,000 counted as remote_parent_not_sampled (+ 1,000 logs as parent_not_recorded);
//         one explanatory line.
//   unset without K_SERVICE: the standard flag is obeyed (counted); one "continuing" warning.
#include "cloud_run/cloud_run_support.hpp"

namespace {

using namespace cloud_run_test;

struct outcome : run_result {
  std::vector<logfire::stored_record> records;
};

class cloud_run : public ::testing::Test {
 protected:
  void SetUp() override { clean_environment(); }
  void TearDown() override { clean_environment(); }

  // Runs the service in `mode` into a memory exporter.
  static outcome serve(std::optional<logfire::distributed_tracing> mode, bool traceparent = true) {
    auto mem = std::make_shared<logfire::memory_exporter>();
    logfire::options o;
    o.distributed_tracing = mode;
    o.exporters = {mem};
    outcome out;
    static_cast<run_result&>(out) = run_service(std::move(o), traceparent, [&] { out.records = mem->records(); });
    return out;
  }

  // The server spans by request number, checked to be complete and each with its one log.
  static std::map<int, logfire::stored_record> delivered(const outcome& o) {
    std::map<int, logfire::stored_record> by_request;
    std::map<std::uint64_t, int> request_of_span;
    for (const auto& s : of_kind(o.records, logfire::span_kind::server)) {
      const int i = std::stoi(s.string_attr("cart"));
      EXPECT_TRUE(by_request.emplace(i, s).second) << "two spans for request " << i;
      request_of_span[s.context.span.value] = i;
    }
    EXPECT_EQ(by_request.size(), std::size_t{k_requests});
    std::set<int> logged;
    for (const auto& l : logs(o.records)) {
      auto it = request_of_span.find(l.parent.value);
      if (it == request_of_span.end()) {
        ADD_FAILURE() << "a log outside any server span: " << l.message;
        continue;
      }
      EXPECT_EQ(l.string_attr("request"), std::to_string(it->second));
      EXPECT_EQ(l.context.trace, by_request[it->second].context.trace);
      logged.insert(it->second);
    }
    EXPECT_EQ(logged.size(), std::size_t{k_requests});
    return by_request;
  }
};

TEST_F(cloud_run, default_mode_records_every_request_in_the_platforms_trace) {
  on_cloud_run();
  const outcome o = serve(std::nullopt);
  ASSERT_EQ(o.answered, k_requests);
  expect_accounted(o.stats);
  EXPECT_EQ(o.stats.dropped_total(), 0u) << o.stats.summary();
  EXPECT_EQ(o.stats.exported, std::uint64_t{2 * k_requests});

  const auto spans = delivered(o);
  for (const auto& [i, s] : spans) {
    const auto ids = ids_for(i);
    EXPECT_EQ(s.context.trace.to_hex(), ids.trace) << i;  // correlates with the platform's request log
    EXPECT_EQ(s.parent.to_hex(), ids.parent) << i;
    EXPECT_TRUE(s.parent_is_remote);
    EXPECT_TRUE(s.context.sampled());
  }
  // One line, once, says what happened and how to choose otherwise.
  EXPECT_EQ(occurrences(o.err, k_platform_notice), 1u) << o.err;
  EXPECT_NE(o.err.find("LOGFIRE_DISTRIBUTED_TRACING"), std::string::npos) << o.err;
  EXPECT_EQ(occurrences(o.err, k_continue_warning), 0u) << o.err;
  EXPECT_EQ(explanatory_lines(o.err, "remote_parent_not_sampled"), 0u) << o.err;
}

TEST_F(cloud_run, off_records_every_request_in_new_traces) {
  on_cloud_run();
  const outcome o = serve(logfire::distributed_tracing::off);
  ASSERT_EQ(o.answered, k_requests);
  expect_accounted(o.stats);
  EXPECT_EQ(o.stats.dropped_total(), 0u) << o.stats.summary();

  std::set<std::string> traces;
  for (const auto& [i, s] : delivered(o)) {
    EXPECT_NE(s.context.trace.to_hex(), ids_for(i).trace) << i;
    EXPECT_FALSE(s.parent.valid()) << i;
    EXPECT_TRUE(s.links.empty());
    traces.insert(s.context.trace.to_hex());
  }
  EXPECT_EQ(traces.size(), std::size_t{k_requests});  // one new trace per request
  EXPECT_EQ(occurrences(o.err, k_platform_notice), 0u) << o.err;
  EXPECT_EQ(occurrences(o.err, k_continue_warning), 0u) << o.err;
}

TEST_F(cloud_run, link_records_every_request_in_new_traces_linked_to_the_platforms) {
  on_cloud_run();
  const outcome o = serve(logfire::distributed_tracing::link);
  ASSERT_EQ(o.answered, k_requests);
  expect_accounted(o.stats);
  EXPECT_EQ(o.stats.dropped_total(), 0u) << o.stats.summary();

  for (const auto& [i, s] : delivered(o)) {
    const auto ids = ids_for(i);
    EXPECT_NE(s.context.trace.to_hex(), ids.trace) << i;
    EXPECT_FALSE(s.parent.valid()) << i;
    ASSERT_EQ(s.links.size(), 1u) << i;
    EXPECT_EQ(s.links[0].context.trace.to_hex(), ids.trace) << i;
    EXPECT_EQ(s.links[0].context.span.to_hex(), ids.parent) << i;
  }
  EXPECT_EQ(occurrences(o.err, k_platform_notice), 0u) << o.err;
}

TEST_F(cloud_run, on_obeys_the_platforms_flag_and_counts_every_loss) {
  on_cloud_run();
  const outcome o = serve(logfire::distributed_tracing::on);
  ASSERT_EQ(o.answered, k_requests);
  expect_accounted(o.stats);
  EXPECT_TRUE(o.records.empty()) << o.records.size() << " records delivered";
  EXPECT_EQ(o.stats.exported, 0u);
  EXPECT_EQ(o.stats.dropped_by(drop_reason::remote_parent_not_sampled), std::uint64_t{k_requests});
  EXPECT_EQ(o.stats.dropped_by(drop_reason::parent_not_recorded), std::uint64_t{k_requests});
  // Not silent: one explanatory line naming the setting that changes it.
  EXPECT_EQ(explanatory_lines(o.err, "remote_parent_not_sampled"), 1u) << o.err;
  EXPECT_NE(o.err.find("LOGFIRE_DISTRIBUTED_TRACING"), std::string::npos) << o.err;
  EXPECT_EQ(occurrences(o.err, k_platform_notice), 0u) << o.err;
  EXPECT_EQ(occurrences(o.err, k_continue_warning), 0u) << o.err;  // "on" is a choice: silent
}

TEST_F(cloud_run, off_cloud_run_the_default_obeys_the_flag_and_warns_once) {
  // The same requests, but nothing in the environment says a platform put the headers there.
  const outcome o = serve(std::nullopt);
  ASSERT_EQ(o.answered, k_requests);
  expect_accounted(o.stats);
  EXPECT_TRUE(o.records.empty());
  EXPECT_EQ(o.stats.dropped_by(drop_reason::remote_parent_not_sampled), std::uint64_t{k_requests});
  EXPECT_EQ(o.stats.dropped_by(drop_reason::parent_not_recorded), std::uint64_t{k_requests});
  EXPECT_EQ(occurrences(o.err, std::string(k_continue_warning) + " traceparent header"), 1u) << o.err;
  EXPECT_EQ(explanatory_lines(o.err, "remote_parent_not_sampled"), 1u) << o.err;
  EXPECT_EQ(occurrences(o.err, k_platform_notice), 0u) << o.err;
}

TEST_F(cloud_run, the_legacy_header_alone_is_handled_like_traceparent) {
  // Some front ends send only X-Cloud-Trace-Context (decimal span id, o=0).
  on_cloud_run();
  const outcome o = serve(std::nullopt, /*traceparent=*/false);
  ASSERT_EQ(o.answered, k_requests);
  expect_accounted(o.stats);
  EXPECT_EQ(o.stats.dropped_total(), 0u) << o.stats.summary();
  for (const auto& [i, s] : delivered(o)) {
    EXPECT_EQ(s.context.trace.to_hex(), ids_for(i).trace) << i;
    EXPECT_EQ(s.parent.value, ids_for(i).parent_value) << i;
  }
  EXPECT_EQ(occurrences(o.err, std::string(k_platform_notice) + " in its X-Cloud-Trace-Context header"), 1u) << o.err;
}

}  // namespace
