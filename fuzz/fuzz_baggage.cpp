// Fuzzes the baggage parser and encoder. The input is split on '\n' into several baggage
// headers. Properties: the limits hold; what extract keeps, inject writes within 8192 bytes and
// extract reads back identically (percent-encoding round trip, properties kept).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "propagation/parse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<logfire::baggage_member> members;
  logfire::detail::baggage_budget budget;
  for (;;) {
    const std::size_t nl = in.find('\n');
    logfire::detail::parse_baggage(in.substr(0, nl), members, budget);
    if (nl == std::string_view::npos) break;
    in.remove_prefix(nl + 1);
  }
  if (members.size() > logfire::baggage_max_members || budget.bytes > logfire::baggage_max_bytes) __builtin_trap();
  std::string encoded;
  logfire::detail::format_baggage(members, encoded);
  if (encoded.size() > logfire::baggage_max_bytes) __builtin_trap();
  std::vector<logfire::baggage_member> back;
  logfire::detail::baggage_budget budget2;
  logfire::detail::parse_baggage(encoded, back, budget2);
  if (back != members) __builtin_trap();
  return 0;
}
