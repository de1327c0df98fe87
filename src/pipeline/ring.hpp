// A single-producer single-consumer byte ring: the application thread that owns it writes
// variable-length records, the background thread reads them. Wait-free on both sides.
//
// The ring is a chain of equal segments. Usually there is one, used circularly. When it is
// full and the caller may grow it (try_grow(): a bound per thread and one for the process),
// the caller links a new segment and writes there from then on; the background thread reads
// the old one to its end, follows the link and frees it. A burst the background thread cannot
// keep up with lands in new segments instead of being dropped, and the memory goes back as soon
// as they are read (docs/architecture.md, "The ring").
//
// Invariants: positions are monotonically increasing byte counts over the whole chain, so a
// record's position orders it against published() on every segment. In a segment, `head`
// (written by the producer) and `tail` (written by the consumer) satisfy `head - tail <=
// capacity`. A record never wraps: when it does not fit before the end of the segment, the
// producer writes a padding record (size only, kind 0) and continues at offset 0. A new
// segment starts at offset 0: its first position is the producer's head rounded up to the
// segment size (positions may skip, never go back). Every record starts 8-byte aligned.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
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

// Bytes of segments beyond each ring's first, summed over every ring of the process: what
// try_grow() checks against the process-wide budget.
[[nodiscard]] std::size_t ring_growth_bytes() noexcept;

// How a ring may grow: `max_bytes` for all of its segments together, and at most `budget`
// bytes of extra segments for the whole process. Zero for either: no growth.
struct ring_growth_limits {
  std::size_t max_bytes = 0;
  std::size_t budget = 0;
};

// The records published after the one a drain is reading, in the same segment: what a consumer
// that looks ahead may read (spsc_ring::drain()). Positions are the ring's, as drain() gives them.
class following_records {
 public:
  following_records(const std::byte* buffer, std::size_t mask, std::uint64_t begin, std::uint64_t head) noexcept
      : buffer_(buffer), mask_(mask), begin_(begin), head_(head) {}
  // The position just after the record being read.
  [[nodiscard]] std::uint64_t begin() const noexcept { return begin_; }
  // The record at `position` (begin(), or just after a record this view gave), or null when none
  // is published there in this segment. It may be padding (kind 0).
  [[nodiscard]] const ring_record_header* at(std::uint64_t position) const noexcept {
    return position < head_ ? reinterpret_cast<const ring_record_header*>(buffer_ + (position & mask_)) : nullptr;
  }

 private:
  const std::byte* buffer_;
  std::size_t mask_;
  std::uint64_t begin_;
  std::uint64_t head_;
};

// Whether this CPU prefetches for writing: on x86-64, whether CPUID reports PREFETCHW (leaf
// 0x80000001, ECX bit 8: AMD's CPUs for many generations, Intel's from Broadwell on); elsewhere,
// the compiler's write prefetch.
[[nodiscard]] bool cpu_prefetches_for_write() noexcept;

// The line in a state this core may write (PREFETCHW on x86-64, where g++ compiles
// __builtin_prefetch(p, 1) to a read prefetch unless built with -mprfchw). Only where
// cpu_prefetches_for_write().
inline void prefetch_for_write(const void* p) noexcept {
#if defined(__x86_64__)
  asm volatile("prefetchw %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p, 1, 3);
#endif
}

class spsc_ring {
 public:
  // `segment_bytes` is rounded up to a power of two (minimum 4 KiB). An allocation failure
  // throws (std::bad_alloc), as the thread_state that owns the ring does.
  explicit spsc_ring(std::size_t segment_bytes);
  ~spsc_ring();
  spsc_ring(const spsc_ring&) = delete;
  spsc_ring& operator=(const spsc_ring&) = delete;

  // The bytes of one segment: the largest record the ring takes is a bit less.
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  // Segments allocated now (1 unless a burst made the ring grow).
  [[nodiscard]] std::size_t segments() const noexcept { return segments_.load(std::memory_order_relaxed); }

  // Producer: returns space for a record of `size` bytes (multiple of 8, header included),
  // or nullptr when the current segment is full. Nothing is visible to the consumer before
  // commit().
  [[nodiscard]] std::byte* try_reserve(std::size_t size) noexcept {
    const std::uint64_t head = head_;
    const std::size_t offset = head & mask_;
    const std::size_t to_end = capacity_ - offset;
    const std::size_t needed = size <= to_end ? size : size + to_end;  // padding if it would wrap
    if (head + needed - cached_tail_ > capacity_) [[unlikely]] {
      if (needed > capacity_) return nullptr;
      cached_tail_ = producer_->tail.load(std::memory_order_acquire);
      if (head + needed - cached_tail_ > capacity_) return nullptr;
    }
    if (size > to_end) {
      auto* pad = reinterpret_cast<ring_record_header*>(buffer_ + offset);
      pad->size = static_cast<std::uint32_t>(to_end);
      pad->tag = 0;
      pending_padding_ = to_end;
      return buffer_;
    }
    pending_padding_ = 0;
    return buffer_ + offset;
  }

  // Producer, after try_reserve() returned null: links a new segment (allocated here: a cold
  // path, only when the ring is full) if `limits` allow one more, and returns space for the
  // record at its start. Null when they do not, the record is larger than a segment, or the
  // allocation fails.
  [[nodiscard]] std::byte* try_grow(std::size_t size, ring_growth_limits limits) noexcept;

  // Producer: publishes the record reserved last.
  void commit(std::size_t size) noexcept {
    head_ += pending_padding_ + size;
    producer_->head.store(head_, std::memory_order_release);
    // The lines the next records will be written to were last read by the consumer, on another
    // core: ask for them for writing now, a few records ahead, so that the stores of those
    // records do not wait for the transfers. Only lines known to be free (before the cached
    // tail's lap): taking one the consumer has yet to read would take it from the consumer.
    if (write_ahead_ < head_) [[unlikely]]  // a new segment, or a record longer than the look-ahead
      write_ahead_ = head_ & ~std::uint64_t{k_cache_line - 1};
    const std::uint64_t until = std::min(head_ + k_write_ahead, cached_tail_ + capacity_);
    for (; write_ahead_ < until; write_ahead_ += k_cache_line) prefetch_for_write(buffer_ + (write_ahead_ & mask_));
  }

  // Producer: whether more than half of its segment is in use (the high-water wake-up). When
  // the producer's cached view of the consumer's tail says so, the view is reloaded first: a
  // stale one would wake the background thread for every record once half a segment had been
  // written since the last reload, however much had been read meanwhile.
  [[nodiscard]] bool past_half() noexcept {
    if (head_ - cached_tail_ <= capacity_ / 2) [[likely]]
      return false;
    cached_tail_ = producer_->tail.load(std::memory_order_acquire);
    return head_ - cached_tail_ > capacity_ / 2;
  }

  // Consumer: the producer's published position (records before it are complete).
  [[nodiscard]] std::uint64_t published() const noexcept;

  // Bytes the consumer reads before it gives them back to the producer: small enough that a
  // producer waiting for space gets it within microseconds of a long drain, large enough that
  // the tail's cache line does not travel between the cores for every record.
  static constexpr std::size_t k_free_chunk = 16u << 10;
  // How far ahead of the record being read the consumer prefetches.
  static constexpr std::size_t k_read_ahead = 1024;
  // How far ahead of its head the producer asks for lines to write.
  static constexpr std::size_t k_write_ahead = 256;

  // Consumer: calls `fn(const ring_record_header&, const std::byte* body, std::size_t body_size,
  // std::uint64_t position)` for each record published when the drain starts, freeing space
  // chunk by chunk (k_free_chunk bytes, and all of it before returning) and each segment the
  // producer left once it is read, never per pass: `fn` must not keep pointers into the ring
  // past its return. `keep_going(free_read)` is asked before each record and may stop the
  // drain early (the rest stays for the next one); before it lets another consumer near the
  // ring (the pipeline releases the consumer lock to export), it must call `free_read()`,
  // which gives back every record read so far: a record read but not freed would be read
  // again by the next consumer. `position` is the record's position in the ring, comparable
  // with published(). Returns the number of records read.
  //
  // `fn` may also take a fifth argument, `const following_records& after`: the records that
  // follow, those published in the same segment. Such an `fn` returns how many bytes of them it
  // handled as well (0 for none; whole records from after.begin() on), which are then skipped.
  template <typename Fn, typename KeepGoing>
  std::size_t drain(Fn&& fn, KeepGoing&& keep_going) {
    const std::uint64_t stop = published();
    std::size_t n = 0;
    for (;;) {
      segment& seg = *consumer_;
      std::uint64_t head = seg.head.load(std::memory_order_acquire);
      if (head > stop) head = stop;  // the producer's segment: only what was published at the start
      std::uint64_t tail = seg.tail.load(std::memory_order_relaxed);
      std::uint64_t freed = tail;
      const auto free_read = [&] {
        if (tail == freed) return;
        seg.tail.store(tail, std::memory_order_release);
        freed = tail;
      };
      bool stopped = false;
      while (tail != head) {
        if (tail - freed >= k_free_chunk) free_read();
        if (!keep_going(free_read)) {
          stopped = true;
          break;
        }
        const auto* h = reinterpret_cast<const ring_record_header*>(seg.buffer + (tail & mask_));
        // The producer wrote these lines on another core: ask for the ones a few records ahead
        // now, so that their transfers overlap the work on this record. Only published ones: a
        // line the producer has yet to write, read here, would have to come back to it.
        if (tail + k_read_ahead < head) __builtin_prefetch(seg.buffer + ((tail + k_read_ahead) & mask_), 0, 3);
        const std::uint64_t at = tail;
        tail += h->size;
        if (h->kind() == 0) continue;
        const auto* body = reinterpret_cast<const std::byte*>(h + 1);
        const std::size_t body_size = h->size - sizeof(ring_record_header);
        ++n;
        if constexpr (std::is_invocable_r_v<std::uint64_t, Fn&, const ring_record_header&, const std::byte*,
                                            std::size_t, std::uint64_t, const following_records&>) {
          // The records after this one that are already published in this segment.
          const std::uint64_t taken = fn(*h, body, body_size, at, following_records(seg.buffer, mask_, tail, head));
          for (const std::uint64_t until = tail + taken; tail < until; ++n)  // it took them too
            tail += reinterpret_cast<const ring_record_header*>(seg.buffer + (tail & mask_))->size;
        } else {
          fn(*h, body, body_size, at);
        }
      }
      free_read();
      if (stopped || tail >= stop) return n;
      // Below `stop` but at this segment's head: the producer went on to a later segment. Once
      // it linked one it writes here no more, so a head read after the link is final.
      if (!leave_if_done(seg, tail)) return n;
    }
  }
  template <typename Fn>
  std::size_t drain(Fn&& fn) {
    return drain(std::forward<Fn>(fn), [](auto&&) { return true; });
  }

  // Consumer: nothing to read, in any segment.
  [[nodiscard]] bool empty() const noexcept;

  // Only in a child process after fork(), where no other thread touches the ring: forget
  // the records the parent process will export, and the segments that held them.
  void discard_all_after_fork() noexcept;

 private:
  struct segment {
    explicit segment(std::byte* b, std::uint64_t start) : buffer(b), head(start), tail(start) {}
    std::byte* buffer;
    alignas(k_cache_line) std::atomic<std::uint64_t> head;
    alignas(k_cache_line) std::atomic<std::uint64_t> tail;
    // Set by the producer once it writes here no more (the next segment it writes to).
    std::atomic<segment*> next{nullptr};
  };

  segment* new_segment(std::uint64_t start) const noexcept;
  void free_segment(segment* s) noexcept;
  // Consumer, at `tail` == the head it read of `seg`: moves to the next segment and frees
  // `seg` when the producer left it and nothing remains; false when there is nothing further.
  bool leave_if_done(segment& seg, std::uint64_t tail) noexcept;

  std::size_t capacity_ = 0;
  std::size_t mask_ = 0;
  std::atomic<std::size_t> segments_{1};  // producer adds, consumer frees

  // The producer's side: its segment and its own copies of what it needs on the fast path.
  alignas(k_cache_line) segment* producer_ = nullptr;
  std::byte* buffer_ = nullptr;
  std::uint64_t head_ = 0;         // producer_->head as last stored
  std::uint64_t cached_tail_ = 0;  // producer's last view of producer_->tail
  std::size_t pending_padding_ = 0;
  // Lines before this position were asked for (commit()). Never reached on a CPU that does not
  // prefetch for writing (the constructor), so that commit() asks for none there at no cost.
  std::uint64_t write_ahead_ = 0;

  // The consumer's side: the oldest segment, where reading continues.
  alignas(k_cache_line) segment* consumer_ = nullptr;
};

}  // namespace logfire::detail
