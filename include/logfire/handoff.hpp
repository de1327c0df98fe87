// Trace context across processes: the headers to send with an outgoing request, and a guard
// that continues an incoming request's context on this thread (per the distributed_tracing
// setting for requests from outside your own services).
//
//   for (auto& [name, value] : logfire::get_context()) request.set_header(name, value);
//
//   logfire::attach_context incoming(request_headers, {.third_party = true});
//   logfire::span s("GET /orders", {}, {.kind = logfire::span_kind::server});
#pragma once

#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "logfire/logfire.hpp"
#include "logfire/propagation.hpp"

namespace logfire {

using header_list = std::vector<std::pair<std::string, std::string>>;

// Headers for the current context with the configured propagators (OTEL_PROPAGATORS; default
// W3C traceparent + tracestate + baggage). A traceparent is sent for unsampled traces too.
// Empty when no span is current.
[[nodiscard]] header_list get_context();
// The same, written into any carrier.
void inject_context(carrier& to) noexcept;

struct attach_options {
  // The context comes from outside the services you own (a platform's front end, a public
  // caller): the distributed_tracing setting decides whether it is continued, ignored or
  // linked. False, the default, always continues it, for hand-offs between your own services.
  bool third_party = false;
};

// Continues the context found in `headers` on this thread until the guard ends.
class [[nodiscard]] attach_context {
 public:
  [[nodiscard]] attach_context(const carrier& headers, attach_options opts = {}) noexcept;
  [[nodiscard]] attach_context(const std::map<std::string, std::string>& headers, attach_options opts = {}) noexcept
      : attach_context(map_carrier<const std::map<std::string, std::string>>(headers), opts) {}
  [[nodiscard]] attach_context(const std::unordered_map<std::string, std::string>& headers,
                               attach_options opts = {}) noexcept
      : attach_context(map_carrier<const std::unordered_map<std::string, std::string>>(headers), opts) {}
  [[nodiscard]] attach_context(const header_list& headers, attach_options opts = {}) noexcept
      : attach_context(header_list_carrier<const header_list>(headers), opts) {}
  attach_context(const attach_context&) = delete;
  attach_context& operator=(const attach_context&) = delete;
  ~attach_context() = default;

  // What the propagators found (before the setting was applied).
  [[nodiscard]] const propagation_context& incoming() const noexcept { return incoming_; }
  // Whether spans started under this guard continue the incoming trace.
  [[nodiscard]] bool continued() const noexcept { return continued_; }

 private:
  propagation_context incoming_;
  bool continued_ = false;
  context_scope scope_;
};

// Adds W3C baggage entries to this thread's context until the guard ends, as Logfire Python's
// `with logfire.set_baggage(user_id="42"):`. Outgoing requests carry them (get_context()), and
// spans and logs started meanwhile get them as attributes (options.add_baggage_to_attributes,
// default true, as in Python; the call's own attributes win over a baggage entry of the same
// key). A later value for a key replaces the earlier one; guards nest.
//
//   logfire::set_baggage bag({{"tenant", "acme"}});
//   logfire::info("works for {tenant}");  // tenant = "acme"
class set_baggage {
 public:
  [[nodiscard]] explicit set_baggage(
      std::initializer_list<std::pair<std::string_view, std::string_view>> entries) noexcept;
  set_baggage(const set_baggage&) = delete;
  set_baggage& operator=(const set_baggage&) = delete;

 private:
  context_scope scope_;
};

// The baggage of this thread's context (entries set with set_baggage or received with an
// incoming request), in order.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> get_baggage();

}  // namespace logfire
