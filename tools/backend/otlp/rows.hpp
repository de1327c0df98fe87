// One OTLP item -> one row of the local backend: a span, a log record or a metric data point
// becomes a record_row / metric_row (rows.hpp) in Logfire's shape. Each converter returns an
// empty string for a usable item, else why it was rejected (the request is still accepted for
// the other items; the client hears of it as OTLP partial success).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "backend/rows.hpp"
#include "opentelemetry/proto/logs/v1/logs.pb.h"
#include "opentelemetry/proto/metrics/v1/metrics.pb.h"
#include "opentelemetry/proto/resource/v1/resource.pb.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace logfire::backend::otlp {

namespace pb_trace = opentelemetry::proto::trace::v1;
namespace pb_logs = opentelemetry::proto::logs::v1;
namespace pb_metrics = opentelemetry::proto::metrics::v1;
namespace pb_resource = opentelemetry::proto::resource::v1;
namespace pb_common = opentelemetry::proto::common::v1;

// Rules every item's times are checked against.
struct time_rules {
  std::int64_t now_ns = 0;  // the server's clock when the request arrived
  // Items dated later than now + this are rejected: a clock set far ahead (or 2^64-1 ns) would
  // otherwise sit at the top of every "recent" list forever. Default 1 h (Logfire's own rule).
  std::int64_t max_future_ns = 3'600'000'000'000;
};

[[nodiscard]] std::shared_ptr<const resource_info> make_resource(const pb_resource::Resource& r);
[[nodiscard]] std::shared_ptr<const scope_info> make_scope(const pb_common::InstrumentationScope& s);

[[nodiscard]] std::string span_to_row(const pb_trace::Span& span, const time_rules& rules, record_row& row);
// `index` (the record's position in its request) makes ids derived for records without trace
// context unique within the request.
[[nodiscard]] std::string log_to_row(const pb_logs::LogRecord& log, std::size_t index, const time_rules& rules,
                                     record_row& row);

enum class metric_kind : std::uint8_t { gauge, sum, histogram, exponential_histogram, summary };

// What the rows of one metric's points share: name, unit and description come from `metric`
// (its data fields are not read), the rest from the data message.
struct metric_header {
  const pb_metrics::Metric* metric = nullptr;
  metric_kind kind = metric_kind::gauge;
  std::optional<std::string> temporality;  // "delta" | "cumulative"
  std::optional<bool> monotonic;
};

[[nodiscard]] std::optional<std::string> temporality_name(pb_metrics::AggregationTemporality t);
[[nodiscard]] std::string point_to_row(const metric_header& h, const pb_metrics::NumberDataPoint& p,
                                       const time_rules& rules, metric_row& row);
[[nodiscard]] std::string point_to_row(const metric_header& h, const pb_metrics::HistogramDataPoint& p,
                                       const time_rules& rules, metric_row& row);
[[nodiscard]] std::string point_to_row(const metric_header& h, const pb_metrics::ExponentialHistogramDataPoint& p,
                                       const time_rules& rules, metric_row& row);
[[nodiscard]] std::string point_to_row(const metric_header& h, const pb_metrics::SummaryDataPoint& p,
                                       const time_rules& rules, metric_row& row);

// Approximate heap bytes a row holds (its own size and its strings), for the memory budget.
[[nodiscard]] std::size_t approx_bytes(const record_row& r);
[[nodiscard]] std::size_t approx_bytes(const metric_row& m);

// fixed64 nanoseconds from the wire, clamped into the signed range SQLite stores.
[[nodiscard]] std::int64_t clamp_ns(std::uint64_t ns);

}  // namespace logfire::backend::otlp
