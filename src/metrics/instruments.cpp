// Instruments, series lookup and the recording paths (application threads). See instruments.hpp
// for who touches what.
#include "metrics/instruments.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>
#include <new>

#include "context/ids.hpp"

namespace logfire {
namespace detail {

thread_local constinit std::uint32_t t_metric_shard = 0;
sum_cell g_unbound_cells[1];
gauge_cell g_unbound_gauge;

namespace {

std::atomic<std::uint32_t> g_next_shard{0};

std::uint32_t next_pow2(std::uint32_t v) noexcept {
  return v <= 1 ? 1 : std::bit_ceil(v);
}

histogram_shard* new_histogram_shard(const histogram_config& cfg) {
  const std::size_t n = cfg.exponential ? cfg.max_size : cfg.bounds.size() + 1;
  const std::size_t bytes = sizeof(histogram_shard) + n * sizeof(std::uint64_t);
  void* mem = ::operator new (bytes, std::align_val_t{alignof(histogram_shard)});
  auto* shard = new (mem) histogram_shard();
  auto* counts = reinterpret_cast<std::uint64_t*>(reinterpret_cast<char*>(mem) + sizeof(histogram_shard));
  std::fill(counts, counts + n, 0);
  if (cfg.exponential) {
    shard->data.positive.counts = counts;
    shard->data.positive.cap = cfg.max_size;
    shard->data.positive.scale = cfg.max_scale;
  } else {
    shard->data.explicit_counts = counts;
  }
  return shard;
}

series* new_series(instrument* inst, attribute_set attrs, bool overflow) {
  auto* s = new series();
  s->inst = inst;
  s->attrs = std::move(attrs);
  s->is_overflow = overflow;
  s->created_unix_nano = now_unix_nano();
  switch (inst->type) {
    case instrument_type::counter:
    case instrument_type::up_down_counter:
      s->cells = new sum_cell[2 * shard_count()];
      s->cell_mask = 2 * shard_count() - 1;
      break;
    case instrument_type::histogram:
      s->shards = std::make_unique<std::atomic<histogram_shard*>[]>(shard_count());
      break;
    case instrument_type::gauge:
      break;
  }
  return s;
}

// Probes the table for a set given by its hash and an equality test. Lock-free: slots are
// published with release stores and never change once set.
template <typename Eq>
series* probe(const instrument* inst, std::uint64_t hash, Eq&& eq) noexcept {
  std::uint32_t i = static_cast<std::uint32_t>(hash) & inst->table_mask;
  for (;;) {
    series* s = inst->table[i].load(std::memory_order_acquire);
    if (!s) return nullptr;
    if (s->attrs.hash() == hash && eq(*s)) return s;
    i = (i + 1) & inst->table_mask;
  }
}

// The slow path: canonical set known; create its series under the instrument's mutex if there
// is room, else hand out the overflow series.
[[gnu::noinline]] series* find_or_create(instrument* inst, attribute_set set) noexcept {
  auto same = [&set](const series& s) { return s.attrs == set; };
  if (series* s = probe(inst, set.hash(), same)) return s;
  if (!inst->full.load(std::memory_order_acquire)) {
    try {
      std::lock_guard lock(inst->insert_mutex);
      if (series* s = probe(inst, set.hash(), same)) return s;
      const std::uint32_t n = inst->count.load(std::memory_order_relaxed);
      if (n < inst->limit) {
        const bool empty = set.size() == 0;
        const std::uint64_t hash = set.hash();
        series* s = new_series(inst, std::move(set), false);
        std::uint32_t i = static_cast<std::uint32_t>(hash) & inst->table_mask;
        while (inst->table[i].load(std::memory_order_relaxed)) i = (i + 1) & inst->table_mask;
        inst->all[n] = s;
        inst->count.store(n + 1, std::memory_order_release);
        inst->table[i].store(s, std::memory_order_release);
        if (empty) inst->empty_set.store(s, std::memory_order_release);
        if (n + 1 == inst->limit) inst->full.store(true, std::memory_order_release);
        return s;
      }
      inst->full.store(true, std::memory_order_release);
    } catch (...) {
      // Out of memory creating the series: the measurement still counts, in the overflow point.
    }
  }
  inst->overflowed.fetch_add(1, std::memory_order_relaxed);
  return inst->overflow;
}

instrument* new_instrument(instrument_type type, value_kind vk, std::string_view name, std::string_view unit,
                           std::string_view description, std::uint32_t limit, const histogram_config* hist) {
  auto inst = std::make_unique<instrument>();
  inst->type = type;
  inst->vk = type == instrument_type::histogram ? value_kind::float64 : vk;
  inst->name = std::string(name);
  inst->unit = std::string(unit);
  inst->description = std::string(description);
  inst->limit = limit ? std::min(limit, k_max_cardinality_limit) : k_default_cardinality_limit;
  inst->created_unix_nano = now_unix_nano();
  if (hist) inst->hist = *hist;
  const std::uint32_t slots = next_pow2(std::max<std::uint32_t>(16, 2 * (inst->limit + 2)));
  inst->table = std::make_unique<std::atomic<series*>[]>(slots);
  inst->table_mask = slots - 1;
  inst->all = std::make_unique<series*[]>(inst->limit);
  inst->overflow = new_series(inst.get(), overflow_attributes(), true);
  return inst.release();
}

}  // namespace

bool same_metric_name(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::uint32_t shard_count() noexcept {
  static const std::uint32_t n = std::clamp<std::uint32_t>(next_pow2(std::thread::hardware_concurrency()), 4, 16);
  return n;
}

namespace {

// Which owner cells (0..K-1) live threads hold: bit k set = cell k taken.
std::atomic<std::uint32_t> g_owned_cells{0};

// Gives the thread's owner cell back when the thread exits. Records made later in the thread's
// exit (other thread-local destructors) go to a shared cell.
struct owned_cell_release {
  ~owned_cell_release() {
    const std::uint32_t s = t_metric_shard;
    if (!(s & k_owner_cell)) return;
    const std::uint32_t k = shard_count();
    t_metric_shard = k + (s & (k - 1));
    g_owned_cells.fetch_and(~(1u << (s & (k - 1))), std::memory_order_release);
  }
};

}  // namespace

std::uint32_t assign_metric_shard() noexcept {
  // An owner cell if one is free (the first K threads that record, or those that replace them
  // after they exit); otherwise a shared cell, by consecutive thread number.
  const std::uint32_t k = shard_count();
  std::uint32_t owned = g_owned_cells.load(std::memory_order_relaxed);
  while (owned != (k >= 32 ? ~0u : (1u << k) - 1)) {
    const auto slot = static_cast<std::uint32_t>(std::countr_one(owned));
    if (g_owned_cells.compare_exchange_weak(owned, owned | (1u << slot), std::memory_order_acquire,
                                            std::memory_order_relaxed)) {
      static thread_local owned_cell_release release;  // constructed once per owning thread
      (void)release;
      t_metric_shard = k_owner_cell | slot;
      return t_metric_shard;
    }
  }
  t_metric_shard = k + (g_next_shard.fetch_add(1, std::memory_order_relaxed) & (k - 1));
  return t_metric_shard;
}

void release_owned_cells_after_fork(std::uint32_t keep) noexcept {
  // In the child only the forking thread exists: every other owner cell is free again.
  const std::uint32_t s = t_metric_shard;
  g_owned_cells.store((s & k_owner_cell) ? (1u << (s & (keep - 1))) : 0u, std::memory_order_relaxed);
}

// ---- histogram accumulation (under the shard lock, or collector-owned) ----

void histogram_data::record(const histogram_config& cfg, double v) noexcept {
  if (count == 0) {
    min = max = v;
  } else {
    min = std::min(min, v);
    max = std::max(max, v);
  }
  ++count;
  sum += v;
  if (cfg.exponential) {
    if (v == 0) {
      ++zero_count;
      return;
    }
    const std::int32_t idx = expo::map_to_index(v, positive.scale);
    const std::int64_t at = static_cast<std::int64_t>(idx) - positive.offset;
    if (positive.len != 0 && at >= 0 && at < positive.len) [[likely]]
      ++positive.counts[at];
    else
      positive.add_index(idx, positive.scale, 1);  // extends the range, lowering the scale if needed
  } else {
    // Bucket i holds (bounds[i-1], bounds[i]]: the first bound >= v.
    const auto it = std::lower_bound(cfg.bounds.begin(), cfg.bounds.end(), v);
    ++explicit_counts[it - cfg.bounds.begin()];
  }
}

void histogram_data::merge(const histogram_config& cfg, const histogram_data& o) noexcept {
  if (o.count == 0) return;
  if (count == 0) {
    min = o.min;
    max = o.max;
  } else {
    min = std::min(min, o.min);
    max = std::max(max, o.max);
  }
  count += o.count;
  sum += o.sum;
  if (cfg.exponential) {
    zero_count += o.zero_count;
    positive.merge(o.positive);
  } else {
    for (std::size_t i = 0; i <= cfg.bounds.size(); ++i) explicit_counts[i] += o.explicit_counts[i];
  }
}

void histogram_data::reset(const histogram_config& cfg) noexcept {
  count = 0;
  sum = min = max = 0;
  zero_count = 0;
  if (cfg.exponential)
    positive.reset(cfg.max_scale);
  else
    std::fill(explicit_counts, explicit_counts + cfg.bounds.size() + 1, 0);
}

void histogram_state::init(const histogram_config& cfg) {
  storage.assign(cfg.exponential ? cfg.max_size : cfg.bounds.size() + 1, 0);
  if (cfg.exponential) {
    data.positive.counts = storage.data();
    data.positive.cap = cfg.max_size;
    data.positive.scale = cfg.max_scale;
  } else {
    data.explicit_counts = storage.data();
  }
}

// ---- the registry ----

instrument_registry& instrument_registry::instance() noexcept {
  // Never destroyed: bound handles and instruments in statics outlive every destructor.
  static instrument_registry* r = [] {
    auto* reg = new instrument_registry();
    install_metrics_fork_handlers();
    return reg;
  }();
  return *r;
}

instrument* instrument_registry::find_or_add(instrument_type type, value_kind vk, std::string_view name,
                                             std::string_view unit, std::string_view description, std::uint32_t limit,
                                             const histogram_config* hist) {
  std::lock_guard lock(mutex_);
  bool other_kind = false;
  for (instrument* i : instruments_) {
    if (!same_metric_name(i->name, name)) continue;
    if (i->type != type || i->vk != vk) {
      other_kind = true;
      continue;
    }
    if ((i->unit != unit || i->description != description) && !i->conflict_warned) {
      // The specification's duplicate registration: the first definition wins, and we say so.
      i->conflict_warned = true;
      std::fprintf(stderr,
                   "logfire: metric '%s' was created again with a different unit or description; the first "
                   "definition (unit '%s') is kept\n",
                   i->name.c_str(), i->unit.c_str());
    }
    return i;
  }
  if (other_kind)
    std::fprintf(stderr,
                 "logfire: metric '%.*s' was created as instruments of different kinds or value types; each is "
                 "exported as its own metric under that name: give different instruments different names\n",
                 static_cast<int>(name.size()), name.data());
  instruments_.reserve(instruments_.size() + 1);
  instrument* i = new_instrument(type, vk, name, unit, description, limit, hist);
  instruments_.push_back(i);
  return i;
}

std::vector<instrument*> instrument_registry::snapshot() {
  std::lock_guard lock(mutex_);
  return instruments_;
}

namespace {

// Every series of an instrument, the overflow series included.
template <typename Fn>
void for_each_series(instrument* inst, Fn&& fn) {
  const std::uint32_t n = inst->count.load(std::memory_order_acquire);
  for (std::uint32_t k = 0; k < n; ++k) fn(*inst->all[k]);
  fn(*inst->overflow);
}

template <typename Fn>
void for_each_shard(series& s, Fn&& fn) {
  if (!s.shards) return;
  for (std::uint32_t k = 0; k < shard_count(); ++k)
    if (histogram_shard* h = s.shards[k].load(std::memory_order_acquire)) fn(*h);
}

}  // namespace

void instrument_registry::before_fork() noexcept {
  // Order: registry, then each instrument's insert mutex, then its shard locks (a recording
  // thread holds at most one of these at a time, and never the registry's).
  mutex_.lock();
  for (instrument* inst : instruments_) {
    inst->insert_mutex.lock();
    for_each_series(inst, [](series& s) { for_each_shard(s, [](histogram_shard& h) { h.lock.lock(); }); });
  }
}

void instrument_registry::after_fork_in_parent() noexcept {
  for (instrument* inst : instruments_) {
    for_each_series(inst, [](series& s) { for_each_shard(s, [](histogram_shard& h) { h.lock.unlock(); }); });
    inst->insert_mutex.unlock();
  }
  mutex_.unlock();
}

void instrument_registry::after_fork_in_child() noexcept {
  // The child starts from zero: what the parent recorded is the parent's to export, and the
  // child's cumulative points start at the fork.
  const std::uint64_t now = now_unix_nano();
  for (instrument* inst : instruments_) {
    for_each_series(inst, [inst, now](series& s) {
      s.created_unix_nano = now;
      if (s.cells)
        for (std::uint32_t k = 0; k < 2 * shard_count(); ++k) {
          s.cells[k].i.store(0, std::memory_order_relaxed);
          s.cells[k].d.store(0, std::memory_order_relaxed);
          s.cells[k].touched.store(0, std::memory_order_relaxed);
        }
      s.collected.owner_totals.fill(0);
      s.gauge.touched.store(0, std::memory_order_relaxed);
      for_each_shard(s, [inst](histogram_shard& h) {
        h.data.reset(inst->hist);
        h.lock.unlock();
      });
      s.collected.seen = false;
      s.collected.total_i = 0;
      s.collected.total_d = 0;
      s.collected.hist_ready = false;
    });
    inst->insert_mutex.unlock();
  }
  release_owned_cells_after_fork(shard_count());
  mutex_.unlock();
}

// ---- lookup ----

series* find_series(instrument* inst, std::span<const arg> args) noexcept {
  if (args.empty()) {
    if (series* s = inst->empty_set.load(std::memory_order_acquire)) [[likely]]
      return s;
  } else if (std::uint64_t h; hash_args(args, h)) [[likely]] {
    if (series* s = probe(inst, h, [args](const series& found) { return args_equal(args, found.attrs); })) [[likely]]
      return s;
    // Full, and these plain distinct keys name no existing set: the overflow point, without
    // building the set (an overflow storm costs no allocation).
    if (inst->full.load(std::memory_order_acquire) && keys_distinct(args)) {
      inst->overflowed.fetch_add(1, std::memory_order_relaxed);
      return inst->overflow;
    }
  }
  // First sight of this set, or values that need canonicalizing (null, arrays, big unsigned).
  try {
    std::uint64_t dropped = 0;
    attribute_set set = attribute_set::from_args(args, dropped);
    if (dropped) inst->attributes_dropped.fetch_add(dropped, std::memory_order_relaxed);
    return find_or_create(inst, std::move(set));
  } catch (...) {
    inst->overflowed.fetch_add(1, std::memory_order_relaxed);
    return inst->overflow;
  }
}

series* find_series(instrument* inst, const attribute_set& set) noexcept {
  try {
    return find_or_create(inst, set);
  } catch (...) {
    inst->overflowed.fetch_add(1, std::memory_order_relaxed);
    return inst->overflow;
  }
}

instrument_counters sum_instrument_counters() noexcept {
  instrument_counters c;
  try {
    for (instrument* inst : instrument_registry::instance().snapshot()) {
      c.rejected += inst->rejected.load(std::memory_order_relaxed);
      c.overflowed += inst->overflowed.load(std::memory_order_relaxed);
      c.attributes_dropped += inst->attributes_dropped.load(std::memory_order_relaxed);
    }
  } catch (...) {
  }
  return c;
}

// ---- the public recording entry points ----

instrument* register_instrument(instrument_type type, value_kind vk, std::string_view name, std::string_view unit,
                                std::string_view description, std::uint32_t cardinality_limit) noexcept {
  try {
    return instrument_registry::instance().find_or_add(type, vk, name, unit, description, cardinality_limit, nullptr);
  } catch (...) {
    return nullptr;  // out of memory at registration: the handle records nothing
  }
}

instrument* register_histogram(std::string_view name, const histogram_options& opts) noexcept {
  try {
    histogram_config cfg;
    if (opts.explicit_bounds.size() != 0) {
      cfg.exponential = false;
      cfg.bounds.assign(opts.explicit_bounds.begin(), opts.explicit_bounds.end());
      bool valid = true;
      for (std::size_t i = 0; i < cfg.bounds.size(); ++i)
        if (!std::isfinite(cfg.bounds[i]) || (i > 0 && !(cfg.bounds[i] > cfg.bounds[i - 1]))) valid = false;
      if (!valid) {
        std::fprintf(stderr,
                     "logfire: histogram '%.*s' has explicit bounds that are not strictly increasing finite numbers; "
                     "using exponential buckets instead\n",
                     static_cast<int>(name.size()), name.data());
        cfg.exponential = true;
        cfg.bounds.clear();
      }
    }
    if (opts.max_buckets) cfg.max_size = std::max<std::uint32_t>(opts.max_buckets, 4);
    if (opts.max_scale) cfg.max_scale = std::clamp(opts.max_scale, 1, expo::k_max_scale);
    return instrument_registry::instance().find_or_add(instrument_type::histogram, value_kind::float64, name, opts.unit,
                                                       opts.description, opts.cardinality_limit, &cfg);
  } catch (...) {
    return nullptr;
  }
}

void reject(instrument* inst) noexcept {
  if (inst) inst->rejected.fetch_add(1, std::memory_order_relaxed);
}

void add(instrument* inst, std::int64_t v, std::initializer_list<arg> attrs) noexcept {
  if (v < 0 && inst->type == instrument_type::counter) [[unlikely]]
    return reject(inst);
  add_to_cell(target_of(find_series(inst, std::span<const arg>(attrs.begin(), attrs.size()))), v);
}

void add(instrument* inst, double v, std::initializer_list<arg> attrs) noexcept {
  const double lo = inst->type == instrument_type::counter ? 0.0 : -std::numeric_limits<double>::max();
  if (!(v >= lo && v <= std::numeric_limits<double>::max())) [[unlikely]]
    return reject(inst);
  add_to_cell(target_of(find_series(inst, std::span<const arg>(attrs.begin(), attrs.size()))), v);
}

namespace {

// Shard k of a histogram series, allocated and published on first use (a losing racer frees its
// own). Null when out of memory.
[[gnu::noinline]] histogram_shard* make_histogram_shard(series* s, std::uint32_t k) noexcept {
  histogram_shard* h = nullptr;
  try {
    histogram_shard* fresh = new_histogram_shard(s->inst->hist);
    if (s->shards[k].compare_exchange_strong(h, fresh, std::memory_order_acq_rel, std::memory_order_acquire))
      return fresh;
    fresh->~histogram_shard();
    ::operator delete (fresh, std::align_val_t{alignof(histogram_shard)});
    return h;
  } catch (...) {
    return nullptr;
  }
}

}  // namespace

bound_target bind(instrument* inst, std::initializer_list<arg> attrs) noexcept {
  series* s = find_series(inst, std::span<const arg>(attrs.begin(), attrs.size()));
  // A bound histogram gets every shard now, so that no thread's record through the handle ever
  // allocates (K shards of 64 bytes plus 8 per bucket each; unbound series allocate a shard on
  // its first record instead, which keeps series that only one thread records small).
  if (s->shards)
    for (std::uint32_t k = 0; k < shard_count(); ++k)
      if (!s->shards[k].load(std::memory_order_acquire)) make_histogram_shard(s, k);
  return target_of(s);
}

void record(series* s, double v) noexcept {
  if (!s) return;
  instrument* inst = s->inst;
  if (!(v >= 0 && v <= std::numeric_limits<double>::max())) [[unlikely]]
    return reject(inst);
  const std::uint32_t k = metric_shard() & (shard_count() - 1);
  histogram_shard* h = s->shards[k].load(std::memory_order_acquire);
  if (!h) [[unlikely]] {
    h = make_histogram_shard(s, k);  // first record from this shard of an unbound series
    if (!h) return reject(inst);
  }
  h->lock.lock();
  h->data.record(inst->hist, v);
  h->lock.unlock();
}

void record(instrument* inst, double v, std::initializer_list<arg> attrs) noexcept {
  if (!(v >= 0 && v <= std::numeric_limits<double>::max())) [[unlikely]]
    return reject(inst);
  record(find_series(inst, std::span<const arg>(attrs.begin(), attrs.size())), v);
}

void set(instrument* inst, std::int64_t v, std::initializer_list<arg> attrs) noexcept {
  gauge_cell& g = find_series(inst, std::span<const arg>(attrs.begin(), attrs.size()))->gauge;
  g.bits.store(static_cast<std::uint64_t>(v), std::memory_order_relaxed);
  g.touched.store(1, std::memory_order_release);
}

void set(instrument* inst, double v, std::initializer_list<arg> attrs) noexcept {
  if (!(v >= -std::numeric_limits<double>::max() && v <= std::numeric_limits<double>::max())) [[unlikely]]
    return reject(inst);
  gauge_cell& g = find_series(inst, std::span<const arg>(attrs.begin(), attrs.size()))->gauge;
  g.bits.store(std::bit_cast<std::uint64_t>(v), std::memory_order_relaxed);
  g.touched.store(1, std::memory_order_release);
}

}  // namespace detail
}  // namespace logfire
