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
  explicit otlp_metric_http_exporter(otlp_exporter_config cfg)
      : cfg_(std::move(cfg)), delivery_(make_otlp_delivery(cfg_, nullptr)) {}

  ~otlp_metric_http_exporter() override {
    if (!shut_down_ && delivery_) {
      // Not shut down by a reader: keep what is in memory on disk, report nothing (the counter
      // may already be gone).
      delivery_->set_counter(nullptr);
      delivery_->stop(clock::now());
    }
  }

  [[nodiscard]] std::string name() const override { return cfg_.name; }

  void start(delivery_counter& points) noexcept override {
    counter_ = &points;
    if (delivery_) delivery_->set_counter(&points);
    start_threads();
  }

  void export_metrics(const metric_batch& batch) noexcept override {
    const std::uint64_t points = batch.point_count();
    if (points == 0) return;
    start_threads();
    if (!delivery_) {  // a failed restart after fork()
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
        delivery_->submit(std::move(item.bytes), meta, item.points);
        handed += item.points;
      }
    } catch (...) {
      drop(points - handed, "out of memory while encoding metrics");
    }
    pending_.clear();
    if (buffer_.capacity() > 4 * cfg_.max_body_bytes) std::string().swap(buffer_);
  }

  bool force_flush(clock::time_point deadline) noexcept override {
    try {
      return delivery_ && delivery_->flush(deadline);
    } catch (...) {
      return false;
    }
  }

  bool shutdown(clock::time_point deadline) noexcept override {
    if (shut_down_) return true;
    shut_down_ = true;
    try {
      return delivery_ && delivery_->stop(deadline);
    } catch (...) {
      return false;
    }
  }

  void after_fork_in_child() noexcept override {
    // As the trace exporter: the parent's threads and sockets are not ours; the engine is
    // abandoned (leaked on purpose) and replaced.
    (void)delivery_.release();
    spool::close_inherited_locks();
    try {
      delivery_ = make_otlp_delivery(cfg_, counter_);
    } catch (...) {
    }
    threads_started_ = false;
  }

  [[nodiscard]] const std::string& spool_error() const noexcept {
    static const std::string none;
    return delivery_ ? delivery_->spool_error() : none;
  }

 private:
  struct body_item {
    std::string bytes;
    std::uint32_t points = 0;
  };

  void drop(std::uint64_t points, std::string_view detail) noexcept {
    if (counter_ != nullptr && points > 0) counter_->dropped(drop_reason::export_failed, points, detail);
  }

  void start_threads() noexcept {
    if (threads_started_ || !delivery_) return;
    try {
      delivery_->start_threads();
      threads_started_ = true;
    } catch (...) {
    }
  }

  const otlp_exporter_config cfg_;
  std::unique_ptr<otlp_delivery> delivery_;
  bool threads_started_ = false;
  bool shut_down_ = false;
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
