// A counting replacement of the global operator new/delete, for tests that prove a path makes
// no heap allocation on the calling thread. Include it in exactly one source file of a test
// executable (it defines the replaceable operators), and do not run that executable under a
// sanitizer that replaces them too.
//
//   EXPECT_EQ(counting_allocator::allocations_of([] { do_the_thing(); }), 0u);
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

// The replacements below pair malloc with free; GCC cannot see that through inlining.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace counting_allocator {
inline thread_local bool t_counting = false;
inline thread_local std::size_t t_allocations = 0;

inline void* counted_alloc(std::size_t n, std::size_t align = 0) {
  if (t_counting) ++t_allocations;
  if (n == 0) n = 1;
  void* p = nullptr;
  if (align > alignof(std::max_align_t)) {
    if (::posix_memalign(&p, align, n) != 0) p = nullptr;
  } else {
    p = std::malloc(n);
  }
  return p;
}
}  // namespace counting_allocator

void* operator new(std::size_t n) {
  if (void* p = counting_allocator::counted_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = counting_allocator::counted_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return counting_allocator::counted_alloc(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return counting_allocator::counted_alloc(n);
}
void* operator new(std::size_t n, std::align_val_t a) {
  if (void* p = counting_allocator::counted_alloc(n, static_cast<std::size_t>(a))) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) {
  if (void* p = counting_allocator::counted_alloc(n, static_cast<std::size_t>(a))) return p;
  throw std::bad_alloc();
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
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}

namespace counting_allocator {

// Counts the allocations `fn` makes on this thread.
template <typename Fn>
inline std::size_t allocations_of(Fn&& fn) {
  t_allocations = 0;
  t_counting = true;
  fn();
  t_counting = false;
  return t_allocations;
}

}  // namespace counting_allocator
