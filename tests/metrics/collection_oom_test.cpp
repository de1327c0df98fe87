// Out of memory part-way through a collection: the points already drained from their cells (and
// the one being stored) are lost, and counted as produced and dropped (internal_error); the
// series not drained yet keep their values for the next collection. This binary replaces
// operator new so that one chosen allocation on the reader's thread fails.
#include <atomic>
#include <cstdlib>
#include <new>

#include "metrics/metrics_support.hpp"

// The replacements below pair malloc with free; GCC cannot see that through inlining.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {
// When non-zero: the next allocation of exactly this many bytes made by a collection fails.
std::atomic<std::size_t> g_fail_size{0};

void* allocate(std::size_t n) {
  if (n != 0 && n == g_fail_size.load(std::memory_order_relaxed) && logfire::detail::on_metric_reader_thread() &&
      g_fail_size.exchange(0) == n)
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

namespace {

using namespace metrics_test;

TEST(metrics_collection_oom, points_drained_before_the_failure_are_counted_as_lost) {
  reader_fixture f;
  const std::string name = unique("oom.requests");
  auto c = logfire::metric_counter(name);
  for (int i = 0; i < 64; ++i) c.add(1, {{"series", i}});
  // The collection's points grow a vector by doubling: it fails when growing from 32 points to
  // 64, with 32 stored and the 33rd drained from its cells.
  g_fail_size = 64 * sizeof(logfire::number_point);
  EXPECT_FALSE(f.reader->force_flush(std::chrono::steady_clock::now() + 10s));
  EXPECT_EQ(g_fail_size.load(), 0u) << "the chosen allocation never happened";
  auto s = f.reader->stats();
  EXPECT_EQ(s.points_produced, 33u) << s.summary();
  EXPECT_EQ(s.points_dropped[static_cast<std::size_t>(logfire::drop_reason::internal_error)], 33u) << s.summary();
  EXPECT_EQ(s.points_exported, 0u);
  EXPECT_TRUE(s.balanced()) << s.summary();

  // The 31 series not drained kept their values: the next collection exports them.
  auto b = f.collect();
  const auto* m = b.find(name);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->points.size(), 31u);
  s = f.reader->stats();
  EXPECT_EQ(s.points_produced, 64u) << s.summary();
  EXPECT_EQ(s.points_exported, 31u) << s.summary();
  EXPECT_TRUE(s.balanced()) << s.summary();
  const std::string lines = f.diagnostics();
  EXPECT_NE(lines.find("(internal_error) not delivered: out of memory part-way through a metrics collection"),
            std::string::npos)
      << lines;
}

}  // namespace
