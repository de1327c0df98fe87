// Loss accounting for metrics, beside the records' logfire::stats(): data points produced by
// collections and what became of each, plus measurements the instruments could not take as given.
// Once nothing is in flight (after a successful flush, always after shutdown()), for each
// destination exporter:
//   points_produced == exported + dropped (the reader's and its own) + in_spool + spool_taken_over
// (balanced() checks it).
//
//   auto m = logfire::metrics_stats();
//   std::puts(m.summary().c_str());  // "points produced 12, exported 12, dropped 0; ..."
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "logfire/stats.hpp"

namespace logfire {

struct metric_stats {
  std::uint64_t collections = 0;
  // Data points collections drained from the instruments (handed to the exporters, or lost on
  // the way: points_dropped[internal_error]).
  std::uint64_t points_produced = 0;
  // Delivered by the destination exporters (summed over them).
  std::uint64_t points_exported = 0;
  // The reader's drops plus every exporter's, by reason.
  std::array<std::uint64_t, drop_reason_count> points_dropped{};
  // Points of this reader written to an OTLP exporter's disk spool, not yet delivered or dropped
  // (sent later by this process or the next), and those whose files another process took over.
  std::uint64_t points_in_spool = 0;
  std::uint64_t points_spool_taken_over = 0;
  // Per metric exporter, in the order the reader has them (OTLP destinations first).
  std::vector<exporter_stats> exporters;
  // Points from metric spool files this reader did not write (another process, an earlier
  // configure()): a ledger of their own.
  replay_stats replayed;
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
  // The identity above, per destination exporter.
  [[nodiscard]] bool balanced() const noexcept;
  // "points produced 10, exported 8, dropped 2 (export_failed 2); rejected 1, overflowed 0"
  [[nodiscard]] std::string summary() const;
};

// A snapshot of the counters since the process started (safe from any thread). Points count from
// the metrics reader that is running, or the last one that ran.
[[nodiscard]] metric_stats metrics_stats() noexcept;

}  // namespace logfire
