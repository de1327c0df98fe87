// The exporter with its disk spool: memory overflow, the byte cap, shutdown during an outage
// and the next process replaying, corrupt files, and an unwritable spool. Each test checks
// that every record produced is delivered, dropped with a reason, or left in the spool.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>

#include "export/gzip.hpp"
#include "export/otlp_encoder.hpp"
#include "export/spool.hpp"
#include "export_test_util.hpp"

namespace logfire::test {
namespace {

std::string down_url() {
  return "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1/traces";
}

TEST(ExporterSpool, AFullMemoryQueueOverflowsToTheSpool) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  // The first answer is held until every batch has been handed over (20 s at most), then all
  // is well. A timed delay made the outcome depend on the machine's load: a spool thread
  // that got no core for a while let the queue for the disk fill, and batches were dropped.
  std::atomic<bool> release{false};
  std::atomic<int> requests{0};
  rx.set_responder([&](const request_info&) {
    if (requests.fetch_add(1) == 0)
      for (int i = 0; i < 2000 && !release.load(); ++i) std::this_thread::sleep_for(10ms);
    return reply::of(200);
  });
  temp_dir tmp;
  test_counter counter;
  auto cfg = fast_config(rx.traces_url(), tmp.path());
  cfg.max_queue_spans = 100;
  auto exp = detail::make_otlp_exporter(cfg, test_resource());
  exp->start(counter);
  record_factory f;
  std::vector<std::vector<span_record>> batches;
  for (int i = 0; i < 10; ++i) batches.push_back(f.spans(50));
  for (std::size_t i = 0; i < batches.size(); ++i) {
    exp->export_batch(batches[i]);
    // Batches come apart, as from the pipeline: the spool thread writes what is beyond the
    // 150 in flight and queued before the next one comes.
    const std::uint64_t beyond = 50 * (i + 1) > 150 ? 50 * (i + 1) - 150 : 0;
    EXPECT_TRUE(eventually([&] { return counter.events(event_counter::records_spooled) >= beyond; }, 10s)) << i;
  }
  release = true;
  EXPECT_TRUE(exp->shutdown(clock::now() + 20s));
  EXPECT_GE(counter.events(event_counter::records_spooled), 250u);  // 50 in flight, 100 queued, the rest on disk
  EXPECT_EQ(counter.events(event_counter::records_replayed), counter.events(event_counter::records_spooled));
  EXPECT_EQ(counter.delivered(), 500u);
  EXPECT_EQ(arrived(rx).unique.size(), 500u);
  EXPECT_EQ(counter.dropped_total(), 0u);
  EXPECT_NE(::access(tmp.path().c_str(), F_OK), 0) << "emptied by the replay: the spool's folder is gone";
}

TEST(ExporterSpool, ADestinationThatAnswersLeavesNoSpoolFolder) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  temp_dir tmp;
  const std::string dir = tmp.path() + "/checkout-0123456789abcdef";
  test_counter counter;
  auto exp = detail::make_otlp_exporter(fast_config(rx.traces_url(), dir), test_resource());
  exp->start(counter);
  record_factory f;
  for (int i = 0; i < 3; ++i) exp->export_batch(f.spans(10));
  EXPECT_TRUE(exp->shutdown(clock::now() + 10s));
  EXPECT_EQ(counter.delivered(), 30u);
  EXPECT_NE(::access(dir.c_str(), F_OK), 0) << "nothing was spooled: no folder";
}

TEST(ExporterSpool, WithoutASpoolAFullQueueDropsAsExportQueueFull) {
  temp_dir tmp;
  test_counter counter;
  auto cfg = fast_config(down_url());
  cfg.max_queue_spans = 100;
  auto exp = detail::make_otlp_exporter(cfg, test_resource());
  exp->start(counter);
  record_factory f;
  std::vector<std::vector<span_record>> batches;
  for (int i = 0; i < 6; ++i) batches.push_back(f.spans(50));
  for (const auto& b : batches) exp->export_batch(b);
  EXPECT_FALSE(exp->shutdown(clock::now() + 1s));
  EXPECT_GE(counter.dropped(drop_reason::export_queue_full), 150u);
  auto d = counter.details(drop_reason::export_queue_full);
  ASSERT_FALSE(d.empty());
  EXPECT_NE(d[0].find("OTEL_BSP_MAX_QUEUE_SIZE"), std::string::npos) << d[0];
  EXPECT_EQ(counter.dropped(drop_reason::export_queue_full) + counter.dropped(drop_reason::shutdown_timeout), 300u);
  EXPECT_EQ(counter.accounted(), 300u);
}

TEST(ExporterSpool, AtItsByteCapTheSpoolDropsTheOldestAndCountsThem) {
  temp_dir tmp;
  record_factory f;
  std::vector<std::vector<span_record>> batches;
  for (int i = 0; i < 12; ++i) batches.push_back(f.spans(20, 200));
  // Size of one spooled body, to set a cap of about four of them.
  std::string one;
  std::string gz;
  detail::encode_traces_protobuf(batches[0], test_resource(), one);
  ASSERT_TRUE(detail::gzip_compress(one, gz, detail::k_default_gzip_level));
  const std::uint64_t cap = 4 * (gz.size() + detail::k_spool_header_bytes) + gz.size() / 2;

  test_counter counter;
  auto cfg = fast_config(down_url(), tmp.path());
  cfg.spool_max_bytes = cap;
  auto exp = detail::make_otlp_exporter(cfg, test_resource());
  exp->start(counter);
  for (const auto& b : batches) {
    exp->export_batch(b);
    std::this_thread::sleep_for(20ms);  // distinct, ordered spool files
  }
  EXPECT_FALSE(exp->shutdown(clock::now() + 2s));  // the backend is down: not everything is delivered
  const auto dropped = counter.dropped(drop_reason::spool_full);
  const auto left = counter.events(event_counter::spool_left_at_exit);
  EXPECT_GE(dropped, 20u * 7);  // at most ~4-5 bodies fit
  EXPECT_GT(left, 0u);
  EXPECT_EQ(counter.delivered(), 0u);
  EXPECT_EQ(dropped + left, 240u);  // produced == delivered + drops + left in the spool
  EXPECT_EQ(counter.in_spool(), left);
  EXPECT_EQ(counter.accounted(), 240u);
  auto d = counter.details(drop_reason::spool_full);
  ASSERT_FALSE(d.empty());
  EXPECT_NE(d[0].find("LOGFIRE_SPOOL_MAX_BYTES"), std::string::npos) << d[0];

  // The next process sends what is left: the newest batches, not the oldest.
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  test_counter next;
  auto exp2 = detail::make_otlp_exporter(fast_config(rx.traces_url(), tmp.path()), test_resource());
  exp2->start(next);
  ASSERT_TRUE(rx.wait_for_spans(left, 20s));
  EXPECT_TRUE(exp2->shutdown(clock::now() + 5s));
  EXPECT_EQ(next.events(event_counter::records_replayed), left);
  EXPECT_EQ(next.delivered(), 0u);  // produced by the previous process, not this one
  EXPECT_EQ(next.replay_delivered(), left);
  auto got = arrived(rx);
  EXPECT_EQ(got.unique.size(), left);
  EXPECT_EQ(got.unique.count(span_id_bytes(batches.back().back().context.span.value)), 1u);
  EXPECT_EQ(got.unique.count(span_id_bytes(batches.front().front().context.span.value)), 0u);
}

TEST(ExporterSpool, ShutdownDuringAnOutageLeavesRecordsInTheSpoolForTheNextProcess) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  const auto port = rx.port();
  rx.stop();
  temp_dir tmp;
  test_counter counter;
  record_factory f;
  auto b1 = f.spans(25);
  auto b2 = f.spans(25);
  {
    auto exp = detail::make_otlp_exporter(fast_config(rx.traces_url(), tmp.path()), test_resource());
    exp->start(counter);
    exp->export_batch(b1);
    exp->export_batch(b2);
    EXPECT_FALSE(exp->shutdown(clock::now() + 1s));
  }
  EXPECT_EQ(counter.delivered(), 0u);
  EXPECT_EQ(counter.dropped_total(), 0u);
  EXPECT_EQ(counter.events(event_counter::spool_left_at_exit), 50u);
  EXPECT_FALSE(spool_files(tmp.path()).empty());

  ASSERT_TRUE(rx.start(port));
  test_counter next;
  auto exp = detail::make_otlp_exporter(fast_config(rx.traces_url(), tmp.path()), test_resource());
  exp->start(next);
  ASSERT_TRUE(rx.wait_for_spans(50, 20s));
  EXPECT_TRUE(exp->shutdown(clock::now() + 5s));
  EXPECT_EQ(next.events(event_counter::records_replayed), 50u);
  EXPECT_EQ(arrived(rx).unique.size(), 50u);
  EXPECT_TRUE(spool_files(tmp.path()).empty());
}

TEST(ExporterSpool, WithoutASpoolShutdownDuringAnOutageCountsShutdownTimeout) {
  test_counter counter;
  auto exp = detail::make_otlp_exporter(fast_config(down_url()), test_resource());
  exp->start(counter);
  record_factory f;
  auto b = f.spans(40);
  exp->export_batch(b);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(exp->shutdown(clock::now() + 1s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);  // the deadline holds
  EXPECT_EQ(counter.dropped(drop_reason::shutdown_timeout), 40u);
  EXPECT_EQ(counter.accounted(), 40u);
}

TEST(ExporterSpool, CorruptSpoolFilesAreSkippedCountedAndTheRestDelivered) {
  temp_dir tmp;
  record_factory f;
  auto good1 = f.spans(10);
  auto bad = f.spans(11);
  auto good2 = f.spans(12);
  {
    std::string err;
    auto sp = detail::spool::open({.directory = tmp.path(), .max_bytes = 1 << 20}, err);
    ASSERT_TRUE(sp) << err;
    for (const auto* b : {&good1, &bad, &good2}) {
      std::string body;
      detail::encode_traces_protobuf(*b, test_resource(), body);
      ASSERT_TRUE(sp->write(body, meta_of(static_cast<std::uint32_t>(b->size()))).ok);
    }
  }
  auto files = spool_files(tmp.path());
  ASSERT_EQ(files.size(), 3u);
  {
    FILE* fp = std::fopen((tmp.path() + "/" + files[1]).c_str(), "r+b");
    ASSERT_NE(fp, nullptr);
    std::fseek(fp, static_cast<long>(detail::k_spool_header_bytes) + 20, SEEK_SET);
    std::fputc(0x55, fp);
    std::fclose(fp);
  }
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  test_counter counter;
  auto exp = detail::make_otlp_exporter(fast_config(rx.traces_url(), tmp.path()), test_resource());
  exp->start(counter);
  ASSERT_TRUE(rx.wait_for_spans(22, 20s));
  EXPECT_TRUE(exp->shutdown(clock::now() + 5s));
  EXPECT_EQ(counter.events(event_counter::records_replayed), 22u);
  // The files were written by another spool object, as by an earlier process: their records
  // are in the replay ledger, not this exporter's.
  EXPECT_EQ(counter.replay_delivered(), 22u);
  EXPECT_EQ(counter.delivered(), 0u);
  EXPECT_EQ(counter.dropped_total(), 0u);
  EXPECT_EQ(counter.replay_dropped(drop_reason::spool_corrupt), 11u);
  auto d = counter.replay_details(drop_reason::spool_corrupt);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(d[0].find(files[1]), std::string::npos) << d[0];
  EXPECT_EQ(arrived(rx).unique.size(), 22u);
  EXPECT_TRUE(spool_files(tmp.path()).empty());
}

TEST(ExporterSpool, AnUnwritableSpoolDropsWithAReasonInsteadOfFailingSilently) {
  temp_dir tmp;
  const std::string dir = tmp.path() + "/spool";
  test_counter counter;
  auto exp = detail::make_otlp_exporter(fast_config(down_url(), dir), test_resource());
  exp->start(counter);
  // The spool's path is taken by a file before anything is spooled (a full or read-only disk
  // acts alike): the folder cannot be created.
  std::ofstream(dir) << "not a folder";
  record_factory f;
  auto b1 = f.spans(15);
  auto b2 = f.spans(5);
  exp->export_batch(b1);
  EXPECT_TRUE(eventually([&] { return counter.dropped(drop_reason::export_failed) == 15; }, 10s));
  exp->export_batch(b2);
  EXPECT_TRUE(eventually([&] { return counter.dropped(drop_reason::export_failed) == 20; }, 10s));
  auto d = counter.details(drop_reason::export_failed);
  ASSERT_FALSE(d.empty());
  EXPECT_NE(d[0].find("cannot spool"), std::string::npos) << d[0];
  EXPECT_NE(d[0].find(dir), std::string::npos) << d[0];
  (void)exp->shutdown(clock::now() + 1s);
  EXPECT_EQ(counter.accounted(), 20u);
}

}  // namespace
}  // namespace logfire::test
