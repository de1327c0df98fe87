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
#include "resource/resource.hpp"
#include "sampling/ratio.hpp"

namespace logfire::detail {

struct pipeline_settings {
  std::size_t ring_bytes = 1u << 20;
  std::size_t max_attributes = 128;
  std::size_t max_value_length = 16384;
  // Head sampling: the reference's ratio test on the trace id (keeps every root at rate 1).
  ratio_sampler head_sampler{1.0};
  sampler_hook hook;
  std::chrono::milliseconds first_delay{100};
  std::chrono::milliseconds schedule_delay{500};
  std::size_t max_batch = 512;
  logfire::distributed_tracing tracing_mode = logfire::distributed_tracing::unset;
  std::shared_ptr<const logfire::propagator> propagator;  // never null once configured
  // The platform injects its own trace headers (Cloud Run & co.): in the unset mode its
  // "not sampled" flag does not stop our own spans.
  bool platform_injects = false;
  std::string platform_name;
  // Baggage entries of the current context become attributes (options.add_baggage_to_attributes).
  bool baggage_attributes = true;
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
  bool shutdown(clock::time_point deadline) noexcept;
  [[nodiscard]] const pipeline_settings& settings() const noexcept { return control_->settings; }
  [[nodiscard]] const resource& get_resource() const noexcept { return resource_; }
  void fill_stats(pipeline_stats& out) const;

  // Resource attributes found later (GCP metadata), handed to exporters that carry the
  // resource. Any thread; applied by the background thread before its next batch.
  void add_resource_attributes(resource additions);
  // Keeps a lookup whose callback calls add_resource_attributes (destroyed, and so cancelled,
  // before the rest of the pipeline).
  void own_lookup(std::shared_ptr<void> lookup) noexcept { lookup_ = std::move(lookup); }

  // fork() support: called around fork by the pthread_atfork handlers.
  void before_fork() noexcept;
  void after_fork_in_parent() noexcept;
  void after_fork_in_child() noexcept;

  struct exporter_slot;

 private:
  void run() noexcept;
  void drain_all();
  void export_batch();
  void report_losses(bool final_summary);

  control* control_;  // owned by the never-freed list of control blocks
  resource resource_;
  std::vector<std::unique_ptr<exporter_slot>> slots_;

  std::condition_variable done_cv_;  // with control_->mutex
  bool stop_ = false;
  std::uint64_t flush_requested_ = 0;  // sequence numbers of flush requests
  std::uint64_t flush_done_ = 0;
  bool last_flush_ok_ = true;
  clock::time_point flush_deadline_{};
  std::thread thread_;
  std::atomic<bool> running_{false};
  // Held by the background thread while it drains, builds and exports a batch; taken by
  // before_fork() so fork() happens between cycles. Order: work_mutex_, control mutex, registry.
  std::mutex work_mutex_;

  std::mutex resource_mutex_;
  std::optional<resource> resource_additions_;  // guarded by resource_mutex_

  struct state;  // background-thread-only state (open spans, batch, arena)
  std::unique_ptr<state> state_;
  std::unique_ptr<diagnostics> diag_;
  // Thread counters are cumulative for the process; stats() reports them since configure().
  pipeline_stats baseline_;
  std::atomic<std::uint64_t> involuntary_at_last_flush_{0};
  std::shared_ptr<void> lookup_;  // last member: destroyed (its thread joined) first
};

// The active pipeline (guarded by the configure mutex), or null.
extern pipeline* g_active_pipeline;

}  // namespace logfire::detail
