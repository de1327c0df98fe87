// The head sampling decision for a new span or log, taken on the caller's thread when the
// record starts: the parent's flag when there is a parent, else the ratio test on the trace id
// and then the user's hook. Its settings are its own (`head_settings`), copied into the
// pipeline's control block at configure(); it reads nothing else of the pipeline.
//
//   const decision d = decide(settings.head, parent, trace, name, lvl, is_log, ts.remote.get());
//   if (d.drop) count(static_cast<drop_reason>(d.drop - 1));
//
// decide() is on the hot path: inline, noexcept, no allocation (a throwing hook keeps the trace).
#pragma once

#include <cstdint>
#include <string_view>

#include "context/remote.hpp"
#include "logfire/config.hpp"
#include "logfire/context.hpp"
#include "logfire/stats.hpp"
#include "sampling/ratio.hpp"

namespace logfire::detail {

struct head_settings {
  ratio_sampler ratio{1.0};  // options.trace_sample_rate (keeps every root at rate 1)
  sampler_hook hook;         // options.sampler: called for roots after the ratio test, or empty
};

// What to do with a new span or log: its trace flags, and 0 to record it or the drop reason + 1.
struct decision {
  std::uint8_t flags;
  std::uint8_t drop;
};

// The reason a span or log under an unsampled parent is not recorded (cold: kept out of line).
[[gnu::noinline]] std::uint8_t unsampled_parent_reason(const span_context& parent, const remote_state* remote) noexcept;

inline decision decide(const head_settings& s, const span_context& parent, trace_id trace, std::string_view name,
                       level lvl, bool is_log, const remote_state* remote) noexcept {
  if (parent.valid()) {
    std::uint8_t flags = parent.flags & trace_flags::known;
    if (flags & trace_flags::sampled) return {flags, 0};
    return {flags, static_cast<std::uint8_t>(unsampled_parent_reason(parent, remote) + 1)};
  }
  std::uint8_t flags = trace_flags::random;
  if (!s.ratio.keeps(trace))
    return {flags, static_cast<std::uint8_t>(static_cast<std::uint8_t>(drop_reason::not_sampled) + 1)};
  if (s.hook) {
    bool keep = true;
    try {
      keep = s.hook(sampling_input{trace, parent, name, lvl, is_log});
    } catch (...) {
      keep = true;  // a throwing hook must not lose data silently nor crash: keep
    }
    if (!keep) return {flags, static_cast<std::uint8_t>(static_cast<std::uint8_t>(drop_reason::sampler_hook) + 1)};
  }
  return {static_cast<std::uint8_t>(flags | trace_flags::sampled), 0};
}

}  // namespace logfire::detail
