// Text helpers shared by every reader of the environment (setup/configure.cpp for the options,
// export/otlp_settings.cpp for the destinations), so that both trim, compare and decode a
// variable the same way. Header-only: they run once per configure(), on the caller's thread.
// The boolean vocabulary lives beside the environment lookup itself (parse_bool_value in
// resource/detect.hpp), which every variable already uses.
#pragma once

#include <cctype>
#include <string>
#include <string_view>

namespace logfire::detail::env_text {

// `s` without leading and trailing ASCII whitespace.
[[nodiscard]] inline std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// `s` with ASCII letters lowered (the rest unchanged).
[[nodiscard]] inline std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// 0..15 for a hex digit (either case), -1 otherwise.
[[nodiscard]] constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

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
