// The rows the local backend stores: one `record_row` per span, log or pending span (table
// `records`, Logfire's shape) and one `metric_row` per metric data point (table `metrics`).
// Decoding fills them on the HTTP threads; the store's writer thread only binds and inserts.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace logfire::backend {

// Text shared by every row of one OTLP resource (its attributes as JSON, its service name...),
// so a batch of 10 000 spans from one process does not copy the resource 10 000 times.
struct resource_info {
  std::string attributes_json = "{}";
  std::optional<std::string> service_name;
  std::optional<std::string> service_version;
  std::optional<std::string> service_instance_id;
  std::optional<std::string> deployment_environment;
  std::optional<std::int64_t> process_pid;
};

struct scope_info {
  std::string name;
  std::string version;
};

struct record_row {
  std::int64_t start_ns = 0;
  std::optional<std::int64_t> end_ns;  // none for a pending span (still running)
  std::string trace_id;                // 32 lowercase hex digits
  std::string span_id;                 // 16 lowercase hex digits
  std::optional<std::string> parent_span_id;
  std::string kind = "span";  // span | log | pending_span
  int level = 9;
  std::string span_name;
  std::string message;
  std::string tags = "[]";        // JSON array of strings
  std::string attributes = "{}";  // JSON object
  std::shared_ptr<const resource_info> resource;
  std::shared_ptr<const scope_info> scope;
  std::optional<std::string> otel_span_kind;  // internal | server | client | producer | consumer
  std::string otel_status_code = "UNSET";     // UNSET | OK | ERROR
  std::optional<std::string> otel_status_message;
  bool is_exception = false;
  std::optional<std::string> exception_type;
  std::optional<std::string> exception_message;
  std::optional<std::string> exception_stacktrace;
  std::string otel_links = "[]";        // JSON array
  std::string otel_events = "[]";       // JSON array
  std::optional<std::string> log_body;  // JSON, OTLP log records only
  std::optional<std::string> http_method;
  std::optional<std::string> http_route;
  std::optional<std::int64_t> http_response_status_code;
  std::optional<std::string> url_path;
  std::optional<std::string> url_full;
};

struct metric_row {
  std::int64_t recorded_ns = 0;
  std::optional<std::int64_t> start_ns;
  std::string metric_name;
  std::string metric_type;  // gauge | sum | histogram | exponential_histogram | summary
  std::string unit;
  std::optional<std::string> description;
  std::optional<std::string> aggregation_temporality;  // delta | cumulative
  std::optional<bool> is_monotonic;
  std::optional<double> scalar_value;  // gauge and sum points
  std::optional<std::int64_t> count;   // histogram and summary points
  std::optional<double> sum;
  std::optional<double> min;
  std::optional<double> max;
  std::optional<std::string> buckets;    // JSON: bounds+counts, exponential buckets or quantiles
  std::optional<std::string> exemplars;  // JSON array
  std::string attributes = "{}";
  std::shared_ptr<const resource_info> resource;
  std::shared_ptr<const scope_info> scope;
};

// "YYYY-MM-DD HH:MM:SS.ffffff" in UTC: sorts as text and compares directly with SQLite's
// datetime('now', '-1 hour').
std::string format_timestamp(std::int64_t unix_ns);
// The same into a caller's buffer (no allocation; the writer thread formats two per row).
// Returns the length, always 26.
std::size_t format_timestamp(std::int64_t unix_ns, char (&out)[32]);

}  // namespace logfire::backend
