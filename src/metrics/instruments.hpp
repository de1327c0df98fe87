// The metric instruments' state: the process-wide registry, each instrument's series (one per
// attribute set, found through a lock-free table), and the cells the application's threads write.
//
// Threads:
//   * application threads record: they read the table without locks and write their own cell
//     (sums: a plain add into the thread's owner cell, or an atomic add into a shared one;
//     histograms: a per-shard spinlock, contended only by threads sharing a shard and by the
//     collector; gauges: two relaxed stores). A new attribute set takes the instrument's mutex
//     once, to create its series.
//   * the collector (metrics reader thread) reads and resets the cells; it alone touches the
//     `collected` part of a series.
// Series are never freed while the process lives, so bound handles and lock-free readers never
// see a dangling pointer; the cardinality limit bounds their number per instrument.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "logfire/metric_exporter.hpp"
#include "logfire/metrics.hpp"
#include "metrics/attribute_set.hpp"
#include "metrics/exponential.hpp"

namespace logfire::detail {

inline constexpr std::uint32_t k_default_cardinality_limit = 2000;
// The table and series list are sized from the limit up front: a larger limit is lowered to this.
inline constexpr std::uint32_t k_max_cardinality_limit = 1'000'000;

// A test-and-test-and-set lock for the histogram shards: uncontended it costs one locked
// exchange; the only other party is the collector, for a copy of a few hundred bytes.
class spinlock {
 public:
  void lock() noexcept {
    while (locked_.exchange(true, std::memory_order_acquire)) {
      for (int spins = 0; locked_.load(std::memory_order_relaxed); ++spins) {
        if (spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
          __builtin_ia32_pause();
#endif
        } else {
          std::this_thread::yield();
        }
      }
    }
  }
  void unlock() noexcept {
    locked_.store(false, std::memory_order_release);
  }
  // After fork() in the child: a parent thread may have held it.
  void reset() noexcept {
    locked_.store(false, std::memory_order_relaxed);
  }

 private:
  std::atomic<bool> locked_{false};
};

struct histogram_config {
  bool exponential = true;
  std::uint32_t max_size = expo::k_default_max_size;  // exponential: buckets in the positive range
  int max_scale = expo::k_max_scale;
  std::vector<double> bounds;  // explicit: strictly increasing, finite
};

// What a histogram shard (and the collector's merged copy) accumulates between collections.
struct histogram_data {
  std::uint64_t count = 0;
  double sum = 0;
  double min = 0;
  double max = 0;
  std::uint64_t zero_count = 0;
  expo::buckets positive;            // exponential
  std::uint64_t* explicit_counts{};  // explicit: bounds.size() + 1 entries

  void record(const histogram_config& cfg, double v) noexcept;
  void merge(const histogram_config& cfg, const histogram_data& other) noexcept;
  void reset(const histogram_config& cfg) noexcept;
};

// A histogram shard: its own lock, its own cache lines, its bucket storage right behind it.
struct alignas(64) histogram_shard {
  spinlock lock;
  histogram_data data;
};

struct series;

// The collector's view of a histogram between collections (owned storage).
struct histogram_state {
  histogram_data data;
  std::vector<std::uint64_t> storage;
  void init(const histogram_config& cfg);
};

struct instrument {
  instrument_type type = instrument_type::counter;
  value_kind vk = value_kind::int64;
  std::string name;  // as first registered
  std::string unit;
  std::string description;
  std::uint32_t limit = k_default_cardinality_limit;
  std::uint64_t created_unix_nano = 0;
  histogram_config hist;

  // Lock-free lookup: open addressing over attribute-set hashes, at most half full (limit + 1
  // sets in 2 * (limit + 2) or more slots, a power of two). Slots fill once and never change.
  std::unique_ptr<std::atomic<series*>[]> table;
  std::uint32_t table_mask = 0;
  // Every series in creation order (for the collector): published by `count` (release).
  std::unique_ptr<series*[]> all;
  std::atomic<std::uint32_t> count{0};
  series* overflow = nullptr;        // created with the instrument, as the specification asks
  std::atomic<series*> empty_set{};  // the series without attributes, once it exists
  std::mutex insert_mutex;           // creating a series (the slow path)
  std::atomic<bool> full{false};     // `limit` sets exist: new sets go to `overflow`

  // Counters, written on cold paths only.
  std::atomic<std::uint64_t> rejected{0};
  std::atomic<std::uint64_t> overflowed{0};
  std::atomic<std::uint64_t> attributes_dropped{0};
  // What the collector already explained on stderr.
  bool overflow_explained = false;
  std::uint64_t rejected_explained = 0;

  // Registration conflicts already warned about (unit or description differing).
  bool conflict_warned = false;
};

struct series {
  instrument* inst = nullptr;
  attribute_set attrs;
  bool is_overflow = false;
  std::uint64_t created_unix_nano = 0;

  // Written by the application's threads.
  sum_cell* cells = nullptr;    // counters: one per shard
  std::uint32_t cell_mask = 0;  // shard_count() - 1 for counters, else 0
  gauge_cell gauge;
  std::unique_ptr<std::atomic<histogram_shard*>[]> shards;  // histograms: allocated on first use

  // Collector only.
  struct collected_state {
    bool seen = false;                            // has had a measurement (cumulative points are exported from then on)
    std::array<std::int64_t, 16> owner_totals{};  // the owner cells' running totals, as last read
    std::int64_t total_i = 0;
    double total_d = 0;
    std::uint64_t last_bits = 0;  // gauges
    histogram_state hist;         // cumulative histograms
    bool hist_ready = false;
  } collected;
};

// Integer sums wrap as the cells' atomic adds do (two's complement) instead of overflowing.
inline std::int64_t wrapping_add(std::int64_t a, std::int64_t b) noexcept {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}
inline std::int64_t wrapping_neg(std::int64_t a) noexcept {
  return static_cast<std::int64_t>(std::uint64_t{0} - static_cast<std::uint64_t>(a));
}

// Instrument names are case-insensitive (the specification's "name conflict").
bool same_metric_name(std::string_view a, std::string_view b) noexcept;

// K: shards per histogram and owner cells per sum (a power of two: 4 to 16, from the number of
// CPUs). Sums have K shared cells besides.
std::uint32_t shard_count() noexcept;
// After fork() in the child: frees the owner cells of the threads that did not survive.
void release_owned_cells_after_fork(std::uint32_t k) noexcept;

// The registry of every instrument (never destroyed: instruments outlive configure()).
class instrument_registry {
 public:
  static instrument_registry& instance() noexcept;

  instrument* find_or_add(instrument_type type, value_kind vk, std::string_view name, std::string_view unit,
                          std::string_view description, std::uint32_t limit, const histogram_config* hist);
  // A copy of the instrument list (the collector iterates it without holding the lock).
  std::vector<instrument*> snapshot();

  // fork(): the prepare handler takes every lock a recording thread could hold; the child
  // then clears every cell so that it does not report the parent's measurements again.
  void before_fork() noexcept;
  void after_fork_in_parent() noexcept;
  void after_fork_in_child() noexcept;

  std::mutex& mutex() noexcept { return mutex_; }

 private:
  std::mutex mutex_;
  std::vector<instrument*> instruments_;
};

// The series for `args` (or the overflow series when the instrument is full). Never null.
series* find_series(instrument* inst, std::span<const arg> args) noexcept;
// The series for an owned attribute set (observable instruments and tests).
series* find_series(instrument* inst, const attribute_set& set) noexcept;

inline bound_target target_of(series* s) noexcept {
  return bound_target{s, s->cells ? s->cells : g_unbound_cells, &s->gauge, s->cell_mask, s->inst};
}

// fork(): one set of handlers for the whole metrics layer, so that its locks are always taken in
// the same order (running readers first, waiting for a collection in progress, then the callback
// registry, then the instrument registry and its shard locks). Installed once, by whichever of
// the registries or a reader comes first. Defined in reader.cpp.
void install_metrics_fork_handlers() noexcept;  // the steps it runs: reader.hpp

// Registry-wide counters for metrics_stats().
struct instrument_counters {
  std::uint64_t rejected = 0;
  std::uint64_t overflowed = 0;
  std::uint64_t attributes_dropped = 0;
};
instrument_counters sum_instrument_counters() noexcept;

// Observable instruments' registrations (metric_*_callback). Defined in callbacks.cpp.
struct observable_instrument;

}  // namespace logfire::detail
