// Observable instruments: registration, removal and running their callbacks (collector thread).
#include <algorithm>
#include <limits>

#include "context/ids.hpp"
#include "metrics/instruments.hpp"
#include "metrics/observable.hpp"

namespace logfire {
namespace detail {
namespace {

// The callback running on this thread (the collector), so that a callback removing itself does
// not wait for itself.
thread_local callback_entry* t_running = nullptr;

}  // namespace

void observation_sink::add(std::int64_t i, double d, bool is_double, std::span<const arg> args) {
  std::uint64_t dropped = 0;
  attribute_set set = attribute_set::from_args(args, dropped);
  attributes_dropped += dropped;
  add(std::move(set), i, d, is_double);
}

void observation_sink::add(attribute_set set, std::int64_t i, double d, bool is_double) {
  auto& slots = by_hash[set.hash()];
  for (std::size_t k : slots) {
    if (observed[k].attrs == set) {
      observed[k].is_double = is_double;
      observed[k].i = i;
      observed[k].d = d;
      return;
    }
  }
  if (observed.size() >= limit) {
    // Beyond the limit the first-observed sets keep their points (as the specification
    // prefers) and the rest share the overflow point.
    ++overflowed;
    add_to_overflow(i, d, is_double);
    return;
  }
  slots.push_back(observed.size());
  observed.push_back({std::move(set), is_double, i, d});
}

void observation_sink::add_to_overflow(std::int64_t i, double d, bool is_double) {
  // Sums add up (totals of different sets), a gauge keeps the last value.
  const bool sum = inst && inst->kind != metric_kind::observable_gauge;
  if (!has_overflow || !sum) {
    overflow.is_double = is_double;
    overflow.i = i;
    overflow.d = d;
  } else if (overflow.is_double || is_double) {
    overflow.d =
        (overflow.is_double ? overflow.d : static_cast<double>(overflow.i)) + (is_double ? d : static_cast<double>(i));
    overflow.is_double = true;
  } else {
    overflow.i = wrapping_add(overflow.i, i);
  }
  has_overflow = true;
}

void observation_sink::absorb(observation_sink&& other) {
  for (observation& o : other.observed) add(std::move(o.attrs), o.i, o.d, o.is_double);
  if (other.has_overflow) add_to_overflow(other.overflow.i, other.overflow.d, other.overflow.is_double);
  overflowed += other.overflowed;
  attributes_dropped += other.attributes_dropped;
  rejected += other.rejected;
}

observable_registry& observable_registry::instance() noexcept {
  static observable_registry* r = [] {
    auto* reg = new observable_registry();
    install_metrics_fork_handlers();
    return reg;
  }();
  return *r;
}

callback_registration observable_registry::add(metric_kind kind, std::string_view name, metric_callback fn,
                                               const metric_options& opts) {
  auto entry = std::make_shared<callback_entry>();
  entry->fn = std::move(fn);
  std::lock_guard lock(mutex_);
  observable_instrument* inst = nullptr;
  for (observable_instrument* o : instruments_)
    if (o->kind == kind && same_metric_name(o->name, name)) inst = o;
  if (!inst) {
    instruments_.reserve(instruments_.size() + 1);
    auto fresh = std::make_unique<observable_instrument>();
    fresh->kind = kind;
    fresh->name = std::string(name);
    fresh->unit = std::string(opts.unit);
    fresh->description = std::string(opts.description);
    fresh->limit = opts.cardinality_limit ? std::min(opts.cardinality_limit, k_max_cardinality_limit)
                                          : k_default_cardinality_limit;
    fresh->created_unix_nano = now_unix_nano();
    inst = fresh.release();
    instruments_.push_back(inst);
  }
  entry->inst = inst;
  inst->callbacks.push_back(entry);
  return callback_registration(entry.get());
}

void observable_registry::remove(callback_entry* entry) noexcept {
  std::shared_ptr<callback_entry> keep;  // alive until we are done with it, whoever else drops it
  {
    std::lock_guard lock(mutex_);
    auto& list = entry->inst->callbacks;
    for (auto it = list.begin(); it != list.end(); ++it)
      if (it->get() == entry) {
        keep = std::move(*it);
        list.erase(it);
        break;
      }
  }
  if (!keep) return;
  if (t_running == entry) {
    keep->removed = true;  // removing itself from inside its run: it holds `run` already
    return;
  }
  std::lock_guard run(keep->run);  // waits for a run in progress
  keep->removed = true;
}

std::vector<observable_registry::snapshot_item> observable_registry::snapshot() {
  std::lock_guard lock(mutex_);
  std::vector<snapshot_item> out;
  out.reserve(instruments_.size());
  for (observable_instrument* o : instruments_) out.push_back({o, o->callbacks});
  return out;
}

bool run_callback(callback_entry& entry, observation_sink& sink) noexcept {
  std::lock_guard run(entry.run);
  if (entry.removed || !entry.fn) return true;
  callback_entry* const outer = t_running;
  t_running = &entry;
  bool ok = true;
  try {
    observer o(sink);
    entry.fn(o);
  } catch (...) {
    ok = false;
  }
  t_running = outer;
  return ok;
}

}  // namespace detail

void observer::observe_int(std::int64_t value, std::initializer_list<arg> attributes) noexcept {
  try {
    sink_->add(value, 0, false, std::span<const arg>(attributes.begin(), attributes.size()));
  } catch (...) {
  }
}

void observer::observe_double(double value, std::initializer_list<arg> attributes) noexcept {
  if (!(value >= -std::numeric_limits<double>::max() && value <= std::numeric_limits<double>::max())) {
    ++sink_->rejected;  // NaN or infinite
    return;
  }
  try {
    sink_->add(0, value, true, std::span<const arg>(attributes.begin(), attributes.size()));
  } catch (...) {
  }
}

void callback_registration::remove() noexcept {
  if (!entry_) return;
  detail::observable_registry::instance().remove(entry_);
  entry_ = nullptr;
}

namespace {
callback_registration register_callback(metric_kind kind, std::string_view name, metric_callback cb,
                                        const metric_options& opts) noexcept {
  try {
    return detail::observable_registry::instance().add(kind, name, std::move(cb), opts);
  } catch (...) {
    return callback_registration();
  }
}
}  // namespace

callback_registration metric_counter_callback(std::string_view name, metric_callback callback,
                                              const metric_options& opts) {
  return register_callback(metric_kind::observable_counter, name, std::move(callback), opts);
}

callback_registration metric_up_down_counter_callback(std::string_view name, metric_callback callback,
                                                      const metric_options& opts) {
  return register_callback(metric_kind::observable_up_down_counter, name, std::move(callback), opts);
}

callback_registration metric_gauge_callback(std::string_view name, metric_callback callback,
                                            const metric_options& opts) {
  return register_callback(metric_kind::observable_gauge, name, std::move(callback), opts);
}

}  // namespace logfire
