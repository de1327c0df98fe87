// W3C Trace Context Level 2 (traceparent + tracestate). Runs on the caller's thread, once per
// incoming or outgoing request: no allocation except the tracestate string, which reuses the
// capacity of the context it is written into.
#include <cstring>

#include "context/ids.hpp"
#include "propagation/parse.hpp"

namespace logfire::detail {
namespace {

constexpr char k_hex[] = "0123456789abcdef";

inline int lower_hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

inline bool is_lcalpha(char c) noexcept {
  return c >= 'a' && c <= 'z';
}
inline bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
// Characters after the first in a tracestate key (without '@', which separates tenant and system).
inline bool is_key_char(char c) noexcept {
  return is_lcalpha(c) || is_digit(c) || c == '_' || c == '-' || c == '*' || c == '/';
}

}  // namespace

bool parse_traceparent(std::string_view value, span_context& out) noexcept {
  const std::string_view v = trim_ows(value);
  if (v.size() < traceparent_size) return false;
  const char* p = v.data();
  const int v_hi = lower_hex_value(p[0]);
  const int v_lo = lower_hex_value(p[1]);
  if (v_hi < 0 || v_lo < 0) return false;
  const int version = v_hi * 16 + v_lo;
  if (version == 0xff) return false;
  // Version 00 is exactly 55 characters; a later version may append fields after a '-'.
  if (version == 0 ? v.size() != traceparent_size : (v.size() > traceparent_size && p[55] != '-')) return false;
  if (p[2] != '-' || p[35] != '-' || p[52] != '-') return false;
  span_context ctx;
  if (!parse_hex_u64(p + 3, ctx.trace.hi) || !parse_hex_u64(p + 19, ctx.trace.lo)) return false;
  if (!parse_hex_u64(p + 36, ctx.span.value)) return false;
  const int f_hi = lower_hex_value(p[53]);
  const int f_lo = lower_hex_value(p[54]);
  if (f_hi < 0 || f_lo < 0) return false;
  if (!ctx.trace.valid() || !ctx.span.valid()) return false;
  ctx.flags = static_cast<std::uint8_t>((f_hi * 16 + f_lo) & trace_flags::known);
  ctx.is_remote = true;
  out = ctx;
  return true;
}

void format_traceparent(const span_context& ctx, char* out55) noexcept {
  out55[0] = '0';
  out55[1] = '0';
  out55[2] = '-';
  write_hex_u64(ctx.trace.hi, out55 + 3);
  write_hex_u64(ctx.trace.lo, out55 + 19);
  out55[35] = '-';
  write_hex_u64(ctx.span.value, out55 + 36);
  out55[52] = '-';
  const unsigned f = ctx.flags & trace_flags::known;
  out55[53] = k_hex[f >> 4];
  out55[54] = k_hex[f & 0xF];
}

// Level 1 grammar, which the conformance harness checks at its default strictness:
//   simple-key       = (lcalpha / DIGIT) 0*255 key-char
//   multi-tenant-key = (lcalpha / DIGIT) 0*240 key-char "@" lcalpha 0*13 key-char
// (Level 2 folds '@' into key-char; the stricter form rejects "a@", "a@@b", "a@b@c".)
bool valid_tracestate_key(std::string_view key) noexcept {
  if (key.empty() || key.size() > 256) return false;
  if (!is_lcalpha(key[0]) && !is_digit(key[0])) return false;
  const std::size_t at = key.find('@');
  if (at == std::string_view::npos) {
    for (std::size_t i = 1; i < key.size(); ++i)
      if (!is_key_char(key[i])) return false;
    return true;
  }
  if (at > 241) return false;  // tenant: 1 + 240 characters at most
  for (std::size_t i = 1; i < at; ++i)
    if (!is_key_char(key[i])) return false;
  const std::string_view system = key.substr(at + 1);
  if (system.empty() || system.size() > 14 || !is_lcalpha(system[0])) return false;
  for (std::size_t i = 1; i < system.size(); ++i)
    if (!is_key_char(system[i])) return false;
  return true;
}

// value = 0*255 chr nblk-chr; chr = %x20-2B / %x2D-3C / %x3E-7E; nblk-chr = chr without SP.
bool valid_tracestate_value(std::string_view value) noexcept {
  if (value.empty() || value.size() > 256) return false;
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c > 0x7E || c == ',' || c == '=') return false;
  }
  return value.back() != ' ';
}

bool tracestate_parser::add(std::string_view header_value) noexcept {
  if (invalid_) return false;
  std::size_t pos = 0;
  while (pos <= header_value.size()) {
    std::size_t comma = header_value.find(',', pos);
    if (comma == std::string_view::npos) comma = header_value.size();
    const std::string_view member = trim_ows(header_value.substr(pos, comma - pos));
    pos = comma + 1;
    if (member.empty()) continue;  // empty members are allowed and ignored
    const std::size_t eq = member.find('=');
    if (eq == std::string_view::npos || !valid_tracestate_key(member.substr(0, eq)) ||
        !valid_tracestate_value(member.substr(eq + 1))) {
      invalid_ = true;
      return false;
    }
    if (count_ == tracestate_max_members) {
      invalid_ = true;
      return false;
    }
    // A repeated key makes the list invalid (the harness's strict reading); at most 32 keys.
    const std::string_view key = member.substr(0, eq);
    for (std::size_t i = 0; i < count_; ++i) {
      const std::string_view other = members_[i];
      if (other.size() > key.size() && other[key.size()] == '=' && other.compare(0, key.size(), key) == 0) {
        invalid_ = true;
        return false;
      }
    }
    members_[count_++] = member;
  }
  return true;
}

bool tracestate_parser::finish(std::string& out) {
  out.clear();
  if (invalid_) return false;
  std::size_t total = count_ == 0 ? 0 : count_ - 1;
  for (std::size_t i = 0; i < count_; ++i) total += members_[i].size();
  out.reserve(total);
  for (std::size_t i = 0; i < count_; ++i) {
    if (i != 0) out.push_back(',');
    out.append(members_[i]);
  }
  return true;
}

bool parse_tracestate(std::string_view value, std::string& out) {
  tracestate_parser p;
  p.add(value);
  return p.finish(out);
}

}  // namespace logfire::detail

namespace logfire {

namespace {
constexpr std::string_view k_traceparent = "traceparent";
constexpr std::string_view k_tracestate = "tracestate";
constexpr std::string_view k_trace_context_fields[] = {k_traceparent, k_tracestate};

bool printable(std::string_view s) noexcept {
  for (const char ch : s)
    if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) > 0x7E) return false;
  return true;
}
}  // namespace

void trace_context_propagator::extract(const carrier& from, propagation_context& into) const noexcept {
  if (into.has_trace()) return;
  try {
    // Exactly one traceparent: a second one makes the context ambiguous, hence invalid.
    std::string_view first;
    int count = 0;
    from.get_all(k_traceparent, [&](std::string_view v) {
      if (count++ == 0) first = v;
    });
    span_context ctx;
    if (count != 1 || !detail::parse_traceparent(first, ctx)) return;

    detail::tracestate_parser ts;
    from.get_all(k_tracestate, [&](std::string_view v) { ts.add(v); });
    into.span = ctx;
    into.source = propagator_kind::tracecontext;
    if (!ts.finish(into.trace_state)) into.trace_state.clear();
  } catch (...) {
    // A carrier that throws or an allocation failure: keep whatever trace context was parsed
    // (its tracestate may be lost), never propagate the exception into the host.
  }
}

void trace_context_propagator::inject(const propagation_context& ctx, carrier& to) const noexcept {
  if (!ctx.span.valid()) return;
  try {
    char buf[detail::traceparent_size];
    detail::format_traceparent(ctx.span, buf);
    to.set(k_traceparent, std::string_view(buf, sizeof buf));
    // A tracestate from extract() is valid; one set by hand must at least not smuggle control
    // characters into a header.
    if (!ctx.trace_state.empty() && printable(ctx.trace_state)) to.set(k_tracestate, ctx.trace_state);
  } catch (...) {
  }
}

std::span<const std::string_view> trace_context_propagator::fields() const noexcept {
  return k_trace_context_fields;
}

}  // namespace logfire
