// The ring's cold paths: segments allocated when it grows and freed when they have been read.
#include "pipeline/ring.hpp"

#include <cstdlib>
#include <new>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace logfire::detail {

namespace {
std::atomic<std::size_t> g_growth{0};
}  // namespace

std::size_t ring_growth_bytes() noexcept {
  return g_growth.load(std::memory_order_relaxed);
}

spsc_ring::spsc_ring(std::size_t segment_bytes) {
  std::size_t cap = 4096;
  while (cap < segment_bytes) cap <<= 1;
  capacity_ = cap;
  mask_ = cap - 1;
  producer_ = new_segment(0);
  if (!producer_) throw std::bad_alloc();
  consumer_ = producer_;
  buffer_ = producer_->buffer;
  if (!cpu_prefetches_for_write()) write_ahead_ = ~std::uint64_t{0};
}

bool cpu_prefetches_for_write() noexcept {
#if defined(__x86_64__)
  static const bool has = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid(0x80000001u, &a, &b, &c, &d) != 0 && (c & bit_PRFCHW) != 0;
  }();
  return has;
#else
  return true;
#endif
}

spsc_ring::~spsc_ring() {
  for (segment* s = consumer_; s;) {
    segment* next = s->next.load(std::memory_order_acquire);
    free_segment(s);
    s = next;
  }
}

// malloc and free, not new and delete: an application may replace the global operator new
// without its nothrow forms, and the two would then not pair up.
spsc_ring::segment* spsc_ring::new_segment(std::uint64_t start) const noexcept {
  auto* bytes = static_cast<std::byte*>(std::malloc(capacity_));
  if (!bytes) return nullptr;
  constexpr std::size_t size = (sizeof(segment) + alignof(segment) - 1) / alignof(segment) * alignof(segment);
  void* place = std::aligned_alloc(alignof(segment), size);
  if (!place) {
    std::free(bytes);
    return nullptr;
  }
  return new (place) segment(bytes, start);
}

// Each segment after the first counts against the process's growth budget while it lives.
void spsc_ring::free_segment(segment* s) noexcept {
  std::free(s->buffer);
  s->~segment();
  std::free(s);
  if (segments_.fetch_sub(1, std::memory_order_relaxed) > 1) g_growth.fetch_sub(capacity_, std::memory_order_relaxed);
}

std::byte* spsc_ring::try_grow(std::size_t size, ring_growth_limits limits) noexcept {
  if (size > capacity_) return nullptr;
  const std::size_t segments = segments_.load(std::memory_order_relaxed);
  if ((segments + 1) * capacity_ > limits.max_bytes) return nullptr;
  if (g_growth.fetch_add(capacity_, std::memory_order_relaxed) + capacity_ > limits.budget) {
    g_growth.fetch_sub(capacity_, std::memory_order_relaxed);
    return nullptr;
  }
  // Offset 0 of the new segment: the record fits without padding, whatever its size.
  const std::uint64_t start = (head_ + mask_) & ~static_cast<std::uint64_t>(mask_);
  segment* s = new_segment(start);
  if (!s) {
    g_growth.fetch_sub(capacity_, std::memory_order_relaxed);
    return nullptr;
  }
  segments_.fetch_add(1, std::memory_order_relaxed);
  // After every commit into the old segment (release): a consumer that sees the link reads
  // that segment's final head.
  producer_->next.store(s, std::memory_order_release);
  producer_ = s;
  buffer_ = s->buffer;
  head_ = start;
  cached_tail_ = start;
  pending_padding_ = 0;
  return buffer_;
}

std::uint64_t spsc_ring::published() const noexcept {
  const segment* s = consumer_;
  while (const segment* next = s->next.load(std::memory_order_acquire)) s = next;
  return s->head.load(std::memory_order_acquire);
}

bool spsc_ring::leave_if_done(segment& seg, std::uint64_t tail) noexcept {
  segment* next = seg.next.load(std::memory_order_acquire);
  if (!next) return false;
  if (seg.head.load(std::memory_order_acquire) != tail) return true;  // more to read here first
  consumer_ = next;
  free_segment(&seg);
  return true;
}

bool spsc_ring::empty() const noexcept {
  const segment* s = consumer_;
  return s->next.load(std::memory_order_acquire) == nullptr &&
         s->head.load(std::memory_order_acquire) == s->tail.load(std::memory_order_relaxed);
}

void spsc_ring::discard_all_after_fork() noexcept {
  while (consumer_ != producer_) {
    segment* next = consumer_->next.load(std::memory_order_relaxed);
    free_segment(consumer_);
    consumer_ = next;
  }
  producer_->tail.store(head_, std::memory_order_relaxed);
  cached_tail_ = head_;
}

}  // namespace logfire::detail
