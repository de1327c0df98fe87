// Fuzzes the X-Cloud-Trace-Context parser. Properties: an accepted value has a valid trace id;
// with a span id, formatting it parses back to the same trace, span and sampled flag.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "propagation/parse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  logfire::span_context ctx;
  if (!logfire::detail::parse_cloud_trace_context(in, ctx)) return 0;
  if (!ctx.trace.valid() || !ctx.is_remote) __builtin_trap();
  if (!ctx.span.valid()) return 0;
  char buf[64];
  const std::size_t n = logfire::detail::format_cloud_trace_context(ctx, buf);
  if (n > sizeof buf) __builtin_trap();
  logfire::span_context back;
  if (!logfire::detail::parse_cloud_trace_context(std::string_view(buf, n), back)) __builtin_trap();
  if (back.trace != ctx.trace || back.span != ctx.span || back.sampled() != ctx.sampled()) __builtin_trap();
  return 0;
}
