// OpenTelemetry HTTP semantic conventions shared by the HTTP integrations (cpp-httplib, libcurl):
// the known methods and the names of client spans. Header-only, private to integrations/.
#pragma once

#include <array>
#include <string_view>

namespace logfire::detail {

// RFC 9110's methods and PATCH keep their name in `http.request.method`; any other is "_OTHER"
// (with the original in `http.request.method_original`).
[[nodiscard]] inline bool known_http_method(std::string_view m) noexcept {
  static constexpr std::array<std::string_view, 9> k_known = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                                              "CONNECT", "OPTIONS", "TRACE", "PATCH"};
  for (auto k : k_known)
    if (k == m) return true;
  return false;
}

// The template of a CLIENT span: "<METHOD> {url.full}" ("HTTP {url.full}" for an unknown
// method), so the span name stays low-cardinality and the message shows the URL.
[[nodiscard]] inline std::string_view http_client_span_name(std::string_view method) noexcept {
  if (method == "GET") return "GET {url.full}";
  if (method == "POST") return "POST {url.full}";
  if (method == "PUT") return "PUT {url.full}";
  if (method == "DELETE") return "DELETE {url.full}";
  if (method == "PATCH") return "PATCH {url.full}";
  if (method == "HEAD") return "HEAD {url.full}";
  if (method == "OPTIONS") return "OPTIONS {url.full}";
  if (method == "TRACE") return "TRACE {url.full}";
  if (method == "CONNECT") return "CONNECT {url.full}";
  return "HTTP {url.full}";
}

}  // namespace logfire::detail
