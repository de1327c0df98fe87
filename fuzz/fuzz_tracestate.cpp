// Fuzzes tracestate validation. The input is split on '\n' into several tracestate headers.
// Properties: an accepted tracestate has at most 32 members; its canonical form is accepted
// again and is a fixed point.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "propagation/parse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  logfire::detail::tracestate_parser parser;
  for (;;) {
    const std::size_t nl = in.find('\n');
    parser.add(in.substr(0, nl));
    if (nl == std::string_view::npos) break;
    in.remove_prefix(nl + 1);
  }
  std::string out;
  if (!parser.finish(out)) {
    if (!out.empty()) __builtin_trap();
    return 0;
  }
  if (parser.members() > logfire::detail::tracestate_max_members) __builtin_trap();
  std::string again;
  if (!logfire::detail::parse_tracestate(out, again) || again != out) __builtin_trap();
  return 0;
}
