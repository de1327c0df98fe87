// Google's legacy X-Cloud-Trace-Context header, as Cloud Run, App Engine and Google's load
// balancers send it. Runs on the caller's thread per request; no allocation.
#include <charconv>

#include "propagation/parse.hpp"

namespace logfire::detail {
namespace {

constexpr int any_case_hex(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool parse_hex16_any_case(const char* p, std::uint64_t& out) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < 16; ++i) {
    const int d = any_case_hex(p[i]);
    if (d < 0) return false;
    v = (v << 4) | static_cast<std::uint64_t>(d);
  }
  out = v;
  return true;
}

// Unsigned decimal of 1..20 digits that fits in 64 bits.
bool parse_decimal_u64(std::string_view s, std::uint64_t& out) noexcept {
  if (s.empty() || s.size() > 20) return false;
  for (const char c : s)
    if (c < '0' || c > '9') return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

bool parse_cloud_trace_context(std::string_view value, span_context& out) noexcept {
  std::string_view v = trim_ows(value);
  if (v.size() < 32) return false;
  span_context ctx;
  if (!parse_hex16_any_case(v.data(), ctx.trace.hi) || !parse_hex16_any_case(v.data() + 16, ctx.trace.lo)) return false;
  if (!ctx.trace.valid()) return false;
  v.remove_prefix(32);

  // Optional "/SPAN" (SPAN may be empty: "T/;o=1").
  if (!v.empty() && v.front() == '/') {
    v.remove_prefix(1);
    const std::size_t end = v.find(';');
    const std::string_view digits = v.substr(0, end);
    if (!digits.empty() && !parse_decimal_u64(digits, ctx.span.value)) return false;
    v.remove_prefix(digits.size());
  }
  // Optional ";o=OPTIONS": a decimal bit mask whose bit 0 is "trace this request".
  if (!v.empty()) {
    if (v.size() < 4 || v.substr(0, 3) != ";o=") return false;
    std::uint64_t options = 0;
    if (!parse_decimal_u64(v.substr(3), options)) return false;
    if (options & 1u) ctx.flags = trace_flags::sampled;
  }
  ctx.is_remote = true;
  out = ctx;
  return true;
}

std::size_t format_cloud_trace_context(const span_context& ctx, char* out64) noexcept {
  ctx.trace.write_hex(out64);
  char* p = out64 + 32;
  *p++ = '/';
  p = std::to_chars(p, out64 + 64, ctx.span.value).ptr;
  *p++ = ';';
  *p++ = 'o';
  *p++ = '=';
  *p++ = ctx.sampled() ? '1' : '0';
  return static_cast<std::size_t>(p - out64);
}

}  // namespace logfire::detail

namespace logfire {

namespace {
constexpr std::string_view k_xctc = "x-cloud-trace-context";
constexpr std::string_view k_xctc_fields[] = {k_xctc};
}  // namespace

void cloud_trace_propagator::extract(const carrier& from, propagation_context& into) const noexcept {
  if (into.has_trace()) return;
  try {
    std::string_view first;
    int count = 0;
    from.get_all(k_xctc, [&](std::string_view v) {
      if (count++ == 0) first = v;
    });
    span_context ctx;
    // More than one header is as ambiguous as two traceparents: ignore them all.
    if (count != 1 || !detail::parse_cloud_trace_context(first, ctx)) return;
    into.span = ctx;
    into.trace_state.clear();
    into.source = propagator_kind::xcloudtrace;
  } catch (...) {
  }
}

void cloud_trace_propagator::inject(const propagation_context& ctx, carrier& to) const noexcept {
  if (!inject_ || !ctx.span.valid()) return;
  try {
    char buf[64];
    const std::size_t n = detail::format_cloud_trace_context(ctx.span, buf);
    to.set(k_xctc, std::string_view(buf, n));
  } catch (...) {
  }
}

std::span<const std::string_view> cloud_trace_propagator::fields() const noexcept {
  return k_xctc_fields;
}

}  // namespace logfire
