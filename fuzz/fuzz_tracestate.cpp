// Fuzzes tracestate validation. The input is split on '\n' into several tracestate headers.
// Properties: an accepted tracestate has at most 32 members, each key once (a repeated key keeps
// its first member); its canonical form is accepted again and is a fixed point.
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
  // Each key once: compare every pair of "key=" prefixes.
  std::string_view rest(out);
  std::string_view keys[logfire::detail::tracestate_max_members];
  std::size_t n = 0;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view member = rest.substr(0, comma);
    const std::string_view key = member.substr(0, member.find('='));
    for (std::size_t i = 0; i < n; ++i)
      if (keys[i] == key) __builtin_trap();
    if (n == logfire::detail::tracestate_max_members) __builtin_trap();
    keys[n++] = key;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (n != parser.members()) __builtin_trap();
  std::string again;
  if (!logfire::detail::parse_tracestate(out, again) || again != out) __builtin_trap();
  return 0;
}
