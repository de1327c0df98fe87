// Metrics as Logfire names them: counters, up-down counters, histograms and gauges. Create an
// instrument once (handles are cheap to copy), record from any thread. A bound handle fixes the
// attribute set up front, so an add touches only this thread's own cell of the series.
//
//   auto requests = logfire::metric_counter("http.server.requests", {.unit = "{request}"});
//   requests.add(1, {{"http.route", "/checkout"}});
//   auto checkout = requests.bind({{"http.route", "/checkout"}});  // later: checkout.add(1)
//   auto latency = logfire::metric_histogram("http.server.duration", {.unit = "ms"});
//   latency.record(12.5, {{"http.route", "/checkout"}});
//
// Collection happens on the SDK's metrics thread every 60 s (OTEL_METRIC_EXPORT_INTERVAL), at
// force_flush() and at shutdown(); callbacks for observable instruments are in
// logfire/metric_callbacks.hpp. See docs/metrics.md.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string_view>
#include <type_traits>

#include "logfire/attributes.hpp"

namespace logfire {

// Options every instrument takes.
struct metric_options {
  // UCUM unit ("ms", "By", "1", "{request}"); empty when unitless.
  std::string_view unit{};
  std::string_view description{};
  // Distinct attribute sets this instrument keeps apart. Measurements with further sets go to
  // one point with the attribute otel.metric.overflow = true (counted, explained once on
  // stderr). 0 = the default, 2000 (OpenTelemetry's); at most 1,000,000.
  std::uint32_t cardinality_limit = 0;
};

// Options of a histogram: the common ones plus the bucket layout.
struct histogram_options {
  std::string_view unit{};
  std::string_view description{};
  std::uint32_t cardinality_limit = 0;  // 0 = 2000, as above
  // Explicit bucket boundaries, strictly increasing and finite, e.g. {0, 5, 10, 25, 50}. Empty
  // (the default, as Logfire's default view) = base-2 exponential buckets.
  std::initializer_list<double> explicit_bounds{};
  // Exponential buckets: at most this many buckets (0 = 160), and the scale a histogram starts
  // at before it adjusts down to fit its values (0 = 20; valid 1..20).
  std::uint32_t max_buckets = 0;
  int max_scale = 0;
};

namespace detail {

struct instrument;
struct series;

// One cell of a sum: its own cache line, so threads writing different cells never share a line.
// A sum has 2 * K cells (K = 4..16 from the number of CPUs). Cells 0..K-1 each belong to one
// live thread at a time, which adds to `i` with a plain load and store (no locked instruction);
// the collector reads them as running totals. Threads beyond the first K share cells K..2K-1
// with atomic adds, which the collector exchanges with zero. Doubles always use atomic adds on
// `d`. `touched` tells the collector that a measurement arrived (an add of 0 counts).
struct alignas(64) sum_cell {
  std::atomic<std::int64_t> i{0};
  std::atomic<double> d{0.0};
  std::atomic<std::uint32_t> touched{0};
};

// A gauge's last value (bits of an int64 or a double) and whether it was set since the last
// collection.
struct alignas(64) gauge_cell {
  std::atomic<std::uint64_t> bits{0};
  std::atomic<std::uint32_t> touched{0};
};

// This thread's cell: its index in the low bits, k_owner_cell when the thread owns it (0 until
// the thread first records). Histogram shards use the index modulo K.
inline constexpr std::uint32_t k_owner_cell = 0x100;
extern thread_local constinit std::uint32_t t_metric_shard;
[[gnu::cold]] std::uint32_t assign_metric_shard() noexcept;
inline std::uint32_t metric_shard() noexcept {
  std::uint32_t s = t_metric_shard;
  if (s == 0) [[unlikely]]
    s = assign_metric_shard();
  return s;
}

// Where a bound handle writes. `inst` is null for a handle that records nothing.
struct bound_target {
  series* s = nullptr;
  sum_cell* cells = nullptr;
  gauge_cell* gauge = nullptr;
  std::uint32_t mask = 0;
  instrument* inst = nullptr;
};

enum class value_kind : std::uint8_t { int64, float64 };
enum class instrument_type : std::uint8_t { counter, up_down_counter, histogram, gauge };

// Registers (or finds, by case-insensitive name and type) an instrument. Never null; never freed.
instrument* register_instrument(instrument_type type, value_kind vk, std::string_view name, std::string_view unit,
                                std::string_view description, std::uint32_t cardinality_limit) noexcept;
instrument* register_histogram(std::string_view name, const histogram_options& opts) noexcept;

// The series of `attrs` (or the overflow series), for a bound handle; a histogram series gets
// every shard here, so that recording through the handle never allocates.
bound_target bind(instrument* inst, std::initializer_list<arg> attrs) noexcept;

// Out-of-line recording paths (the attribute lookup happens here).
void add(instrument* inst, std::int64_t v, std::initializer_list<arg> attrs) noexcept;
void add(instrument* inst, double v, std::initializer_list<arg> attrs) noexcept;
void record(instrument* inst, double v, std::initializer_list<arg> attrs) noexcept;
void record(series* s, double v) noexcept;
void set(instrument* inst, std::int64_t v, std::initializer_list<arg> attrs) noexcept;
void set(instrument* inst, double v, std::initializer_list<arg> attrs) noexcept;

// A measurement a counter or histogram cannot take (negative, NaN, infinite): counted.
[[gnu::cold]] void reject(instrument* inst) noexcept;

template <typename T>
inline constexpr bool is_metric_value = std::is_same_v<T, std::int64_t> || std::is_same_v<T, double>;

template <typename T, typename V>
constexpr void check_value_type() noexcept {
  static_assert(std::is_arithmetic_v<V> && !std::is_same_v<V, bool>, "metric values are numbers");
  static_assert(std::is_floating_point_v<T> || std::is_integral_v<V>,
                "this instrument counts integers; create it with <double> for fractional values");
}

// This thread's cell of a sum, with the fast add both counters share.
template <typename T>
inline void add_to_cell(const bound_target& t, T v) noexcept {
  const std::uint32_t s = metric_shard();
  sum_cell& c = t.cells[s & t.mask];
  if constexpr (std::is_same_v<T, double>) {
    c.d.fetch_add(v, std::memory_order_relaxed);
  } else if (s & k_owner_cell) {
    // The only writer of this cell: a plain add (wrapping, as fetch_add does).
    const auto old = static_cast<std::uint64_t>(c.i.load(std::memory_order_relaxed));
    c.i.store(static_cast<std::int64_t>(old + static_cast<std::uint64_t>(v)), std::memory_order_relaxed);
  } else {
    c.i.fetch_add(v, std::memory_order_relaxed);
  }
  if (c.touched.load(std::memory_order_relaxed) == 0) [[unlikely]]
    c.touched.store(1, std::memory_order_relaxed);
}

// A handle bound to nothing writes here (never exported).
extern sum_cell g_unbound_cells[1];
extern gauge_cell g_unbound_gauge;

inline bound_target unbound_target() noexcept {
  return bound_target{nullptr, g_unbound_cells, &g_unbound_gauge, 0, nullptr};
}

}  // namespace detail

// A counter bound to one attribute set. add() is about a nanosecond: a plain add into this
// thread's own cell (an atomic add into a shared cell for threads beyond the first few).
// Copyable; valid for the life of the process.
template <typename T = std::int64_t>
class bound_counter {
  static_assert(detail::is_metric_value<T>, "counters hold std::int64_t or double");

 public:
  bound_counter() noexcept : t_(detail::unbound_target()) {}
  explicit bound_counter(detail::bound_target t) noexcept : t_(t) {}

  // Adds a non-negative amount; a negative, NaN or infinite one is rejected (counted).
  template <typename V>
  void add(V value) const noexcept {
    detail::check_value_type<T, V>();
    const T v = static_cast<T>(value);
    if constexpr (std::is_same_v<T, double>) {
      if (!(v >= 0 && v <= std::numeric_limits<double>::max())) [[unlikely]]
        return detail::reject(t_.inst);
    } else {
      if (v < 0) [[unlikely]]
        return detail::reject(t_.inst);
    }
    detail::add_to_cell(t_, v);
  }

 private:
  detail::bound_target t_;
};

// An up-down counter bound to one attribute set.
template <typename T = std::int64_t>
class bound_up_down_counter {
  static_assert(detail::is_metric_value<T>, "up-down counters hold std::int64_t or double");

 public:
  bound_up_down_counter() noexcept : t_(detail::unbound_target()) {}
  explicit bound_up_down_counter(detail::bound_target t) noexcept : t_(t) {}

  // Adds any finite amount (NaN and infinities are rejected, counted).
  template <typename V>
  void add(V value) const noexcept {
    detail::check_value_type<T, V>();
    const T v = static_cast<T>(value);
    if constexpr (std::is_same_v<T, double>) {
      if (!(v >= -std::numeric_limits<double>::max() && v <= std::numeric_limits<double>::max())) [[unlikely]]
        return detail::reject(t_.inst);
    }
    detail::add_to_cell(t_, v);
  }

 private:
  detail::bound_target t_;
};

// A histogram bound to one attribute set. record() computes the bucket and counts it in this
// thread's shard under the shard's spinlock (uncontended while threads have shards of their
// own); it never allocates. Copyable; valid for the life of the process.
class bound_histogram {
 public:
  bound_histogram() noexcept = default;
  explicit bound_histogram(detail::bound_target t) noexcept : s_(t.s) {}

  // Records a value >= 0 (a negative, NaN or infinite one is rejected, counted).
  void record(double value) const noexcept { detail::record(s_, value); }

 private:
  detail::series* s_ = nullptr;
};

// A gauge bound to one attribute set.
template <typename T = double>
class bound_gauge {
  static_assert(detail::is_metric_value<T>, "gauges hold std::int64_t or double");

 public:
  bound_gauge() noexcept : t_(detail::unbound_target()) {}
  explicit bound_gauge(detail::bound_target t) noexcept : t_(t) {}

  // Sets the current value (the last one set before a collection is exported).
  template <typename V>
  void set(V value) const noexcept {
    detail::check_value_type<T, V>();
    const T v = static_cast<T>(value);
    std::uint64_t bits;
    if constexpr (std::is_same_v<T, double>) {
      if (!(v >= -std::numeric_limits<double>::max() && v <= std::numeric_limits<double>::max())) [[unlikely]]
        return detail::reject(t_.inst);
      bits = std::bit_cast<std::uint64_t>(v);
    } else {
      bits = static_cast<std::uint64_t>(v);
    }
    t_.gauge->bits.store(bits, std::memory_order_relaxed);
    t_.gauge->touched.store(1, std::memory_order_release);
  }

 private:
  detail::bound_target t_;
};

// A monotonic sum (requests served, bytes sent). Exported as a delta per collection by default.
template <typename T = std::int64_t>
class counter {
  static_assert(detail::is_metric_value<T>, "counters hold std::int64_t or double");

 public:
  counter() noexcept = default;
  explicit counter(detail::instrument* inst) noexcept : inst_(inst) {}

  // Adds a non-negative amount for this attribute set (looked up per call: bind() when the
  // set is fixed). Negative, NaN or infinite amounts are rejected (counted).
  template <typename V>
  void add(V value, std::initializer_list<arg> attributes = {}) const noexcept {
    detail::check_value_type<T, V>();
    if (inst_) detail::add(inst_, static_cast<T>(value), attributes);
  }
  // Looks the attribute set up once; the handle's add() then touches only atomics.
  [[nodiscard]] bound_counter<T> bind(std::initializer_list<arg> attributes = {}) const noexcept {
    return inst_ ? bound_counter<T>(detail::bind(inst_, attributes)) : bound_counter<T>();
  }

 private:
  detail::instrument* inst_ = nullptr;
};

// A sum that goes up and down (items in a queue, open connections). Exported cumulatively.
template <typename T = std::int64_t>
class up_down_counter {
  static_assert(detail::is_metric_value<T>, "up-down counters hold std::int64_t or double");

 public:
  up_down_counter() noexcept = default;
  explicit up_down_counter(detail::instrument* inst) noexcept : inst_(inst) {}

  template <typename V>
  void add(V value, std::initializer_list<arg> attributes = {}) const noexcept {
    detail::check_value_type<T, V>();
    if (inst_) detail::add(inst_, static_cast<T>(value), attributes);
  }
  [[nodiscard]] bound_up_down_counter<T> bind(std::initializer_list<arg> attributes = {}) const noexcept {
    return inst_ ? bound_up_down_counter<T>(detail::bind(inst_, attributes)) : bound_up_down_counter<T>();
  }

 private:
  detail::instrument* inst_ = nullptr;
};

// A distribution of values (durations, sizes): count, sum, min, max and buckets.
class histogram {
 public:
  histogram() noexcept = default;
  explicit histogram(detail::instrument* inst) noexcept : inst_(inst) {}

  template <typename V>
  void record(V value, std::initializer_list<arg> attributes = {}) const noexcept {
    detail::check_value_type<double, V>();
    if (inst_) detail::record(inst_, static_cast<double>(value), attributes);
  }
  [[nodiscard]] bound_histogram bind(std::initializer_list<arg> attributes = {}) const noexcept {
    return inst_ ? bound_histogram(detail::bind(inst_, attributes)) : bound_histogram();
  }

 private:
  detail::instrument* inst_ = nullptr;
};

// The current value of something (a temperature, a pool size): the last value set is exported.
template <typename T = double>
class gauge {
  static_assert(detail::is_metric_value<T>, "gauges hold std::int64_t or double");

 public:
  gauge() noexcept = default;
  explicit gauge(detail::instrument* inst) noexcept : inst_(inst) {}

  template <typename V>
  void set(V value, std::initializer_list<arg> attributes = {}) const noexcept {
    detail::check_value_type<T, V>();
    if (inst_) detail::set(inst_, static_cast<T>(value), attributes);
  }
  [[nodiscard]] bound_gauge<T> bind(std::initializer_list<arg> attributes = {}) const noexcept {
    return inst_ ? bound_gauge<T>(detail::bind(inst_, attributes)) : bound_gauge<T>();
  }

 private:
  detail::instrument* inst_ = nullptr;
};

namespace detail {
template <typename T>
constexpr value_kind value_kind_of() noexcept {
  return std::is_same_v<T, double> ? value_kind::float64 : value_kind::int64;
}
}  // namespace detail

// The instruments, named as Logfire's metric_* functions. Creating one with a name already in
// use (case-insensitive) and the same type returns the same instrument; the first unit and
// description win. Instruments live for the process; create them once (e.g. as statics).
template <typename T = std::int64_t>
[[nodiscard]] counter<T> metric_counter(std::string_view name, const metric_options& opts = {}) noexcept {
  return counter<T>(detail::register_instrument(detail::instrument_type::counter, detail::value_kind_of<T>(), name,
                                                opts.unit, opts.description, opts.cardinality_limit));
}

template <typename T = std::int64_t>
[[nodiscard]] up_down_counter<T> metric_up_down_counter(std::string_view name,
                                                        const metric_options& opts = {}) noexcept {
  return up_down_counter<T>(detail::register_instrument(detail::instrument_type::up_down_counter,
                                                        detail::value_kind_of<T>(), name, opts.unit, opts.description,
                                                        opts.cardinality_limit));
}

[[nodiscard]] inline histogram metric_histogram(std::string_view name, const histogram_options& opts = {}) noexcept {
  return histogram(detail::register_histogram(name, opts));
}

template <typename T = double>
[[nodiscard]] gauge<T> metric_gauge(std::string_view name, const metric_options& opts = {}) noexcept {
  return gauge<T>(detail::register_instrument(detail::instrument_type::gauge, detail::value_kind_of<T>(), name,
                                              opts.unit, opts.description, opts.cardinality_limit));
}

}  // namespace logfire
