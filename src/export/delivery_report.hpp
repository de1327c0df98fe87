// What an OTLP exporter's delivery engine reports: each body's records to the pipeline's
// delivery counter (delivered, dropped with a reason, unspooled, or in the replay ledger for
// files another process wrote), and the one-line causes said while delivery fails (the
// destination and why: no answer, an HTTP status with the server's message) and when it
// recovers. Runs on the sender and spool threads, and on the pipeline's background thread for
// a full queue; the counter is swapped atomically (after fork(), at shutdown).
//
//   delivery_report report(cfg, &counter);
//   report.success(meta, origin::memory);
//   report.loss(drop_reason::rejected_by_backend, meta.records, origin::own_file, report.rejection_detail(r));
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "export/otlp_exporter.hpp"
#include "export/spool.hpp"
#include "logfire/exporter.hpp"
#include "net/http_transport.hpp"

namespace logfire::detail {

// Where a body's records come from: memory, a spool file this engine wrote (records of this
// pipeline, "in the spool" until now), or a file it did not write (the replay ledger).
enum class origin : std::uint8_t { memory, own_file, foreign_file };

class delivery_report {
 public:
  // `cfg` must outlive the report (the engine owns both). `counter` may be null: a counter that
  // counts nothing is used until set_counter() (tests drive an exporter without a pipeline).
  delivery_report(const otlp_exporter_config& cfg, delivery_counter* counter) noexcept : cfg_(cfg), counter_(counter) {}

  void set_counter(delivery_counter* c) noexcept { counter_.store(c); }
  [[nodiscard]] delivery_counter& counter() noexcept;

  void success(const body_meta& meta, origin from);
  void loss(drop_reason reason, std::uint32_t records, origin from, std::string_view detail);
  // A spool file deleted for `reason` (corrupt, or evicted for the cap) from `spool_directory`.
  void file_loss(drop_reason reason, const spool_loss& loss, const std::string& spool_directory);
  // An answer after `failed_attempts` failures in a row: one line naming the destination.
  void recovered(int failed_attempts) noexcept;

  // Why an attempt failed, for the line said while it lasts: the destination and the cause.
  // Empty when out of memory (the count still tells), and for a request the SDK cut itself at
  // a deadline: that says nothing about the destination, so the latest cause stays the real one.
  [[nodiscard]] std::string failure_detail(const http_response& r) const noexcept;
  // "HTTP 401 from URL: message", the message decoded from a google.rpc.Status when it is one.
  [[nodiscard]] std::string rejection_detail(const http_response& r) const;

 private:
  const otlp_exporter_config& cfg_;
  std::atomic<delivery_counter*> counter_;
};

// Control characters of a server's answer would garble a one-line diagnostic: they become spaces.
[[nodiscard]] std::string printable(std::string_view s);
// "512 MiB", "1 GiB", or "1000 bytes".
[[nodiscard]] std::string human_bytes(std::uint64_t b);

}  // namespace logfire::detail
