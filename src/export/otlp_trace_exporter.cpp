// The OTLP/HTTP trace exporter: on the pipeline's background thread, export_batch() orders a
// batch (records first, then the pending spans this destination takes), encodes it as protobuf
// or JSON in bodies of at most max_body_bytes, gzips them and hands them to its delivery engine
// (delivery_engine.cpp), which sends, retries and spools them on its own threads. Never any I/O
// here. After fork() the child abandons the parent's engine and starts its own.
#include <unistd.h>

#include <algorithm>

#include "export/gzip.hpp"
#include "export/otlp_encoder.hpp"
#include "export/otlp_exporter.hpp"
#include "resource/resource_listener.hpp"

namespace logfire::detail {
namespace {

// A body encoded and compressed, waiting to be handed to the engine.
struct encoded_body {
  std::string bytes;  // as sent: gzip-compressed when meta.gzip
  body_meta meta;     // meta.records counts the records (not the pending spans) in the body
  std::uint32_t spans = 0;
};

class otlp_http_exporter final : public exporter, public resource_listener {
 public:
  otlp_http_exporter(otlp_exporter_config cfg, const resource& res)
      : cfg_(std::move(cfg)), res_(res), delivery_(cfg_) {}

  [[nodiscard]] std::string name() const override { return cfg_.name; }
  [[nodiscard]] bool wants_pending_spans() const noexcept override { return cfg_.wants_pending_spans; }

  void start(delivery_counter& counter) noexcept override { delivery_.start(counter); }

  void export_batch(std::span<const span_record> records) noexcept override {
    if (records.empty()) return;
    otlp_delivery* engine = delivery_.get();
    delivery_counter* counter = delivery_.counter();
    // Counted before anything can throw, so that a failure below loses no record uncounted.
    std::uint64_t counted = 0;
    for (const auto& r : records) counted += r.type == record_type::pending_span ? 0 : 1;
    // A batch without pending spans is encoded as it is; one with them is ordered first.
    const bool reorder = counted != records.size();
    if (engine == nullptr) {  // a failed restart after fork()
      if (counter != nullptr) counter->dropped(drop_reason::export_failed, counted, "the exporter could not restart");
      return;
    }
    try {
      std::span<const span_record> ordered = records;
      if (reorder) {
        (void)order_records(records);  // counts `counted` again, with the same filter
        ordered = scratch_;
      }
      if (ordered.empty()) return;
      auto sink = [&](std::string_view body, std::size_t first, std::size_t count) {
        encoded_body item;
        item.meta.format = cfg_.format;
        item.meta.gzip = cfg_.gzip;
        // Records precede pending spans in `ordered`, so [first, first+count) ∩ [0, counted).
        const std::size_t end = first + count;
        item.meta.records = static_cast<std::uint32_t>(end <= counted ? count : first >= counted ? 0 : counted - first);
        item.spans = static_cast<std::uint32_t>(count);
        if (cfg_.gzip) {
          if (!gzip_compress(body, item.bytes, k_default_gzip_level)) throw std::bad_alloc();
        } else {
          item.bytes.assign(body);
        }
        pending_submit_.push_back(std::move(item));
      };
      if (cfg_.format == body_format::json)
        encode_traces_json_split(ordered, res_, cfg_.max_body_bytes, buffer_, sink);
      else
        encode_traces_protobuf_split(ordered, res_, cfg_.max_body_bytes, buffer_, sink, &shared_);
    } catch (...) {
      pending_submit_.clear();
      if (counter != nullptr)
        counter->dropped(drop_reason::export_failed, counted, "out of memory while encoding a batch");
      return;
    }
    for (auto& item : pending_submit_) {
      try {
        engine->submit(std::move(item.bytes), item.meta, item.spans);
      } catch (...) {
        if (counter != nullptr) counter->dropped(drop_reason::export_failed, item.meta.records, "out of memory");
      }
    }
    pending_submit_.clear();
    if (buffer_.capacity() > 4 * cfg_.max_body_bytes) std::string().swap(buffer_);
  }

  bool force_flush(clock::time_point deadline) noexcept override { return delivery_.flush(deadline); }
  bool shutdown(clock::time_point deadline) noexcept override { return delivery_.shutdown(deadline); }

  void after_fork_in_child() noexcept override {
    delivery_.after_fork_in_child();
    try {
      res_.set("process.pid", static_cast<std::int64_t>(::getpid()));
    } catch (...) {
    }
  }

  void add_resource_attributes(const resource& additions) noexcept override {
    try {
      for (const auto& a : additions.attributes) res_.set(a.key, a.value);
    } catch (...) {
    }
  }

  [[nodiscard]] const std::string& spool_error() const noexcept { return delivery_.spool_error(); }

 private:
  // Fills scratch_ with the records to send, counted ones first, pending spans last (dropping
  // those whose real span is in this batch, and all of them if this destination takes none).
  // Returns how many records are counted.
  std::uint64_t order_records(std::span<const span_record> records) {
    scratch_.clear();
    ended_.clear();
    bool any_pending = false;
    for (const auto& r : records) {
      if (r.type == record_type::pending_span) {
        any_pending = true;
        continue;
      }
      scratch_.push_back(r);
      ended_.push_back(r.context.span.value);
    }
    const std::uint64_t counted = scratch_.size();
    if (any_pending && cfg_.wants_pending_spans) {
      std::sort(ended_.begin(), ended_.end());
      for (const auto& r : records) {
        if (r.type != record_type::pending_span) continue;
        // A pending span's parent is its real span.
        if (std::binary_search(ended_.begin(), ended_.end(), r.parent.value)) continue;
        scratch_.push_back(r);
      }
    }
    return counted;
  }

  const otlp_exporter_config cfg_;
  resource res_;
  delivery_owner delivery_;  // refers to cfg_: declared after it
  // Background thread only: reused across batches.
  std::vector<span_record> scratch_;
  std::vector<std::uint64_t> ended_;
  std::string buffer_;
  shared_attribute_bytes shared_;  // protobuf only
  std::vector<encoded_body> pending_submit_;
};

}  // namespace

std::shared_ptr<exporter> make_otlp_exporter(otlp_exporter_config config, const resource& res,
                                             std::string* spool_error) {
  auto e = std::make_shared<otlp_http_exporter>(std::move(config), res);
  if (spool_error != nullptr) *spool_error = e->spool_error();
  return e;
}

}  // namespace logfire::detail
