// Trace and span identifiers and the span context that ties a span into a trace.
// These are small trivially copyable values: they cross threads and processes by copy.
//
//   auto ctx = logfire::current_span_context();
//   if (ctx.valid()) std::puts(ctx.trace.to_hex().c_str());
#pragma once

#include <cstdint>
#include <iosfwd>  // declares std::string (returned by to_hex) without defining it
#include <string_view>

namespace logfire {

// 128-bit trace id. `hi` holds the first 8 bytes of the W3C/OTLP byte order, `lo` the last 8.
// logfire-cpp creates ULID-like ids: 48-bit millisecond time in the top of `hi`, 80 random bits,
// so `lo` is fully random (the sampler's ratio test uses it).
struct trace_id {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;

  [[nodiscard]] constexpr bool valid() const noexcept { return (hi | lo) != 0; }
  // 32 lowercase hex characters (include <string> to call it).
  [[nodiscard]] std::string to_hex() const;
  void write_hex(char* out32) const noexcept;
  // Accepts exactly 32 lowercase hex characters that are not all zero; anything else gives the
  // invalid (all-zero) id, so `valid()` says whether `hex` was accepted.
  [[nodiscard]] static trace_id from_hex(std::string_view hex) noexcept;
  // Big-endian bytes as on the wire.
  void write_bytes(unsigned char* out16) const noexcept;

  friend constexpr bool operator==(trace_id, trace_id) noexcept = default;
};

// 64-bit span id; 0 is invalid.
struct span_id {
  std::uint64_t value = 0;

  [[nodiscard]] constexpr bool valid() const noexcept { return value != 0; }
  // 16 lowercase hex characters (include <string> to call it).
  [[nodiscard]] std::string to_hex() const;
  void write_hex(char* out16) const noexcept;
  // Accepts exactly 16 lowercase hex characters that are not all zero; anything else gives the
  // invalid id 0.
  [[nodiscard]] static span_id from_hex(std::string_view hex) noexcept;
  void write_bytes(unsigned char* out8) const noexcept;

  friend constexpr bool operator==(span_id, span_id) noexcept = default;
};

// W3C trace flags (the low byte of OTLP Span.flags).
namespace trace_flags {
inline constexpr std::uint8_t sampled = 0x01;
// W3C Trace Context Level 2: the trace id's right-most 7 bytes are random.
inline constexpr std::uint8_t random = 0x02;
// Bits we understand; the others are reserved and emitted as zero.
inline constexpr std::uint8_t known = sampled | random;
}  // namespace trace_flags

// Identity of one span within its trace, plus whether it came from another process.
struct span_context {
  trace_id trace;
  span_id span;
  std::uint8_t flags = 0;
  bool is_remote = false;

  [[nodiscard]] constexpr bool valid() const noexcept { return trace.valid() && span.valid(); }
  [[nodiscard]] constexpr bool sampled() const noexcept { return (flags & trace_flags::sampled) != 0; }

  friend constexpr bool operator==(const span_context&, const span_context&) noexcept = default;
};

}  // namespace logfire
