// A single-producer single-consumer byte ring: the application thread that owns it writes
// variable-length records, the background thread reads them. Wait-free on both sides.
//
// Invariants: `head_` (written by the producer) and `tail_` (written by the consumer) are
// monotonically increasing byte counts; `head_ - tail_ <= capacity`. A record never wraps:
// when it does not fit before the end of the buffer, the producer writes a padding record
// (size only, kind 0) and continues at offset 0. Every record starts 8-byte aligned.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>

namespace logfire::detail {

inline constexpr std::size_t k_cache_line = 64;

// The low 24 bits of a pipeline generation, as records carry it.
inline constexpr std::uint32_t k_generation_mask = 0xFFFFFF;

struct ring_record_header {
  std::uint32_t size;  // total bytes including this header, multiple of 8; 0 never occurs
  // kind in the low 8 bits (0 = padding to the end of the buffer); the low 24 bits of the
  // generation of the pipeline the record was pushed for in the high 24: a later pipeline
  // never takes an earlier one's records (a call that outlived shutdown's deadline).
  std::uint32_t tag;

  [[nodiscard]] std::uint8_t kind() const noexcept { return static_cast<std::uint8_t>(tag & 0xFF); }
  [[nodiscard]] std::uint32_t generation() const noexcept { return tag >> 8; }
  static std::uint32_t make_tag(std::uint8_t kind, std::uint32_t generation) noexcept {
    return kind | ((generation & k_generation_mask) << 8);
  }
};
static_assert(sizeof(ring_record_header) == 8);

class spsc_ring {
 public:
  // `capacity` is rounded up to a power of two (minimum 4 KiB).
  explicit spsc_ring(std::size_t capacity) {
    std::size_t cap = 4096;
    while (cap < capacity) cap <<= 1;
    capacity_ = cap;
    mask_ = cap - 1;
    buffer_ = std::make_unique<std::byte[]>(cap);
  }

  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

  // Producer: returns space for a record of `size` bytes (multiple of 8, header included),
  // or nullptr when the ring is full. Nothing is visible to the consumer before commit().
  [[nodiscard]] std::byte* try_reserve(std::size_t size) noexcept {
    const std::uint64_t head = head_.load(std::memory_order_relaxed);
    const std::size_t offset = head & mask_;
    const std::size_t to_end = capacity_ - offset;
    const std::size_t needed = size <= to_end ? size : size + to_end;  // padding if it would wrap
    if (needed > capacity_) return nullptr;
    if (head + needed - cached_tail_ > capacity_) {
      cached_tail_ = tail_.load(std::memory_order_acquire);
      if (head + needed - cached_tail_ > capacity_) return nullptr;
    }
    if (size > to_end) {
      auto* pad = reinterpret_cast<ring_record_header*>(buffer_.get() + offset);
      pad->size = static_cast<std::uint32_t>(to_end);
      pad->tag = 0;
      pending_padding_ = to_end;
      return buffer_.get();
    }
    pending_padding_ = 0;
    return buffer_.get() + offset;
  }

  // Producer: publishes the record reserved last.
  void commit(std::size_t size) noexcept {
    head_.store(head_.load(std::memory_order_relaxed) + pending_padding_ + size, std::memory_order_release);
  }

  // Producer: bytes in use (approximate, for the high-water wake-up).
  [[nodiscard]] std::size_t used_by_producer() const noexcept {
    return static_cast<std::size_t>(head_.load(std::memory_order_relaxed) - cached_tail_);
  }

  // Consumer: the producer's published position (records before it are complete).
  [[nodiscard]] std::uint64_t published() const noexcept { return head_.load(std::memory_order_acquire); }

  // Bytes the consumer reads before it gives them back to the producer: small enough that a
  // producer waiting for space gets it within microseconds of a long drain, large enough that
  // the tail's cache line does not travel between the cores for every record.
  static constexpr std::size_t k_free_chunk = 16u << 10;

  // Consumer: calls `fn(const ring_record_header&, const std::byte* body, std::size_t body_size,
  // std::uint64_t position)` for each record available now, freeing space chunk by chunk
  // (k_free_chunk bytes, and all of it before returning), never per pass: `fn` must not keep
  // pointers into the ring past its return. `keep_going(free_read)` is asked before each record
  // and may stop the drain early (the rest stays for the next one); before it lets another
  // consumer near the ring (the pipeline releases the consumer lock to export), it must call
  // `free_read()`, which gives back every record read so far: a record read but not freed
  // would be read again by the next consumer. `position` is the record's offset in the ring's
  // byte stream, comparable with published(). Returns the number of records read.
  template <typename Fn, typename KeepGoing>
  std::size_t drain(Fn&& fn, KeepGoing&& keep_going) {
    const std::uint64_t head = head_.load(std::memory_order_acquire);
    std::uint64_t tail = tail_.load(std::memory_order_relaxed);
    std::uint64_t freed = tail;
    const auto free_read = [&] {
      if (tail == freed) return;
      tail_.store(tail, std::memory_order_release);
      freed = tail;
    };
    std::size_t n = 0;
    while (tail != head) {
      if (tail - freed >= k_free_chunk) free_read();
      if (!keep_going(free_read)) break;
      const auto* h = reinterpret_cast<const ring_record_header*>(buffer_.get() + (tail & mask_));
      const std::uint64_t at = tail;
      tail += h->size;
      if (h->kind() != 0) {
        fn(*h, reinterpret_cast<const std::byte*>(h + 1), h->size - sizeof(ring_record_header), at);
        ++n;
      }
    }
    free_read();
    return n;
  }
  template <typename Fn>
  std::size_t drain(Fn&& fn) {
    return drain(std::forward<Fn>(fn), [](auto&&) { return true; });
  }

  [[nodiscard]] bool empty() const noexcept {
    return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire);
  }

  // Only in a child process after fork(), where no other thread touches the ring: forget
  // the records the parent process will export.
  void discard_all_after_fork() noexcept {
    tail_.store(head_.load(std::memory_order_relaxed), std::memory_order_relaxed);
    cached_tail_ = tail_.load(std::memory_order_relaxed);
  }

 private:
  std::unique_ptr<std::byte[]> buffer_;
  std::size_t capacity_ = 0;
  std::size_t mask_ = 0;
  alignas(k_cache_line) std::atomic<std::uint64_t> head_{0};
  std::uint64_t cached_tail_ = 0;  // producer's last view of tail_
  std::size_t pending_padding_ = 0;
  alignas(k_cache_line) std::atomic<std::uint64_t> tail_{0};
};

}  // namespace logfire::detail
