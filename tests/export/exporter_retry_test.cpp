// Retry rules seen from the receiver: what is retried and when, what is dropped and how it is
// reported, and 413 splitting.
#include <gtest/gtest.h>

#include "export/rpc_status.hpp"
#include "export_test_util.hpp"

namespace logfire::test {
namespace {

// A responder that timestamps every request and answers per its sequence number.
struct scripted {
  std::mutex mu;
  std::vector<std::chrono::steady_clock::time_point> arrivals;
  std::function<reply(std::size_t nth, const request_info&)> answer;

  otlp_receiver::responder responder() {
    return [this](const request_info& info) {
      std::size_t nth = 0;
      {
        std::lock_guard lock(mu);
        nth = arrivals.size();
        arrivals.push_back(std::chrono::steady_clock::now());
      }
      return answer(nth, info);
    };
  }
  std::vector<std::chrono::steady_clock::time_point> times() {
    std::lock_guard lock(mu);
    return arrivals;
  }
};

TEST(ExporterRetry, RetryAfterIsHonoured) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  scripted s;
  s.answer = [](std::size_t nth, const request_info&) {
    return nth == 0 ? answer(429, {{"Retry-After", "2"}}) : reply{};
  };
  rx.set_responder(s.responder());
  test_counter counter;
  auto cfg = fast_config(rx.traces_url());  // backoff alone would retry after ~100 ms
  auto exp = detail::make_otlp_exporter(cfg, test_resource());
  exp->start(counter);
  record_factory f;
  auto batch = f.spans(10);
  exp->export_batch(batch);
  ASSERT_TRUE(rx.wait_for_spans(10, 20s));
  auto t = s.times();
  ASSERT_EQ(t.size(), 2u);
  const auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(t[1] - t[0]);
  EXPECT_GE(gap.count(), 1800) << "the retry came after " << gap.count() << " ms";
  EXPECT_LT(gap.count(), 15000);
  EXPECT_TRUE(exp->shutdown(clock::now() + 5s));
  EXPECT_EQ(counter.delivered(), 10u);
  EXPECT_EQ(counter.events(event_counter::batches_retried), 1u);
  EXPECT_EQ(counter.events(event_counter::records_spooled), 0u);
}

TEST(ExporterRetry, ServerErrorsAndTimeoutsAreRetriedWithBackoff) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  scripted s;
  s.answer = [](std::size_t nth, const request_info&) {
    if (nth == 0) return answer(503);
    if (nth == 1) return answer(408);
    return reply{};
  };
  rx.set_responder(s.responder());
  test_counter counter;
  auto cfg = fast_config(rx.traces_url());
  cfg.failures_before_spool = 5;  // keep it in memory for this test
  auto exp = detail::make_otlp_exporter(cfg, test_resource());
  exp->start(counter);
  record_factory f;
  auto batch = f.spans(5);
  exp->export_batch(batch);
  ASSERT_TRUE(rx.wait_for_spans(5, 20s));
  auto t = s.times();
  ASSERT_EQ(t.size(), 3u);
  // Exponential: the second wait (~200 ms) is longer than the first (~100 ms), with jitter.
  EXPECT_GE(t[1] - t[0], 70ms);
  EXPECT_GE(t[2] - t[1], 150ms);
  EXPECT_TRUE(exp->shutdown(clock::now() + 5s));
  EXPECT_EQ(counter.delivered(), 5u);
  EXPECT_EQ(counter.events(event_counter::batches_retried), 2u);
  EXPECT_EQ(arrived(rx).total, 5u);
}

TEST(ExporterRetry, ABadRequestIsNotRetriedAndTheServerAnswerIsReported) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  rx.set_responder([](const request_info&) {
    return answer(400, {}, "invalid trace id in span 3: must be 16 bytes" + std::string(400, '.'));
  });
  test_counter counter;
  auto exp = detail::make_otlp_exporter(fast_config(rx.traces_url()), test_resource());
  exp->start(counter);
  record_factory f;
  auto batch = f.spans(7);
  exp->export_batch(batch);
  EXPECT_TRUE(eventually([&] { return counter.dropped(drop_reason::rejected_by_backend) == 7; }, 10s));
  std::this_thread::sleep_for(500ms);  // several backoff periods: a retry would show up
  EXPECT_EQ(rx.request_count(), 1u);
  auto details = counter.details(drop_reason::rejected_by_backend);
  ASSERT_EQ(details.size(), 1u);
  EXPECT_NE(details[0].find("HTTP 400"), std::string::npos) << details[0];
  EXPECT_NE(details[0].find("invalid trace id in span 3: must be 16 bytes"), std::string::npos) << details[0];
  EXPECT_LT(details[0].size(), 400u);  // the first 200 bytes of the answer, not all of it
  EXPECT_TRUE(exp->shutdown(clock::now() + 5s));
  EXPECT_EQ(counter.delivered(), 0u);
  EXPECT_EQ(counter.accounted(), 7u);
  EXPECT_EQ(counter.events(event_counter::batches_retried), 0u);
}

// google.rpc.Status{code: 16, message: "invalid token"}, as protobuf bytes.
static std::string unauthenticated_status() {
  std::string msg = "invalid token";
  std::string b = "\x08\x10\x12";
  b.push_back(static_cast<char>(msg.size()));
  return b + msg;
}

TEST(ExporterRetry, AProtobufStatusAnswerIsReportedAsItsMessage) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  rx.set_responder([](const request_info&) { return answer(401, {}, unauthenticated_status()); });
  test_counter counter;
  auto exp = detail::make_otlp_exporter(fast_config(rx.traces_url()), test_resource());
  exp->start(counter);
  record_factory f;
  auto batch = f.spans(3);
  exp->export_batch(batch);
  EXPECT_TRUE(eventually([&] { return counter.dropped(drop_reason::rejected_by_backend) == 3; }, 10s));
  auto details = counter.details(drop_reason::rejected_by_backend);
  ASSERT_EQ(details.size(), 1u);
  EXPECT_EQ(details[0], "HTTP 401 from " + rx.traces_url() + ": code 16: invalid token");
  EXPECT_TRUE(exp->shutdown(clock::now() + 5s));
  EXPECT_EQ(counter.accounted(), 3u);
}

TEST(RpcStatus, DecodesCutShortAndRejectsText) {
  EXPECT_EQ(detail::decode_rpc_status(unauthenticated_status()), "code 16: invalid token");
  auto cut = unauthenticated_status();
  cut.resize(cut.size() - 6);
  EXPECT_EQ(detail::decode_rpc_status(cut), "code 16: invalid...");
  EXPECT_EQ(detail::decode_rpc_status("Service Unavailable"), std::nullopt);
  EXPECT_EQ(detail::decode_rpc_status("{\"code\": 16}"), std::nullopt);
  EXPECT_EQ(detail::decode_rpc_status(std::string("\x08\x10", 2)), std::nullopt);  // no message
}

TEST(ExporterRetry, PayloadTooLargeSplitsTheBatch) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  constexpr std::size_t k_limit = 8;  // the receiver refuses requests with more spans
  rx.set_responder(
      [](const request_info& info) { return info.span_count > k_limit ? answer(413, {}, "too many spans") : reply{}; });
  for (bool gzip : {true, false}) {
    for (auto format : {detail::body_format::protobuf, detail::body_format::json}) {
      rx.clear();
      test_counter counter;
      auto cfg = fast_config(rx.traces_url());
      cfg.gzip = gzip;
      cfg.format = format;
      auto exp = detail::make_otlp_exporter(cfg, test_resource());
      exp->start(counter);
      record_factory f;
      auto batch = f.spans(40);
      exp->export_batch(batch);
      EXPECT_TRUE(exp->shutdown(clock::now() + 20s));
      auto got = arrived(rx);
      EXPECT_EQ(got.unique.size(), 40u);
      EXPECT_EQ(got.duplicates(), 0u);
      for (const auto& r : rx.requests()) {
        if (r.status == 200) {
          EXPECT_LE(r.info.span_count, k_limit);
        }
      }
      EXPECT_EQ(rx.count_status(413), 1u + 2u + 4u);  // 40 -> 2x20 -> 4x10 -> 8x5
      EXPECT_EQ(counter.delivered(), 40u);
      EXPECT_EQ(counter.dropped_total(), 0u);
    }
  }
}

TEST(ExporterRetry, ASingleSpanTooLargeForTheBackendIsDroppedAsRejected) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  rx.set_status(413);
  test_counter counter;
  auto exp = detail::make_otlp_exporter(fast_config(rx.traces_url()), test_resource());
  exp->start(counter);
  record_factory f;
  auto batch = f.spans(3);
  exp->export_batch(batch);
  EXPECT_TRUE(exp->shutdown(clock::now() + 10s));
  EXPECT_EQ(counter.dropped(drop_reason::rejected_by_backend), 3u);
  EXPECT_EQ(rx.count_status(413), 5u);  // [3] -> [1] (dropped), [2] -> [1], [1] (dropped)
  auto details = counter.details(drop_reason::rejected_by_backend);
  ASSERT_FALSE(details.empty());
  EXPECT_NE(details[0].find("HTTP 413"), std::string::npos);
}

TEST(ExporterRetry, ConnectionErrorsAreRetriedThenSpooledAndDeliveredWhenTheBackendIsBack) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  const auto port = rx.port();
  rx.stop();  // down from the start
  temp_dir tmp;
  test_counter counter;
  auto exp = detail::make_otlp_exporter(fast_config(rx.traces_url(), tmp.path()), test_resource());
  exp->start(counter);
  record_factory f;
  auto batch = f.spans(30);
  exp->export_batch(batch);
  // The first retry failed too: the batch is on disk.
  ASSERT_TRUE(eventually([&] { return counter.events(event_counter::records_spooled) == 30; }, 10s));
  EXPECT_EQ(spool_files(tmp.path()).size(), 1u);
  ASSERT_TRUE(rx.start(port));
  ASSERT_TRUE(rx.wait_for_spans(30, 20s));
  EXPECT_TRUE(exp->shutdown(clock::now() + 5s));
  EXPECT_EQ(counter.delivered(), 30u);
  EXPECT_EQ(counter.events(event_counter::records_replayed), 30u);
  EXPECT_GE(counter.events(event_counter::batches_retried), 2u);
  EXPECT_TRUE(spool_files(tmp.path()).empty());
}

}  // namespace
}  // namespace logfire::test
