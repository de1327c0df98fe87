// Names of drop reasons and counters, and the ledger: whether it balances, its one-line summary.
#include <string>

#include "logfire/stats.hpp"

namespace logfire {

std::string_view to_string(drop_reason r) noexcept {
  switch (r) {
    case drop_reason::ring_full:
      return "ring_full";
    case drop_reason::filtered_by_level:
      return "filtered_by_level";
    case drop_reason::not_sampled:
      return "not_sampled";
    case drop_reason::remote_parent_not_sampled:
      return "remote_parent_not_sampled";
    case drop_reason::sampler_hook:
      return "sampler_hook";
    case drop_reason::parent_not_recorded:
      return "parent_not_recorded";
    case drop_reason::export_failed:
      return "export_failed";
    case drop_reason::rejected_by_backend:
      return "rejected_by_backend";
    case drop_reason::shutdown_timeout:
      return "shutdown_timeout";
    case drop_reason::spool_full:
      return "spool_full";
    case drop_reason::spool_corrupt:
      return "spool_corrupt";
    case drop_reason::not_configured:
      return "not_configured";
    case drop_reason::open_at_shutdown:
      return "open_at_shutdown";
    case drop_reason::export_queue_full:
      return "export_queue_full";
    case drop_reason::console_write_failed:
      return "console_write_failed";
    case drop_reason::below_console_level:
      return "below_console_level";
    case drop_reason::no_exporter:
      return "no_exporter";
    case drop_reason::open_spans_full:
      return "open_spans_full";
    case drop_reason::internal_error:
      return "internal_error";
    case drop_reason::tail_sampled_out:
      return "tail_sampled_out";
    case drop_reason::tail_bound:
      return "tail_bound";
    case drop_reason::suppressed:
      return "suppressed";
    case drop_reason::count_:
      break;
  }
  return "unknown";
}

std::string_view to_string(event_counter c) noexcept {
  switch (c) {
    case event_counter::attributes_truncated:
      return "attributes_truncated";
    case event_counter::invalid_utf8_repaired:
      return "invalid_utf8_repaired";
    case event_counter::template_errors:
      return "template_errors";
    case event_counter::batches_retried:
      return "batches_retried";
    case event_counter::records_spooled:
      return "records_spooled";
    case event_counter::records_replayed:
      return "records_replayed";
    case event_counter::spool_left_at_exit:
      return "spool_left_at_exit";
    case event_counter::duplicates:
      return "duplicates";
    case event_counter::span_updates_lost:
      return "span_updates_lost";
    case event_counter::spool_files_unreadable:
      return "spool_files_unreadable";
    case event_counter::export_recovered:
      return "export_recovered";
    case event_counter::ring_grown:
      return "ring_grown";
    case event_counter::count_:
      break;
  }
  return "unknown";
}

namespace {

// " (ring_full 2, spool_full 1)", or "" when nothing was dropped.
std::string by_reason(const std::array<std::uint64_t, drop_reason_count>& dropped) {
  std::string s;
  for (std::size_t i = 0; i < drop_reason_count; ++i) {
    if (!dropped[i]) continue;
    s += s.empty() ? " (" : ", ";
    s += to_string(static_cast<drop_reason>(i));
    s += ' ';
    s += std::to_string(dropped[i]);
  }
  if (!s.empty()) s += ')';
  return s;
}

}  // namespace

bool pipeline_stats::balanced() const noexcept {
  std::uint64_t destinations = 0;
  std::uint64_t destination_drops = 0;
  for (const auto& e : exporters) {
    if (!e.destination) continue;
    ++destinations;
    destination_drops += e.dropped_total();
  }
  if (destinations <= 1) return produced == exported + dropped_total() + in_spool + spool_taken_over;
  // Each destination is a ledger of its own after the pipeline's drops.
  const std::uint64_t pipeline_drops = dropped_total() - destination_drops;
  for (const auto& e : exporters)
    if (e.destination && produced != pipeline_drops + e.exported + e.dropped_total() + e.in_spool + e.spool_taken_over)
      return false;
  return true;
}

std::string pipeline_stats::summary() const {
  std::string s = "produced " + std::to_string(produced) + ", exported " + std::to_string(exported) + ", dropped " +
                  std::to_string(dropped_total()) + by_reason(dropped);
  if (in_spool) s += ", in the spool " + std::to_string(in_spool);
  if (spool_taken_over) s += ", spool taken over " + std::to_string(spool_taken_over);
  if (replayed.exported || replayed.dropped_total())
    s += "; replayed from other spool files: exported " + std::to_string(replayed.exported) + ", dropped " +
         std::to_string(replayed.dropped_total()) + by_reason(replayed.dropped);
  return s;
}

}  // namespace logfire
