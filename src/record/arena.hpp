// A bump allocator for one batch of records: the records exporters see are views into it.
// Background thread only. reset() keeps the first chunk, so a steady state allocates nothing.
// Exception-safe: a failed allocation (std::bad_alloc) leaves the arena as it was.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <string_view>
#include <type_traits>
#include <vector>

#include "text/bytes.hpp"

namespace logfire::detail {

class arena {
 public:
  explicit arena(std::size_t chunk_bytes = 256 * 1024) : chunk_bytes_(chunk_bytes) {}

  void* allocate(std::size_t n, std::size_t align) {
    std::size_t at = (used_ + align - 1) & ~(align - 1);
    if (chunks_.empty() || at + n > chunk_size_) {
      next_chunk(n + align);
      at = (used_ + align - 1) & ~(align - 1);
    }
    used_ = at + n;
    return chunks_[current_].get() + at;
  }

  // Returns the last `n` bytes of the allocation just made (no other allocation since): they
  // are handed out again by the next one.
  void give_back(std::size_t n) noexcept { used_ -= n; }

  template <typename T>
  T* make_array(std::size_t n) {
    static_assert(std::is_trivially_destructible_v<T>);
    if (n == 0) return nullptr;
    T* p = static_cast<T*>(allocate(sizeof(T) * n, alignof(T)));
    for (std::size_t i = 0; i < n; ++i) new (p + i) T();
    return p;
  }

  // A copy of `items` (trivially copyable), in one memcpy.
  template <typename T>
  T* copy_array(const T* items, std::size_t n) {
    static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);
    if (n == 0) return nullptr;
    T* p = static_cast<T*>(allocate(sizeof(T) * n, alignof(T)));
    std::memcpy(static_cast<void*>(p), items, sizeof(T) * n);
    return p;
  }

  [[gnu::always_inline]] std::string_view copy(std::string_view s) {
    if (s.empty()) return {};
    char* p = static_cast<char*>(allocate(s.size(), 1));
    copy_bytes(p, s.data(), s.size());
    return {p, s.size()};
  }

  // Bytes of the chunks it holds.
  [[nodiscard]] std::size_t capacity() const noexcept {
    std::size_t n = 0;
    for (std::size_t s : sizes_) n += s;
    return n;
  }

  void reset() noexcept {
    current_ = 0;
    used_ = 0;
    chunk_size_ = chunks_.empty() ? 0 : sizes_[0];
  }

 private:
  void next_chunk(std::size_t at_least) {
    // Reuse the following chunk when it is large enough; otherwise add one.
    if (!chunks_.empty() && current_ + 1 < chunks_.size() && sizes_[current_ + 1] >= at_least) {
      ++current_;
    } else {
      const std::size_t size = at_least > chunk_bytes_ ? at_least : chunk_bytes_;
      // Everything that can throw happens before the first change: both vectors have room, the
      // chunk exists; the inserts then only move pointers and sizes.
      chunks_.reserve(chunks_.size() + 1);
      sizes_.reserve(sizes_.size() + 1);
      auto chunk = std::make_unique_for_overwrite<std::byte[]>(size);
      const auto at = static_cast<std::ptrdiff_t>(chunks_.empty() ? 0 : current_ + 1);
      chunks_.insert(chunks_.begin() + at, std::move(chunk));
      sizes_.insert(sizes_.begin() + at, size);
      current_ = chunks_.size() == 1 ? 0 : current_ + 1;
    }
    used_ = 0;
    chunk_size_ = sizes_[current_];
  }

  std::size_t chunk_bytes_;
  std::vector<std::unique_ptr<std::byte[]>> chunks_;
  std::vector<std::size_t> sizes_;
  std::size_t current_ = 0;
  std::size_t used_ = 0;
  std::size_t chunk_size_ = 0;
};

}  // namespace logfire::detail
