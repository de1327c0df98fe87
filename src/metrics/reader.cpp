// The metrics reader: collection (drain the cells, run the callbacks, apply temporality), export
// and accounting. Everything here runs on the reader's thread, or on the caller of shutdown()
// once that thread has stopped; run_mutex_ keeps runs one at a time.
#include "metrics/reader.hpp"

#include <pthread.h>

#include <algorithm>
#include <bit>
#include <string>
#include <type_traits>
#include <variant>

#include "context/ids.hpp"
#include "metrics/instruments.hpp"
#include "metrics/observable.hpp"

#ifndef LOGFIRE_VERSION
#define LOGFIRE_VERSION "0.0.0"
#endif

namespace logfire::detail {

// What one collection produced, with the storage its views point into.
struct collection {
  std::uint64_t time = 0;
  // A delta point taken out of its cells and not yet stored in the vectors below (0 or 1): lost
  // with them if storing it fails.
  std::uint64_t in_hand = 0;
  std::vector<metric_data> metrics;
  std::vector<number_point> numbers;
  std::vector<histogram_point> histograms;
  std::vector<exponential_histogram_point> exponentials;
  std::vector<std::vector<std::uint64_t>> bucket_storage;  // inner buffers never move
  std::vector<attribute_set> owned_sets;                   // observed attribute sets (their views survive moves)
  std::vector<attribute> resource;
  struct range {
    std::size_t first = 0;
    std::size_t count = 0;
  };
  std::vector<range> ranges;  // per metric, into the vector its type uses

  // Starts a metric; its points are the ones added until the next begin().
  void begin(std::string_view name, std::string_view description, std::string_view unit, metric_kind kind,
             metric_data_type type, aggregation_temporality temporality, bool monotonic) {
    metric_data m;
    m.name = name;
    m.description = description;
    m.unit = unit;
    m.kind = kind;
    m.type = type;
    m.temporality = type == metric_data_type::gauge ? aggregation_temporality::unspecified : temporality;
    m.monotonic = monotonic;
    metrics.push_back(m);
    range r;
    r.first = type == metric_data_type::histogram               ? histograms.size()
              : type == metric_data_type::exponential_histogram ? exponentials.size()
                                                                : numbers.size();
    ranges.push_back(r);
  }
  // Ends the current metric, dropping it when it got no points.
  void end() {
    range& r = ranges.back();
    switch (metrics.back().type) {
      case metric_data_type::histogram:
        r.count = histograms.size() - r.first;
        break;
      case metric_data_type::exponential_histogram:
        r.count = exponentials.size() - r.first;
        break;
      default:
        r.count = numbers.size() - r.first;
    }
    if (r.count == 0) {
      metrics.pop_back();
      ranges.pop_back();
    }
  }

  [[nodiscard]] metric_batch batch() {
    for (std::size_t m = 0; m < metrics.size(); ++m) {
      const range r = ranges[m];
      switch (metrics[m].type) {
        case metric_data_type::sum:
        case metric_data_type::gauge:
          metrics[m].numbers = std::span<const number_point>(numbers.data() + r.first, r.count);
          break;
        case metric_data_type::histogram:
          metrics[m].histograms = std::span<const histogram_point>(histograms.data() + r.first, r.count);
          break;
        case metric_data_type::exponential_histogram:
          metrics[m].exponential_histograms =
              std::span<const exponential_histogram_point>(exponentials.data() + r.first, r.count);
          break;
      }
    }
    metric_batch b;
    b.resource = resource;
    b.scope_name = "logfire";
    b.scope_version = LOGFIRE_VERSION;
    b.metrics = metrics;
    return b;
  }
};

// When the last collection ended, by whichever reader: where the next delta interval starts.
// The instruments' cells (and their cumulative totals) outlive a reader, so the intervals do too:
// after a reconfiguration the new reader's first delta points start where the old reader's last
// ones ended. Written by the reader running a collection (one at a time, as configure() keeps one
// reader); a child process after fork() starts a new interval at the fork.
std::atomic<std::uint64_t> g_interval_start{0};

// The reader whose counters metrics_stats() shows, and the last one's final figures.
std::mutex g_active_mutex;
metric_reader* g_active = nullptr;
metric_stats g_last_stats{};

// Readers whose thread runs (between start() and shutdown()), for the fork handlers.
std::mutex& running_mutex() {
  static std::mutex* m = new std::mutex;  // never destroyed: fork handlers outlive statics
  return *m;
}
std::vector<metric_reader*>& running_readers() {
  static auto* v = new std::vector<metric_reader*>;
  return *v;
}

void metric_readers_before_fork() noexcept {
  running_mutex().lock();
  for (metric_reader* r : running_readers()) r->before_fork();
}
void metric_registries_before_fork() noexcept {
  observable_registry::instance().before_fork();
  instrument_registry::instance().before_fork();
}
void metric_registries_after_fork_in_parent() noexcept {
  instrument_registry::instance().after_fork_in_parent();
  observable_registry::instance().after_fork();
}
void metric_readers_after_fork_in_parent() noexcept {
  for (metric_reader* r : running_readers()) r->after_fork_in_parent();
  running_mutex().unlock();
}
void metric_registries_after_fork_in_child() noexcept {
  g_interval_start.store(now_unix_nano(), std::memory_order_relaxed);
  instrument_registry::instance().after_fork_in_child();
  observable_registry::instance().after_fork();
}
void metric_readers_after_fork_in_child() noexcept {
  for (metric_reader* r : running_readers()) r->after_fork_in_child();
  running_mutex().unlock();
}

namespace {
// Set once the setup layer's fork handlers (registered after ours, so their prepare step runs
// first) call the steps above themselves; ours then do nothing.
std::atomic<bool> g_fork_by_caller{false};
// Whether this thread's fork() in progress is handled by our own handlers: decided in the prepare
// step, since g_fork_by_caller may change before the parent or child step runs.
thread_local bool t_fork_handled_here = false;
}  // namespace

void install_metrics_fork_handlers() noexcept {
  static std::once_flag once;
  std::call_once(once, [] {
    pthread_atfork(
        [] {
          t_fork_handled_here = !g_fork_by_caller.load(std::memory_order_acquire);
          if (!t_fork_handled_here) return;
          metric_readers_before_fork();
          metric_registries_before_fork();
        },
        [] {
          if (!t_fork_handled_here) return;
          metric_registries_after_fork_in_parent();
          metric_readers_after_fork_in_parent();
        },
        [] {
          if (!t_fork_handled_here) return;
          metric_registries_after_fork_in_child();
          metric_readers_after_fork_in_child();
        });
  });
}

void metrics_fork_handled_by_caller() noexcept {
  g_fork_by_caller.store(true, std::memory_order_release);
}

namespace {

metric_kind kind_of(instrument_type t) noexcept {
  switch (t) {
    case instrument_type::counter:
      return metric_kind::counter;
    case instrument_type::up_down_counter:
      return metric_kind::up_down_counter;
    case instrument_type::histogram:
      return metric_kind::histogram;
    case instrument_type::gauge:
      break;
  }
  return metric_kind::gauge;
}

std::vector<attribute> resource_view(const resource& res) {
  std::vector<attribute> out;
  out.reserve(res.attributes.size());
  for (const resource_attribute& a : res.attributes) {
    attribute kv{a.key, {}};
    std::visit(
        [&kv](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            kv.value.type = attribute_value::kind::string;
            kv.value.s = v;
          } else if constexpr (std::is_same_v<T, bool>) {
            kv.value.type = attribute_value::kind::boolean;
            kv.value.b = v;
          } else if constexpr (std::is_same_v<T, std::int64_t>) {
            kv.value.type = attribute_value::kind::int64;
            kv.value.i = v;
          } else {
            kv.value.type = attribute_value::kind::float64;
            kv.value.d = v;
          }
        },
        a.value);
    out.push_back(kv);
  }
  return out;
}

// The histogram point of `h` (exponential or explicit), with its own copy of the buckets.
void add_histogram_point(collection& c, const instrument& inst, const series& s, const histogram_data& h,
                         std::uint64_t start) {
  if (inst.hist.exponential) {
    exponential_histogram_point p;
    p.attributes = s.attrs.view();
    p.start_unix_nano = start;
    p.time_unix_nano = c.time;
    p.count = h.count;
    p.sum = h.sum;
    p.min = h.min;
    p.max = h.max;
    p.scale = h.positive.scale;
    p.zero_count = h.zero_count;
    p.positive_offset = h.positive.offset;
    auto& counts = c.bucket_storage.emplace_back(h.positive.counts, h.positive.counts + h.positive.len);
    p.positive_counts = counts;
    c.exponentials.push_back(p);
  } else {
    histogram_point p;
    p.attributes = s.attrs.view();
    p.start_unix_nano = start;
    p.time_unix_nano = c.time;
    p.count = h.count;
    p.sum = h.sum;
    p.min = h.min;
    p.max = h.max;
    p.explicit_bounds = inst.hist.bounds;
    auto& counts = c.bucket_storage.emplace_back(h.explicit_counts, h.explicit_counts + inst.hist.bounds.size() + 1);
    p.bucket_counts = counts;
    c.histograms.push_back(p);
  }
}

number_point number(const series& s, std::uint64_t start, std::uint64_t time, value_kind vk, std::int64_t i, double d) {
  number_point p;
  p.attributes = s.attrs.view();
  p.start_unix_nano = start;
  p.time_unix_nano = time;
  p.is_double = vk == value_kind::float64;
  p.as_int = i;
  p.as_double = d;
  return p;
}

// Drains one synchronous instrument into `c`. `interval_start` is where delta points begin.
// One function for the four kinds because they share the walk over series and the choice
// between delta and cumulative; each case is the kind's drain and its temporality.
void collect_instrument(collection& c, instrument& inst, aggregation_temporality t, std::uint64_t interval_start) {
  const std::uint32_t shards = shard_count();
  const bool cumulative = t == aggregation_temporality::cumulative;
  const std::uint64_t delta_start = std::max(interval_start, inst.created_unix_nano);
  metric_data_type type = metric_data_type::sum;
  if (inst.type == instrument_type::gauge) type = metric_data_type::gauge;
  if (inst.type == instrument_type::histogram)
    type = inst.hist.exponential ? metric_data_type::exponential_histogram : metric_data_type::histogram;
  c.begin(inst.name, inst.description, inst.unit, kind_of(inst.type), type, t, inst.type == instrument_type::counter);

  histogram_state interval;  // reused for every series of a histogram
  if (inst.type == instrument_type::histogram) interval.init(inst.hist);

  auto drain = [&](series& s) {
    auto& st = s.collected;
    switch (inst.type) {
      case instrument_type::counter:
      case instrument_type::up_down_counter: {
        bool touched = false;
        std::int64_t i = 0;
        double d = 0;
        for (std::uint32_t k = 0; k < 2 * shards; ++k) {
          touched |= s.cells[k].touched.exchange(0, std::memory_order_relaxed) != 0;
          if (k < shards) {
            // An owner cell: a running total its one writer keeps adding to; take the increase.
            const std::int64_t total = s.cells[k].i.load(std::memory_order_relaxed);
            i = wrapping_add(i, wrapping_add(total, wrapping_neg(st.owner_totals[k])));
            st.owner_totals[k] = total;
          } else {
            i = wrapping_add(i, s.cells[k].i.exchange(0, std::memory_order_relaxed));
          }
          d += s.cells[k].d.exchange(0, std::memory_order_relaxed);
        }
        touched |= i != 0 || d != 0;
        if (cumulative) {
          if (touched) {
            st.seen = true;
            st.total_i = wrapping_add(st.total_i, i);
            st.total_d += d;
          }
          if (st.seen) c.numbers.push_back(number(s, s.created_unix_nano, c.time, inst.vk, st.total_i, st.total_d));
        } else if (touched) {
          c.in_hand = 1;
          c.numbers.push_back(number(s, delta_start, c.time, inst.vk, i, d));
          c.in_hand = 0;
        }
        break;
      }
      case instrument_type::gauge: {
        if (s.gauge.touched.exchange(0, std::memory_order_acquire)) {
          st.seen = true;
          st.last_bits = s.gauge.bits.load(std::memory_order_relaxed);
          c.numbers.push_back(number(s, 0, c.time, inst.vk, static_cast<std::int64_t>(st.last_bits),
                                     std::bit_cast<double>(st.last_bits)));
        } else if (cumulative && st.seen) {
          c.numbers.push_back(number(s, 0, c.time, inst.vk, static_cast<std::int64_t>(st.last_bits),
                                     std::bit_cast<double>(st.last_bits)));
        }
        break;
      }
      case instrument_type::histogram: {
        interval.data.reset(inst.hist);
        for (std::uint32_t k = 0; k < shards; ++k) {
          histogram_shard* h = s.shards[k].load(std::memory_order_acquire);
          if (!h) continue;
          h->lock.lock();
          interval.data.merge(inst.hist, h->data);
          h->data.reset(inst.hist);
          h->lock.unlock();
        }
        if (cumulative) {
          if (interval.data.count) {
            if (!st.hist_ready) {
              st.hist.init(inst.hist);
              st.hist_ready = true;
            }
            st.seen = true;
            st.hist.data.merge(inst.hist, interval.data);
          }
          if (st.seen) add_histogram_point(c, inst, s, st.hist.data, s.created_unix_nano);
        } else if (interval.data.count) {
          c.in_hand = 1;
          add_histogram_point(c, inst, s, interval.data, delta_start);
          c.in_hand = 0;
        }
        break;
      }
    }
  };
  const std::uint32_t n = inst.count.load(std::memory_order_acquire);
  for (std::uint32_t k = 0; k < n; ++k) drain(*inst.all[k]);
  drain(*inst.overflow);
  c.end();
}

}  // namespace

observable_counters& observable_totals() noexcept {
  static observable_counters c;
  return c;
}

void point_counter::dropped(drop_reason reason, std::uint64_t n, std::string_view detail) noexcept {
  const auto r = static_cast<std::size_t>(reason);
  dropped_[r].fetch_add(n, std::memory_order_relaxed);
  if (detail.empty()) return;
  try {
    std::lock_guard lock(mutex_);
    if (detail_[r].empty()) detail_[r] = std::string(detail.substr(0, 300));
  } catch (...) {
  }
}

void point_counter::replay_dropped(drop_reason reason, std::uint64_t n, std::string_view detail) noexcept {
  (void)detail;  // the spool's own lines name the files
  replay_dropped_[static_cast<std::size_t>(reason)].fetch_add(n, std::memory_order_relaxed);
}

std::uint64_t point_counter::in_spool() const noexcept {
  // spooled is reported before the write, so this never goes below zero for long.
  const std::uint64_t in = spooled_.load(std::memory_order_relaxed);
  const std::uint64_t out = unspooled_.load(std::memory_order_relaxed) + taken_over_.load(std::memory_order_relaxed);
  return in > out ? in - out : 0;
}

void point_counter::fill(exporter_stats& e, replay_stats& replayed) const noexcept {
  e.exported = delivered_count();
  for (std::size_t r = 0; r < drop_reason_count; ++r) {
    e.dropped[r] = dropped_count(r);
    replayed.dropped[r] += replay_dropped_[r].load(std::memory_order_relaxed);
  }
  e.in_spool = in_spool();
  e.spool_taken_over = taken_over_count();
  replayed.exported += replay_delivered_.load(std::memory_order_relaxed);
}

std::string point_counter::detail(std::size_t reason) const {
  std::lock_guard lock(mutex_);
  return detail_[reason];
}

metric_reader::metric_reader(metric_reader_settings settings) : settings_(std::move(settings)) {
  if (settings_.interval.count() <= 0) settings_.interval = std::chrono::milliseconds(60000);
  if (settings_.timeout.count() <= 0) settings_.timeout = std::chrono::milliseconds(30000);
  for (std::size_t i = 0; i < settings_.exporters.size(); ++i) counters_.push_back(std::make_unique<point_counter>());
}

metric_reader::~metric_reader() {
  shutdown(clock::now() + std::chrono::seconds(5));
  delete ctl_;
}

void metric_reader::start() {
  std::lock_guard lock(ctl_->mutex);
  if (ctl_->started) return;
  ctl_->started = true;
  for (std::size_t i = 0; i < settings_.exporters.size(); ++i)
    if (settings_.exporters[i]) settings_.exporters[i]->start(*counters_[i]);
  install_metrics_fork_handlers();
  {
    std::lock_guard running(running_mutex());
    thread_ = std::thread([this] { loop(); });
    running_readers().push_back(this);
  }
  std::lock_guard active(g_active_mutex);
  g_active = this;
}

void metric_reader::loop() {
  control& c = *ctl_;  // this thread's control (a child after fork() starts a new thread on a new one)
  std::unique_lock lock(c.mutex);
  auto next = clock::now() + settings_.interval;
  while (!c.stop) {
    c.wake.wait_until(lock, next, [&c] { return c.stop || c.flush_requested > c.flush_done; });
    if (c.stop) break;
    const bool flush = c.flush_requested > c.flush_done;
    if (!flush && clock::now() < next) continue;
    const std::uint64_t target = c.flush_requested;
    const clock::time_point deadline = flush ? c.flush_deadline : clock::now() + settings_.timeout;
    lock.unlock();
    // A periodic run too waits for its exporters' delivery, until export_timeout at most (as the
    // periodic reader of the SDK specification does), so that collections do not outrun them.
    const bool ok = run(deadline, true);
    lock.lock();
    if (flush) {
      c.flush_done = target;
      c.flush_ok = ok;
      c.done.notify_all();
    }
    next = clock::now() + settings_.interval;
  }
}

namespace {
thread_local const metric_reader* t_collecting = nullptr;  // the reader running on this thread
}

bool on_metric_reader_thread() noexcept {
  return t_collecting != nullptr;
}

bool metric_reader::force_flush(clock::time_point deadline) noexcept {
  if (t_collecting == this) return true;  // from a callback: the run in progress delivers
  try {
    control& c = *ctl_;
    std::unique_lock lock(c.mutex);
    if (c.forking) return false;
    if (c.started && !c.stop) {
      const std::uint64_t target = ++c.flush_requested;
      c.flush_deadline = deadline;
      c.wake.notify_all();
      if (!c.done.wait_until(lock, deadline, [&] { return c.flush_done >= target || c.stop || c.forking; }))
        return false;
      return c.flush_done >= target ? c.flush_ok : !c.forking;
    }
    if (c.stopped) return true;
    lock.unlock();
    return run(deadline, true);  // never started (tests): run here
  } catch (...) {
    return false;
  }
}

bool metric_reader::shutdown(clock::time_point deadline) noexcept {
  {
    std::lock_guard lock(ctl_->mutex);
    if (ctl_->stopped) return true;
    ctl_->stopped = true;
    ctl_->stop = true;
    if (!ctl_->started) return true;  // never ran: nothing collected, exporters never started
  }
  ctl_->wake.notify_all();
  ctl_->done.notify_all();
  {
    // Out of the fork handlers' list first: a fork from now on leaves this reader alone.
    std::lock_guard running(running_mutex());
    auto& list = running_readers();
    list.erase(std::remove(list.begin(), list.end(), this), list.end());
  }
  if (thread_.joinable()) thread_.join();
  bool ok = run(deadline, false);
  for (auto& e : settings_.exporters)
    if (e) ok = e->shutdown(deadline) && ok;
  report_diagnostics();
  std::lock_guard active(g_active_mutex);
  g_last_stats = stats();
  if (g_active == this) g_active = nullptr;
  return ok;
}

void metric_reader::add_resource_attributes(const resource& additions) {
  std::lock_guard lock(resource_mutex_);
  for (const resource_attribute& a : additions.attributes) settings_.res.set(a.key, a.value);
}

bool metric_reader::run(clock::time_point deadline, bool flush_exporters) noexcept {
  std::lock_guard run_lock(run_mutex_);
  if (settings_.exporters.empty()) return true;  // nothing would take the points: keep them in the cells
  const metric_reader* const outer = t_collecting;
  t_collecting = this;
  bool ok = true;
  collection c;
  try {
    collect(c);
    const metric_batch batch = c.batch();
    const std::size_t points = batch.point_count();
    collections_.fetch_add(1, std::memory_order_relaxed);
    if (points) {
      points_produced_.fetch_add(points, std::memory_order_relaxed);
      for (auto& e : settings_.exporters)
        if (e) e->export_metrics(batch);
    }
  } catch (...) {
    // Out of memory while collecting: the cells keep what was not drained; what was drained
    // (the points already in the collection, and one taken from its cells but not stored yet)
    // is produced and lost.
    ok = false;
    const std::uint64_t lost = c.numbers.size() + c.histograms.size() + c.exponentials.size() + c.in_hand;
    if (lost > 0) {
      points_produced_.fetch_add(lost, std::memory_order_relaxed);
      own_.dropped(drop_reason::internal_error, lost,
                   "out of memory part-way through a metrics collection: the points drained so far were lost");
    }
  }
  if (flush_exporters)
    for (auto& e : settings_.exporters)
      if (e) ok = e->force_flush(deadline) && ok;
  t_collecting = outer;
  report_diagnostics();
  return ok;
}

void metric_reader::collect(collection& c) {
  c.time = now_unix_nano();
  const std::uint64_t interval_start = g_interval_start.load(std::memory_order_relaxed);
  {
    std::lock_guard lock(resource_mutex_);
    c.resource = resource_view(settings_.res);
  }
  for (instrument* inst : instrument_registry::instance().snapshot())
    collect_instrument(c, *inst, temporality_for(kind_of(inst->type), settings_.preference), interval_start);

  // Observable instruments: callbacks run here, with no SDK lock held.
  for (auto& item : observable_registry::instance().snapshot()) {
    observation_sink sink;
    sink.inst = item.inst;
    sink.limit = item.inst->limit;
    for (auto& cb : item.callbacks) {
      // Each callback writes into its own sink first, so that a throwing callback loses only
      // its own observations.
      observation_sink own;
      own.inst = item.inst;
      own.limit = item.inst->limit;
      if (!run_callback(*cb, own)) {
        callback_errors_.fetch_add(1, std::memory_order_relaxed);
        errored_instrument_ = item.inst->name;
        continue;
      }
      sink.absorb(std::move(own));
    }
    collect_observable(c, *item.inst, sink, interval_start);
  }
  g_interval_start.store(c.time, std::memory_order_relaxed);
}

void metric_reader::collect_observable(collection& c, observable_instrument& inst, observation_sink& sink,
                                       std::uint64_t interval_start) {
  observable_counters& totals = observable_totals();
  totals.rejected.fetch_add(sink.rejected, std::memory_order_relaxed);
  totals.overflowed.fetch_add(sink.overflowed, std::memory_order_relaxed);
  totals.attributes_dropped.fetch_add(sink.attributes_dropped, std::memory_order_relaxed);
  inst.overflowed += sink.overflowed;

  const aggregation_temporality t = temporality_for(inst.kind, settings_.preference);
  const bool gauge = inst.kind == metric_kind::observable_gauge;
  c.begin(inst.name, inst.description, inst.unit, inst.kind, gauge ? metric_data_type::gauge : metric_data_type::sum, t,
          inst.kind == metric_kind::observable_counter);
  // A set seen for the first time starts at the previous collection (or the instrument's
  // creation); cumulative points repeat that start, delta points start at the previous collection.
  const std::uint64_t fresh_start = std::max(interval_start, inst.created_unix_nano);
  decltype(inst.history) next;
  auto emit = [&](attribute_set&& set, const observation& o) {
    number_point p;
    p.time_unix_nano = c.time;
    p.is_double = o.is_double;
    p.as_int = o.i;
    p.as_double = o.d;
    if (!gauge) {
      const observable_instrument::previous* prev = nullptr;
      if (auto it = inst.history.find(set.hash()); it != inst.history.end())
        for (const auto& [s, v] : it->second)
          if (s == set) prev = &v;
      const std::uint64_t start = prev ? prev->start_unix_nano : fresh_start;
      next[set.hash()].emplace_back(set, observable_instrument::previous{o.is_double, o.i, o.d, start});
      p.start_unix_nano = start;
      if (t == aggregation_temporality::delta) {
        p.start_unix_nano = fresh_start;
        // The increase since the previous observation; a total that went down (a restart of
        // whatever is counted) starts over, so its whole value is the increase.
        if (prev) {
          if (o.is_double || prev->is_double) {
            const double now_v = o.is_double ? o.d : static_cast<double>(o.i);
            const double prev_v = prev->is_double ? prev->d : static_cast<double>(prev->i);
            p.is_double = true;
            p.as_double = now_v >= prev_v ? now_v - prev_v : now_v;
          } else {
            p.as_int = o.i >= prev->i ? wrapping_add(o.i, wrapping_neg(prev->i)) : o.i;
          }
        }
      }
    }
    c.owned_sets.push_back(std::move(set));
    p.attributes = c.owned_sets.back().view();
    c.numbers.push_back(p);
  };
  for (observation& o : sink.observed) emit(std::move(o.attrs), o);
  if (sink.has_overflow) emit(attribute_set(overflow_attributes()), sink.overflow);
  inst.history = std::move(next);
  c.end();
}

// Longer than a screen because it is a list: one block per kind of explanation (overflow per
// instrument, rejected measurements, dropped attributes, callback errors, points lost per reason).
void metric_reader::report_diagnostics() {
  // Called at the end of a run (run_mutex_ held). Instruments' "explained" flags are shared by
  // every reader, hence the lock.
  static std::mutex explained_mutex;
  std::lock_guard lock(explained_mutex);
  std::FILE* out = settings_.diagnostics;
  if (!out) return;
  auto line = [out](const std::string& text) {
    std::fputs(text.c_str(), out);
    std::fflush(out);
  };
  const auto now = clock::now();
  for (instrument* inst : instrument_registry::instance().snapshot()) {
    if (inst->overflow_explained || inst->overflowed.load(std::memory_order_relaxed) == 0) continue;
    inst->overflow_explained = true;
    line("logfire: metric '" + inst->name + "' reached its cardinality limit of " + std::to_string(inst->limit) +
         " attribute sets; measurements with further sets are aggregated into one point with "
         "otel.metric.overflow=true; record fewer distinct attribute values or raise "
         "metric_options.cardinality_limit\n");
  }
  for (auto& item : observable_registry::instance().snapshot()) {
    observable_instrument& inst = *item.inst;
    if (inst.overflow_explained || inst.overflowed == 0) continue;
    inst.overflow_explained = true;
    line("logfire: metric '" + inst.name + "' observed more than its cardinality limit of " +
         std::to_string(inst.limit) +
         " attribute sets in one collection; the others are aggregated into one point with "
         "otel.metric.overflow=true; observe fewer distinct attribute values or raise "
         "metric_options.cardinality_limit\n");
  }
  const instrument_counters ic = sum_instrument_counters();
  const std::uint64_t rejected = ic.rejected + observable_totals().rejected.load(std::memory_order_relaxed);
  if (rejected != reported_rejected_ &&
      (reported_rejected_ == 0 || now - last_rejected_line_ >= std::chrono::minutes(1))) {
    const bool first = reported_rejected_ == 0;
    line("logfire: " + std::to_string(rejected) + (first ? " metric measurement" : " metric measurements so far") +
         (first && rejected != 1 ? "s" : "") +
         " rejected: counters and histograms take values >= 0, and every instrument finite values (not NaN or "
         "infinite); see metrics_stats().measurements_rejected\n");
    reported_rejected_ = rejected;
    last_rejected_line_ = now;
  }
  const std::uint64_t dropped_attrs =
      ic.attributes_dropped + observable_totals().attributes_dropped.load(std::memory_order_relaxed);
  if (dropped_attrs && !attributes_explained_) {
    attributes_explained_ = true;
    line("logfire: " + std::to_string(dropped_attrs) +
         " metric attribute value(s) dropped: metric attributes take booleans, integers, floating-point numbers and "
         "strings (not null, arrays or objects)\n");
  }
  if (!callback_error_explained_ && callback_errors_.load(std::memory_order_relaxed)) {
    callback_error_explained_ = true;
    line("logfire: a callback of metric '" + errored_instrument_ +
         "' threw an exception; its observations of that collection are lost (counted in "
         "metrics_stats().callback_errors)\n");
  }
  for (std::size_t r = 0; r < drop_reason_count; ++r) {
    std::uint64_t n = 0;
    std::string detail;
    n += own_.dropped_count(r);
    detail = own_.detail(r);
    for (const auto& ctr : counters_) {
      n += ctr->dropped_count(r);
      if (detail.empty()) detail = ctr->detail(r);
    }
    if (n == reported_drops_[r]) continue;
    const bool first = reported_drops_[r] == 0;
    if (!first && now - last_drop_line_[r] < std::chrono::minutes(1)) continue;
    std::string text = "logfire: " + std::to_string(n) + (first ? " metric point" : " metric points so far") +
                       (first && n != 1 ? "s" : "") + " (" + std::string(to_string(static_cast<drop_reason>(r))) +
                       ") not delivered";
    if (first && !detail.empty()) text += ": " + detail;
    line(text + "\n");
    reported_drops_[r] = n;
    last_drop_line_[r] = now;
  }
}

metric_stats metric_reader::stats() const {
  metric_stats s;
  s.collections = collections_.load(std::memory_order_relaxed);
  s.points_produced = points_produced_.load(std::memory_order_relaxed);
  s.callback_errors = callback_errors_.load(std::memory_order_relaxed);
  for (std::size_t r = 0; r < drop_reason_count; ++r) s.points_dropped[r] = own_.dropped_count(r);
  for (std::size_t i = 0; i < counters_.size(); ++i) {
    exporter_stats e;
    e.destination = settings_.exporters[i] && settings_.exporters[i]->is_destination();
    if (settings_.exporters[i]) e.name = settings_.exporters[i]->name();
    counters_[i]->fill(e, s.replayed);
    if (e.destination) s.points_exported += e.exported;
    for (std::size_t r = 0; r < drop_reason_count; ++r) s.points_dropped[r] += e.dropped[r];
    s.points_in_spool += e.in_spool;
    s.points_spool_taken_over += e.spool_taken_over;
    s.exporters.push_back(std::move(e));
  }
  return s;
}

void metric_reader::before_fork() noexcept {
  // A thread waiting in force_flush() (perhaps holding a lock fork() also needs) gives up
  // rather than wait for a collection that cannot run until the fork is over.
  {
    std::lock_guard lock(ctl_->mutex);
    ctl_->forking = true;
  }
  ctl_->done.notify_all();
  run_mutex_.lock();  // no collection in progress (callbacks finished, cells not half-drained)
  resource_mutex_.lock();
}

void metric_reader::after_fork_in_parent() noexcept {
  resource_mutex_.unlock();
  run_mutex_.unlock();
  std::lock_guard lock(ctl_->mutex);
  ctl_->forking = false;
}

void metric_reader::after_fork_in_child() noexcept {
  // Only the forking thread exists: forget the parent's reader thread without touching it, and
  // its control (another parent thread may have held that mutex); start anew. Exporters restart
  // their own threads. The child's counts start from zero.
  control* fresh = new control;
  fresh->started = ctl_->started;
  fresh->stop = ctl_->stop;
  fresh->stopped = ctl_->stopped;
  ctl_ = fresh;  // the parent's is abandoned, never touched again
  new (&thread_) std::thread();
  for (auto& e : settings_.exporters)
    if (e) e->after_fork_in_child();
  for (auto& ctr : counters_) ctr = std::make_unique<point_counter>();
  for (std::size_t i = 0; i < settings_.exporters.size(); ++i)
    if (settings_.exporters[i]) settings_.exporters[i]->start(*counters_[i]);
  collections_ = 0;
  points_produced_ = 0;
  callback_errors_ = 0;
  reported_drops_ = {};
  resource_mutex_.unlock();
  run_mutex_.unlock();
  if (ctl_->started && !ctl_->stop) thread_ = std::thread([this] { loop(); });
}

}  // namespace logfire::detail

namespace logfire {

metric_stats metrics_stats() noexcept {
  metric_stats s;
  try {
    {
      std::lock_guard lock(detail::g_active_mutex);
      s = detail::g_active ? detail::g_active->stats() : detail::g_last_stats;
    }
    const detail::instrument_counters ic = detail::sum_instrument_counters();
    const detail::observable_counters& oc = detail::observable_totals();
    s.measurements_rejected = ic.rejected + oc.rejected.load(std::memory_order_relaxed);
    s.measurements_overflowed = ic.overflowed + oc.overflowed.load(std::memory_order_relaxed);
    s.attributes_dropped = ic.attributes_dropped + oc.attributes_dropped.load(std::memory_order_relaxed);
  } catch (...) {
  }
  return s;
}

}  // namespace logfire
