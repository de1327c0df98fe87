// Text helpers shared by every reader of the environment (setup/configure.cpp for the options,
// setup/otlp_destinations.cpp for the destinations), so that both trim, compare and decode a
// variable the same way. Header-only: they run once per configure(), on the caller's thread.
// The boolean vocabulary lives beside the environment lookup itself (parse_bool_value in
// resource/detect.hpp), which every variable already uses.
#pragma once

#include <string>
#include <string_view>

#include "text/ascii.hpp"

namespace logfire::detail::env_text {

using ascii::hex_value;
using ascii::lower;
using ascii::trim;

// "%XY" sequences decoded into `out`; false (and `out` unspecified) when a '%' is not followed by
// two hex digits.
[[nodiscard]] inline bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = hex_value(in[i + 1]);
    const int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

}  // namespace logfire::detail::env_text
