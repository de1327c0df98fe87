#include "context/remote.hpp"

namespace logfire::detail {

void retain(const remote_state* p) noexcept {
  p->refs.fetch_add(1, std::memory_order_relaxed);
}

void release(const remote_state* p) noexcept {
  if (p->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete p;
}

shared_ref<remote_state> new_remote_state(remote_state*& out) {
  out = new remote_state();
  return shared_ref<remote_state>(out);
}

}  // namespace logfire::detail
