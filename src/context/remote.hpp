// State that comes with a context received from another process: the W3C tracestate and
// baggage to pass on, and (in "link" mode) the incoming span a new root should link to.
// Immutable once built; shared by every thread a context is handed to, through
// shared_ref<remote_state> (logfire/logfire.hpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "logfire/context.hpp"
#include "logfire/logfire.hpp"
#include "logfire/propagation.hpp"

namespace logfire::detail {

// The count behind a shared_ref: a new object starts with one; a copy of the object is a new
// object with a count of its own.
struct ref_count {
  mutable std::atomic<std::uint32_t> refs{1};
  ref_count() noexcept = default;
  ref_count(const ref_count&) noexcept {}
  ref_count& operator=(const ref_count&) noexcept { return *this; }
  ~ref_count() = default;
};

struct remote_state : ref_count {
  span_context incoming;    // as extracted (is_remote = true)
  std::string trace_state;  // validated tracestate to carry on
  std::vector<baggage_member> baggage;
  span_context link_to;  // link mode: new roots link to this context
  // The platform marked the request "not sampled" and our own head sampler agreed (the unset
  // mode on Cloud Run & co.): spans under it are counted as not_sampled, our sampler's choice.
  bool head_sampled_out = false;
};

// A new, empty state, owned by the returned reference; fill it through `*out` before sharing.
[[nodiscard]] shared_ref<remote_state> new_remote_state(remote_state*& out);

}  // namespace logfire::detail
