// The metrics reader: collects every instrument every `interval` (default 60 s,
// OTEL_METRIC_EXPORT_INTERVAL), at force_flush() and at shutdown(), on its own thread, and hands
// each collection to the metric exporters as one metric_batch. It owns the temporality choice
// (per instrument kind, from the preference), the start timestamps, the conversion to
// cumulative totals and the loss accounting of data points.
//
//   detail::metric_reader r({.exporters = {mem}});
//   r.start();
//   ...
//   r.force_flush(clock::now() + 5s);   // collect now, export, flush the exporters
//   r.shutdown(clock::now() + 5s);      // final collection, exporters shut down
//
// Exports never run concurrently (one run at a time, on the reader thread or, once the thread
// has stopped, on the caller of shutdown()).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "logfire/metric_exporter.hpp"
#include "logfire/metric_stats.hpp"
#include "resource/resource.hpp"

namespace logfire::detail {

struct metric_reader_settings {
  std::chrono::milliseconds interval{60000};  // OTEL_METRIC_EXPORT_INTERVAL
  std::chrono::milliseconds timeout{30000};   // OTEL_METRIC_EXPORT_TIMEOUT: a periodic run's flush deadline
  metric_temporality preference = metric_temporality::delta;
  resource res;
  std::vector<std::shared_ptr<metric_exporter>> exporters;
  std::FILE* diagnostics = stderr;  // where the one-line explanations go
};

// Counts one exporter's data points by outcome (thread-safe: exporters may report from their
// own threads).
class point_counter final : public delivery_counter {
 public:
  void delivered(std::uint64_t n) noexcept override { delivered_.fetch_add(n, std::memory_order_relaxed); }
  void dropped(drop_reason reason, std::uint64_t n, std::string_view detail = {}) noexcept override;
  void count(event_counter which, std::uint64_t n = 1) noexcept override {
    events_[static_cast<std::size_t>(which)].fetch_add(n, std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t delivered_count() const noexcept { return delivered_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t dropped_count(std::size_t reason) const noexcept {
    return dropped_[reason].load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::string detail(std::size_t reason) const;

  // The disk spool of an OTLP metric exporter (points, as delivery_counter says for records).
  void spooled(std::uint64_t n) noexcept override { spooled_.fetch_add(n, std::memory_order_relaxed); }
  void unspooled(std::uint64_t n) noexcept override { unspooled_.fetch_add(n, std::memory_order_relaxed); }
  void taken_over(std::uint64_t n) noexcept override { taken_over_.fetch_add(n, std::memory_order_relaxed); }
  void replay_delivered(std::uint64_t n) noexcept override {
    replay_delivered_.fetch_add(n, std::memory_order_relaxed);
  }
  void replay_dropped(drop_reason reason, std::uint64_t n, std::string_view detail = {}) noexcept override;
  [[nodiscard]] std::uint64_t in_spool() const noexcept;
  [[nodiscard]] std::uint64_t taken_over_count() const noexcept { return taken_over_.load(std::memory_order_relaxed); }
  // Adds this counter's figures to `e` and the replay ledger to `replayed`.
  void fill(exporter_stats& e, replay_stats& replayed) const noexcept;

 private:
  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> spooled_{0};
  std::atomic<std::uint64_t> unspooled_{0};
  std::atomic<std::uint64_t> taken_over_{0};
  std::atomic<std::uint64_t> replay_delivered_{0};
  std::array<std::atomic<std::uint64_t>, drop_reason_count> replay_dropped_{};
  std::array<std::atomic<std::uint64_t>, drop_reason_count> dropped_{};
  std::array<std::atomic<std::uint64_t>, event_counter_count> events_{};
  mutable std::mutex mutex_;
  std::array<std::string, drop_reason_count> detail_;
};

struct collection;
struct observable_instrument;
struct observation_sink;

class metric_reader {
 public:
  explicit metric_reader(metric_reader_settings settings);
  ~metric_reader();
  metric_reader(const metric_reader&) = delete;
  metric_reader& operator=(const metric_reader&) = delete;

  // Starts the collection thread and becomes the reader metrics_stats() reports.
  void start();
  // Collects now and exports; then flushes the exporters. From inside a callback (the reader's
  // own thread) it returns at once: the collection in progress delivers.
  bool force_flush(clock::time_point deadline) noexcept;
  // Stops the thread, collects one last time, exports and shuts the exporters down.
  bool shutdown(clock::time_point deadline) noexcept;

  // Replaces the resource (e.g. when cloud metadata arrives); applies from the next collection.
  void add_resource_attributes(const resource& additions);

  [[nodiscard]] metric_stats stats() const;

  // fork(): the thread does not survive in the child; the child restarts it.
  void before_fork() noexcept;
  void after_fork_in_parent() noexcept;
  void after_fork_in_child() noexcept;

 private:
  void loop();
  // One collection and export. Holds run_mutex_.
  bool run(clock::time_point deadline, bool flush_exporters) noexcept;
  void collect(collection& c);
  void collect_observable(collection& c, observable_instrument& inst, observation_sink& sink,
                          std::uint64_t interval_start);
  void report_diagnostics();

  metric_reader_settings settings_;
  std::vector<std::unique_ptr<point_counter>> counters_;  // one per exporter
  // The reader's own losses: points drained from the instruments that no exporter received
  // (out of memory part-way through a collection), as internal_error.
  point_counter own_;

  std::mutex run_mutex_;       // one run at a time
  std::mutex resource_mutex_;  // settings_.res

  // The thread's schedule and the flush requests. On the heap because a child process after
  // fork() abandons it (a thread of the parent may have held its mutex) and takes a new one.
  struct control {
    std::mutex mutex;  // the fields below
    std::condition_variable wake;
    std::condition_variable done;
    bool stop = false;
    bool started = false;
    bool stopped = false;
    bool forking = false;  // fork() is waiting: flush waits give up instead of holding callers
    std::uint64_t flush_requested = 0;
    std::uint64_t flush_done = 0;
    bool flush_ok = true;
    clock::time_point flush_deadline{};
  };
  control* ctl_ = new control;
  std::thread thread_;

  std::atomic<std::uint64_t> collections_{0};
  std::atomic<std::uint64_t> points_produced_{0};
  std::atomic<std::uint64_t> callback_errors_{0};

  // Diagnostics already printed (run_mutex_).
  std::array<std::uint64_t, drop_reason_count> reported_drops_{};
  std::array<clock::time_point, drop_reason_count> last_drop_line_{};
  std::uint64_t reported_rejected_ = 0;
  clock::time_point last_rejected_line_{};
  bool attributes_explained_ = false;
  bool callback_error_explained_ = false;
  std::string errored_instrument_;  // the first instrument whose callback threw (run_mutex_)
};

// Whether this thread is a metrics reader running a collection (callbacks run there).
bool on_metric_reader_thread() noexcept;

// Observable instruments' registry-wide counters (added to by the reader).
struct observable_counters {
  std::atomic<std::uint64_t> rejected{0};
  std::atomic<std::uint64_t> overflowed{0};
  std::atomic<std::uint64_t> attributes_dropped{0};
};
observable_counters& observable_totals() noexcept;

// fork() for the whole metrics layer, in steps. install_metrics_fork_handlers() (instruments.hpp)
// registers handlers that run them in this order:
//   prepare: metric_readers_before_fork(), metric_registries_before_fork();
//   parent and child: registries first, readers last.
// Once configure() has run, the setup layer's handlers run the steps instead, with their own
// locks in between, and ours do nothing:
//   prepare: configure's lock, metric_readers_before_fork(), the records' pipeline and thread
//            registry, metric_registries_before_fork();
//   parent and child: the same steps undone, registries first, readers last.
// Readers come after configure's lock because configure(), shutdown() and force_flush() hold it
// while they wait for a reader (its thread, its collection); they come before the records' locks
// because a collection's callbacks may log and read stats(), which take those locks.
// The caller registers its handlers after install_metrics_fork_handlers() (so that its prepare
// step runs first) and then calls metrics_fork_handled_by_caller().
void install_metrics_fork_handlers() noexcept;
void metrics_fork_handled_by_caller() noexcept;
void metric_readers_before_fork() noexcept;  // waits for collections in progress
void metric_registries_before_fork() noexcept;
void metric_registries_after_fork_in_parent() noexcept;
void metric_readers_after_fork_in_parent() noexcept;
void metric_registries_after_fork_in_child() noexcept;  // the child's intervals start here
void metric_readers_after_fork_in_child() noexcept;     // the child's reader threads start

}  // namespace logfire::detail
