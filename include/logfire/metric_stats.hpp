// Loss accounting for metrics, beside the records' logfire::stats(): data points produced by
// collections and what became of each, plus measurements the instruments could not take as given.
//
//   auto m = logfire::metrics_stats();
//   std::puts(m.summary().c_str());  // "points produced 12, exported 12, dropped 0; ..."
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "logfire/stats.hpp"

namespace logfire {

struct metric_stats {
  std::uint64_t collections = 0;
  std::uint64_t points_produced = 0;
  std::uint64_t points_exported = 0;
  std::array<std::uint64_t, drop_reason_count> points_dropped{};
  // Values an instrument could not take (not recorded): negative ones given to counters and
  // histograms, NaN and infinities given to any instrument.
  std::uint64_t measurements_rejected = 0;
  // Measurements (and bindings) that went to an otel.metric.overflow point: recorded, but
  // without their attributes.
  std::uint64_t measurements_overflowed = 0;
  // Attribute values dropped because metrics take scalars and strings only.
  std::uint64_t attributes_dropped = 0;
  // Callbacks that threw (their observations of that collection are lost).
  std::uint64_t callback_errors = 0;

  [[nodiscard]] std::uint64_t points_dropped_total() const noexcept {
    std::uint64_t n = 0;
    for (auto v : points_dropped) n += v;
    return n;
  }
  // "points produced 10, exported 8, dropped 2 (export_failed 2); rejected 1, overflowed 0"
  [[nodiscard]] std::string summary() const;
};

// A snapshot of the counters since the process started (safe from any thread). Points count from
// the metrics reader that is running, or the last one that ran.
[[nodiscard]] metric_stats metrics_stats() noexcept;

}  // namespace logfire
