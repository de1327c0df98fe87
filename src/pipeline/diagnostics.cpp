#include "pipeline/diagnostics.hpp"

#include <string>

namespace logfire::detail {

std::string diagnostics::explain(drop_reason reason) const {
  switch (reason) {
    case drop_reason::queue_full:
      return "dropped because a thread's ring was full (the background thread could not keep up); raise "
             "options.limits.ring_bytes or log less in bursts";
    case drop_reason::filtered_by_level:
      return "not recorded because their level is below min_level" +
             (ctx_.min_level.empty() ? std::string() : " (" + ctx_.min_level + ")") +
             "; set LOGFIRE_MIN_LEVEL or options.min_level to record them";
    case drop_reason::not_sampled:
      return "not recorded by head sampling (rate " + std::to_string(ctx_.sample_rate) +
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
      return "lost because delivery failed after retries and they could not be spooled to disk; check the "
             "endpoint and the spool directory";
    case drop_reason::rejected_by_backend:
      return "rejected by the backend (not retried); check the token and endpoint";
    case drop_reason::shutdown_timeout:
      return "still undelivered when shutdown's deadline passed; give shutdown() more time";
    case drop_reason::spool_full:
      return "dropped from the disk spool (oldest first) because it reached its byte cap; raise the spool's "
             "max_bytes or fix the backend connection";
    case drop_reason::spool_corrupt:
      return "lost because a spool file could not be read back (corrupt file skipped)";
    case drop_reason::not_configured:
      return "not recorded because they were created before logfire::configure() or after shutdown()";
    case drop_reason::open_at_shutdown:
      return "spans still open when shutdown() ran; end spans before shutting down";
    case drop_reason::no_destination:
      return "dropped because there is no destination: the console is off (LOGFIRE_CONSOLE) and neither "
             "LOGFIRE_TOKEN nor OTEL_EXPORTER_OTLP_ENDPOINT is set; set one of them to keep them";
    case drop_reason::suppressed:
      return "not recorded because logfire::suppress_instrumentation was active on their thread";
    case drop_reason::count_:
      break;
  }
  return "lost";
}

void diagnostics::report(const pipeline_stats& now, const std::array<std::string, drop_reason_count>& detail) {
  const auto t = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < drop_reason_count; ++i) {
    const std::uint64_t n = now.dropped[i];
    if (n == reported_[i]) continue;
    const bool first = reported_[i] == 0;
    if (!first && t - last_line_[i] < std::chrono::minutes(1)) continue;  // rate limit
    const auto reason = static_cast<drop_reason>(i);
    std::string line = "logfire: ";
    line += std::to_string(n);
    line += first ? " record" : " records so far";
    if (first && n != 1) line += 's';
    line += " (";
    line += to_string(reason);
    line += ") ";
    line += explain(reason);
    if (first && !detail[i].empty()) {
      line += ": ";
      line += detail[i];
    }
    line += '\n';
    std::fputs(line.c_str(), out_);
    std::fflush(out_);
    reported_[i] = n;
    last_line_[i] = t;
  }
}

std::string diagnostics::summary(const pipeline_stats& s) {
  if (s.dropped_total() == 0 && s.count_of(event_counter::spool_left_at_exit) == 0) return {};
  std::string line = "logfire: shutdown: " + s.summary();
  if (const auto left = s.count_of(event_counter::spool_left_at_exit))
    line += "; " + std::to_string(left) + " records left in the disk spool, sent at the next start";
  line += '\n';
  std::fputs(line.c_str(), out_);
  std::fflush(out_);
  return line;
}

}  // namespace logfire::detail
