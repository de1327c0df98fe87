#include "accounting/diagnostics.hpp"

#include <string>

namespace logfire::detail {
namespace {

std::string human_bytes(std::size_t b) {
  if (b >= (1u << 20) && b % (1u << 20) == 0) return std::to_string(b >> 20) + " MiB";
  if (b >= 1024 && b % 1024 == 0) return std::to_string(b / 1024) + " KiB";
  return std::to_string(b) + " bytes";
}

std::string number(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", d);
  return buf;
}

// The settings that let a thread's ring hold more, as the ring_full line names them.
std::string ring_limits(const diagnostic_context& c) {
  if (c.max_ring_bytes <= c.ring_bytes || c.ring_growth_budget < c.ring_bytes)
    return "options.limits.ring_bytes (now " + human_bytes(c.ring_bytes) +
           " per thread), or let it grow with LOGFIRE_MAX_RING_BYTES (options.limits.max_ring_bytes)";
  return "LOGFIRE_MAX_RING_BYTES (options.limits.max_ring_bytes, now " + human_bytes(c.max_ring_bytes) +
         " per thread in segments of options.limits.ring_bytes, " + human_bytes(c.ring_bytes) +
         ") or LOGFIRE_RING_GROWTH_BUDGET (options.limits.ring_growth_budget, now " +
         human_bytes(c.ring_growth_budget) + " for all threads)";
}

constexpr std::string_view k_send_elsewhere = "send them to a backend (LOGFIRE_TOKEN or OTEL_EXPORTER_OTLP_ENDPOINT)";

}  // namespace

std::string diagnostics::explain(drop_reason reason) const {
  switch (reason) {
    case drop_reason::ring_full: {
      const std::string ring = ring_limits(ctx_);
      if (ctx_.overflow_block)
        return "dropped because the calling thread's ring was still full after waiting " +
               std::to_string(ctx_.overflow_block_ms) +
               " ms (overflow policy: block; the SDK's background thread and calls made once shutdown began never "
               "wait); raise LOGFIRE_OVERFLOW_BLOCK_MS (options.limits.overflow_block_timeout) or " +
               ring;
      return "dropped because the calling thread's ring was full (the background thread could not keep up; overflow "
             "policy: drop); set LOGFIRE_OVERFLOW=block (options.limits.overflow) to wait for ring space instead, or "
             "raise " +
             ring;
    }
    case drop_reason::filtered_by_level:
      return "not recorded because their level is below min_level" +
             (ctx_.min_level.empty() ? std::string() : " (" + ctx_.min_level + ")") +
             "; set LOGFIRE_MIN_LEVEL or options.min_level to record them";
    case drop_reason::not_sampled:
      return "not recorded by head sampling (rate " + number(ctx_.sample_rate) +
             "); set LOGFIRE_TRACE_SAMPLE_RATE or options.trace_sample_rate to change the rate";
    case drop_reason::remote_parent_not_sampled:
      return "not recorded because the incoming trace context (traceparent) said \"not sampled\"; set "
             "LOGFIRE_DISTRIBUTED_TRACING=off to ignore incoming context, =link to link to it, or leave it unset "
             "on platforms such as Cloud Run (see docs/distributed-tracing.md)";
    case drop_reason::sampler_hook:
      return "not recorded because options.sampler returned false";
    case drop_reason::parent_not_recorded:
      return "not recorded because their parent span was not recorded (its own reason is counted separately)";
    case drop_reason::export_failed:
      return "lost because an exporter could not deliver them (OTLP: a batch could not be encoded, or not written to "
             "the disk spool); check the endpoint and the spool directory (LOGFIRE_SPOOL_DIR)";
    case drop_reason::rejected_by_backend:
      return "rejected by the backend (not retried); check the token and endpoint";
    case drop_reason::shutdown_timeout:
      return "still undelivered when shutdown()'s deadline passed (a slow backend or exporter, or a call still in "
             "progress); give shutdown() more time";
    case drop_reason::spool_full:
      return "dropped from the disk spool (oldest first) because it reached its byte cap; raise "
             "LOGFIRE_SPOOL_MAX_BYTES (options.otlp.spool_max_bytes) or fix the backend connection";
    case drop_reason::spool_corrupt:
      return "lost because a spool file failed its checks and was deleted";
    case drop_reason::not_configured:
      return "not recorded because they were created before logfire::configure() or after shutdown()";
    case drop_reason::open_at_shutdown:
      return "spans still open when shutdown() ran; end spans before shutting down";
    case drop_reason::export_queue_full:
      return "dropped because an exporter's memory queue was full while its backend was slow or down and no disk "
             "spool took them; raise OTEL_BSP_MAX_QUEUE_SIZE (options.batching.max_queue_size) or keep the spool on "
             "(LOGFIRE_SPOOL)";
    case drop_reason::console_write_failed:
      return "lost because writing them to the console, the only output, failed; fix where stdout goes, or " +
             std::string(k_send_elsewhere);
    case drop_reason::below_console_level:
      return "not printed by the console, the only output, because their level is below its min level" +
             (ctx_.console_min_level.empty() ? std::string() : " (" + ctx_.console_min_level + ")") +
             " or they carry logfire.disable_console_log; set LOGFIRE_CONSOLE_MIN_LOG_LEVEL or "
             "options.console.min_level, or " +
             std::string(k_send_elsewhere);
    case drop_reason::no_exporter:
      return "dropped because there is no output: the console is off (LOGFIRE_CONSOLE) and there is no Logfire token, "
             "OTLP endpoint or exporter; set LOGFIRE_TOKEN or OTEL_EXPORTER_OTLP_ENDPOINT, or turn the console on";
    case drop_reason::open_spans_full:
      return "dropped because more than " + std::to_string(ctx_.max_open_spans) +
             " spans were open at once (options.limits.max_open_spans); end spans that are done, or raise the limit";
    case drop_reason::internal_error:
      return "lost because the SDK's background thread could not process them (out of memory)";
    case drop_reason::tail_sampled_out:
      return "not exported because tail sampling did not keep their trace (options.sampling.tail; see "
             "docs/sampling.md)";
    case drop_reason::tail_bound:
      return "not exported because the tail sampling buffer reached a bound (" + ctx_.tail_bounds +
             ") and their trace, decided early, was not kept; raise LOGFIRE_TAIL_MAX_TRACES, LOGFIRE_TAIL_MAX_BYTES or "
             "LOGFIRE_TAIL_MAX_AGE_MS (options.sampling.max_*)";
    case drop_reason::suppressed:
      return "not recorded because logfire::suppress_instrumentation was active on their thread";
    case drop_reason::count_:
      break;
  }
  return "lost";
}

void diagnostics::line(reported& r, std::uint64_t n, std::string_view one, std::string_view many, std::string_view name,
                       const std::string& text, const std::string& detail, std::chrono::steady_clock::time_point t,
                       bool detail_every_line) {
  if (n == r.count) return;
  const bool first = r.count == 0;
  if (!first && t - r.last < std::chrono::minutes(1)) return;  // rate limit
  std::string out = "logfire: ";
  out += std::to_string(n);
  out += ' ';
  out += n == 1 ? one : many;
  if (!first) out += " so far";
  out += " (";
  out += name;
  out += ')';
  if (!text.empty()) {
    out += ' ';
    out += text;
  }
  if ((first || detail_every_line) && !detail.empty()) {
    out += text.empty() ? " " : ": ";
    out += detail;
  }
  out += '\n';
  std::fputs(out.c_str(), out_);
  std::fflush(out_);
  r.count = n;
  r.last = t;
}

void diagnostics::report(const pipeline_stats& now, const diagnostic_details& details) {
  const auto t = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < drop_reason_count; ++i) {
    const auto reason = static_cast<drop_reason>(i);
    if (now.dropped[i] != own_[i].count)
      line(own_[i], now.dropped[i], "record", "records", to_string(reason), explain(reason), details.dropped[i], t);
    // Records of spool files that this pipeline did not write: a ledger of their own.
    if (now.replayed.dropped[i] != replayed_[i].count)
      line(replayed_[i], now.replayed.dropped[i], "replayed record", "replayed records", to_string(reason),
           explain(reason) + " (from a spool file of another process or an earlier configure())", details.replayed[i],
           t);
  }
  // Events that lose no counted record but deserve a line.
  constexpr auto unreadable = static_cast<std::size_t>(event_counter::spool_files_unreadable);
  if (now.events[unreadable] != events_[unreadable].count)
    line(events_[unreadable], now.events[unreadable], "spool file deleted unread", "spool files deleted unread",
         to_string(event_counter::spool_files_unreadable), {}, details.events[unreadable], t);
  // Updates lost: their span is exported (or dropped and counted) without them.
  constexpr auto updates = static_cast<std::size_t>(event_counter::span_updates_lost);
  if (now.events[updates] != events_[updates].count)
    line(events_[updates], now.events[updates], "span update", "span updates",
         to_string(event_counter::span_updates_lost),
         "(attributes, events, status, level, exceptions) never reached their span: the calling thread's ring and its "
         "4 MiB side queue were full (raise options.limits.ring_bytes), one open span held more than 4 MiB of updates, "
         "or the span itself was dropped (counted under its own reason)",
         details.events[updates], t);
  report_export_health(now, details, t);
}

void diagnostics::report_export_health(const pipeline_stats& now, const diagnostic_details& details,
                                       std::chrono::steady_clock::time_point t) {
  // A destination that fails is said while it happens (the first failed attempt, then at most a
  // line a minute with the latest cause), not only when records are finally lost or spooled.
  constexpr auto retried = static_cast<std::size_t>(event_counter::batches_retried);
  if (now.events[retried] != events_[retried].count)
    line(events_[retried], now.events[retried], "failed export attempt", "failed export attempts",
         to_string(event_counter::batches_retried),
         "- records are kept and retried, any loss is counted under its own reason; latest cause",
         details.events[retried], t, true);
  constexpr auto recovered = static_cast<std::size_t>(event_counter::export_recovered);
  if (now.events[recovered] != events_[recovered].count)
    line(events_[recovered], now.events[recovered], "recovery", "recoveries",
         to_string(event_counter::export_recovered), "delivery works again", details.events[recovered], t, true);
}

void diagnostics::notice(std::string_view line) {
  std::string out(line);
  out += '\n';
  std::fputs(out.c_str(), out_);
  std::fflush(out_);
}

std::string diagnostics::summary(const pipeline_stats& s, const diagnostic_details& details) {
  if (s.dropped_total() == 0 && s.in_spool == 0) return {};
  std::string line = "logfire: shutdown: " + s.summary();
  if (s.in_spool) line += "; " + std::to_string(s.in_spool) + " records left in the disk spool, sent at the next start";
  constexpr auto retried = static_cast<std::size_t>(event_counter::batches_retried);
  if (s.events[retried] != 0 && !details.events[retried].empty())
    line += "; last export error: " + details.events[retried];
  line += '\n';
  std::fputs(line.c_str(), out_);
  std::fflush(out_);
  return line;
}

}  // namespace logfire::detail
