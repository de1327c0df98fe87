#include "sampling/head.hpp"

namespace logfire::detail {

std::uint8_t unsampled_parent_reason(const span_context& parent, const remote_state* remote) noexcept {
  if (!parent.is_remote) return static_cast<std::uint8_t>(drop_reason::parent_not_recorded);
  // A platform's "not sampled" flag that our own head sampler confirmed (attach_context on
  // Cloud Run & co. in the default mode): our sampler's decision.
  if (remote && remote->head_sampled_out && remote->incoming.span == parent.span &&
      remote->incoming.trace == parent.trace)
    return static_cast<std::uint8_t>(drop_reason::not_sampled);
  // Otherwise the caller's decision, counted apart so that the platform case is visible.
  return static_cast<std::uint8_t>(drop_reason::remote_parent_not_sampled);
}

}  // namespace logfire::detail
