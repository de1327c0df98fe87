// Self-diagnostics: the one-line explanations of lost records. Each drop reason prints one
// line the first time it happens, then at most one line a minute with the running count —
// never one line per record. Records replayed from other processes' spool files have lines of
// their own, and so do the few event counters that deserve one (a spool file deleted unread).
// Not thread-safe: the pipeline serialises its calls.
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
  std::size_t ring_bytes = 1u << 20;
  std::size_t max_ring_bytes = 32u << 20;      // a ring grows up to this (0 or <= ring_bytes: never)
  std::size_t ring_growth_budget = 64u << 20;  // and all rings together by this
  bool overflow_block = false;                 // overflow_policy::block
  std::uint64_t overflow_block_ms = 1000;      // its timeout
  std::size_t max_open_spans = 65536;
  std::string console_min_level;  // "info"; "" without a console
  std::string tail_bounds;        // "2048 traces, 16 MiB, 30000 ms" (tail sampling's bounds)
};

// The first explanation an exporter (or the pipeline) gave per reason, shown after the line.
struct diagnostic_details {
  std::array<std::string, drop_reason_count> dropped;
  std::array<std::string, drop_reason_count> replayed;
  std::array<std::string, event_counter_count> events;
};

class diagnostics {
 public:
  explicit diagnostics(diagnostic_context ctx, std::FILE* out = stderr) : ctx_(std::move(ctx)), out_(out) {}

  // Compares `now` with what was reported so far and prints what is new.
  void report(const pipeline_stats& now, const diagnostic_details& details);
  // One summary line if anything was lost or left in the spool, with the latest export error
  // when there was one; returns the line ("" when nothing was lost).
  std::string summary(const pipeline_stats& final_stats, const diagnostic_details& details = {});

  // In a child after fork(): counters restart from zero, so nothing has been reported yet.
  void forget_reported() noexcept {
    own_ = {};
    replayed_ = {};
    events_ = {};
  }

  // The export health lines: failed attempts with their latest cause, and recoveries.
  void report_export_health(const pipeline_stats& now, const diagnostic_details& details,
                            std::chrono::steady_clock::time_point t);

  // Prints one line said once for something that is not a loss (the first value each scrubbing
  // pattern redacted); `line` starts with "logfire: " and has no newline.
  void notice(std::string_view line);

  // The explanation line for `reason` (without the count), shared with tests and docs.
  [[nodiscard]] std::string explain(drop_reason reason) const;

 private:
  struct reported {
    std::uint64_t count = 0;
    std::chrono::steady_clock::time_point last{};
  };
  // Prints "logfire: <n> <one|many> (<name>) <text>[: detail]" when `n` is new (rate-limited).
  // `detail_every_line`: the detail is the latest cause, said on every line (else the first only).
  void line(reported& r, std::uint64_t n, std::string_view one, std::string_view many, std::string_view name,
            const std::string& text, const std::string& detail, std::chrono::steady_clock::time_point t,
            bool detail_every_line = false);

  diagnostic_context ctx_;
  std::FILE* out_;
  std::array<reported, drop_reason_count> own_{};
  std::array<reported, drop_reason_count> replayed_{};
  std::array<reported, event_counter_count> events_{};
};

}  // namespace logfire::detail
