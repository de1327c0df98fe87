// The OTLP/HTTP metric exporter: export_metrics() runs on the metrics reader's thread and encodes
// the collection as ExportMetricsServiceRequest bodies of at most max_body_bytes, gzips them and
// hands them to the same delivery engine the trace exporter uses (delivery_engine.cpp: memory
// queue bounded in data points, sender thread with retries, backoff and Retry-After, 413
// splitting, disk spool). The unit it counts is the data point: every point handed to it ends as
// delivered, dropped with a reason, or in the spool, reported to the reader's point counter.
#include <unistd.h>

#include <new>

#include "export/gzip.hpp"
#include "export/otlp_exporter.hpp"
#include "export/otlp_metrics.hpp"

namespace logfire::detail {
namespace {

class otlp_metric_http_exporter final : public metric_exporter {
 public:
  explicit otlp_metric_http_exporter(otlp_exporter_config cfg) : cfg_(std::move(cfg)), delivery_(cfg_) {}

  [[nodiscard]] std::string name() const override { return cfg_.name; }

  void start(delivery_counter& points) noexcept override { delivery_.start(points); }

  void export_metrics(const metric_batch& batch) noexcept override {
    const std::uint64_t points = batch.point_count();
    if (points == 0) return;
    otlp_delivery* engine = delivery_.get();
    if (engine == nullptr) {  // a failed restart after fork()
      drop(points, "the OTLP metric exporter could not restart after fork()");
      return;
    }
    std::uint64_t handed = 0;  // points the engine took (it reports them from then on)
    try {
      pending_.clear();
      encode_metrics_protobuf_split(batch, cfg_.max_body_bytes, buffer_, [&](std::string_view body, std::size_t n) {
        body_item item;
        item.points = static_cast<std::uint32_t>(n);
        if (cfg_.gzip) {
          if (!gzip_compress(body, item.bytes, k_default_gzip_level)) throw std::bad_alloc();
        } else {
          item.bytes.assign(body);
        }
        pending_.push_back(std::move(item));
      });
      body_meta meta;
      meta.format = body_format::protobuf;
      meta.gzip = cfg_.gzip;
      for (auto& item : pending_) {
        meta.records = item.points;
        engine->submit(std::move(item.bytes), meta, item.points);
        handed += item.points;
      }
    } catch (...) {
      drop(points - handed, "out of memory while encoding metrics");
    }
    pending_.clear();
    if (buffer_.capacity() > 4 * cfg_.max_body_bytes) std::string().swap(buffer_);
  }

  bool force_flush(clock::time_point deadline) noexcept override { return delivery_.flush(deadline); }
  bool shutdown(clock::time_point deadline) noexcept override { return delivery_.shutdown(deadline); }
  void after_fork_in_child() noexcept override { delivery_.after_fork_in_child(); }

  [[nodiscard]] const std::string& spool_error() const noexcept { return delivery_.spool_error(); }

 private:
  struct body_item {
    std::string bytes;
    std::uint32_t points = 0;
  };

  void drop(std::uint64_t points, std::string_view detail) noexcept {
    if (delivery_counter* c = delivery_.counter(); c != nullptr && points > 0)
      c->dropped(drop_reason::export_failed, points, detail);
  }

  const otlp_exporter_config cfg_;
  delivery_owner delivery_;  // refers to cfg_: declared after it
  // Reader thread only: reused across collections.
  std::string buffer_;
  std::vector<body_item> pending_;
};

}  // namespace

std::shared_ptr<metric_exporter> make_otlp_metric_exporter(otlp_exporter_config config, std::string* spool_error) {
  config.signal = otlp_signal::metrics;
  config.format = body_format::protobuf;
  config.wants_pending_spans = false;
  auto e = std::make_shared<otlp_metric_http_exporter>(std::move(config));
  if (spool_error != nullptr) *spool_error = e->spool_error();
  return e;
}

}  // namespace logfire::detail
