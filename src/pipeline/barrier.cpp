// heavy_barrier(): membarrier(2), else an mprotect() TLB shootdown (as folly's
// asymmetricHeavyBarrier does).
#include "pipeline/barrier.hpp"

#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

namespace logfire::detail {
namespace {

long membarrier(int cmd) noexcept {
  return ::syscall(__NR_membarrier, cmd, 0, 0);
}

// Changing a page's protection makes the kernel flush that page from the TLB of every CPU that
// runs a thread of this process, with an interrupt that serialises each of them.
bool mprotect_barrier() noexcept {
  static std::mutex mutex;
  static void* page = nullptr;
  std::lock_guard lock(mutex);
  if (page == nullptr) {
    page = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) {
      page = nullptr;
      return false;
    }
  }
  // Dirty the page so that it is mapped, then take write access away: the TLB entries go.
  *static_cast<volatile char*>(page) = 1;
  if (::mprotect(page, 4096, PROT_READ) != 0) return false;
  return ::mprotect(page, 4096, PROT_READ | PROT_WRITE) == 0;
}

// A full fence on this thread (a locked read-modify-write; ThreadSanitizer does not model
// standalone fences).
void local_fence() noexcept {
  static std::atomic<int> dummy{0};
  dummy.exchange(0, std::memory_order_seq_cst);
}

}  // namespace

void heavy_barrier() noexcept {
  local_fence();
  if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return;
  // Not registered yet (or again, in a forked child): register, then try once more.
  if (errno == EPERM && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0 &&
      membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0)
    return;
  (void)mprotect_barrier();
  local_fence();
}

}  // namespace logfire::detail
