// Per-thread state of the SDK: the thread's ring, its current span context, the loss counters
// it owns, and its in-call flag. Created on a thread's first instrumentation call, registered
// with the global registry, and retired when the thread exits, after its thread_local
// destructors (the background thread frees it after draining what is left; pipeline.cpp).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "logfire/context.hpp"
#include "logfire/logfire.hpp"
#include "logfire/stats.hpp"
#include "pipeline/ring.hpp"

namespace logfire::detail {

struct remote_state;

// A counter written only by its owning thread and read by anyone: a relaxed load + store
// compiles to a plain add (no locked instruction) yet is race-free. A plain word accessed
// through the compiler's atomic builtins (what std::atomic is made of), so that the public
// header's inline filtered-log count (logfire.hpp, count_filtered()) can add to it too.
struct owned_counter {
  std::uint64_t value = 0;
  void add(std::uint64_t n = 1) noexcept {
    __atomic_store_n(&value, __atomic_load_n(&value, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
  }
  void reset() noexcept { __atomic_store_n(&value, std::uint64_t{0}, __ATOMIC_RELAXED); }
  [[nodiscard]] std::uint64_t get() const noexcept { return __atomic_load_n(&value, __ATOMIC_RELAXED); }
};

// What a thread's calls came to, for one pipeline generation. Each call increments exactly one
// of `pushed` (its record entered the ring) or `dropped[reason]` (it was dropped at the call
// site), so a reader never sees a call half counted; `produced` is their sum.
struct call_counters {
  owned_counter pushed;
  std::array<owned_counter, drop_reason_count> dropped;
  std::array<owned_counter, event_counter_count> events;
  // The generation these counters belong to (release-stored after a reset; see rollover()).
  std::atomic<std::uint32_t> generation{0};

  // Owning thread: the first call for a new generation starts the counters from zero (the
  // previous generation's ledger was closed by its shutdown).
  void rollover(std::uint32_t g) noexcept {
    pushed.reset();
    for (auto& c : dropped) c.reset();
    for (auto& c : events) c.reset();
    generation.store(g, std::memory_order_release);
  }
};

// Serial numbers of threads as span handles keep them (span_state::origin); never 0.
std::uint32_t next_thread_serial() noexcept;

// Where the C++ runtime keeps the calling thread's count of exceptions in flight, or null when
// its layout is not the Itanium C++ ABI's (section 2.2.2: the thread's __cxa_eh_globals begins
// with the caught exceptions' stack, then that count), or does not agree with
// std::uncaught_exceptions() now. The address holds for the thread's life.
const unsigned int* uncaught_exceptions_word() noexcept;

struct thread_state {
  explicit thread_state(std::size_t ring_bytes) : ring(ring_bytes) {}

  spsc_ring ring;
  const std::uint32_t serial = next_thread_serial();
  call_counters counters;
  std::atomic<bool> retired{false};  // the owning thread has exited
  // Depth of logfire calls in progress on this thread (a sampler hook may log): written by the
  // owner only (a plain store, with light_barrier() before it reads g_control), read by
  // shutdown() to wait for callers in the middle of a push. See pipeline/barrier.hpp.
  std::atomic<std::uint32_t> in_call{0};
  // logfire::suppress_instrumentation is active on this thread (only its owner touches it;
  // after the hot fields, so they keep their offsets).
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
  // when none). Only context scopes change it; spans read it.
  shared_ref<remote_state> remote;
  // This thread's count of exceptions in flight, as the C++ runtime keeps it (what
  // std::uncaught_exceptions() returns), read without its call; null where the runtime's
  // layout is not known. Read on the owning thread only. See exceptions_in_flight().
  const unsigned int* uncaught = uncaught_exceptions_word();
};

// std::uncaught_exceptions() for the calling thread, whose state is `ts` (or null).
inline int exceptions_in_flight(const thread_state* ts) noexcept {
  if (ts && ts->uncaught) [[likely]]
    return static_cast<int>(*ts->uncaught);
  return std::uncaught_exceptions();
}

// The counters of one generation, summed over threads (live and exited).
struct call_totals {
  std::uint64_t pushed = 0;
  std::array<std::uint64_t, drop_reason_count> dropped{};
  std::array<std::uint64_t, event_counter_count> events{};
};

// All thread states, so the background thread can drain them and stats() can sum them.
class thread_registry {
 public:
  static thread_registry& instance() noexcept;

  void add(thread_state* t);
  // Copies the live states into `out` (the background thread drains them without the lock:
  // only it frees states, between drains) and returns registrations() as of the copy. May
  // throw std::bad_alloc.
  std::uint64_t snapshot(std::vector<thread_state*>& out);
  // How many states were ever added. A thread registers before its first record, so a count
  // read after the marks of a snapshot's rings that differs from the snapshot's own count
  // means a ring the snapshot misses may hold records committed before those marks.
  std::uint64_t registrations() const noexcept { return registrations_.load(std::memory_order_acquire); }
  // Frees retired states whose rings are empty, keeping their counters of generation
  // `generation` (older generations are closed). Background thread only.
  void collect_retired(std::uint32_t generation);
  // Adds the counters of generation `generation`, live and retired, into `out`.
  void sum(std::uint32_t generation, call_totals& out);
  // Waits until no thread other than the caller is inside a logfire call, or `deadline`.
  // Returns whether they all left. Call after heavy_barrier() (see barrier.hpp).
  bool wait_for_callers(std::chrono::steady_clock::time_point deadline) noexcept;
  // After fork() in the child: only the forking thread survives; drop the other states and
  // empty the survivor's ring (its records belong to the parent). Releases the registry mutex
  // that the prepare handler took.
  void after_fork_in_child(thread_state* survivor) noexcept;
  std::mutex& mutex() noexcept { return mutex_; }

 private:
  std::mutex mutex_;
  std::vector<thread_state*> states_;
  std::atomic<std::uint64_t> registrations_{0};
  // Counters of exited threads, for the generation in retired_generation_.
  std::uint32_t retired_generation_ = 0;
  call_totals retired_;
};

// Set on the SDK's background thread: under overflow_policy::block a call made there (an
// exporter that logs) never waits for ring space, since only this thread frees it.
inline thread_local bool t_never_block = false;

// This thread's state, created on first use. Never null (allocation failure terminates, as
// for any thread_local); cheap after the first call.
thread_state& this_thread_state() noexcept;

// This thread's state if it exists (no allocation).
thread_state* this_thread_state_if_any() noexcept;

// The side queue's mutex (pipeline/api.cpp), for the fork handlers.
std::mutex& side_queue_mutex() noexcept;

}  // namespace logfire::detail
