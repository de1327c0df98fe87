// Loss accounting: every record produced is exported or dropped under a named reason.
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

namespace logfire {

// Why a span or log was not delivered. Each reason prints one explanatory line the first
// time it happens (then at most one line a minute with the running count).
enum class drop_reason : std::uint8_t {
  queue_full,                 // the caller's ring was full (raise queue_bytes / OTEL_BSP_MAX_QUEUE_SIZE)
  filtered_by_level,          // below min_level (LOGFIRE_MIN_LEVEL)
  not_sampled,                // head sampling said no (LOGFIRE_TRACE_SAMPLE_RATE)
  remote_parent_not_sampled,  // an incoming traceparent said "not sampled" (distributed_tracing)
  sampler_hook,               // the custom sampler hook said no
  parent_not_recorded,        // the parent span was not recorded (for one of the reasons above)
  export_failed,              // delivery failed after retries and the record could not be spooled
  rejected_by_backend,        // the backend answered with a non-retryable 4xx
  shutdown_timeout,           // still in memory when shutdown's deadline passed
  spool_full,                 // the disk spool hit its byte cap; oldest batches dropped
  spool_corrupt,              // a spool file could not be read back
  not_configured,             // produced before configure() or after shutdown()
  open_at_shutdown,           // a span still open when shutdown() ran (its start was shown)
  no_destination,             // no exporter at all: console off, no token, no OTLP endpoint
  suppressed,                 // created under logfire::suppress_instrumentation
  count_
};
inline constexpr std::size_t drop_reason_count = static_cast<std::size_t>(drop_reason::count_);

// "queue_full", ... (stable names, used in diagnostics and stats output).
[[nodiscard]] std::string_view to_string(drop_reason r) noexcept;

// Things worth counting that lose nothing.
enum class event_counter : std::uint8_t {
  attributes_truncated,   // values cut to max_value_length or attributes over max_attributes
  invalid_utf8_repaired,  // strings whose invalid bytes were replaced with U+FFFD
  template_errors,        // malformed message templates (message fell back to the template)
  batches_retried,
  records_spooled,
  records_replayed,
  spool_left_at_exit,  // records left in the spool by shutdown, delivered at the next start
  duplicates,          // records a backend may have received twice (replay after a timeout)
  count_
};
inline constexpr std::size_t event_counter_count = static_cast<std::size_t>(event_counter::count_);

[[nodiscard]] std::string_view to_string(event_counter c) noexcept;

struct exporter_stats {
  std::string name;
  std::uint64_t exported = 0;
  std::array<std::uint64_t, drop_reason_count> dropped{};
};

struct pipeline_stats {
  // Spans and logs the application asked for (including those filtered or not sampled).
  std::uint64_t produced = 0;
  // Records delivered by the destination exporters (summed over them).
  std::uint64_t exported = 0;
  // Pipeline drops plus every destination exporter's drops, by reason.
  std::array<std::uint64_t, drop_reason_count> dropped{};
  std::array<std::uint64_t, event_counter_count> events{};
  std::vector<exporter_stats> exporters;

  [[nodiscard]] std::uint64_t dropped_by(drop_reason r) const noexcept { return dropped[static_cast<std::size_t>(r)]; }
  [[nodiscard]] std::uint64_t count_of(event_counter c) const noexcept { return events[static_cast<std::size_t>(c)]; }
  [[nodiscard]] std::uint64_t dropped_total() const noexcept {
    std::uint64_t sum = 0;
    for (auto v : dropped) sum += v;
    return sum;
  }
  // One line: "produced 10, exported 8, dropped 2 (queue_full 2)".
  [[nodiscard]] std::string summary() const;
};

// A snapshot of the counters since configure() (cheap; safe from any thread).
[[nodiscard]] pipeline_stats stats() noexcept;

}  // namespace logfire
