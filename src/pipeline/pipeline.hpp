// The pipeline: settings read by the callers' threads, and the background thread that
// drains every thread's ring, turns records into span_records and hands batches to the
// exporters. One pipeline exists between configure() and shutdown().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "logfire/config.hpp"
#include "logfire/exporter.hpp"
#include "logfire/propagation.hpp"
#include "logfire/stats.hpp"
#include "pipeline/ring.hpp"
#include "record/prompt.hpp"
#include "resource/resource.hpp"
#include "sampling/head.hpp"
#include "sampling/tail.hpp"

namespace logfire::detail {

class scrubber;

struct pipeline_settings {
  std::size_t ring_bytes = 1u << 20;
  ring_growth_limits ring_growth{32u << 20, 64u << 20};
  logfire::overflow_policy overflow = logfire::overflow_policy::drop;
  std::chrono::milliseconds block_timeout{1000};
  std::size_t max_attributes = 128;
  std::size_t max_value_length = 16384;
  std::size_t max_open_spans = 65536;
  // The console's prompt mode (console_options::immediate), or null: read by push() for span
  // starts and logs. Lives as long as the control block (never freed: a late caller may use it).
  std::shared_ptr<prompt_printer> prompt;
  // Head sampling: the ratio test on the trace id, then the user's hook (src/sampling/head.hpp).
  head_settings head;
  // Tail sampling (src/sampling/tail.hpp), or null.
  std::shared_ptr<const tail_settings> tail;
  std::chrono::milliseconds first_delay{100};
  std::chrono::milliseconds schedule_delay{500};
  std::size_t max_batch = 512;
  logfire::distributed_tracing tracing_mode = logfire::distributed_tracing::unset;
  std::shared_ptr<const logfire::propagator> propagator;  // never null once configured
  // The platform injects its own trace headers (Cloud Run & co.): in the unset mode its
  // "not sampled" flag does not stop our own spans.
  bool platform_injects = false;
  std::string platform_name;
  // Quoted by the explanation of below_console_level ("" when there is no console).
  std::string console_min_level;
  // Secrets redacted on the background thread while records are built (null: scrubbing off).
  std::shared_ptr<const scrubber> scrub;
  // Baggage entries of the current context become attributes (options.add_baggage_to_attributes).
  bool baggage_attributes = true;
  // Exception records carry the caller's return addresses (options::stack_traces).
  bool stack_traces = true;
};

class diagnostics;

// What the callers' threads read: settings and the wake-up handle. Never freed once
// published (a caller may still hold it while shutdown() runs), so it stays small.
//
// Wake-up protocol: the background thread sleeps on `cv` until its next batch deadline, or
// for at most `first_delay` while idle. A producer whose ring passes half full sets
// `wake_pending` (one exchange, only past the high-water mark) and notifies; flush and
// shutdown notify too. A wake-up lost to a race is recovered by the bounded sleep: the
// background never sleeps longer than `first_delay` while any ring holds records.
struct control {
  pipeline_settings settings;
  // This pipeline's generation (a configure(), or a fork child's fresh start): records and
  // span handles carry it, so that no pipeline takes another one's records. Never 0.
  std::uint32_t generation = 0;
  std::mutex mutex;
  std::condition_variable cv;
  std::atomic<bool> wake_pending{false};
  bool wake_requested = false;  // guarded by mutex

  void wake() noexcept {
    if (wake_pending.exchange(true, std::memory_order_acq_rel)) return;
    {
      std::lock_guard lock(mutex);
      wake_requested = true;
    }
    cv.notify_one();
  }
};

// The active control block, or null before configure() and after shutdown().
extern std::atomic<control*> g_control;

// Makes `c` (null: none) the active control block, and its generation the one filtered logs
// are counted under inline (logfire.hpp, g_count_generation; 0 for none), so the two never
// disagree for long. Returns the block it replaces. Call it again for the same block when its
// generation changes (fork).
control* publish_control(control* c) noexcept;

// A new generation number (process-wide, never 0).
std::uint32_t next_generation() noexcept;

// Held by a background thread while it drains the rings and the side queue (never while it
// calls an exporter): one consumer at a time, also when an abandoned pipeline's thread wakes.
std::mutex& consumer_mutex() noexcept;

// Records lost for reasons nobody chose (full ring, failed or rejected export, spool, shutdown).
std::uint64_t involuntary_losses(const pipeline_stats& s) noexcept;

class pipeline {
 public:
  pipeline(pipeline_settings settings, resource res, std::vector<std::shared_ptr<exporter>> exporters);
  ~pipeline();
  pipeline(const pipeline&) = delete;
  pipeline& operator=(const pipeline&) = delete;

  // Starts the background thread and publishes the control block to callers.
  void start();
  bool flush(clock::time_point deadline) noexcept;
  // Stops the background thread and the exporters, waiting for them until `deadline` plus
  // k_stop_grace at most, then closes the ledger: stats() no longer changes (except for calls
  // made while not configured). When the background thread did not stop in time
  // (`abandoned()`), or `callers_stuck` (a caller was still inside a logfire call at the
  // deadline), whatever was not settled at that moment is counted as shutdown_timeout.
  // The caller has already unpublished the control block (g_control).
  bool shutdown(clock::time_point deadline, bool callers_stuck) noexcept;
  // The background thread did not stop by the deadline: it was detached and still uses this
  // object, which must then never be destroyed.
  [[nodiscard]] bool abandoned() const noexcept { return abandoned_.load(std::memory_order_acquire); }
  [[nodiscard]] const pipeline_settings& settings() const noexcept { return control_->settings; }
  [[nodiscard]] std::uint32_t generation() const noexcept { return control_->generation; }
  [[nodiscard]] const resource& get_resource() const noexcept { return resource_; }
  void fill_stats(pipeline_stats& out) const;

  // Resource attributes found later (GCP metadata), handed to exporters that carry the
  // resource. Any thread; applied by the background thread before its next batch.
  void add_resource_attributes(resource additions);
  // Keeps a lookup whose callback calls add_resource_attributes (destroyed, and so cancelled,
  // before the rest of the pipeline).
  void own_lookup(std::shared_ptr<void> lookup) noexcept { lookup_ = std::move(lookup); }

  // fork() support, called by the pthread_atfork handlers (configure.cpp) with the configure
  // mutex held: before_fork() takes every lock of the pipeline and its exporters (after waiting,
  // bounded, for the background thread to finish its current cycle); the others release them.
  void before_fork() noexcept;
  void after_fork_in_parent() noexcept;
  void after_fork_in_child() noexcept;

  // How long shutdown() waits past its deadline for the background thread and the exporters
  // (libcurl notices a cut request within about a second), and how long fork() waits for the
  // background thread to finish a cycle before the child goes without telemetry.
  static constexpr std::chrono::milliseconds k_stop_grace{1000};
  static constexpr std::chrono::milliseconds k_fork_wait{2000};

  struct exporter_slot;

 private:
  struct background_state;  // the background thread's own: open spans, batches, tail sampling
  struct batch;             // records and the arena behind them

  void run() noexcept;
  void cycle(bool flushing, bool stopping);
  bool drain_rings(std::unique_lock<std::mutex>& consumer, bool final);
  bool relieve(std::unique_lock<std::mutex>& consumer) noexcept;
  void on_record(const ring_record_header& h, const std::byte* body, std::size_t size, bool before_mark) noexcept;
  void add_pending_span(const std::byte* start, std::size_t size) noexcept;
  void finish_span(std::uint64_t span, std::uint64_t end_ns) noexcept;
  std::uint64_t leaf_span(const ring_record_header& h, const std::byte* body, std::size_t size,
                          const following_records& after) noexcept;
  [[nodiscard]] std::size_t batch_reserve() const noexcept;
  void make_room();
  [[gnu::noinline]] void next_batch();
  void add_to_batch(const span_record& r, bool finished);
  // Builds a record straight into the current batch (after make_room()): `build(rec)` fills a
  // new span_record there; when it throws, the batch is as it was.
  template <class Build>
  void build_into_batch(bool finished, Build&& build);
  void note_added(bool was_empty, bool finished);
  [[gnu::noinline]] void set_batch_deadline() noexcept;
  void export_one(batch& b) noexcept;
  void export_batches(bool and_current) noexcept;
  void end_open_spans() noexcept;
  void lost(drop_reason reason, std::uint64_t n) noexcept;
  void report_losses(bool final_summary) noexcept;
  void compute_stats(pipeline_stats& out) const;
  [[nodiscard]] bool has_destination() const noexcept;

  control* control_;  // owned by the never-freed list of control blocks
  resource resource_;
  std::vector<std::unique_ptr<exporter_slot>> slots_;

  std::condition_variable done_cv_;  // with control_->mutex
  bool stop_ = false;
  bool finished_ = false;              // the background thread is done (guarded by control mutex)
  std::uint64_t flush_requested_ = 0;  // sequence numbers of flush requests
  std::uint64_t flush_done_ = 0;
  bool last_flush_ok_ = true;
  clock::time_point flush_deadline_{};
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::atomic<bool> abandoned_{false};
  // The final drain could not run (out of memory): shutdown() counts what it left as
  // internal_error.
  std::atomic<bool> drain_failed_{false};
  // Held by the background thread while it drains, builds and exports a batch; taken by
  // before_fork() so fork() happens between cycles. Order: work_mutex_, control mutex,
  // resource, diagnostics, exporter slots, exporters, then the registry and the side queue.
  std::timed_mutex work_mutex_;
  bool fork_holds_work_ = false;  // before_fork() got work_mutex_ in time
  // Set by before_fork(): the background thread cuts its cycle short between records and does
  // not start another until the fork is over, so fork() waits for one record, not a cycle.
  std::atomic<bool> fork_waiting_{false};

  mutable std::mutex resource_mutex_;
  std::optional<resource> resource_additions_;  // guarded by resource_mutex_

  std::unique_ptr<background_state> bg_;
  mutable std::mutex diag_mutex_;  // the background thread and shutdown() both report
  std::unique_ptr<diagnostics> diag_;
  // Calls made while no pipeline was configured are counted process-wide; this pipeline shows
  // those made since its start.
  std::uint64_t not_configured_at_start_ = 0;
  // Set by shutdown(): the ledger no longer changes; reports arriving later are ignored.
  std::atomic<bool> closed_{false};
  pipeline_stats closed_stats_;  // valid once closed_
  std::atomic<std::uint64_t> involuntary_at_last_flush_{0};
  std::shared_ptr<void> lookup_;  // last member: destroyed (its thread joined) first
};

// The active pipeline (guarded by the configure mutex), or null.
extern pipeline* g_active_pipeline;

}  // namespace logfire::detail
