// Observable instruments (metric_*_callback): their callbacks and what the collector keeps
// between collections. Callbacks run on the collector's thread with no SDK lock held: the
// registry lock is held only to copy the list of callbacks, and each callback's own run mutex
// only serializes it with its removal.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "logfire/metric_callbacks.hpp"
#include "logfire/metric_exporter.hpp"
#include "metrics/attribute_set.hpp"

namespace logfire::detail {

struct observable_instrument;

struct callback_entry {
  observable_instrument* inst = nullptr;
  metric_callback fn;
  std::mutex run;        // held while the callback runs, and by remove() to wait for it
  bool removed = false;  // guarded by `run`
};

// One observation as collected (the last one per attribute set wins).
struct observation {
  attribute_set attrs;
  bool is_double = false;
  std::int64_t i = 0;
  double d = 0;
};

// Where an observer writes during one collection: the observations of one instrument.
struct observation_sink {
  observable_instrument* inst = nullptr;
  std::vector<observation> observed;
  std::unordered_map<std::uint64_t, std::vector<std::size_t>> by_hash;  // into `observed`
  std::uint32_t limit = 0;
  std::uint64_t overflowed = 0;
  std::uint64_t attributes_dropped = 0;
  std::uint64_t rejected = 0;
  bool has_overflow = false;
  observation overflow;

  // An observation from a callback's arguments (canonicalized here).
  void add(std::int64_t i, double d, bool is_double, std::span<const arg> args);
  // An observation whose set is already canonical.
  void add(attribute_set set, std::int64_t i, double d, bool is_double);
  // Everything another sink collected (the overflow point and the counters included).
  void absorb(observation_sink&& other);

 private:
  void add_to_overflow(std::int64_t i, double d, bool is_double);
};

struct observable_instrument {
  metric_kind kind = metric_kind::observable_gauge;
  std::string name;
  std::string unit;
  std::string description;
  std::uint32_t limit = 2000;
  std::uint64_t created_unix_nano = 0;
  std::vector<std::shared_ptr<callback_entry>> callbacks;  // guarded by the registry mutex

  // Collector only: per attribute set, the previous observed total (to send deltas of an
  // observable counter) and its start time (cumulative points repeat it).
  struct previous {
    bool is_double = false;
    std::int64_t i = 0;
    double d = 0;
    std::uint64_t start_unix_nano = 0;
  };
  std::unordered_map<std::uint64_t, std::vector<std::pair<attribute_set, previous>>> history;
  std::uint64_t overflowed = 0;
  bool overflow_explained = false;
};

// The registry of observable instruments (never destroyed, like the synchronous one).
class observable_registry {
 public:
  static observable_registry& instance() noexcept;

  callback_registration add(metric_kind kind, std::string_view name, metric_callback fn, const metric_options& opts);
  void remove(callback_entry* entry) noexcept;

  // The instruments with their callbacks as they are now (copies of the lists).
  struct snapshot_item {
    observable_instrument* inst;
    std::vector<std::shared_ptr<callback_entry>> callbacks;
  };
  std::vector<snapshot_item> snapshot();

  void before_fork() noexcept { mutex_.lock(); }
  void after_fork() noexcept { mutex_.unlock(); }

 private:
  std::mutex mutex_;
  std::vector<observable_instrument*> instruments_;
};

// Runs `entry` unless it was removed, with the observer writing into `sink`. Returns false when
// the callback threw (its observations of this round are discarded by the caller).
bool run_callback(callback_entry& entry, observation_sink& sink) noexcept;

}  // namespace logfire::detail
