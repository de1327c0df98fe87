// An asymmetric memory barrier: a compiler-only fence on the hot path (light), paired with a
// process-wide barrier on the rare side (heavy). Used for the in-call flags that let
// shutdown() wait for callers in the middle of a push without a locked instruction per call:
//
//   caller (any thread)                        shutdown()
//   ts.in_call = 1            (store)          g_control = nullptr   (store)
//   light_barrier()                            heavy_barrier()
//   ctl = g_control           (load)           wait while any ts.in_call != 0
//
// After heavy_barrier() returns, every caller either sees g_control == nullptr or has its
// in_call store visible to shutdown(). heavy_barrier() uses membarrier(2)
// (MEMBARRIER_CMD_PRIVATE_EXPEDITED: every running thread of the process executes a full
// barrier), and falls back to an mprotect() TLB shootdown, which interrupts the same threads.
#pragma once

#include <atomic>

namespace logfire::detail {

inline void light_barrier() noexcept {
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

// Slow (a system call that interrupts every CPU running this process). Any thread.
void heavy_barrier() noexcept;

}  // namespace logfire::detail
