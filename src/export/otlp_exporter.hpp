// OTLP/HTTP exporters: one per destination (each Logfire token, the OTLP endpoint). Each takes
// a plain otlp_exporter_config (setup/otlp_destinations.cpp resolves them from the options and
// the environment). export_batch() encodes and gzips on the pipeline's background thread; a
// sender thread per exporter posts the bodies, retries, and a spool thread writes what cannot
// be delivered to the disk spool.
//
//   auto e = logfire::detail::make_otlp_exporter({.name = "otlp " + url, .url = url}, res);
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "export/otlp_split.hpp"
#include "export/spool.hpp"
#include "logfire/exporter.hpp"
#include "logfire/metric_exporter.hpp"
#include "net/http_transport.hpp"
#include "resource/resource.hpp"

namespace logfire::detail {

// Reads an environment variable; nullopt when unset (the same type as setup's env_lookup).
// configure() passes a lookup that returns nullopt for everything when
// options.read_environment is false.
using env_lookup = std::function<std::optional<std::string>(std::string_view name)>;

// Everything one exporter needs, resolved (no environment access after construction).
struct otlp_exporter_config {
  std::string name;  // "logfire https://logfire-us.pydantic.dev", "otlp http://collector:4318/v1/traces"
  std::string url;   // the full traces URL
  std::vector<http_header> headers;  // Authorization and OTEL_EXPORTER_OTLP_HEADERS
  body_format format = body_format::protobuf;
  bool gzip = true;
  bool wants_pending_spans = false;          // Logfire destinations only
  otlp_signal signal = otlp_signal::traces;  // what the bodies carry (how a 413 splits them)
  std::chrono::milliseconds timeout{10'000};
  std::chrono::milliseconds connect_timeout{3'000};
  // Spans (metrics: data points) waiting in memory for the network (OTEL_BSP_MAX_QUEUE_SIZE;
  // metrics_options::max_queue_points). When full, batches go to the spool, or are dropped as
  // export_queue_full when there is no spool.
  std::size_t max_queue_spans = 2048;
  std::size_t max_body_bytes = 5u * 1024u * 1024u;  // before compression
  std::chrono::milliseconds backoff_initial{1'000};
  std::chrono::milliseconds backoff_max{128'000};
  // A Retry-After beyond this is shortened to it (a broken server must not park us for days).
  std::chrono::milliseconds retry_after_max{std::chrono::minutes(15)};
  // Failed attempts in a row after which undelivered batches go to the spool (2 = the first
  // retry failed).
  int failures_before_spool = 2;
  // Empty = no spool. The folder of this destination (already includes "<service>-<hash>").
  std::string spool_directory;
  std::uint64_t spool_max_bytes = 512ull << 20;
  // Creates the transport on the sender thread; default: libcurl.
  std::function<std::unique_ptr<http_transport>()> make_transport;
};

// Builds one exporter. `res` is copied. When the spool folder cannot be created or written,
// the exporter works without a spool and `spool_error` says why. Throws only std::bad_alloc.
[[nodiscard]] std::shared_ptr<exporter> make_otlp_exporter(otlp_exporter_config config, const resource& res,
                                                           std::string* spool_error = nullptr);

// The delivery engine of an OTLP exporter (memory queue, sender and spool threads, retries with
// backoff and Retry-After, 413 splitting, disk spool, accounting), for bodies encoded elsewhere:
// the OTLP metric exporter uses it. Every unit a body counts (meta.records) is reported to the
// counter as the trace exporter's records are (delivered, dropped by reason, spooled).
class otlp_delivery {
 public:
  virtual ~otlp_delivery() = default;
  virtual void set_counter(delivery_counter* counter) noexcept = 0;
  virtual void start_threads() = 0;
  // Never blocks on I/O. `bytes` as sent (gzip-compressed when meta.gzip); `units` counts toward
  // the memory queue's bound. Throws std::bad_alloc only, with nothing reported.
  virtual void submit(std::string bytes, const body_meta& meta, std::uint32_t units) = 0;
  virtual bool flush(clock::time_point deadline) = 0;
  // Flush, stop the threads, spool or report what is left.
  virtual bool stop(clock::time_point deadline) = 0;
  [[nodiscard]] virtual const std::string& spool_error() const noexcept = 0;
};
[[nodiscard]] std::unique_ptr<otlp_delivery> make_otlp_delivery(const otlp_exporter_config& config,
                                                                delivery_counter* counter);

// The lifecycle both OTLP exporters (traces, metrics) give their delivery engine: threads
// started on first use, flushed, stopped once, abandoned and replaced in a fork() child (the
// parent's threads, locks and sockets are not the child's), and stopped without reporting when
// the exporter goes away unstopped (what is in memory is kept in the spool; the counter may be
// gone). Calls come from the exporter's one caller thread (and configure()/shutdown()).
class delivery_owner {
 public:
  explicit delivery_owner(const otlp_exporter_config& cfg);  // `cfg` outlives the owner
  ~delivery_owner();
  delivery_owner(const delivery_owner&) = delete;
  delivery_owner& operator=(const delivery_owner&) = delete;

  void start(delivery_counter& counter) noexcept;
  // The engine with its threads running, or null after a failed restart in a fork() child.
  [[nodiscard]] otlp_delivery* get() noexcept;
  [[nodiscard]] delivery_counter* counter() const noexcept { return counter_; }
  bool flush(clock::time_point deadline) noexcept;
  bool shutdown(clock::time_point deadline) noexcept;
  void after_fork_in_child() noexcept;
  [[nodiscard]] const std::string& spool_error() const noexcept;

 private:
  const otlp_exporter_config& cfg_;
  std::unique_ptr<otlp_delivery> delivery_;
  delivery_counter* counter_ = nullptr;
  bool threads_started_ = false;
  bool shut_down_ = false;
};

// The OTLP metric exporter: metric bodies through the same delivery engine.
[[nodiscard]] std::shared_ptr<metric_exporter> make_otlp_metric_exporter(otlp_exporter_config config,
                                                                         std::string* spool_error = nullptr);

}  // namespace logfire::detail
