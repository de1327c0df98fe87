// The in-memory metric exporter: owned copies of every batch, for tests. export_metrics() runs on
// the metrics reader's thread; the accessors may run on any thread.
#include "logfire/memory_metric_exporter.hpp"

#include "export/memory_copy.hpp"

namespace logfire {
namespace {

stored_metric_point copy_common(std::span<const attribute> attrs, std::uint64_t start, std::uint64_t time) {
  stored_metric_point p;
  p.attributes = detail::copy_attributes(attrs);
  p.start_unix_nano = start;
  p.time_unix_nano = time;
  return p;
}

stored_metric copy_metric(const metric_data& m) {
  stored_metric out;
  out.name = std::string(m.name);
  out.description = std::string(m.description);
  out.unit = std::string(m.unit);
  out.kind = m.kind;
  out.type = m.type;
  out.temporality = m.temporality;
  out.monotonic = m.monotonic;
  for (const number_point& n : m.numbers) {
    stored_metric_point p = copy_common(n.attributes, n.start_unix_nano, n.time_unix_nano);
    p.is_double = n.is_double;
    p.as_int = n.as_int;
    p.as_double = n.as_double;
    out.points.push_back(std::move(p));
  }
  for (const histogram_point& h : m.histograms) {
    stored_metric_point p = copy_common(h.attributes, h.start_unix_nano, h.time_unix_nano);
    p.count = h.count;
    p.sum = h.sum;
    p.min = h.min;
    p.max = h.max;
    p.explicit_bounds.assign(h.explicit_bounds.begin(), h.explicit_bounds.end());
    p.bucket_counts.assign(h.bucket_counts.begin(), h.bucket_counts.end());
    out.points.push_back(std::move(p));
  }
  for (const exponential_histogram_point& h : m.exponential_histograms) {
    stored_metric_point p = copy_common(h.attributes, h.start_unix_nano, h.time_unix_nano);
    p.count = h.count;
    p.sum = h.sum;
    p.min = h.min;
    p.max = h.max;
    p.scale = h.scale;
    p.zero_count = h.zero_count;
    p.positive_offset = h.positive_offset;
    p.bucket_counts.assign(h.positive_counts.begin(), h.positive_counts.end());
    out.points.push_back(std::move(p));
  }
  return out;
}

bool same_strings(const std::vector<std::pair<std::string, stored_value>>& attrs,
                  std::initializer_list<std::pair<std::string_view, std::string_view>> kv) {
  if (attrs.size() != kv.size()) return false;
  for (const auto& [k, v] : kv) {
    const stored_value* found = detail::find_in(attrs, k);
    const std::string* s = found ? found->string() : nullptr;
    if (!s || *s != v) return false;
  }
  return true;
}

}  // namespace

const stored_value* stored_metric_point::find(std::string_view key) const noexcept {
  return detail::find_in(attributes, key);
}

bool stored_metric_point::has_attributes(
    std::initializer_list<std::pair<std::string_view, std::string_view>> kv) const {
  return same_strings(attributes, kv);
}

const stored_metric_point* stored_metric::point(
    std::initializer_list<std::pair<std::string_view, std::string_view>> kv) const {
  for (const auto& p : points)
    if (same_strings(p.attributes, kv)) return &p;
  return nullptr;
}

const stored_metric* stored_metric_batch::find(std::string_view name) const noexcept {
  for (const auto& m : metrics)
    if (m.name == name) return &m;
  return nullptr;
}

void memory_metric_exporter::export_metrics(const metric_batch& batch) noexcept {
  try {
    stored_metric_batch b;
    b.resource = detail::copy_attributes(batch.resource);
    b.scope_name = std::string(batch.scope_name);
    b.scope_version = std::string(batch.scope_version);
    for (const metric_data& m : batch.metrics) b.metrics.push_back(copy_metric(m));
    {
      std::lock_guard lock(mutex_);
      batches_.push_back(std::move(b));
    }
    if (counter_) counter_->delivered(batch.point_count());
  } catch (...) {
    if (counter_) counter_->dropped(drop_reason::export_failed, batch.point_count(), "out of memory copying a batch");
  }
}

std::vector<stored_metric_batch> memory_metric_exporter::batches() const {
  std::lock_guard lock(mutex_);
  return batches_;
}

std::optional<stored_metric> memory_metric_exporter::last(std::string_view name) const {
  std::lock_guard lock(mutex_);
  for (auto it = batches_.rbegin(); it != batches_.rend(); ++it)
    if (const stored_metric* m = it->find(name)) return *m;
  return std::nullopt;
}

std::size_t memory_metric_exporter::size() const {
  std::lock_guard lock(mutex_);
  return batches_.size();
}

void memory_metric_exporter::clear() {
  std::lock_guard lock(mutex_);
  batches_.clear();
}

}  // namespace logfire
