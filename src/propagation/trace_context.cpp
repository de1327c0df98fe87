// W3C Trace Context Level 2 (traceparent + tracestate). Runs on the caller's thread, once per
// incoming or outgoing request: no allocation except the tracestate string, which reuses the
// capacity of the context it is written into.
#include <array>
#include <cstring>

#include "propagation/parse.hpp"
#include "propagation/swar.hpp"

namespace logfire::detail {
namespace {

// Byte classes, looked up instead of branched on: these parsers run once per request.
struct char_tables {
  std::array<std::uint8_t, 256> hex{};  // lowercase hex digit value, 0xFF otherwise
  std::array<bool, 256> key{};          // tracestate keychar: a-z 0-9 _ - * / @
  std::array<bool, 256> value{};        // tracestate value character (0x20-0x7E but ',' and '=')
  std::array<char, 512> hex_pairs{};    // "000102...ff": two output characters per byte
  constexpr char_tables() {
    for (auto& h : hex) h = 0xFF;
    for (int c = '0'; c <= '9'; ++c) hex[c] = static_cast<std::uint8_t>(c - '0');
    for (int c = 'a'; c <= 'f'; ++c) hex[c] = static_cast<std::uint8_t>(c - 'a' + 10);
    for (int c = 'a'; c <= 'z'; ++c) key[c] = true;
    for (int c = '0'; c <= '9'; ++c) key[c] = true;
    key['_'] = key['-'] = key['*'] = key['/'] = key['@'] = true;
    for (int c = 0x20; c <= 0x7E; ++c) value[c] = c != ',' && c != '=';
    constexpr char digits[] = "0123456789abcdef";
    for (int b = 0; b < 256; ++b) {
      hex_pairs[2 * b] = digits[b >> 4];
      hex_pairs[2 * b + 1] = digits[b & 0xF];
    }
  }
};
constexpr char_tables k_tables;

inline bool is_lcalpha(char c) noexcept {
  return c >= 'a' && c <= 'z';
}
inline bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
inline bool is_key_char(char c) noexcept {
  return k_tables.key[static_cast<unsigned char>(c)];
}

// Two lowercase hex digits (version, flags).
inline bool parse_hex2(const char* p, std::uint64_t& out) noexcept {
  const unsigned hi = k_tables.hex[static_cast<unsigned char>(p[0])];
  const unsigned lo = k_tables.hex[static_cast<unsigned char>(p[1])];
  out = (hi << 4) | (lo & 0xFu);
  return ((hi | lo) & 0xF0u) == 0;
}

// Whether every byte is a tracestate value character (0x20-0x7E except ',' and '=').
inline bool all_value_chars(std::string_view s) noexcept {
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    const std::uint64_t x = swar::load8(s.data() + i);
    if (swar::any_below(x, 0x20) || swar::any_above(x, 0x7E) || swar::any_equal(x, ',') || swar::any_equal(x, '='))
      return false;
  }
  bool ok = true;
  for (; i < s.size(); ++i) ok &= k_tables.value[static_cast<unsigned char>(s[i])];
  return ok;
}

}  // namespace

bool parse_traceparent(std::string_view value, span_context& out) noexcept {
  const std::string_view v = trim_ows(value);
  if (v.size() < traceparent_size) return false;
  const char* p = v.data();
  std::uint64_t version = 0;
  if (!parse_hex2(p, version) || version == 0xff) return false;
  // Version 00 is exactly 55 characters; a later version may append fields after a '-'.
  if (version == 0 ? v.size() != traceparent_size : (v.size() > traceparent_size && p[55] != '-')) return false;
  if (p[2] != '-' || p[35] != '-' || p[52] != '-') return false;
  span_context ctx;
  std::uint64_t flags = 0;
  const bool ok = swar::parse_hex16(p + 3, ctx.trace.hi) && swar::parse_hex16(p + 19, ctx.trace.lo) &&
                  swar::parse_hex16(p + 36, ctx.span.value) && parse_hex2(p + 53, flags);
  if (!ok || !ctx.trace.valid() || !ctx.span.valid()) return false;
  ctx.flags = static_cast<std::uint8_t>(flags & trace_flags::known);
  ctx.is_remote = true;
  out = ctx;
  return true;
}

void format_traceparent(const span_context& ctx, char* out55) noexcept {
  out55[0] = '0';
  out55[1] = '0';
  out55[2] = '-';
  swar::write_hex16(ctx.trace.hi, out55 + 3);
  swar::write_hex16(ctx.trace.lo, out55 + 19);
  out55[35] = '-';
  swar::write_hex16(ctx.span.value, out55 + 36);
  out55[52] = '-';
  const unsigned f = ctx.flags & trace_flags::known;
  std::memcpy(out55 + 53, &k_tables.hex_pairs[2 * f], 2);
}

// The current grammar (W3C Trace Context, spec/20-http_request_header_format.md):
//   key     = ( lcalpha / DIGIT ) 0*255 ( keychar )
//   keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"
// '@' is an ordinary key character after the first: "foo@", "a@@b" and a 256-character key with
// '@' anywhere are valid. (Level 1's tenant@system split, with its 241/14 limits, is gone.)
bool valid_tracestate_key(std::string_view key) noexcept {
  if (key.empty() || key.size() > 256) return false;
  if (!is_lcalpha(key[0]) && !is_digit(key[0])) return false;
  bool ok = true;
  for (std::size_t i = 1; i < key.size(); ++i) ok &= is_key_char(key[i]);
  return ok;
}

// value = 0*255 chr nblk-chr; chr = %x20-2B / %x2D-3C / %x3E-7E; nblk-chr = chr without SP.
bool valid_tracestate_value(std::string_view value) noexcept {
  if (value.empty() || value.size() > 256) return false;
  return all_value_chars(value) && value.back() != ' ';
}

bool tracestate_parser::has_key(std::string_view key) const noexcept {
  for (std::size_t i = 0; i < count_; ++i) {
    const std::string_view other(members_[i].data, members_[i].size);
    if (other.size() > key.size() && other[key.size()] == '=' && other.compare(0, key.size(), key) == 0) return true;
  }
  return false;
}

bool tracestate_parser::add(std::string_view header_value) noexcept {
  if (invalid_) return false;
  const std::size_t before = count_;
  std::size_t bytes = 0;
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
    // At most 32 list-members as received (the list's own grammar), duplicates included.
    if (++received_ > tracestate_max_members) {
      invalid_ = true;
      return false;
    }
    // Only one entry per key, and the left-most is the vendor's latest position (modified
    // entries move to the left): a later entry with the same key is a stale, invalid entry and
    // is discarded alone, as the processing model allows, keeping every other vendor's entry.
    if (has_key(member.substr(0, eq))) continue;
    members_[count_++] = {member.data(), member.size()};
    bytes += member.size();
  }
  const std::size_t added = count_ - before;
  if (added > 0) {
    // Already canonical (the only header with members, no whitespace, no empty members, no
    // discarded duplicate): finish() copies it whole.
    const bool canonical = before == 0 && bytes + added - 1 == header_value.size();
    whole_ = canonical ? header_value : std::string_view();
  }
  return true;
}

bool tracestate_parser::finish(std::string& out) {
  out.clear();
  if (invalid_) return false;
  if (whole_.data() != nullptr) {
    out.assign(whole_);
    return true;
  }
  std::size_t total = count_ == 0 ? 0 : count_ - 1;
  for (std::size_t i = 0; i < count_; ++i) total += members_[i].size;
  out.reserve(total);
  for (std::size_t i = 0; i < count_; ++i) {
    if (i != 0) out.push_back(',');
    out.append(members_[i].data, members_[i].size);
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
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    const std::uint64_t x = detail::swar::load8(s.data() + i);
    if (detail::swar::any_below(x, 0x20) || detail::swar::any_above(x, 0x7E)) return false;
  }
  for (; i < s.size(); ++i)
    if (static_cast<unsigned char>(s[i]) < 0x20 || static_cast<unsigned char>(s[i]) > 0x7E) return false;
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
