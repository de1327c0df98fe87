// Per-thread state of the SDK: the thread's ring, its current span context, and the loss
// counters it owns. Created on a thread's first instrumentation call, registered with the
// global registry, and retired when the thread exits (the background thread frees it after
// draining what is left).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "logfire/context.hpp"
#include "logfire/stats.hpp"
#include "pipeline/ring.hpp"

namespace logfire::detail {

struct remote_state;

// A counter written only by its owning thread and read by anyone: a relaxed load + store
// compiles to a plain add (no locked instruction) yet is race-free.
struct owned_counter {
  std::atomic<std::uint64_t> value{0};
  void add(std::uint64_t n = 1) noexcept {
    value.store(value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t get() const noexcept { return value.load(std::memory_order_relaxed); }
};

struct thread_state {
  explicit thread_state(std::size_t ring_bytes) : ring(ring_bytes) {}

  spsc_ring ring;
  owned_counter produced;
  std::array<owned_counter, drop_reason_count> dropped;
  std::array<owned_counter, event_counter_count> events;
  std::atomic<bool> retired{false};  // the owning thread has exited
  // logfire::suppress_instrumentation is active on this thread (only its owner touches it; in
  // the padding after `retired`, so the hot fields keep their offsets).
  bool suppressed = false;

  // The thread's current span (invalid when none) and the depth its children get.
  span_context current{};
  std::uint32_t depth = 0;
  // Spans that ended here while a descendant was current (out-of-order ends): when that
  // descendant ends, the context skips them and returns to what was current before them.
  // Bounded; a full table overwrites its oldest entry.
  struct ended_early_span {
    std::uint64_t span = 0;  // 0 = free slot
    span_context saved{};
    std::uint32_t saved_depth = 0;
  };
  std::array<ended_early_span, 8> ended_early{};
  std::uint8_t ended_early_count = 0;  // slots in use
  std::uint8_t ended_early_next = 0;   // next slot to overwrite when full
  // Tracestate, baggage and link target of the remote context attached on this thread (null
  // when none). Only attach guards change it; spans read it.
  std::shared_ptr<const remote_state> remote;
};

// All thread states, so the background thread can drain them and stats() can sum them.
class thread_registry {
 public:
  static thread_registry& instance() noexcept;

  void add(thread_state* t);
  // Calls fn(thread_state&) for every live state, under the registry lock.
  template <typename Fn>
  void for_each(Fn&& fn) {
    std::lock_guard lock(mutex_);
    for (auto* t : states_) fn(*t);
  }
  // Frees retired states whose rings are empty, folding their counters into `retired_`.
  void collect_retired();
  // Sums every counter (live and retired) into `out`.
  void sum(pipeline_stats& out);
  // After fork() in the child: only the forking thread survives; drop the other states and
  // empty the survivor's ring (its records belong to the parent).
  void after_fork_in_child(thread_state* survivor) noexcept;
  std::mutex& mutex() noexcept { return mutex_; }

 private:
  std::mutex mutex_;
  std::vector<thread_state*> states_;
  std::uint64_t retired_produced_ = 0;
  std::array<std::uint64_t, drop_reason_count> retired_dropped_{};
  std::array<std::uint64_t, event_counter_count> retired_events_{};
};

// This thread's state, created on first use. Never null (allocation failure terminates, as
// for any thread_local); cheap after the first call.
thread_state& this_thread_state() noexcept;

// This thread's state if it exists (no allocation).
thread_state* this_thread_state_if_any() noexcept;

}  // namespace logfire::detail
