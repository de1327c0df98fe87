// get_context() / attach_context: trace context across processes, and the
// distributed_tracing modes. Runs on the application's thread, once per request: allocation
// is acceptable here (it is not the per-span hot path), locks are not.
#include "logfire/handoff.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>

#include "context/ids.hpp"
#include "context/remote.hpp"
#include "pipeline/pipeline.hpp"
#include "pipeline/thread_state.hpp"

namespace logfire {
namespace {

// One warning of each kind per configure(): a control block is never freed, so its address
// names one pipeline (a reconfigured SDK may run in another mode and warns again).
std::atomic<const void*> g_warned_continue{nullptr};
std::atomic<const void*> g_warned_platform{nullptr};

bool first_warning(std::atomic<const void*>& flag, const detail::control* ctl) noexcept {
  const void* key = ctl ? static_cast<const void*>(ctl) : static_cast<const void*>(&flag);
  return flag.exchange(key, std::memory_order_relaxed) != key;
}

const propagator& active_propagator(const detail::control* ctl) noexcept {
  if (ctl && ctl->settings.propagator) return *ctl->settings.propagator;
  static const auto fallback = default_propagator();
  return *fallback;
}

std::string_view trace_header_name(const propagation_context& in) noexcept {
  const std::string_view h = header_name(in.source);
  return h.empty() ? std::string_view("traceparent") : h;
}

}  // namespace

void inject_context(carrier& to) noexcept {
  const detail::control* ctl = detail::g_control.load(std::memory_order_acquire);
  const detail::thread_state* ts = detail::this_thread_state_if_any();
  if (!ts || !ts->current.valid()) return;
  try {
    propagation_context ctx;
    ctx.span = ts->current;
    ctx.span.is_remote = false;
    if (const detail::remote_state* remote = ts->remote.get()) {
      if (remote->incoming.trace == ctx.span.trace) ctx.trace_state = remote->trace_state;
      ctx.baggage = remote->baggage;
    }
    active_propagator(ctl).inject(ctx, to);
  } catch (...) {
  }
}

set_baggage::set_baggage(std::initializer_list<std::pair<std::string_view, std::string_view>> entries) noexcept {
  try {
    detail::remote_state* remote = nullptr;
    auto owner = detail::new_remote_state(remote);
    context ctx;
    if (const detail::thread_state* ts = detail::this_thread_state_if_any()) {
      ctx.span_ = ts->current;  // the current span stays current
      ctx.depth_ = ts->depth;
      if (ts->remote) *remote = *ts->remote.get();
    }
    for (const auto& entry : entries) {
      auto it = std::find_if(remote->baggage.begin(), remote->baggage.end(),
                             [&](const baggage_member& m) { return m.key == entry.first; });
      if (it != remote->baggage.end()) {
        it->value.assign(entry.second);
        it->properties.clear();
      } else {
        remote->baggage.push_back({std::string(entry.first), std::string(entry.second), {}});
      }
    }
    ctx.remote_ = std::move(owner);
    scope_.enter(ctx);
  } catch (...) {
    // Out of memory: the baggage is not set; the thread's context is unchanged.
  }
}

std::vector<std::pair<std::string, std::string>> get_baggage() {
  std::vector<std::pair<std::string, std::string>> out;
  if (const detail::thread_state* ts = detail::this_thread_state_if_any(); ts && ts->remote)
    for (const auto& m : ts->remote->baggage) out.emplace_back(m.key, m.value);
  return out;
}

header_list get_context() {
  header_list out;
  header_list_carrier<header_list> c(out);
  inject_context(c);
  return out;
}

attach_context::attach_context(const carrier& headers, attach_options opts) noexcept {
  const detail::control* ctl = detail::g_control.load(std::memory_order_acquire);
  try {
    active_propagator(ctl).extract(headers, incoming_);
  } catch (...) {
    incoming_.clear();
  }
  const distributed_tracing mode = ctl ? ctl->settings.tracing_mode : distributed_tracing::unset;
  const bool apply_setting = opts.third_party;
  if (apply_setting && mode == distributed_tracing::off) return;  // ignore trace context and baggage
  if (!incoming_.has_trace() && incoming_.baggage.empty()) return;

  try {
    detail::remote_state* remote = nullptr;
    auto owner = detail::new_remote_state(remote);
    remote->incoming = incoming_.span;
    remote->trace_state = incoming_.trace_state;
    remote->baggage = incoming_.baggage;
    context ctx;
    if (const detail::thread_state* ts = detail::this_thread_state_if_any()) {
      ctx.span_ = ts->current;  // baggage alone keeps the current span
      ctx.depth_ = ts->depth;
    }
    if (incoming_.has_trace()) {
      if (apply_setting && mode == distributed_tracing::link) {
        // A new trace per request, its root linked to the caller's context.
        remote->link_to = incoming_.span;
        ctx.span_ = {};
        ctx.depth_ = 0;
      } else {
        span_context parent = incoming_.span;
        parent.is_remote = true;
        if (apply_setting && mode == distributed_tracing::unset) {
          if (ctl && ctl->settings.platform_injects && !parent.sampled()) {
            // The platform sampled this request out for its own tracing, not for ours: our
            // sampler decides; the trace id stays for correlation with the platform's logs.
            const auto& s = ctl->settings;
            const bool keep = s.head.ratio.keeps(parent.trace);
            if (keep)
              parent.flags |= trace_flags::sampled;
            else
              remote->head_sampled_out = true;  // counted as not_sampled: our sampler's choice
            if (first_warning(g_warned_platform, ctl)) {
              // One consistent story with the not_sampled line our own sampler's drops print.
              const double rate = s.head.ratio.rate();
              char decides[160];
              if (rate >= 1.0)
                std::snprintf(decides, sizeof decides, "this service's spans are recorded anyway");
              else
                std::snprintf(decides, sizeof decides,
                              "this service's own head sampler decides instead (LOGFIRE_TRACE_SAMPLE_RATE %g)", rate);
              std::fprintf(stderr,
                           "logfire: %s marked an incoming request \"not sampled\" in its %s header; %s (trace id "
                           "kept for correlation). Set LOGFIRE_DISTRIBUTED_TRACING=true to obey the flag, =false to "
                           "ignore incoming context, or =link.\n",
                           s.platform_name.c_str(), std::string(trace_header_name(incoming_)).c_str(), decides);
            }
          } else if (first_warning(g_warned_continue, ctl)) {
            std::fprintf(stderr,
                         "logfire: continuing the trace from an incoming %s header (distributed tracing is not "
                         "configured). Set LOGFIRE_DISTRIBUTED_TRACING=true to continue silently, =false to "
                         "ignore incoming context, or =link to start new traces linked to it.\n",
                         std::string(trace_header_name(incoming_)).c_str());
          }
        }
        ctx.span_ = parent;
        ctx.depth_ = 0;
        continued_ = true;
      }
    }
    ctx.remote_ = std::move(owner);
    scope_.enter(ctx);
  } catch (...) {
  }
}

}  // namespace logfire
