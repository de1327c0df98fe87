// The overflow policy (options.limits.overflow, LOGFIRE_OVERFLOW): under `block` a call whose
// ring is full waits for space instead of dropping; after the block timeout, on the SDK's
// background thread, or once shutdown has begun it drops and counts (ring_full), and the
// first-loss line says which policy was in force and how to change it.
#include <cstdlib>
#include <thread>

#include "accounting/accounting_support.hpp"

using namespace accounting_test;

namespace {

// Calls logfire::info from `count` on a new thread until `stop`, counting the calls that
// returned; returns when the calls stop returning (the thread waits for ring space).
struct blocked_logger {
  std::atomic<int> returned{0};
  std::atomic<bool> stop{false};
  std::thread t;
  explicit blocked_logger(int count) {
    t = std::thread([this, count] {
      for (int i = 0; i < count && !stop.load(); ++i) {
        logfire::info("waiting {i}", {{"i", i}});
        returned.fetch_add(1);
      }
    });
  }
  // Waits until no call has returned for 100 ms (bounded by `limit`): the thread is blocked.
  bool wait_blocked(std::chrono::milliseconds limit) const {
    const auto until = std::chrono::steady_clock::now() + limit;
    int last = -1;
    while (std::chrono::steady_clock::now() < until) {
      const int now = returned.load();
      if (now == last) return true;
      last = now;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
};

}  // namespace

TEST(overflow_policy, drop_is_the_default_and_its_line_says_how_to_block) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  logfire::options o = quiet_options({mem});
  o.limits.ring_bytes = 4096;
  o.limits.max_ring_bytes = 4096;  // no growth: the ring fills
  o.read_environment = false;
  stderr_capture capture;
  {
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    logfire::info("too big {v}", {{"v", std::string(8192, 'x')}});  // larger than the ring
    (void)logfire::force_flush();
    const auto st = logfire::stats();
    EXPECT_EQ(dropped_named(st, "ring_full"), 1u) << st.summary();
    expect_balanced(st);
  }
  const std::string err = capture.take();
  EXPECT_NE(err.find("overflow policy: drop"), std::string::npos) << err;
  EXPECT_NE(err.find("LOGFIRE_OVERFLOW=block"), std::string::npos) << err;
}

TEST(overflow_policy, block_loses_nothing_of_a_burst_through_a_tiny_ring) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  logfire::options o = quiet_options({mem});
  o.limits.ring_bytes = 4096;
  o.limits.max_ring_bytes = 4096;  // no growth: the ring fills
  o.limits.overflow = logfire::overflow_policy::block;
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  burst(3000);
  ASSERT_TRUE(logfire::force_flush(30s));
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, 3000u);
  EXPECT_EQ(st.exported, 3000u) << st.summary();
  EXPECT_EQ(mem->records().size(), 3000u);
  expect_balanced(st);
}

TEST(overflow_policy, the_same_burst_under_drop_loses_records_to_ring_full) {
  // The counterpart of the test above: the burst does overflow the ring.
  auto exp = std::make_shared<stalling_exporter>();
  logfire::options o = quiet_options({exp});
  o.limits.ring_bytes = 4096;
  o.limits.max_ring_bytes = 4096;  // no growth: the ring fills
  o.limits.overflow = logfire::overflow_policy::drop;
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  logfire::info("first");
  EXPECT_FALSE(logfire::force_flush(100ms));  // the background thread is held in the exporter
  ASSERT_TRUE(exp->stalled.load());
  burst(3000);
  exp->release = true;
  (void)logfire::force_flush(30s);
  const auto st = logfire::stats();
  EXPECT_GT(dropped_named(st, "ring_full"), 0u) << st.summary();
  expect_balanced(st);
}

TEST(overflow_policy, a_wait_past_the_timeout_is_ring_full_with_the_block_wording) {
  auto exp = std::make_shared<stalling_exporter>();
  logfire::options o = quiet_options({exp});
  o.limits.ring_bytes = 4096;
  o.limits.max_ring_bytes = 4096;  // no growth: the ring fills
  o.limits.overflow = logfire::overflow_policy::block;
  o.limits.overflow_block_timeout = 20ms;
  o.read_environment = false;
  stderr_capture capture;
  {
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    logfire::info("first");
    EXPECT_FALSE(logfire::force_flush(100ms));  // the background thread is held in the exporter
    ASSERT_TRUE(exp->stalled.load());
    std::thread([] {
      // A 4 KiB ring holds a few dozen logs: the rest each wait 20 ms, then are counted.
      for (int i = 0; i < 100 && logfire::stats().dropped_by(logfire::drop_reason::ring_full) == 0; ++i)
        logfire::info("waits {i}", {{"i", i}});
    }).join();
    EXPECT_GT(logfire::stats().dropped_by(logfire::drop_reason::ring_full), 0u);
    exp->release = true;
    (void)logfire::force_flush(30s);
    const auto st = logfire::stats();
    expect_balanced(st);
  }
  const std::string err = capture.take();
  EXPECT_EQ(occurrences(err, "(ring_full)"), 1u) << err;
  EXPECT_NE(err.find("overflow policy: block"), std::string::npos) << err;
  EXPECT_NE(err.find("LOGFIRE_OVERFLOW_BLOCK_MS"), std::string::npos) << err;
}

TEST(overflow_policy, shutdown_releases_a_waiting_caller_and_counts_its_record) {
  auto exp = std::make_shared<stalling_exporter>();
  logfire::options o = quiet_options({exp});
  o.limits.ring_bytes = 4096;
  o.limits.max_ring_bytes = 4096;  // no growth: the ring fills
  o.limits.overflow = logfire::overflow_policy::block;
  o.limits.overflow_block_timeout = 60s;  // far beyond the test's bound: only shutdown frees it
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  logfire::info("first");
  EXPECT_FALSE(logfire::force_flush(100ms));
  ASSERT_TRUE(exp->stalled.load());
  blocked_logger logger(1000);
  ASSERT_TRUE(logger.wait_blocked(10s));
  EXPECT_LT(logger.returned.load(), 1000);
  const bool returned = returns_within(
      20s,
      [&] {
        (void)logfire::shutdown(300ms);
        logger.stop = true;
        logger.t.join();
      },
      [&] { exp->release = true; });
  EXPECT_TRUE(returned) << "a caller waiting for ring space held shutdown";
  exp->release = true;
  const auto st = logfire::stats();
  EXPECT_GT(st.dropped_by(logfire::drop_reason::ring_full), 0u) << st.summary();
  expect_balanced(st);
}

namespace {

// Logs from export_batch, i.e. on the SDK's background thread: the only thread that frees
// ring space must never wait for it.
class logging_exporter final : public logfire::exporter {
 public:
  std::string name() const override { return "logging"; }
  void export_batch(std::span<const logfire::span_record> records) noexcept override {
    if (!logged.exchange(true))
      for (int i = 0; i < 500; ++i) logfire::info("from the exporter {i}", {{"i", i}});
    if (counter_) counter_->delivered(records.size());
  }
  std::atomic<bool> logged{false};
};

}  // namespace

TEST(overflow_policy, the_background_thread_never_waits_for_ring_space) {
  auto exp = std::make_shared<logging_exporter>();
  logfire::options o = quiet_options({exp});
  o.limits.ring_bytes = 4096;
  o.limits.max_ring_bytes = 4096;  // no growth: the ring fills
  o.limits.overflow = logfire::overflow_policy::block;
  o.limits.overflow_block_timeout = 60s;
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  logfire::info("first");
  const bool returned = returns_within(
      20s, [] { (void)logfire::force_flush(10s); }, [] {});
  EXPECT_TRUE(returned) << "the background thread waited for its own ring";
  ASSERT_TRUE(logfire::shutdown(10s));
  const auto st = logfire::stats();
  EXPECT_GT(st.dropped_by(logfire::drop_reason::ring_full), 0u) << st.summary();
  expect_balanced(st);
}

TEST(overflow_policy, the_environment_chooses_the_policy_and_rejects_other_words) {
  ::setenv("LOGFIRE_OVERFLOW", "sometimes", 1);
  {
    logfire::options o = quiet_options({std::make_shared<logfire::memory_exporter>()});
    o.read_environment = true;
    auto lf = logfire::configure(std::move(o));
    EXPECT_FALSE(lf);
    EXPECT_NE(lf.error().find("LOGFIRE_OVERFLOW is not drop or block: 'sometimes'"), std::string::npos) << lf.error();
  }
  ::setenv("LOGFIRE_OVERFLOW", "block", 1);
  ::setenv("LOGFIRE_OVERFLOW_BLOCK_MS", "5", 1);
  stderr_capture capture;
  {
    logfire::options o = quiet_options({std::make_shared<logfire::memory_exporter>()});
    o.read_environment = true;
    o.limits.ring_bytes = 4096;
    o.limits.max_ring_bytes = 4096;  // no growth: the ring fills
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    logfire::info("too big {v}", {{"v", std::string(8192, 'x')}});  // larger than the ring: never waits
    (void)logfire::force_flush();
    expect_balanced(logfire::stats());
  }
  ::unsetenv("LOGFIRE_OVERFLOW");
  ::unsetenv("LOGFIRE_OVERFLOW_BLOCK_MS");
  const std::string err = capture.take();
  EXPECT_NE(err.find("after waiting 5 ms (overflow policy: block"), std::string::npos) << err;
}
