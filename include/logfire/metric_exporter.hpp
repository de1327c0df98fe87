// Where collected metrics go: the batch of metric data a collection produces (shaped as the
// OpenTelemetry metrics data model, read-only views valid during the call) and the metric
// exporter interface. Every method runs on the SDK's metrics thread, one call at a time.
//
//   class my_metric_exporter final : public logfire::metric_exporter {
//     std::string name() const override { return "mine"; }
//     void export_metrics(const logfire::metric_batch& b) noexcept override {
//       for (const auto& m : b.metrics) ...; counter_->delivered(b.point_count());
//     }
//   };
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "logfire/exporter.hpp"
#include "logfire/record.hpp"

namespace logfire {

enum class metric_kind : std::uint8_t {
  counter,
  up_down_counter,
  histogram,
  gauge,
  observable_counter,
  observable_up_down_counter,
  observable_gauge,
};

[[nodiscard]] std::string_view to_string(metric_kind k) noexcept;

// OTLP wire values: UNSPECIFIED 0, DELTA 1, CUMULATIVE 2.
enum class aggregation_temporality : std::uint8_t { unspecified = 0, delta = 1, cumulative = 2 };

// Which temporality each instrument kind gets (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE):
//   delta (Logfire's, the default): delta for counters, observable counters and histograms,
//     cumulative for up-down counters and gauges;
//   cumulative: cumulative for everything;
//   low_memory: delta for counters and histograms, cumulative for the rest.
enum class metric_temporality : std::uint8_t { delta, cumulative, low_memory };

[[nodiscard]] aggregation_temporality temporality_for(metric_kind kind, metric_temporality preference) noexcept;

// The OTLP point type a metric carries.
enum class metric_data_type : std::uint8_t { sum, gauge, histogram, exponential_histogram };

// A point of a sum or gauge: an integer or a double.
struct number_point {
  std::span<const attribute> attributes;
  std::uint64_t start_unix_nano = 0;
  std::uint64_t time_unix_nano = 0;
  bool is_double = false;
  std::int64_t as_int = 0;
  double as_double = 0;
};

// A histogram point with explicit bucket boundaries: bucket_counts has explicit_bounds.size() + 1
// entries; bucket i counts values in (bounds[i-1], bounds[i]].
struct histogram_point {
  std::span<const attribute> attributes;
  std::uint64_t start_unix_nano = 0;
  std::uint64_t time_unix_nano = 0;
  std::uint64_t count = 0;
  double sum = 0;
  double min = 0;  // meaningful when count > 0
  double max = 0;
  std::span<const double> explicit_bounds;
  std::span<const std::uint64_t> bucket_counts;
};

// A base-2 exponential histogram point: bucket index i (from positive_offset) counts values in
// (2^(i * 2^-scale), 2^((i+1) * 2^-scale)]; zero_count counts zeros. Negative values are never
// recorded (histograms reject them), so there is no negative range.
struct exponential_histogram_point {
  std::span<const attribute> attributes;
  std::uint64_t start_unix_nano = 0;
  std::uint64_t time_unix_nano = 0;
  std::uint64_t count = 0;
  double sum = 0;
  double min = 0;  // meaningful when count > 0
  double max = 0;
  std::int32_t scale = 0;
  std::uint64_t zero_count = 0;
  std::int32_t positive_offset = 0;
  std::span<const std::uint64_t> positive_counts;
};

// One metric stream: its identity and its points (only the span matching `type` is filled).
struct metric_data {
  std::string_view name;
  std::string_view description;
  std::string_view unit;
  metric_kind kind = metric_kind::counter;
  metric_data_type type = metric_data_type::sum;
  aggregation_temporality temporality = aggregation_temporality::unspecified;  // sums and histograms
  bool monotonic = false;                                                      // sums
  std::span<const number_point> numbers;                                       // sum, gauge
  std::span<const histogram_point> histograms;
  std::span<const exponential_histogram_point> exponential_histograms;

  [[nodiscard]] std::size_t point_count() const noexcept {
    return numbers.size() + histograms.size() + exponential_histograms.size();
  }
};

// What one collection produced, under one resource and instrumentation scope.
struct metric_batch {
  std::span<const attribute> resource;
  std::string_view scope_name;
  std::string_view scope_version;
  std::span<const metric_data> metrics;

  [[nodiscard]] std::size_t point_count() const noexcept {
    std::size_t n = 0;
    for (const metric_data& m : metrics) n += m.point_count();
    return n;
  }
};

class metric_exporter {
 public:
  virtual ~metric_exporter() = default;

  // Short name for diagnostics and stats ("memory", "otlp https://...").
  [[nodiscard]] virtual std::string name() const = 0;

  // Called once before the first batch. The counter counts data points (not records).
  virtual void start(delivery_counter& points) noexcept { counter_ = &points; }

  // Takes a batch; its views are valid only during the call. Every point must end up reported
  // to the counter as delivered or dropped (with a reason), now or later. Must not block on I/O
  // for long: network exporters encode here and send from their own thread.
  virtual void export_metrics(const metric_batch& batch) noexcept = 0;

  // Delivers what was handed over so far, waiting until `deadline` at most.
  virtual bool force_flush(clock::time_point deadline) noexcept {
    (void)deadline;
    return true;
  }

  // Final flush, then release resources; points not delivered by `deadline` are reported.
  virtual bool shutdown(clock::time_point deadline) noexcept { return force_flush(deadline); }

  // Whether delivered points count as exported in metric_stats() (a view such as the console
  // does not).
  [[nodiscard]] virtual bool is_destination() const noexcept { return true; }

  // The process forked: the child must not reuse the parent's threads or connections.
  virtual void after_fork_in_child() noexcept {}

 protected:
  delivery_counter* counter_ = nullptr;
};

}  // namespace logfire
