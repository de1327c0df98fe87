// Composite propagator, selection by name (OTEL_PROPAGATORS) and small helpers.
// Selection runs once at setup; extract/inject run on the caller's thread per request.
#include <algorithm>

#include "propagation/parse.hpp"

namespace logfire {

std::string_view to_string(propagator_kind k) noexcept {
  switch (k) {
    case propagator_kind::tracecontext:
      return "tracecontext";
    case propagator_kind::baggage:
      return "baggage";
    case propagator_kind::xcloudtrace:
      return "xcloudtrace";
    case propagator_kind::none:
      break;
  }
  return "none";
}

std::string_view header_name(propagator_kind k) noexcept {
  switch (k) {
    case propagator_kind::tracecontext:
      return "traceparent";
    case propagator_kind::baggage:
      return "baggage";
    case propagator_kind::xcloudtrace:
      return "X-Cloud-Trace-Context";
    case propagator_kind::none:
      break;
  }
  return "";
}

propagation_context extract_context(const propagator& p, const carrier& from) {
  propagation_context ctx;
  p.extract(from, ctx);
  return ctx;
}

composite_propagator::composite_propagator(std::vector<std::shared_ptr<const propagator>> parts)
    : parts_(std::move(parts)) {
  std::erase(parts_, nullptr);
  for (const auto& p : parts_)
    for (const std::string_view f : p->fields())
      if (std::find(fields_.begin(), fields_.end(), f) == fields_.end()) fields_.push_back(f);
}

void composite_propagator::extract(const carrier& from, propagation_context& into) const noexcept {
  // Each part honours the contract (trace context only while none is set, baggage merged),
  // which is what makes "first valid wins" hold here.
  for (const auto& p : parts_) p->extract(from, into);
}

void composite_propagator::inject(const propagation_context& ctx, carrier& to) const noexcept {
  for (const auto& p : parts_) p->inject(ctx, to);
}

std::span<const std::string_view> composite_propagator::fields() const noexcept {
  return fields_;
}

std::shared_ptr<const propagator> default_propagator() {
  static const std::shared_ptr<const propagator> instance =
      std::make_shared<composite_propagator>(std::vector<std::shared_ptr<const propagator>>{
          std::make_shared<trace_context_propagator>(), std::make_shared<baggage_propagator>()});
  return instance;
}

propagator_selection propagators_from_names(std::string_view names, std::string_view variable) {
  propagator_selection result;
  if (detail::trim_ows(names).empty()) {
    result.value = default_propagator();
    return result;
  }
  std::vector<std::shared_ptr<const propagator>> parts;
  std::vector<std::string_view> seen;
  std::size_t pos = 0;
  while (pos <= names.size()) {
    std::size_t comma = names.find(',', pos);
    if (comma == std::string_view::npos) comma = names.size();
    const std::string_view name = detail::trim_ows(names.substr(pos, comma - pos));
    pos = comma + 1;
    if (name.empty()) continue;
    std::string_view canonical;
    for (const std::string_view known : {"tracecontext", "baggage", "xcloudtrace", "none"})
      if (detail::iequals(name, known)) canonical = known;
    if (canonical.empty()) {
      result.error = std::string(variable) + " names an unknown propagator: '" + std::string(name) +
                     "' (known: tracecontext, baggage, xcloudtrace, none)";
      return result;
    }
    if (canonical == "none" || std::find(seen.begin(), seen.end(), canonical) != seen.end()) continue;
    seen.push_back(canonical);
    if (canonical == "tracecontext")
      parts.push_back(std::make_shared<trace_context_propagator>());
    else if (canonical == "baggage")
      parts.push_back(std::make_shared<baggage_propagator>());
    else
      parts.push_back(std::make_shared<cloud_trace_propagator>());
  }
  if (parts.empty())
    result.value = std::make_shared<null_propagator>();
  else if (parts.size() == 1)
    result.value = std::move(parts.front());
  else
    result.value = std::make_shared<composite_propagator>(std::move(parts));
  return result;
}

}  // namespace logfire
