// The exporter interface: where batches of finished records go (console, OTLP, memory).
// Every method runs on the SDK's background thread, never on the application's threads.
//
//   class my_exporter final : public logfire::exporter { ... };
//   logfire::configure({.exporters = {std::make_shared<my_exporter>()}});
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "logfire/record.hpp"
#include "logfire/stats.hpp"

namespace logfire {

using clock = std::chrono::steady_clock;

// Counters an exporter reports into; the pipeline owns one per exporter. Thread-safe. Every
// record handed to export_batch() must end up reported exactly once as delivered, dropped, or
// (for an exporter with a disk spool) spooled, and a spooled record later as unspooled (with
// its delivery or drop) or taken over.
class delivery_counter {
 public:
  virtual ~delivery_counter() = default;
  // `n` records reached their destination.
  virtual void delivered(std::uint64_t n) noexcept = 0;
  // `n` records are lost for `reason`; `detail` is shown once per reason (rate-limited).
  virtual void dropped(drop_reason reason, std::uint64_t n, std::string_view detail = {}) noexcept = 0;
  // Counters that do not lose records (retries, spool writes and replays).
  virtual void count(event_counter which, std::uint64_t n = 1) noexcept = 0;
  // The same for counters that deserve a line (a spool file deleted unread): `detail` is shown
  // the first time.
  virtual void count_with_detail(event_counter which, std::uint64_t n, std::string_view detail) noexcept {
    (void)detail;
    count(which, n);
  }

  // Disk spool. `n` records of this pipeline were written to the spool: they are "in the
  // spool" until reported as unspooled (together with their delivery or drop) or taken over.
  virtual void spooled(std::uint64_t n) noexcept { (void)n; }
  virtual void unspooled(std::uint64_t n) noexcept { (void)n; }
  // `n` spooled records of this pipeline whose file another process of the service took.
  virtual void taken_over(std::uint64_t n) noexcept { (void)n; }
  // Records from spool files this pipeline did not write (another process, an earlier
  // configure()): a ledger of their own, outside this pipeline's identity.
  virtual void replay_delivered(std::uint64_t n) noexcept { (void)n; }
  virtual void replay_dropped(drop_reason reason, std::uint64_t n, std::string_view detail = {}) noexcept {
    (void)reason;
    (void)n;
    (void)detail;
  }
};

class exporter {
 public:
  virtual ~exporter() = default;

  // Short name for diagnostics and stats ("console", "otlp https://...", "memory").
  [[nodiscard]] virtual std::string name() const = 0;

  // Called once by the pipeline before the first batch.
  virtual void start(delivery_counter& counter) noexcept { counter_ = &counter; }

  // Takes a batch. Views in `records` are valid only during the call: copy or encode them.
  // Must not block on I/O for long: exporters that talk to the network encode here and send
  // from their own thread. Every record must end up reported to the delivery counter as
  // delivered or dropped (with a reason), now or later.
  virtual void export_batch(std::span<const span_record> records) noexcept = 0;

  // Delivers what was handed over so far, waiting until `deadline` at most.
  // Returns true when nothing is left undelivered.
  virtual bool force_flush(clock::time_point deadline) noexcept {
    (void)deadline;
    return true;
  }

  // Final flush, then release resources. Records not delivered by `deadline` are reported.
  virtual bool shutdown(clock::time_point deadline) noexcept { return force_flush(deadline); }

  // Pending spans (span starts) are for Logfire and the console only.
  [[nodiscard]] virtual bool wants_pending_spans() const noexcept { return false; }

  // Whether this exporter's deliveries count as "exported" in stats(). The console is only
  // a view, unless it is the only exporter.
  [[nodiscard]] virtual bool is_destination() const noexcept { return true; }

  // fork(): before_fork() takes the exporter's own locks (called from the pthread_atfork
  // prepare handler, after the background thread has stopped between batches); the parent then
  // gets after_fork_in_parent(), the child after_fork_in_child(), which must also release them.
  // The child must not reuse the parent's threads or connections.
  virtual void before_fork() noexcept {}
  virtual void after_fork_in_parent() noexcept {}
  virtual void after_fork_in_child() noexcept {}

 protected:
  delivery_counter* counter_ = nullptr;
};

}  // namespace logfire
