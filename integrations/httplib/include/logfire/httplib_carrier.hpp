// A logfire::carrier over cpp-httplib's headers (httplib::Headers, a case-insensitive
// multimap), so that propagators read a request's headers and write a client's headers
// without copying them. Header-only; include after <httplib.h>.
//
//   svr.Get("/", [](const httplib::Request& req, httplib::Response& res) {
//     logfire::httplib_carrier in{req.headers};
//     auto ctx = logfire::extract_context(*logfire::default_propagator(), in);
//   });
//
// cpp-httplib's server (0.11) percent-decodes every request header value ("%41" becomes "A",
// "%u00e9" becomes UTF-8) and trims spaces and tabs around it. Two headers need different answers:
// - `baggage` percent-encodes its values, so decoding would turn "J%C3%B6rg" into raw UTF-8 that
//   W3C baggage rejects. The carrier re-encodes what cannot appear raw in a baggage value (control
//   bytes but HTAB, non-ASCII, '"', '\', a single space between two value characters), so such
//   values survive. Escapes of other printable characters (%2C, %3B, %25) cannot be told apart
//   after decoding.
// - `tracestate` values are opaque bytes (printable ASCII but ',' and '=', including '"', '\' and
//   '%'), passed on exactly as the server hands them over: no re-encoding. What cpp-httplib 0.11
//   makes impossible to keep exact is a value that contained a `%xx` (or `%uxxxx`) escape: it
//   arrives decoded ("50%25" as "50%", "%22" as '"'), and an escape of ',', '=', a control or a
//   non-ASCII byte makes the member invalid, so the whole tracestate is dropped. A '%' not
//   followed by two hex digits (or 'u' and four) arrives unchanged.
// Other headers (traceparent, X-Cloud-Trace-Context) are read as they arrive.
#pragma once

#include <httplib.h>

#include <forward_list>
#include <string>
#include <string_view>
#include <type_traits>

#include "logfire/propagation.hpp"

namespace logfire {

namespace detail {

// A byte a baggage value cannot hold raw.
inline bool httplib_needs_escape(unsigned char c) noexcept {
  return (c < 0x20 && c != '\t') || c > 0x7E || c == '"' || c == '\\';
}

// A space inside a baggage value (not optional whitespace next to a separator).
inline bool httplib_inner_space(std::string_view v, std::size_t i) noexcept {
  auto is_sep = [](char c) { return c == ' ' || c == '\t' || c == ',' || c == ';' || c == '='; };
  return v[i] == ' ' && i > 0 && i + 1 < v.size() && !is_sep(v[i - 1]) && !is_sep(v[i + 1]);
}

}  // namespace detail

// Over `const httplib::Headers` (a request being served) set() does nothing.
template <class Headers>
class basic_httplib_carrier final : public carrier {
 public:
  explicit basic_httplib_carrier(Headers& headers) noexcept : headers_(&headers) {}

  void get_all(std::string_view name, value_visitor visit) const override {
    // The multimap orders keys case-insensitively, so every casing of `name` is in one range,
    // in insertion order.
    const auto range = headers_->equal_range(std::string(name));
    if (!detail::iequals(name, "baggage")) {
      for (auto it = range.first; it != range.second; ++it) visit(it->second);
      return;
    }
    for (auto it = range.first; it != range.second; ++it) visit(restore_baggage(it->second));
  }

  void set(std::string_view name, std::string_view value) override {
    if constexpr (!std::is_const_v<Headers>) {
      const std::string key(name);
      headers_->erase(key);
      headers_->emplace(key, std::string(value));
    }
  }

 private:
  // The baggage value as it was on the wire, as far as that can be known (see the header
  // comment). The re-encoded copies live as long as the carrier: propagators may keep views until
  // they finish.
  std::string_view restore_baggage(const std::string& v) const {
    bool needed = false;
    for (std::size_t i = 0; i < v.size() && !needed; ++i)
      needed = detail::httplib_needs_escape(static_cast<unsigned char>(v[i])) || detail::httplib_inner_space(v, i);
    if (!needed) return v;
    constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(v.size() + 16);
    for (std::size_t i = 0; i < v.size(); ++i) {
      const auto c = static_cast<unsigned char>(v[i]);
      if (detail::httplib_needs_escape(c) || detail::httplib_inner_space(v, i)) {
        out.push_back('%');
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 0xF]);
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
    restored_.push_front(std::move(out));
    return restored_.front();
  }

  Headers* headers_;
  mutable std::forward_list<std::string> restored_;
};

using httplib_carrier = basic_httplib_carrier<const httplib::Headers>;
using httplib_mutable_carrier = basic_httplib_carrier<httplib::Headers>;

}  // namespace logfire
