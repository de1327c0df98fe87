// What survives the process: SIGKILL during an outage (the spool is replayed by the next
// process), and SIGTERM with the flush handler installed (everything produced before it is
// delivered, then the signal ends the process as usual). Children are forked before any
// thread exists in this process, and end with _exit or a signal.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include "child_process.hpp"
#include "export/signal_flush.hpp"
#include "export_test_util.hpp"

namespace logfire::test {
namespace {

constexpr std::uint64_t k_child_ids = 1'000'000;  // span ids the children use start here

TEST(ProcessDeath, SigkillDuringAnOutageLosesNothingThatWasSpooled) {
  temp_dir tmp;
  constexpr std::size_t k_records = 200;
  child_process child([&](std::uint16_t port, auto ready) {
    test_counter counter;
    auto exp = detail::make_otlp_exporter(
        fast_config("http://127.0.0.1:" + std::to_string(port) + "/v1/traces", tmp.path()), test_resource());
    exp->start(counter);
    record_factory f(k_child_ids);
    std::vector<std::vector<span_record>> keep;
    for (std::size_t i = 0; i < k_records / 20; ++i) {
      keep.push_back(f.spans(20));
      exp->export_batch(keep.back());
    }
    if (!eventually([&] { return counter.events(event_counter::records_spooled) == k_records; }, 20s)) ::_exit(92);
    ready();
  });
  ASSERT_TRUE(child.started());
  ASSERT_TRUE(child.send_port(closed_port()));  // the backend is down
  ASSERT_TRUE(child.wait_ready(30s));
  child.signal(SIGKILL);
  int status = child.wait_exit(10s);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  EXPECT_FALSE(spool_files(tmp.path()).empty());

  // The next process, with the backend back.
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  test_counter counter;
  auto exp = detail::make_otlp_exporter(fast_config(rx.traces_url(), tmp.path()), test_resource());
  exp->start(counter);
  ASSERT_TRUE(rx.wait_for_spans(k_records, 30s));
  EXPECT_TRUE(exp->shutdown(clock::now() + 5s));
  auto got = arrived(rx);
  EXPECT_EQ(got.unique.size(), k_records);
  for (std::uint64_t id = k_child_ids + 1; id <= k_child_ids + k_records; ++id)
    EXPECT_EQ(got.unique.count(span_id_bytes(id)), 1u) << id;
  EXPECT_EQ(counter.events(event_counter::records_replayed), k_records);
  EXPECT_TRUE(spool_files(tmp.path()).empty());
}

// The child hands `sent` records to the exporter and keeps `held` more in memory, as the
// pipeline does between batches; the flush function exports the held ones, then flushes.
void sigterm_child(std::uint16_t port, const std::function<void()>& ready, bool install, std::size_t sent,
                   std::size_t held, std::chrono::milliseconds grace) {
  test_counter counter;
  auto cfg = fast_config("http://127.0.0.1:" + std::to_string(port) + "/v1/traces");
  auto exp = detail::make_otlp_exporter(cfg, test_resource());
  exp->start(counter);
  record_factory f(k_child_ids);
  auto first = f.spans(sent);
  auto later = f.spans(held);
  exp->export_batch(first);
  if (install) {
    detail::install_signal_flush(
        [&](std::chrono::milliseconds g) {
          exp->export_batch(later);
          exp->force_flush(clock::now() + g);
        },
        grace);
  }
  ready();
  for (;;) ::pause();
}

TEST(ProcessDeath, SigtermWithTheHandlerDeliversEverythingThenEndsTheProcess) {
  child_process child([](std::uint16_t port, auto ready) { sigterm_child(port, ready, true, 30, 70, 8s); });
  ASSERT_TRUE(child.started());
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  rx.set_responder([](const request_info&) { return delayed(300ms); });  // a slowish backend
  ASSERT_TRUE(child.send_port(rx.port()));
  ASSERT_TRUE(child.wait_ready(10s));
  child.signal(SIGTERM);
  int status = child.wait_exit(20s);
  ASSERT_NE(status, -1) << "the child did not end";
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;  // the normal effect
  auto got = arrived(rx);
  EXPECT_EQ(got.unique.size(), 100u);
  for (std::uint64_t id = k_child_ids + 1; id <= k_child_ids + 100; ++id)
    EXPECT_EQ(got.unique.count(span_id_bytes(id)), 1u) << id;
}

TEST(ProcessDeath, SigintIsHandledTheSameWay) {
  child_process child([](std::uint16_t port, auto ready) { sigterm_child(port, ready, true, 0, 25, 8s); });
  ASSERT_TRUE(child.started());
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  ASSERT_TRUE(child.send_port(rx.port()));
  ASSERT_TRUE(child.wait_ready(10s));
  child.signal(SIGINT);
  int status = child.wait_exit(20s);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) << status;
  EXPECT_EQ(arrived(rx).unique.size(), 25u);
}

TEST(ProcessDeath, WithoutTheHandlerWhatIsHeldInMemoryIsLost) {
  // The control for the test above: the same child without the handler.
  child_process child([](std::uint16_t port, auto ready) { sigterm_child(port, ready, false, 30, 70, 8s); });
  ASSERT_TRUE(child.started());
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  ASSERT_TRUE(child.send_port(rx.port()));
  ASSERT_TRUE(child.wait_ready(10s));
  ASSERT_TRUE(rx.wait_for_spans(30, 10s));  // the batch handed over is sent on its own
  child.signal(SIGTERM);
  int status = child.wait_exit(20s);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;
  EXPECT_EQ(arrived(rx).unique.size(), 30u);
}

TEST(ProcessDeath, ASecondSignalDuringTheFlushTakesEffectAtOnce) {
  child_process child([](std::uint16_t port, auto ready) { sigterm_child(port, ready, true, 0, 10, 8s); });
  ASSERT_TRUE(child.started());
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  auto sending = std::make_shared<std::atomic<bool>>(false);
  rx.set_responder([sending](const request_info&) {
    sending->store(true);
    return delayed(20s);  // the flush would take the whole grace
  });
  ASSERT_TRUE(child.send_port(rx.port()));
  ASSERT_TRUE(child.wait_ready(10s));
  child.signal(SIGTERM);
  ASSERT_TRUE(eventually([&] { return sending->load(); }, 10s));  // the flush is sending
  const auto t0 = std::chrono::steady_clock::now();
  child.signal(SIGTERM);
  int status = child.wait_exit(20s);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;
  EXPECT_LT(took, 4s);  // not the 8 s grace
  rx.stop();
}

}  // namespace
}  // namespace logfire::test
