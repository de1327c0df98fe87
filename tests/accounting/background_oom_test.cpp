// Out of memory on the background thread: for a while, every third allocation made off the
// test's main thread fails (this binary replaces operator new). Records that could not be built or
// exported then are counted (internal_error, export_failed) — including span updates and ends
// that went to the side queue because the ring was full — and the pipeline recovers.
#include <cstdlib>
#include <new>
#include <thread>

#include "accounting/accounting_support.hpp"

// The replacements below pair malloc with free; GCC cannot see that through inlining.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {
std::atomic<bool> g_fail{false};
std::atomic<std::thread::id> g_exempt{};
std::atomic<std::uint64_t> g_calls{0};

void* allocate(std::size_t n) {
  if (g_fail.load(std::memory_order_relaxed) && std::this_thread::get_id() != g_exempt.load() &&
      g_calls.fetch_add(1, std::memory_order_relaxed) % 3 == 0)
    return nullptr;
  return std::malloc(n ? n : 1);
}
}  // namespace

void* operator new(std::size_t n) {
  if (void* p = allocate(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = allocate(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return allocate(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return allocate(n);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

using namespace accounting_test;

TEST(background_oom, records_lost_to_out_of_memory_are_counted_and_the_pipeline_recovers) {
  g_exempt = std::this_thread::get_id();
  auto mem = std::make_shared<logfire::memory_exporter>();
  logfire::options o = quiet_options({mem});
  o.limits.ring_bytes = 4096;      // span updates and ends overflow to the side queue
  o.limits.max_ring_bytes = 4096;  // no growth: the ring fills
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  ASSERT_TRUE(logfire::force_flush());  // the background thread is up and idle

  g_fail = true;
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 20; ++i) {
      logfire::span s("under pressure {i}", {{"i", i}});
      s.set_attribute("payload", "0123456789abcdef0123456789abcdef");
      s.set_status(logfire::status_code::error, "failing");
      logfire::info("inside {i}", {{"i", i}});
    }
    (void)logfire::force_flush(50ms);  // the background thread often cannot allocate
  }
  g_fail = false;
  (void)logfire::force_flush();
  for (int i = 0; i < 5; ++i) logfire::info("after {i}", {{"i", i}});
  EXPECT_TRUE(logfire::force_flush());  // recovered: new records are delivered again
  (void)logfire::shutdown();

  const auto st = logfire::stats();
  EXPECT_GT(st.exported, 4u) << st.summary();
  EXPECT_GT(st.dropped_total(), 0u) << st.summary();
  expect_balanced(st);
  std::size_t after = 0;
  for (const auto& r : mem->records()) after += r.name == "after {i}" ? 1 : 0;
  EXPECT_EQ(after, 5u);
}
