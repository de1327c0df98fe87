// Head sampling by trace-id ratio: keep a trace when its id's low 64 bits, read as an
// unsigned number, are below rate·2^64. Every process that sees the same trace id and rate
// decides the same way, so a distributed trace is kept or dropped as a whole. The test runs on
// the caller's thread before any work is done for a span: one compare against a precomputed
// bound.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "logfire/context.hpp"

namespace logfire::detail {

class ratio_sampler {
 public:
  // `rate` is clamped to [0, 1]; NaN keeps nothing.
  explicit ratio_sampler(double rate) noexcept;

  [[nodiscard]] bool keeps(trace_id id) const noexcept { return all_ || id.lo < bound_; }
  [[nodiscard]] double rate() const noexcept { return rate_; }

 private:
  double rate_ = 1.0;
  std::uint64_t bound_ = 0;  // keep when lo < bound_ (exact rate·2^64 for 0 < rate < 1)
  bool all_ = true;          // rate 1: keep every id, including lo = 2^64 - 1
};

// `trace_id.lo < rate·2^64`, with rate 1 keeping everything and rate 0 (or NaN) nothing.
[[nodiscard]] inline bool ratio_keeps(trace_id id, double rate) noexcept {
  return ratio_sampler(rate).keeps(id);
}

// Parses a sample rate from an environment variable or option text ("0.25", " 1 ", "1e-3").
// On failure returns nullopt and sets `error` naming the variable and the value:
//   "LOGFIRE_TRACE_SAMPLE_RATE is not a number: 'abc'"
//   "LOGFIRE_TRACE_SAMPLE_RATE must be between 0 and 1: '1.5'"
[[nodiscard]] std::optional<double> parse_sample_rate(std::string_view text, std::string_view variable,
                                                      std::string& error);

// Checks a rate given in code (options::trace_sample_rate); empty string when valid.
[[nodiscard]] std::string validate_sample_rate(double rate, std::string_view option);

}  // namespace logfire::detail
