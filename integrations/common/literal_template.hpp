// Text as a message template that formats to itself: every brace doubled, so that a route
// pattern, a gRPC method name or a log line that spdlog already formatted never reads as
// template fields (and never counts as a malformed template). Private to integrations/.
#pragma once

#include <string>
#include <string_view>

namespace logfire::detail {

// Replaces `out` with `text`, braces doubled; reuses out's capacity.
inline void assign_literal_template(std::string_view text, std::string& out) {
  out.clear();
  out.reserve(text.size() + 8);
  for (char c : text) {
    out.push_back(c);
    if (c == '{' || c == '}') out.push_back(c);
  }
}

[[nodiscard]] inline std::string literal_template(std::string_view text) {
  std::string out;
  assign_literal_template(text, out);
  return out;
}

}  // namespace logfire::detail
