// A metric exporter that keeps copies of every collected metric in memory, for tests of
// instrumented code.
//
//   auto mem = std::make_shared<logfire::memory_metric_exporter>();
//   auto lf = logfire::configure({.console = {.enabled = false}, .metrics = {.exporters = {mem}}});
//   requests.add(1, {{"route", "/a"}});
//   logfire::force_flush();
//   assert(mem->last("http.server.requests")->points.at(0).as_int == 1);
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "logfire/memory_exporter.hpp"
#include "logfire/metric_exporter.hpp"

namespace logfire {

// An owned copy of one point of any type (the fields of its metric's type are set).
struct stored_metric_point {
  std::vector<std::pair<std::string, stored_value>> attributes;
  std::uint64_t start_unix_nano = 0;
  std::uint64_t time_unix_nano = 0;
  // Sums and gauges.
  bool is_double = false;
  std::int64_t as_int = 0;
  double as_double = 0;
  // Histograms.
  std::uint64_t count = 0;
  double sum = 0;
  double min = 0;
  double max = 0;
  std::vector<double> explicit_bounds;
  std::vector<std::uint64_t> bucket_counts;  // explicit buckets, or the exponential positive range
  std::int32_t scale = 0;
  std::uint64_t zero_count = 0;
  std::int32_t positive_offset = 0;

  // The value of a sum or gauge point as a double.
  [[nodiscard]] double value() const noexcept { return is_double ? as_double : static_cast<double>(as_int); }
  [[nodiscard]] const stored_value* find(std::string_view key) const noexcept;
  // Whether the point has exactly these string attributes (and no others).
  [[nodiscard]] bool has_attributes(std::initializer_list<std::pair<std::string_view, std::string_view>> kv) const;
};

struct stored_metric {
  std::string name;
  std::string description;
  std::string unit;
  metric_kind kind = metric_kind::counter;
  metric_data_type type = metric_data_type::sum;
  aggregation_temporality temporality = aggregation_temporality::unspecified;
  bool monotonic = false;
  std::vector<stored_metric_point> points;

  // The point with exactly these string attributes, or nullptr.
  [[nodiscard]] const stored_metric_point* point(
      std::initializer_list<std::pair<std::string_view, std::string_view>> kv = {}) const;
};

// One collection as received.
struct stored_metric_batch {
  std::vector<std::pair<std::string, stored_value>> resource;
  std::string scope_name;
  std::string scope_version;
  std::vector<stored_metric> metrics;

  [[nodiscard]] const stored_metric* find(std::string_view name) const noexcept;
};

class memory_metric_exporter final : public metric_exporter {
 public:
  [[nodiscard]] std::string name() const override { return "memory"; }
  void export_metrics(const metric_batch& batch) noexcept override;

  // Copies of every batch received so far, oldest first (thread-safe).
  [[nodiscard]] std::vector<stored_metric_batch> batches() const;
  // The metric named `name` in the most recent batch that has it, or nullopt.
  [[nodiscard]] std::optional<stored_metric> last(std::string_view name) const;
  [[nodiscard]] std::size_t size() const;
  void clear();

 private:
  mutable std::mutex mutex_;
  std::vector<stored_metric_batch> batches_;
};

}  // namespace logfire
