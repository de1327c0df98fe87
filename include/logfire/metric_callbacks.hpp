// Observable instruments: callbacks the SDK calls at each collection, on its metrics thread (never
// on the application's threads and never while holding an SDK lock, so a callback may record
// other metrics or log). Names follow Logfire's metric_*_callback functions.
//
//   auto reg = logfire::metric_gauge_callback("queue.depth", [&q](logfire::observer& o) {
//     o.observe(static_cast<std::int64_t>(q.size()), {{"queue", "orders"}});
//   }, {.unit = "{item}"});
//   // reg unregisters the callback when it goes out of scope (release() keeps it forever).
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string_view>
#include <type_traits>

#include "logfire/attributes.hpp"
#include "logfire/metrics.hpp"

namespace logfire {

namespace detail {
struct observation_sink;
struct callback_entry;
}  // namespace detail

// Receives a callback's observations: one value per attribute set (a second value for the same
// set replaces the first). Only valid during the callback.
class observer {
 public:
  explicit observer(detail::observation_sink& sink) noexcept : sink_(&sink) {}

  template <typename V>
  void observe(V value, std::initializer_list<arg> attributes = {}) noexcept {
    static_assert(std::is_arithmetic_v<V> && !std::is_same_v<V, bool>, "metric values are numbers");
    if constexpr (std::is_floating_point_v<V>)
      observe_double(static_cast<double>(value), attributes);
    else
      observe_int(static_cast<std::int64_t>(value), attributes);
  }

 private:
  void observe_int(std::int64_t value, std::initializer_list<arg> attributes) noexcept;
  void observe_double(double value, std::initializer_list<arg> attributes) noexcept;
  detail::observation_sink* sink_;
};

using metric_callback = std::function<void(observer&)>;

// A registered callback. Unregisters when destroyed (waiting for a run in progress to finish,
// unless called from inside that callback), so the callback may capture objects that die with
// it. release() keeps the callback for the life of the process.
class [[nodiscard]] callback_registration {
 public:
  callback_registration() noexcept = default;
  explicit callback_registration(detail::callback_entry* entry) noexcept : entry_(entry) {}
  callback_registration(callback_registration&& o) noexcept : entry_(o.entry_) { o.entry_ = nullptr; }
  callback_registration& operator=(callback_registration&& o) noexcept {
    if (this != &o) {
      remove();
      entry_ = o.entry_;
      o.entry_ = nullptr;
    }
    return *this;
  }
  callback_registration(const callback_registration&) = delete;
  callback_registration& operator=(const callback_registration&) = delete;
  ~callback_registration() { remove(); }

  // Stops calling the callback; after it returns the callback is not running and never runs again.
  void remove() noexcept;
  void release() noexcept { entry_ = nullptr; }
  [[nodiscard]] bool active() const noexcept { return entry_ != nullptr; }

 private:
  detail::callback_entry* entry_ = nullptr;
};

// A monotonic total observed from elsewhere (CPU time, bytes read): report the running total;
// the SDK sends the increase since the last collection (delta) by default.
callback_registration metric_counter_callback(std::string_view name, metric_callback callback,
                                              const metric_options& opts = {});
// A total that goes up and down (pool size): report the current total; sent cumulatively.
callback_registration metric_up_down_counter_callback(std::string_view name, metric_callback callback,
                                                      const metric_options& opts = {});
// A current value (utilization, temperature); sent as a gauge.
callback_registration metric_gauge_callback(std::string_view name, metric_callback callback,
                                            const metric_options& opts = {});

// Opt-in system metrics read from /proc, Logfire's basic set: process.cpu.utilization,
// system.cpu.simple_utilization, system.memory.utilization (state=available),
// system.swap.utilization (state=used), system.cpu.load_average.1m and system.process.count.
// Idempotent; the callbacks stay registered for the life of the process. Linux only (elsewhere
// the metrics are simply not reported).
void instrument_system_metrics() noexcept;

}  // namespace logfire
