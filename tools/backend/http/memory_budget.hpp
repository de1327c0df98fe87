// A budget of bytes shared by every request in flight (`serve --max-memory`): request bodies as
// they arrive, their decompressed form and their decoded rows all hold a reservation. A
// reservation that does not fit fails at once — nothing ever waits for memory, so nothing can
// deadlock on it — and the request is answered 429 with Retry-After instead.
//
//   memory_budget budget(512 << 20);
//   auto r = budget.reserve(body_size);          // empty when over the budget
//   if (!r) return too_many_requests();
//   if (!r.grow(more)) ...;                      // released when `r` goes out of scope
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace logfire::backend::http {

class memory_budget {
 public:
  explicit memory_budget(std::size_t limit) : limit_(limit) {}
  memory_budget(const memory_budget&) = delete;
  memory_budget& operator=(const memory_budget&) = delete;

  // Holds bytes of the budget until destroyed. Movable; any thread.
  class reservation {
   public:
    reservation() = default;
    reservation(reservation&& o) noexcept
        : budget_(std::exchange(o.budget_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
    reservation& operator=(reservation&& o) noexcept {
      if (this != &o) {
        release();
        budget_ = std::exchange(o.budget_, nullptr);
        bytes_ = std::exchange(o.bytes_, 0);
      }
      return *this;
    }
    reservation(const reservation&) = delete;
    reservation& operator=(const reservation&) = delete;
    ~reservation() { release(); }

    explicit operator bool() const { return budget_ != nullptr; }
    [[nodiscard]] std::size_t bytes() const { return bytes_; }
    // Takes `n` more bytes; false (and nothing taken) when the budget has no room.
    bool grow(std::size_t n) {
      if (budget_ == nullptr || !budget_->take(n)) return false;
      bytes_ += n;
      return true;
    }
    // Gives back everything above `n` bytes.
    void shrink_to(std::size_t n) {
      if (budget_ != nullptr && bytes_ > n) {
        budget_->give(bytes_ - n);
        bytes_ = n;
      }
    }
    void release() {
      if (budget_ != nullptr) budget_->give(bytes_);
      budget_ = nullptr;
      bytes_ = 0;
    }

   private:
    friend class memory_budget;
    reservation(memory_budget* b, std::size_t n) : budget_(b), bytes_(n) {}
    memory_budget* budget_ = nullptr;
    std::size_t bytes_ = 0;
  };

  // An empty reservation when `n` bytes do not fit.
  [[nodiscard]] reservation reserve(std::size_t n) {
    if (!take(n)) return {};
    return reservation(this, n);
  }

  [[nodiscard]] std::size_t limit() const { return limit_; }
  [[nodiscard]] std::size_t in_use() const { return used_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::size_t peak() const { return peak_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t refusals() const { return refusals_.load(std::memory_order_relaxed); }

 private:
  bool take(std::size_t n) {
    std::size_t used = used_.load(std::memory_order_relaxed);
    do {
      if (n > limit_ || used > limit_ - n) {
        refusals_.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
    } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
    std::size_t now = used + n;
    std::size_t peak = peak_.load(std::memory_order_relaxed);
    while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
    return true;
  }
  void give(std::size_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }

  const std::size_t limit_;
  std::atomic<std::size_t> used_{0};
  std::atomic<std::size_t> peak_{0};
  std::atomic<std::uint64_t> refusals_{0};
};

}  // namespace logfire::backend::http
