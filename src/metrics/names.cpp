// Names and tables of the metrics data model: instrument kinds, the temporality each kind gets
// under each preference, and the stats summary line.
#include <string>

#include "logfire/metric_exporter.hpp"
#include "logfire/metric_stats.hpp"

namespace logfire {

std::string_view to_string(metric_kind k) noexcept {
  switch (k) {
    case metric_kind::counter:
      return "counter";
    case metric_kind::up_down_counter:
      return "up_down_counter";
    case metric_kind::histogram:
      return "histogram";
    case metric_kind::gauge:
      return "gauge";
    case metric_kind::observable_counter:
      return "observable_counter";
    case metric_kind::observable_up_down_counter:
      return "observable_up_down_counter";
    case metric_kind::observable_gauge:
      return "observable_gauge";
  }
  return "unknown";
}

aggregation_temporality temporality_for(metric_kind kind, metric_temporality preference) noexcept {
  constexpr auto delta = aggregation_temporality::delta;
  constexpr auto cumulative = aggregation_temporality::cumulative;
  if (preference == metric_temporality::cumulative) return cumulative;
  switch (kind) {
    case metric_kind::counter:
    case metric_kind::histogram:
      return delta;
    case metric_kind::observable_counter:
      // The specification's "delta" preference (Logfire's) sends observable counters as deltas;
      // "lowmemory" keeps them cumulative, which needs no memory of the previous total.
      return preference == metric_temporality::delta ? delta : cumulative;
    default:
      return cumulative;  // up-down counters and gauges: their value is a state, not an increase
  }
}

bool metric_stats::balanced() const noexcept {
  std::uint64_t destinations = 0;
  std::uint64_t exporter_drops = 0;
  for (const auto& e : exporters) {
    exporter_drops += e.dropped_total();
    destinations += e.destination ? 1 : 0;
  }
  if (destinations <= 1)
    return points_produced == points_exported + points_dropped_total() + points_in_spool + points_spool_taken_over;
  // Each destination is a ledger of its own after the reader's drops.
  const std::uint64_t reader_drops = points_dropped_total() - exporter_drops;
  for (const auto& e : exporters)
    if (e.destination &&
        points_produced != reader_drops + e.exported + e.dropped_total() + e.in_spool + e.spool_taken_over)
      return false;
  return true;
}

std::string metric_stats::summary() const {
  std::string s = "points produced " + std::to_string(points_produced) + ", exported " +
                  std::to_string(points_exported) + ", dropped " + std::to_string(points_dropped_total());
  if (points_dropped_total()) {
    s += " (";
    bool first = true;
    for (std::size_t i = 0; i < points_dropped.size(); ++i) {
      if (!points_dropped[i]) continue;
      if (!first) s += ", ";
      first = false;
      s += to_string(static_cast<drop_reason>(i));
      s += ' ';
      s += std::to_string(points_dropped[i]);
    }
    s += ')';
  }
  if (points_in_spool) s += ", in the spool " + std::to_string(points_in_spool);
  if (points_spool_taken_over) s += ", spool taken over " + std::to_string(points_spool_taken_over);
  if (replayed.exported || replayed.dropped_total())
    s += "; replayed from other spool files: exported " + std::to_string(replayed.exported) + ", dropped " +
         std::to_string(replayed.dropped_total());
  s += "; measurements rejected " + std::to_string(measurements_rejected) + ", overflowed " +
       std::to_string(measurements_overflowed);
  return s;
}

}  // namespace logfire
