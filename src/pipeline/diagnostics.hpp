// Self-diagnostics: the one-line explanations of lost records. Each drop reason prints one
// line the first time it happens, then at most one line a minute with the running count —
// never one line per record. Background thread only (and shutdown()).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "logfire/stats.hpp"

namespace logfire::detail {

// Settings that the explanation lines quote so the user knows what to change.
struct diagnostic_context {
  std::string min_level;  // "info", or "" when unset
  double sample_rate = 1.0;
};

class diagnostics {
 public:
  explicit diagnostics(diagnostic_context ctx, std::FILE* out = stderr) : ctx_(std::move(ctx)), out_(out) {}

  // Compares `now` with what was reported so far and prints what is new. `detail` holds an
  // exporter's first explanation per reason (e.g. the backend's answer).
  void report(const pipeline_stats& now, const std::array<std::string, drop_reason_count>& detail);
  // One summary line if anything was lost; returns the line ("" when nothing was lost).
  std::string summary(const pipeline_stats& final_stats);

  // In a child after fork(): counters restart from zero, so nothing has been reported yet.
  void forget_reported() noexcept {
    reported_ = {};
    last_line_ = {};
  }

  // Prints one line said once for something that is not a loss (the first value each scrubbing
  // pattern redacted); `line` starts with "logfire: " and has no newline.
  void notice(std::string_view line);

  // The explanation line for `reason` (without the count), shared with tests and docs.
  [[nodiscard]] std::string explain(drop_reason reason) const;

 private:
  diagnostic_context ctx_;
  std::FILE* out_;
  std::array<std::uint64_t, drop_reason_count> reported_{};
  std::array<std::chrono::steady_clock::time_point, drop_reason_count> last_line_{};
};

}  // namespace logfire::detail
