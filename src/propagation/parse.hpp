// The header grammars behind the propagators, as plain functions over string views so that
// tests and fuzzers reach them directly. All of them are noexcept except where they append to a
// std::string/vector (bad_alloc, caught by the propagators). Run on the caller's thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "logfire/context.hpp"
#include "logfire/propagation.hpp"

namespace logfire::detail {

// Strips SP and HTAB at both ends (HTTP optional whitespace).
[[nodiscard]] constexpr std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// ---- traceparent -------------------------------------------------------------------------

inline constexpr std::size_t traceparent_size = 55;

// Parses one traceparent value (OWS around it allowed). On success `out` gets the ids, the
// flags with the reserved bits cleared, and is_remote = true.
[[nodiscard]] bool parse_traceparent(std::string_view value, span_context& out) noexcept;
// Writes the version-00 form of `ctx` (reserved flag bits zeroed) into exactly 55 bytes.
void format_traceparent(const span_context& ctx, char* out55) noexcept;

// ---- tracestate --------------------------------------------------------------------------

inline constexpr std::size_t tracestate_max_members = 32;

// Validates a tracestate that may arrive as several headers (combined in order as if
// comma-joined). Feed each header value to add(), then finish(). The whole tracestate is
// dropped when any member is malformed or there are more than 32 members (counted as received);
// a member whose key already appeared to its left is discarded alone (the first one is kept).
// The string views fed in must stay alive until finish().
class tracestate_parser {
 public:
  // Returns false once the tracestate is known to be invalid.
  bool add(std::string_view header_value) noexcept;
  // On success writes the members comma-joined without optional whitespace or empty members
  // into `out` (cleared first, capacity kept) and returns true; otherwise leaves `out` empty.
  bool finish(std::string& out);
  [[nodiscard]] std::size_t members() const noexcept { return count_; }

 private:
  // Trivially constructible and left uninitialized: only [0, count_) is ever read (saves
  // writing 512 bytes per request).
  struct member_ref {
    const char* data;
    std::size_t size;
  };
  [[nodiscard]] bool has_key(std::string_view key) const noexcept;

  std::array<member_ref, tracestate_max_members> members_;
  std::string_view whole_;    // the one header value holding every member, when already canonical
  std::size_t count_ = 0;     // members kept
  std::size_t received_ = 0;  // members seen, duplicates included
  bool invalid_ = false;
};

// One tracestate member "key=value" (already trimmed).
[[nodiscard]] bool valid_tracestate_key(std::string_view key) noexcept;
[[nodiscard]] bool valid_tracestate_value(std::string_view value) noexcept;

// Convenience for one header value: true and `out` set when valid.
[[nodiscard]] bool parse_tracestate(std::string_view value, std::string& out);

// ---- baggage -----------------------------------------------------------------------------

// Tracks the W3C limits across all baggage headers of one extraction (or one injection).
struct baggage_budget {
  std::size_t members = 0;
  std::size_t bytes = 0;  // of the canonical encoding, commas included
  // Whether a member whose canonical encoding is `member_bytes` long still fits; if so, counts it.
  bool take(std::size_t member_bytes) noexcept;
};

// Parses one baggage header value, merging its well-formed members into `into` (same key:
// later value replaces the earlier one in place). Malformed members and members beyond the
// budget are dropped whole.
void parse_baggage(std::string_view value, std::vector<baggage_member>& into, baggage_budget& budget);
// Appends the canonical encoding of `members` (percent-encoding values) to `out`, skipping
// members with an invalid key and members beyond the limits.
void format_baggage(const std::vector<baggage_member>& members, std::string& out);
// Length of `m` once encoded ("key=value;props"); 0 when the key is not a valid token.
[[nodiscard]] std::size_t baggage_member_encoded_size(const baggage_member& m) noexcept;
[[nodiscard]] bool is_token(std::string_view s) noexcept;

// ---- X-Cloud-Trace-Context ---------------------------------------------------------------

// Parses `TRACE[/[SPAN]][;o=OPTIONS]` (OWS around it allowed; trace id 32 hex digits of either
// case, not all zero; span id decimal uint64, absent or 0 meaning "no parent span"; o bit 0 is
// "sampled"). `out.span` stays 0 when there is no span id.
[[nodiscard]] bool parse_cloud_trace_context(std::string_view value, span_context& out) noexcept;
// Writes "TRACE/SPAN;o=0|1" and returns its length (at most 32 + 1 + 20 + 4 = 57 bytes).
std::size_t format_cloud_trace_context(const span_context& ctx, char* out64) noexcept;

}  // namespace logfire::detail
