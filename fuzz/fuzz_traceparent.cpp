// Fuzzes the traceparent parser. Properties: an accepted value has valid ids and only known
// flag bits; formatting it gives 55 characters that parse back to the same context; the
// propagator agrees with the parser.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "propagation/parse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  logfire::span_context ctx;
  const bool ok = logfire::detail::parse_traceparent(in, ctx);
  if (ok) {
    if (!ctx.valid() || !ctx.is_remote || (ctx.flags & ~logfire::trace_flags::known) != 0) __builtin_trap();
    char buf[logfire::detail::traceparent_size];
    logfire::detail::format_traceparent(ctx, buf);
    logfire::span_context back;
    if (!logfire::detail::parse_traceparent(std::string_view(buf, sizeof buf), back) || !(back == ctx))
      __builtin_trap();
  }
  std::vector<std::pair<std::string, std::string>> headers{{"traceparent", std::string(in)}};
  logfire::header_list_carrier c{headers};
  const auto extracted = logfire::extract_context(logfire::trace_context_propagator{}, c);
  if (extracted.has_trace() != ok) __builtin_trap();
  return 0;
}
