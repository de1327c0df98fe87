// The exporter on a healthy backend: records arrive (decoded by libprotobuf on the receiver's
// side) with the right headers, pending spans go only where they belong, and nothing on the
// application's side waits for the network.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include "export_test_util.hpp"

namespace logfire::test {
namespace {

TEST(ExporterDelivery, RecordsArriveWithLogfireHeaders) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  test_counter counter;
  auto cfg = fast_config(rx.traces_url());
  auto exp = detail::make_otlp_exporter(cfg, test_resource("checkout"));
  exp->start(counter);
  record_factory f;
  auto batch = f.spans(20);
  exp->export_batch(batch);
  EXPECT_TRUE(exp->force_flush(clock::now() + 10s));
  EXPECT_EQ(counter.delivered(), 20u);
  EXPECT_EQ(counter.dropped_total(), 0u);
  auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 1u);
  const auto& info = reqs[0].info;
  EXPECT_EQ(info.path, "/v1/traces");
  EXPECT_EQ(info.header("Authorization"), "pylf_v1_us_testtoken");
  EXPECT_EQ(info.header("User-Agent"), "logfire-cpp/" LOGFIRE_VERSION);
  EXPECT_EQ(info.content_type, "application/x-protobuf");
  EXPECT_EQ(info.content_encoding, "gzip");
  EXPECT_EQ(info.span_count, 20u);
  const auto& res = reqs[0].message.resource_spans(0).resource();
  bool found = false;
  for (const auto& kv : res.attributes())
    if (kv.key() == "service.name") found = kv.value().string_value() == "checkout";
  EXPECT_TRUE(found);
  auto got = arrived(rx);
  for (const auto& r : batch) EXPECT_EQ(got.unique.count(span_id_bytes(r.context.span.value)), 1u);
  EXPECT_TRUE(exp->shutdown(clock::now() + 5s));
  EXPECT_EQ(counter.accounted(), 20u);
}

TEST(ExporterDelivery, JsonWithoutCompression) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  test_counter counter;
  auto cfg = fast_config(rx.traces_url());
  cfg.format = detail::body_format::json;
  cfg.gzip = false;
  auto exp = detail::make_otlp_exporter(cfg, test_resource());
  exp->start(counter);
  record_factory f;
  auto batch = f.spans(4);
  exp->export_batch(batch);
  EXPECT_TRUE(exp->shutdown(clock::now() + 10s));
  auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].info.content_type, "application/json");
  EXPECT_EQ(reqs[0].info.content_encoding, "");
  EXPECT_TRUE(reqs[0].info.decoded) << reqs[0].info.decode_error;
  EXPECT_EQ(reqs[0].info.span_count, 4u);
  EXPECT_EQ(counter.delivered(), 4u);
}

TEST(ExporterDelivery, PendingSpansGoOnlyToLogfireAndNotWithTheirRealSpan) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  record_factory f;
  // A batch: span A ended (with its pending span), span B still running (pending only), a log.
  auto a = f.make(record_type::span);
  auto a_pending = f.make(record_type::pending_span, 16, a.context.span.value);
  auto b_pending = f.make(record_type::pending_span, 16, 0xB0B);
  auto log = f.make(record_type::log);
  std::vector<span_record> batch = {a_pending, b_pending, a, log};

  for (bool logfire : {true, false}) {
    rx.clear();
    test_counter counter;
    auto cfg = fast_config(rx.traces_url());
    cfg.wants_pending_spans = logfire;
    auto exp = detail::make_otlp_exporter(cfg, test_resource());
    EXPECT_EQ(exp->wants_pending_spans(), logfire);
    exp->start(counter);
    exp->export_batch(batch);
    EXPECT_TRUE(exp->shutdown(clock::now() + 10s));
    auto got = arrived(rx);
    EXPECT_EQ(got.unique.count(span_id_bytes(a.context.span.value)), 1u);
    EXPECT_EQ(got.unique.count(span_id_bytes(log.context.span.value)), 1u);
    EXPECT_EQ(got.unique.count(span_id_bytes(a_pending.context.span.value)), 0u);  // its span is here
    EXPECT_EQ(got.unique.count(span_id_bytes(b_pending.context.span.value)), logfire ? 1u : 0u);
    // Pending spans are previews: the accounting counts the span and the log only.
    EXPECT_EQ(counter.delivered(), 2u);
    EXPECT_EQ(counter.accounted(), 2u);
  }
}

TEST(ExporterDelivery, LargeBatchesAreSplitIntoBodiesOfAtMostTheLimit) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  test_counter counter;
  auto cfg = fast_config(rx.traces_url());
  cfg.max_body_bytes = 64 * 1024;  // the real limit is 5 MiB; the mechanism is the same
  auto exp = detail::make_otlp_exporter(cfg, test_resource());
  exp->start(counter);
  record_factory f;
  auto batch = f.spans(200, 1000);  // ~200 KiB of attributes
  exp->export_batch(batch);
  EXPECT_TRUE(exp->shutdown(clock::now() + 10s));
  auto reqs = rx.requests();
  EXPECT_GE(reqs.size(), 4u);
  for (const auto& r : reqs) EXPECT_LE(r.info.body_bytes, 64u * 1024u);
  EXPECT_EQ(arrived(rx).unique.size(), 200u);
  EXPECT_EQ(counter.delivered(), 200u);
}

TEST(ExporterDelivery, ASlowBackendNeverStallsTheCaller) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  rx.set_responder([](const request_info&) { return delayed(5s); });
  test_counter counter;
  auto cfg = fast_config(rx.traces_url());
  cfg.timeout = 10s;
  auto exp = detail::make_otlp_exporter(cfg, test_resource());
  exp->start(counter);
  record_factory f;
  std::vector<std::vector<span_record>> batches;
  for (int i = 0; i < 10; ++i) batches.push_back(f.spans(50));
  auto worst = std::chrono::steady_clock::duration::zero();
  for (const auto& b : batches) {
    auto t0 = std::chrono::steady_clock::now();
    exp->export_batch(b);
    worst = std::max(worst, std::chrono::steady_clock::now() - t0);
    std::this_thread::sleep_for(50ms);
  }
  // The server takes 5 s per answer; export_batch only encodes and queues.
  EXPECT_LT(worst, 1s) << std::chrono::duration_cast<std::chrono::milliseconds>(worst).count() << " ms";
  ASSERT_TRUE(rx.wait_for_requests(1, 5s));  // the first request is being answered slowly
  rx.reset_responder();
  EXPECT_TRUE(exp->shutdown(clock::now() + 30s));
  EXPECT_EQ(counter.delivered() + counter.dropped_total(), 500u);
  EXPECT_EQ(arrived(rx).unique.size(), counter.delivered());
}

TEST(ExporterDelivery, AForkedChildSendsOnlyItsOwnRecords) {
#if defined(LOGFIRE_UNDER_TSAN)
  GTEST_SKIP() << "ThreadSanitizer cannot start threads in the child of a multi-threaded fork";
#endif
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  rx.queue_replies({delayed(1s)});  // the parent's batch is in flight when it forks
  test_counter counter;
  auto exp = detail::make_otlp_exporter(fast_config(rx.traces_url()), test_resource());
  exp->start(counter);
  record_factory f;
  auto parents = f.spans(10);
  auto childs = f.spans(7);
  exp->export_batch(parents);
  std::this_thread::sleep_for(200ms);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // In the child: what the pipeline does after fork(), then the child's own work.
    test_counter child_counter;
    exp->after_fork_in_child();
    exp->start(child_counter);
    exp->export_batch(childs);
    const bool ok = exp->force_flush(clock::now() + 10s) && child_counter.delivered() == 7;
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(exp->shutdown(clock::now() + 10s));
  auto got = arrived(rx);
  EXPECT_EQ(got.total, 17u);  // each record once: the child did not resend the parent's
  EXPECT_EQ(got.unique.size(), 17u);
  EXPECT_EQ(counter.delivered(), 10u);
}

}  // namespace
}  // namespace logfire::test
