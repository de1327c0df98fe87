// Tail sampling: the background thread buffers each local root trace (its pending spans, spans
// and logs) until a callback keeps it or every span it started has ended, within bounds on
// traces, bytes and age. Background thread only; the callers' threads never see it.
//
// The pipeline calls on_start / on_end / on_log after decoding a record and before batching it.
// A call returning true means the sampler took the record: it is buffered, or released through
// tail_sink::emit (its trace was kept), or dropped and counted through tail_sink::dropped. A
// call returning false leaves the record to the pipeline, exactly as without tail sampling (a
// kept trace's later records, logs outside a trace, remote-parent pass-through).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "logfire/config.hpp"
#include "logfire/record.hpp"
#include "logfire/stats.hpp"
#include "record/arena.hpp"
#include "record/records.hpp"
#include "record/wire.hpp"

namespace logfire::detail {

struct tail_settings {
  tail_callback callback;  // never empty when tail sampling is on
  std::size_t max_traces = 2048;
  std::size_t max_bytes = 16u << 20;
  std::chrono::nanoseconds max_age = std::chrono::seconds(30);
  std::size_t decision_cache = 16384;
  bool drop_on_bound = false;
  bool buffer_remote = false;
};

// Where released and dropped records go (implemented by the pipeline).
class tail_sink {
 public:
  // Adds a record to the current batch; `owner` keeps the memory behind `r` alive until the
  // batch is exported. May throw std::bad_alloc (the record is then lost: the sampler counts it).
  virtual void emit(const span_record& r, bool finished, const std::shared_ptr<const void>& owner) = 0;
  virtual void dropped(drop_reason reason, std::uint64_t n) noexcept = 0;

 protected:
  ~tail_sink() = default;
};

// Bytes the tail buffers hold now and at most since the last sampler was created (process-wide;
// for tests and benchmarks). Measured after each record is settled, bounds included.
struct tail_memory {
  std::size_t held_bytes = 0;
  std::size_t peak_bytes = 0;
  std::size_t traces = 0;
};
[[nodiscard]] tail_memory tail_memory_figures() noexcept;

class tail_sampler {
 public:
  // `builder` is the pipeline's decoder (its counters count each record once); `want_pending`:
  // some exporter shows pending spans, so they are buffered and released too.
  tail_sampler(tail_settings settings, bool want_pending, record_builder& builder, tail_sink& sink);
  ~tail_sampler();
  tail_sampler(const tail_sampler&) = delete;
  tail_sampler& operator=(const tail_sampler&) = delete;

  bool on_start(const std::byte* start, std::size_t size) noexcept;
  bool on_end(const std::byte* start, std::size_t size, std::string_view updates, std::uint64_t end_ns) noexcept;
  bool on_log(const std::byte* body, std::size_t size) noexcept;
  // After a complete pass over the rings: traces whose spans have all ended and that were not
  // kept are dropped (tail_sampled_out); traces older than max_age are decided now (tail_bound).
  void after_pass() noexcept;
  // At shutdown: every buffered trace is decided by its records so far; those not kept count
  // as tail_sampled_out (their spans still open count as open_at_shutdown, by the pipeline).
  void at_shutdown() noexcept;
  // After fork() in the child: the parent's traces are not the child's.
  void forget_all() noexcept;

 private:
  struct key {
    std::uint64_t hi = 0, lo = 0;
    bool operator==(const key&) const = default;
  };
  struct key_hash {
    std::size_t operator()(const key& k) const noexcept { return k.lo ^ (k.hi * 0x9E3779B97F4A7C15ull); }
  };
  // A trace's records, in arrival order, built in its own arena. Shared with the batches that
  // carry them once released.
  struct storage {
    arena memory{2048};
    std::vector<span_record> records;
  };
  struct trace_buffer {
    std::uint64_t seq = 0;
    std::uint64_t first_ns = 0;    // earliest start among its records (unix ns)
    std::uint64_t created_ns = 0;  // when buffering began (unix ns), for max_age
    std::uint32_t open = 0;        // spans started and not ended
    std::uint64_t finished = 0;    // spans and logs buffered (pending spans are not records)
    level max_level = level::trace;
    std::size_t bytes = 0;
    std::shared_ptr<storage> mem;
  };
  enum class decision : std::uint8_t { kept, sampled_out, bound };
  using buffers = std::unordered_map<key, trace_buffer, key_hash>;
  // A decided trace with spans still open: its later records follow the decision for as long
  // as any of its spans is open, whatever the decision cache forgets (bounded by the open spans).
  struct settled {
    decision d = decision::kept;
    std::uint32_t open = 0;
  };

  trace_buffer* buffer_for(const record_fixed& f, bool starting, bool& pass, decision& known) noexcept;
  void settle(key k, decision d, std::uint32_t open) noexcept;
  static drop_reason reason_of(decision d) noexcept {
    return d == decision::bound ? drop_reason::tail_bound : drop_reason::tail_sampled_out;
  }
  trace_buffer* create(key k) noexcept;
  bool evaluate(key k, trace_buffer& b, const span_record& r, tail_event ev, std::uint64_t at_ns) noexcept;
  void keep(key k) noexcept;
  void drop(key k, drop_reason reason) noexcept;
  void decide_early(key k, drop_reason reason) noexcept;
  void remember(key k, decision d) noexcept;
  void account(trace_buffer& b) noexcept;
  void enforce_bytes() noexcept;
  [[nodiscard]] bool oldest(key& out) noexcept;
  static std::uint64_t now_ns() noexcept;

  tail_settings settings_;
  bool want_pending_;
  record_builder& builder_;
  tail_sink& sink_;
  decode_counters scratch_counters_;  // the scratch builder's: records built twice count once
  record_builder scratch_builder_{scratch_counters_};
  arena scratch_{4096};
  buffers traces_;
  std::deque<std::pair<std::uint64_t, key>> order_;  // (seq, trace), oldest first; stale entries skipped
  std::uint64_t next_seq_ = 1;
  std::unordered_map<key, settled, key_hash> settled_;
  std::unordered_map<key, decision, key_hash> decisions_;
  std::deque<key> decision_order_;
  std::vector<key> ended_;  // traces whose last open span ended during this pass
  std::size_t bytes_ = 0;
};

}  // namespace logfire::detail
