// Context propagation: moving trace context and baggage across process boundaries in
// headers. A propagator `extract`s what arrives on a carrier (a set of headers) and `inject`s
// ours into outgoing headers; `fields` names the headers it touches.
//
//   std::map<std::string, std::string> headers = {{"traceparent", "00-4bf9...-00f0...-01"}};
//   logfire::map_carrier in{headers};
//   auto ctx = logfire::extract_context(*logfire::default_propagator(), in);
//   if (ctx.has_trace()) { /* continue the caller's trace */ }
//
// Every function here is noexcept or documents what it may throw; a malformed header is
// never an error, it is ignored as the W3C specifications require.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "logfire/context.hpp"

namespace logfire {

namespace detail {
// ASCII case-insensitive equality (header names are ASCII tokens).
[[nodiscard]] constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = static_cast<unsigned char>(a[i]);
    const auto y = static_cast<unsigned char>(b[i]);
    if (x == y) continue;
    const unsigned lx = x | 0x20u;  // folds 'A'-'Z' onto 'a'-'z' (and nothing else matters)
    if (lx != (y | 0x20u) || lx < 'a' || lx > 'z') return false;
  }
  return true;
}
}  // namespace detail

// A non-owning reference to a callable taking one header value. Carriers report values
// through it so that extraction copies nothing. Valid only during the call it is passed to.
class value_visitor {
 public:
  template <class F>
  requires(!std::same_as<std::remove_cvref_t<F>, value_visitor> && std::invocable<F&, std::string_view>)
      value_visitor(F&& f)
  noexcept  // NOLINT(google-explicit-constructor): used like a function_ref
      : obj_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* o, std::string_view v) { (*static_cast<std::remove_reference_t<F>*>(o))(v); }) {}

  void operator()(std::string_view value) const { call_(obj_, value); }

 private:
  void* obj_;
  void (*call_)(void*, std::string_view);
};

// A set of headers. Names are compared ASCII case-insensitively; a carrier that can hold a
// header more than once reports every value, in order (so "more than one traceparent" is
// detectable). Implement it to propagate through any transport.
class carrier {
 public:
  virtual ~carrier() = default;
  // Reports every value of header `name` (any casing) to `visit`, in order.
  virtual void get_all(std::string_view name, value_visitor visit) const = 0;
  // Sets header `name` (given in lowercase) to `value`, replacing the values of any casing.
  // A read-only carrier ignores it.
  virtual void set(std::string_view name, std::string_view value) = 0;

  // The first value of `name`, if any.
  [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const {
    std::optional<std::string_view> first;
    get_all(name, [&](std::string_view v) {
      if (!first) first = v;
    });
    return first;
  }
};

// Adapter for std::map, std::unordered_map and std::multimap of std::string to std::string.
// Holds a reference: the container must outlive the carrier. Over a const container, set()
// does nothing.
//
//   std::unordered_map<std::string, std::string> out;
//   logfire::map_carrier c{out};
template <class Map>
class map_carrier final : public carrier {
 public:
  explicit map_carrier(Map& headers) noexcept : headers_(&headers) {}

  void get_all(std::string_view name, value_visitor visit) const override {
    for (const auto& [k, v] : *headers_)
      if (detail::iequals(k, name)) visit(std::string_view(v));
  }

  void set(std::string_view name, std::string_view value) override {
    if constexpr (!std::is_const_v<Map>) {
      // Reuse an entry spelled exactly `name` (no allocation at steady state); drop others.
      auto keep = headers_->end();
      for (auto it = headers_->begin(); it != headers_->end();) {
        if (detail::iequals(it->first, name)) {
          if (keep == headers_->end() && std::string_view(it->first) == name) {
            keep = it++;
            continue;
          }
          it = headers_->erase(it);
        } else {
          ++it;
        }
      }
      if (keep != headers_->end())
        keep->second.assign(value.data(), value.size());
      else
        headers_->emplace(std::string(name), std::string(value));
    }
  }

 private:
  Map* headers_;
};

// Adapter for a list of header pairs that keeps duplicates and order, e.g.
// std::vector<std::pair<std::string, std::string>>. Over a const list, set() does nothing.
template <class List>
class header_list_carrier final : public carrier {
 public:
  explicit header_list_carrier(List& headers) noexcept : headers_(&headers) {}

  void get_all(std::string_view name, value_visitor visit) const override {
    for (const auto& [k, v] : *headers_)
      if (detail::iequals(k, name)) visit(std::string_view(v));
  }

  void set(std::string_view name, std::string_view value) override {
    if constexpr (!std::is_const_v<List>) {
      bool done = false;
      for (auto it = headers_->begin(); it != headers_->end();) {
        if (detail::iequals(it->first, name)) {
          if (!done) {
            it->first.assign(name.data(), name.size());
            it->second.assign(value.data(), value.size());
            done = true;
            ++it;
          } else {
            it = headers_->erase(it);
          }
        } else {
          ++it;
        }
      }
      if (!done) headers_->emplace_back(std::string(name), std::string(value));
    }
  }

 private:
  List* headers_;
};

// One W3C baggage member. `value` is percent-decoded; `properties` is the canonical text after
// the first ';' ("ttl=30;secure"), kept as received (without optional whitespace).
struct baggage_member {
  std::string key;
  std::string value;
  std::string properties;

  friend bool operator==(const baggage_member&, const baggage_member&) = default;
};

// W3C baggage limits: beyond these, whole members are dropped (never parts).
inline constexpr std::size_t baggage_max_members = 64;
inline constexpr std::size_t baggage_max_bytes = 8192;

// Which propagator produced the trace context of a propagation_context.
enum class propagator_kind : std::uint8_t { none, tracecontext, baggage, xcloudtrace };

// "tracecontext", "baggage", "xcloudtrace", "none" (the OTEL_PROPAGATORS names).
[[nodiscard]] std::string_view to_string(propagator_kind k) noexcept;
// The header a propagator reads: "traceparent", "baggage", "X-Cloud-Trace-Context", "".
[[nodiscard]] std::string_view header_name(propagator_kind k) noexcept;

// What crosses a process boundary: the remote span context, its tracestate and the baggage.
// On inject, `span` is the span making the outgoing call.
struct propagation_context {
  // From extract: is_remote = true and the flags with the reserved bits cleared. The trace id
  // can be valid while the span id is 0: X-Cloud-Trace-Context without a span id
  // ("TRACE;o=1") names a trace but no parent span; a span started under it joins the trace
  // as a root.
  span_context span;
  // The validated W3C tracestate, members comma-joined in order (empty when none or invalid).
  std::string trace_state;
  std::vector<baggage_member> baggage;
  propagator_kind source = propagator_kind::none;

  // A trace to continue arrived (trace id valid; see `span` for the parent span id).
  [[nodiscard]] bool has_trace() const noexcept { return span.trace.valid(); }
  [[nodiscard]] const baggage_member* find_baggage(std::string_view key) const noexcept {
    for (const auto& m : baggage)
      if (m.key == key) return &m;
    return nullptr;
  }
  // Empties everything, keeping the allocated capacity (for reuse on a hot path).
  void clear() noexcept {
    span = {};
    trace_state.clear();
    baggage.clear();
    source = propagator_kind::none;
  }
};

// The propagator interface. Implementations are immutable after construction and safe to
// share between threads; extract and inject run on the caller's thread.
class propagator {
 public:
  virtual ~propagator() = default;

  // Adds what this propagator finds on `from` to `into`. Contract (what makes a composite
  // work): the trace context (span, trace_state, source) is written only when `into` has no
  // trace yet — the first valid one wins; baggage members are merged by key, a later value
  // replacing an earlier one in place. Malformed input is ignored; nothing is thrown.
  virtual void extract(const carrier& from, propagation_context& into) const noexcept = 0;
  // Writes `ctx` onto `to`. The trace context is written whenever ctx.span is valid, also
  // when it is not sampled.
  virtual void inject(const propagation_context& ctx, carrier& to) const noexcept = 0;
  // The lowercase header names this propagator reads and writes.
  [[nodiscard]] virtual std::span<const std::string_view> fields() const noexcept = 0;
  // The OTEL_PROPAGATORS name ("tracecontext", ..., "composite" for a list).
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;
};

// Extracts into a fresh context (allocates only for tracestate and baggage).
[[nodiscard]] propagation_context extract_context(const propagator& p, const carrier& from);

// W3C Trace Context Level 2: `traceparent` and `tracestate`. Future versions are read by their
// first four fields; output is always version 00 with the reserved flag bits zeroed; the
// random flag is carried. Never adds a tracestate member of its own.
class trace_context_propagator final : public propagator {
 public:
  void extract(const carrier& from, propagation_context& into) const noexcept override;
  void inject(const propagation_context& ctx, carrier& to) const noexcept override;
  [[nodiscard]] std::span<const std::string_view> fields() const noexcept override;
  [[nodiscard]] std::string_view name() const noexcept override { return "tracecontext"; }
};

// W3C Baggage: `baggage` headers, 64 members / 8192 bytes at most, percent-encoded values.
class baggage_propagator final : public propagator {
 public:
  void extract(const carrier& from, propagation_context& into) const noexcept override;
  void inject(const propagation_context& ctx, carrier& to) const noexcept override;
  [[nodiscard]] std::span<const std::string_view> fields() const noexcept override;
  [[nodiscard]] std::string_view name() const noexcept override { return "baggage"; }
};

// Google's legacy `X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=OPTIONS` (decimal span id, o=1
// sampled). Extracts every partial form (`T/S;o=1`, `T/S`, `T/;o=1`, `T;o=1`, `T`). Writes the
// header only when `inject` is true (default false: most services only need to read it).
class cloud_trace_propagator final : public propagator {
 public:
  explicit cloud_trace_propagator(bool inject = false) noexcept : inject_(inject) {}
  void extract(const carrier& from, propagation_context& into) const noexcept override;
  void inject(const propagation_context& ctx, carrier& to) const noexcept override;
  [[nodiscard]] std::span<const std::string_view> fields() const noexcept override;
  [[nodiscard]] std::string_view name() const noexcept override { return "xcloudtrace"; }

 private:
  bool inject_;
};

// Runs its propagators in order: the first valid trace context wins, baggage is merged, and
// every one of them injects.
class composite_propagator final : public propagator {
 public:
  explicit composite_propagator(std::vector<std::shared_ptr<const propagator>> parts);
  void extract(const carrier& from, propagation_context& into) const noexcept override;
  void inject(const propagation_context& ctx, carrier& to) const noexcept override;
  [[nodiscard]] std::span<const std::string_view> fields() const noexcept override;
  [[nodiscard]] std::string_view name() const noexcept override { return "composite"; }
  [[nodiscard]] const std::vector<std::shared_ptr<const propagator>>& parts() const noexcept { return parts_; }

 private:
  std::vector<std::shared_ptr<const propagator>> parts_;
  std::vector<std::string_view> fields_;
};

// Extracts nothing, injects nothing, has no fields ("none").
class null_propagator final : public propagator {
 public:
  void extract(const carrier&, propagation_context&) const noexcept override {}
  void inject(const propagation_context&, carrier&) const noexcept override {}
  [[nodiscard]] std::span<const std::string_view> fields() const noexcept override { return {}; }
  [[nodiscard]] std::string_view name() const noexcept override { return "none"; }
};

// The default: tracecontext then baggage (what OTEL_PROPAGATORS defaults to).
[[nodiscard]] std::shared_ptr<const propagator> default_propagator();

struct propagator_selection {
  std::shared_ptr<const propagator> value;  // null when `error` is set
  std::string error;
  [[nodiscard]] bool ok() const noexcept { return error.empty(); }
};

// Builds a propagator from a comma-separated list as in OTEL_PROPAGATORS: `tracecontext`,
// `baggage`, `xcloudtrace`, `none` (case-insensitive, whitespace ignored, duplicates once).
// Empty means the default "tracecontext,baggage"; "none" contributes nothing, so a list of only
// "none" gives the null propagator. An unknown name is an error naming `variable` and it, e.g.
// "OTEL_PROPAGATORS names an unknown propagator: 'b3' (known: tracecontext, baggage,
// xcloudtrace, none)".
[[nodiscard]] propagator_selection propagators_from_names(std::string_view names,
                                                          std::string_view variable = "OTEL_PROPAGATORS");

}  // namespace logfire
