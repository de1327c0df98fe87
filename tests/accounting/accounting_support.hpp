// Helpers for the ledger tests: reasons by their stable name, the accounting identity with
// its spool terms, and hang detection for calls that must return by their deadline. (The
// sanitizer switches for tests that fork are in support/sanitizers.hpp.)
#pragma once

#include <future>
#include <string_view>
#include <thread>

#include "core/core_support.hpp"

namespace accounting_test {

using namespace core_test;
using namespace std::chrono_literals;

// Records dropped for the reason called `name` ("ring_full", ...), 0 when no reason has it.
inline std::uint64_t dropped_named(const logfire::pipeline_stats& s, std::string_view name) {
  for (std::size_t i = 0; i < logfire::drop_reason_count; ++i)
    if (logfire::to_string(static_cast<logfire::drop_reason>(i)) == name) return s.dropped[i];
  return 0;
}

// produced == exported + Σ dropped + this process's records in (or taken from) the spool. With
// several destinations each has its own ledger (a record is delivered or lost per destination):
// for each, produced == the pipeline's drops + that destination's exported, dropped and spooled.
inline bool balanced(const logfire::pipeline_stats& s) {
  std::uint64_t destinations = 0;
  std::uint64_t destination_drops = 0;
  for (const auto& e : s.exporters) {
    if (!e.destination) continue;
    ++destinations;
    destination_drops += e.dropped_total();
  }
  if (destinations <= 1) return s.produced == s.exported + s.dropped_total() + s.in_spool + s.spool_taken_over;
  const std::uint64_t pipeline_drops = s.dropped_total() - destination_drops;
  for (const auto& e : s.exporters)
    if (e.destination &&
        s.produced != pipeline_drops + e.exported + e.dropped_total() + e.in_spool + e.spool_taken_over)
      return false;
  return true;
}
inline void expect_balanced(const logfire::pipeline_stats& s) {
  EXPECT_TRUE(balanced(s)) << s.summary();
  EXPECT_TRUE(s.balanced()) << s.summary();  // the SDK's own check agrees
}

// Runs `fn` on another thread and waits at most `limit` for it: a call that must return by
// its own deadline is detected as hung (the test fails) instead of hanging the suite. The
// thread is joined before returning, so `fn` must end eventually (`unblock` is called first
// when it did not end in time).
// Blocks in export_batch (on the pipeline's background thread) until released, then reports
// the batch as delivered: while it is held, no ring is drained.
class stalling_exporter final : public logfire::exporter {
 public:
  std::string name() const override { return "stalling"; }
  void export_batch(std::span<const logfire::span_record> records) noexcept override {
    stalled = true;
    while (!release.load()) std::this_thread::sleep_for(1ms);
    if (counter_) counter_->delivered(records.size());
  }
  std::atomic<bool> stalled{false};
  std::atomic<bool> release{false};
};

// `n` spans with 4 attributes on a new thread (a thread's ring is sized at its first call):
// with a 4 KiB ring, a few dozen of them fill it.
inline void burst(int n) {
  std::thread([n] {
    for (int i = 0; i < n; ++i) {
      logfire::span s("burst {i}", {{"i", i}, {"user", "ada"}, {"cart", 3}, {"ok", true}});
    }
  }).join();
}

template <typename Fn, typename Unblock>
bool returns_within(std::chrono::milliseconds limit, Fn&& fn, Unblock&& unblock) {
  std::promise<void> done;
  auto f = done.get_future();
  std::thread t([&] {
    fn();
    done.set_value();
  });
  const bool in_time = f.wait_for(limit) == std::future_status::ready;
  if (!in_time) unblock();
  t.join();
  return in_time;
}

}  // namespace accounting_test
