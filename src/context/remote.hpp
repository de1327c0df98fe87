// State that comes with a context received from another process: the W3C tracestate and
// baggage to pass on, and (in "link" mode) the incoming span a new root should link to.
// Immutable once built; shared by every thread a context is handed to.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "logfire/context.hpp"
#include "logfire/propagation.hpp"

namespace logfire::detail {

struct remote_state {
  span_context incoming;    // as extracted (is_remote = true)
  std::string trace_state;  // validated tracestate to carry on
  std::vector<baggage_member> baggage;
  span_context link_to;  // link mode: new roots link to this context
  // The platform marked the request "not sampled" and our own head sampler agreed (the unset
  // mode on Cloud Run & co.): spans under it are counted as not_sampled, our sampler's choice.
  bool head_sampled_out = false;
};

}  // namespace logfire::detail
