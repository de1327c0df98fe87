// Loss accounting: every record produced is exported, dropped under a named reason, or (with a
// disk spool) kept on disk for later.
//
//   auto s = logfire::stats();
//   std::printf("produced %llu exported %llu lost %llu\n", s.produced, s.exported, s.dropped_total());
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "logfire/scrubbing.hpp"

namespace logfire {

// Why a span or log was not delivered: one cause per reason. Each prints one explanatory line
// the first time it happens, naming the setting that changes it (then at most one line a
// minute with the running count). docs/architecture.md ("Accounting") lists where each occurs.
enum class drop_reason : std::uint8_t {
  ring_full,                  // the calling thread's ring was full (options.limits.ring_bytes)
  filtered_by_level,          // below min_level (LOGFIRE_MIN_LEVEL)
  not_sampled,                // our head sampler said no (LOGFIRE_TRACE_SAMPLE_RATE)
  remote_parent_not_sampled,  // an incoming traceparent said "not sampled" (LOGFIRE_DISTRIBUTED_TRACING)
  sampler_hook,               // the custom sampler hook said no (options.sampler)
  parent_not_recorded,        // the parent span was not recorded (for one of the reasons above)
  export_failed,              // an exporter could not deliver them (OTLP: not encodable or not spoolable)
  rejected_by_backend,        // the backend answered with a non-retryable 4xx
  shutdown_timeout,           // still undelivered when shutdown()'s deadline passed
  spool_full,                 // the disk spool hit its byte cap; oldest files dropped (LOGFIRE_SPOOL_MAX_BYTES)
  spool_corrupt,              // a spool file failed its checks and was deleted
  not_configured,             // produced before configure() or after shutdown()
  open_at_shutdown,           // a span still open when shutdown() ran (its start was shown)
  export_queue_full,          // an exporter's memory queue was full, no spool took them (OTEL_BSP_MAX_QUEUE_SIZE)
  console_write_failed,       // the console was the only output and writing to it failed
  below_console_level,        // the console was the only output and did not print them (its min level)
  no_exporter,                // no output at all: console off, no token, no endpoint, no exporter
  open_spans_full,            // more spans open at once than options.limits.max_open_spans
  internal_error,             // the SDK's background thread could not process them (out of memory)
  tail_sampled_out,           // their trace was not kept by tail sampling (options.sampling.tail)
  tail_bound,                 // their trace was decided early by a tail buffer bound and not kept (LOGFIRE_TAIL_MAX_*)
  suppressed,                 // created under logfire::suppress_instrumentation
  count_
};
inline constexpr std::size_t drop_reason_count = static_cast<std::size_t>(drop_reason::count_);

// "ring_full", ... (stable names, used in diagnostics and stats output).
[[nodiscard]] std::string_view to_string(drop_reason r) noexcept;

// Things worth counting that lose no span or log.
enum class event_counter : std::uint8_t {
  attributes_truncated,   // values cut to max_value_length or attributes over max_attributes
  invalid_utf8_repaired,  // strings whose invalid bytes were replaced with U+FFFD
  template_errors,        // malformed message templates (message fell back to the template)
  batches_retried,        // export attempts that failed and are retried (a line says the latest cause)
  records_spooled,
  records_replayed,
  spool_left_at_exit,      // records left in the spool by shutdown, delivered at the next start
  duplicates,              // records a backend may have received twice (replay after a timeout)
  span_updates_lost,       // attributes, events, status or level that never reached their span
  spool_files_unreadable,  // spool files deleted because even their header was unreadable
  export_recovered,        // a destination answered again after failed export attempts (a line says so)
  ring_grown,              // segments a thread's ring added in a burst (options.limits.max_ring_bytes)
  count_
};
inline constexpr std::size_t event_counter_count = static_cast<std::size_t>(event_counter::count_);

[[nodiscard]] std::string_view to_string(event_counter c) noexcept;

struct exporter_stats {
  std::string name;
  // Whether its deliveries count in the totals (the console only when it is the only output).
  bool destination = true;
  std::uint64_t exported = 0;
  std::array<std::uint64_t, drop_reason_count> dropped{};
  std::uint64_t in_spool = 0;          // this pipeline's records in its disk spool
  std::uint64_t spool_taken_over = 0;  // of those, files another process took over

  [[nodiscard]] std::uint64_t dropped_total() const noexcept {
    std::uint64_t sum = 0;
    for (auto v : dropped) sum += v;
    return sum;
  }
};

// Records that this pipeline did not produce: spool files written by another process of the
// service or by an earlier configure(), replayed here. Kept apart from the identity below.
struct replay_stats {
  std::uint64_t exported = 0;
  std::array<std::uint64_t, drop_reason_count> dropped{};

  [[nodiscard]] std::uint64_t dropped_by(drop_reason r) const noexcept { return dropped[static_cast<std::size_t>(r)]; }
  [[nodiscard]] std::uint64_t dropped_total() const noexcept {
    std::uint64_t sum = 0;
    for (auto v : dropped) sum += v;
    return sum;
  }
};

// The ledger of one configure() (until the next one). Once nothing is in flight (after a
// successful flush, and always after shutdown()):
//   produced == exported + dropped_total() + in_spool + spool_taken_over
// With several destinations the destination-side figures are summed over them and the
// identity holds for each destination (see balanced()).
struct pipeline_stats {
  // Spans and logs the application asked for (including those filtered or not sampled).
  std::uint64_t produced = 0;
  // Records delivered by the destinations (summed over them).
  std::uint64_t exported = 0;
  // Pipeline drops plus every destination's drops, by reason.
  std::array<std::uint64_t, drop_reason_count> dropped{};
  // This pipeline's records written to the disk spool and not delivered or dropped yet: sent
  // later by this process or by the next one of the same service.
  std::uint64_t in_spool = 0;
  // This pipeline's spooled records whose files another process of the service took over (it
  // delivers and counts them in its `replayed` ledger).
  std::uint64_t spool_taken_over = 0;
  std::array<std::uint64_t, event_counter_count> events{};
  std::vector<exporter_stats> exporters;
  replay_stats replayed;
  // Values the scrubber redacted since configure(), per pattern with a non-zero count: the
  // default patterns in Logfire's order, then extra_patterns, then "scan_budget" (docs/scrubbing.md).
  // Scrubbing changes data but loses no record, so these are not drops.
  std::vector<scrub_count> scrubbed;

  [[nodiscard]] std::uint64_t dropped_by(drop_reason r) const noexcept { return dropped[static_cast<std::size_t>(r)]; }
  [[nodiscard]] std::uint64_t count_of(event_counter c) const noexcept { return events[static_cast<std::size_t>(c)]; }
  [[nodiscard]] std::uint64_t dropped_total() const noexcept {
    std::uint64_t sum = 0;
    for (auto v : dropped) sum += v;
    return sum;
  }
  // The identity above (per destination when there are several).
  [[nodiscard]] bool balanced() const noexcept;
  // One line: "produced 10, exported 8, dropped 2 (ring_full 2)", with the spool and the
  // replayed records when there are any.
  [[nodiscard]] std::string summary() const;
};

// A snapshot of the counters since configure() (cheap; safe from any thread).
[[nodiscard]] pipeline_stats stats() noexcept;

}  // namespace logfire
