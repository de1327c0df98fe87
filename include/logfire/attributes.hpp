// Attribute arguments as the caller writes them: non-owning views, valid for one call.
// The caller's thread copies their bytes into its ring; nothing here allocates.
//
//   logfire::info("charged {user_id}", {{"user_id", 42}, {"tags", logfire::array{"a", "b"}},
//                                        {"card", logfire::object{{"last4", "4242"}}}});
//
// Accepted values: bool, integers, floating point, strings, enums (their number), std::chrono
// durations (seconds) and system_clock time points (RFC 3339, UTC), std::optional (empty =
// null), ranges and maps of accepted values, logfire::array / object / null, and your own
// types through logfire::attribute_converter<T> or to_attribute() (docs/attributes.md). Raw
// pointers and anything else are rejected at compile time with a message listing these.
#pragma once

// Only what every file can afford: the standard types above are recognised by their members
// (a duration by rep/period/count(), a time point by clock/time_since_epoch(), an optional by
// has_value(), a range by begin()/end(), a map by its elements' first/second), as {fmt}'s
// base header does, so this header does not include <chrono>, <optional>, <ranges> or the
// containers. <string_view> provides std::begin/end/data/size ([iterator.range]).
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>  // declares std::string, an accepted element type
#include <string_view>
#include <type_traits>

namespace logfire {

// A read-only run of T, as a pointer and a count: what value_ref::as_array() and as_object()
// and a handle's tags() return. A contiguous sized range, so it converts to std::span<T>.
template <typename T>
class array_view {
 public:
  using value_type = std::remove_cv_t<T>;
  constexpr array_view() noexcept = default;
  constexpr array_view(T* data, std::size_t size) noexcept : data_(data), size_(size) {}
  [[nodiscard]] constexpr T* data() const noexcept { return data_; }
  [[nodiscard]] constexpr std::size_t size() const noexcept { return size_; }
  [[nodiscard]] constexpr bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] constexpr T* begin() const noexcept { return data_; }
  [[nodiscard]] constexpr T* end() const noexcept { return data_ + size_; }
  [[nodiscard]] constexpr T& operator[](std::size_t i) const noexcept { return data_[i]; }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

struct arg;
class value_ref;
class value_writer;

// The customization point for your own types, as fmt::formatter or nlohmann::adl_serializer:
//
//   template <> struct logfire::attribute_converter<point> {
//     static void write(logfire::value_writer& w, const point& p) {
//       w.value(logfire::object{{"x", p.x}, {"y", p.y}});
//     }
//   };
//
// or, found by argument-dependent lookup, in your type's namespace:
//
//   void to_attribute(logfire::value_writer& w, const point& p) { ... }
//
// `write` runs on the calling thread, once per record, while the span or log copies its
// values; it must write one value and should not throw (an exception makes the value null).
template <typename T>
struct attribute_converter {};

// A JSON-like array built in place: `logfire::array{1, "two", 3.0}`.
struct array {
  std::initializer_list<value_ref> items;
  array(std::initializer_list<value_ref> list) noexcept : items(list) {}
};

// A JSON-like object built in place: `logfire::object{{"k", 1}, {"j", "v"}}`.
struct object {
  std::initializer_list<arg> members;
  object(std::initializer_list<arg> list) noexcept : members(list) {}
};

// A null value (listed in `logfire.null_args`).
struct null_t {};
inline constexpr null_t null{};

// Element type of a contiguous typed array (std::vector<int>, std::span<const double>, ...).
enum class element_type : std::uint8_t {
  boolean,
  i8,
  i16,
  i32,
  i64,
  u8,
  u16,
  u32,
  u64,
  f32,
  f64,
  string,       // std::string
  string_view,  // std::string_view
  c_string,     // const char*
};

namespace detail {
struct custom_encoder;  // api.cpp: what a value_writer writes into

template <typename T>
constexpr element_type element_type_of() noexcept {
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_same_v<U, bool>)
    return element_type::boolean;
  else if constexpr (std::is_same_v<U, std::string>)
    return element_type::string;
  else if constexpr (std::is_same_v<U, std::string_view>)
    return element_type::string_view;
  else if constexpr (std::is_same_v<U, const char*> || std::is_same_v<U, char*>)
    return element_type::c_string;
  else if constexpr (std::is_floating_point_v<U>)
    return sizeof(U) == 4 ? element_type::f32 : element_type::f64;
  else if constexpr (std::is_signed_v<U>) {
    if constexpr (sizeof(U) == 1)
      return element_type::i8;
    else if constexpr (sizeof(U) == 2)
      return element_type::i16;
    else if constexpr (sizeof(U) == 4)
      return element_type::i32;
    else
      return element_type::i64;
  } else {
    if constexpr (sizeof(U) == 1)
      return element_type::u8;
    else if constexpr (sizeof(U) == 2)
      return element_type::u16;
    else if constexpr (sizeof(U) == 4)
      return element_type::u32;
    else
      return element_type::u64;
  }
}
template <typename T>
concept array_element = std::is_arithmetic_v<std::remove_cv_t<T>> || std::is_same_v<std::remove_cv_t<T>, std::string> ||
                        std::is_same_v<std::remove_cv_t<T>, std::string_view> || std::is_same_v < std::remove_cv_t<T>,
const char* > ;

template <typename T>
inline constexpr bool always_false = false;

// Blocks unqualified lookup so that only argument-dependent lookup finds to_attribute.
void to_attribute() = delete;

template <typename T>
concept has_attribute_converter = requires(value_writer& w, const T& v) {
  attribute_converter<T>::write(w, v);
};
template <typename T>
concept has_to_attribute = requires(value_writer& w, const T& v) {
  to_attribute(w, v);
};
template <typename T>
concept user_converted = has_attribute_converter<T> || has_to_attribute<T>;

// The standard types, by their members (see the top of this file).
template <typename T>
concept duration_like = requires(const T& d) {
  typename T::rep;
  typename T::period;
  T::period::num;
  T::period::den;
  d.count();
};
template <typename T>
concept time_point_like = requires(const T& t) {
  typename T::clock;
  typename T::duration;
  t.time_since_epoch();
};
// std::chrono::system_clock is the one standard clock with to_time_t: the calendar clock.
template <typename T>
concept system_time_like = time_point_like<T> && requires {
  &T::clock::to_time_t;
};

// A range, by begin()/end() as members or found by argument-dependent lookup.
namespace range_access {
using std::begin;
using std::end;
template <typename R>
concept iterable = requires(const R& r) {
  begin(r) != end(r);
  *begin(r);
};
template <typename R>
using reference_t = decltype(*begin(std::declval<const R&>()));
}  // namespace range_access
using range_access::iterable;

// What a range holds: its value_type (bool for std::vector<bool>, whose elements are proxies),
// or what its iterator gives.
template <typename R>
struct range_element {
  using type = std::remove_cvref_t<range_access::reference_t<R>>;
};
template <typename R>
requires requires {
  typename R::value_type;
}
struct range_element<R> {
  using type = std::remove_cv_t<typename R::value_type>;
};
template <typename R>
using range_element_t = typename range_element<R>::type;

// Contiguous and sized (a vector, an array, a span, a C array) with elements of type E:
// `std::data` gives a pointer to them.
template <typename R, typename E>
concept contiguous_of = requires(const R& r) {
  { std::data(r) } -> std::convertible_to<const E*>;
  std::size(r);
};

template <typename T>
concept optional_like = !iterable<T> && requires(const T& o) {
  typename T::value_type;
  { o.has_value() } -> std::convertible_to<bool>;
  *o;
};

// A range of (key, value) pairs: std::map, std::unordered_map, a vector of pairs.
template <typename R>
concept map_like = iterable<R> && requires(const range_element_t<R>& p) {
  p.first;
  p.second;
};

// Types the value_ref constructors take directly; the rest go through the catch-all one.
template <typename U>
concept direct_value =
    std::is_same_v<U, value_ref> || std::is_same_v<U, null_t> || std::is_same_v<U, array> ||
    std::is_same_v<U, object> || std::is_same_v<U, bool> || std::is_same_v<U, char> || std::is_same_v<U, double> ||
    std::is_same_v<U, float> ||(std::is_integral_v<U> && !user_converted<U>) ||
    std::is_same_v<U, const char*> || std::is_same_v<U, char*> || std::is_same_v<U, std::string_view> ||
    (std::is_array_v<U> && std::is_same_v<std::remove_cv_t<std::remove_extent_t<U>>, char>);
}  // namespace detail

// One attribute value as written at the call site. Holds pointers into the caller's data,
// so it must not outlive the call (instrumentation functions copy what they need).
class value_ref {
 public:
  enum class kind : std::uint8_t {
    nil,
    boolean,
    int64,
    uint64,
    float64,
    string,
    typed_array,
    array,
    object,
    timestamp,  // nanoseconds since the Unix epoch (as_int64), written as RFC 3339 UTC text
    custom,     // written by a function on the calling thread (maps, ranges, your own types)
  };
  // Writes a custom value (see attribute_converter).
  using writer_fn = void (*)(const void* object, value_writer& w);

  value_ref() noexcept : kind_(kind::nil) {}
  value_ref(null_t) noexcept : kind_(kind::nil) {}
  value_ref(bool v) noexcept : kind_(kind::boolean) { u_.b = v; }
  template <typename T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char>) value_ref(T v)
  noexcept {
    if constexpr (std::is_signed_v<T>) {
      kind_ = kind::int64;
      u_.i = static_cast<std::int64_t>(v);
    } else {
      kind_ = kind::uint64;
      u_.u = static_cast<std::uint64_t>(v);
    }
  }
  value_ref(char c) noexcept : kind_(kind::string) {
    // A single char is text, not a number; it points into this object's own storage.
    u_.s.p = nullptr;
    u_.s.n = 1;
    ch_ = c;
  }
  value_ref(double v) noexcept : kind_(kind::float64) { u_.d = v; }
  value_ref(float v) noexcept : kind_(kind::float64) { u_.d = static_cast<double>(v); }
  value_ref(const char* s) noexcept : kind_(s ? kind::string : kind::nil) {
    if (s) set_string(std::string_view(s));
  }
  value_ref(std::string_view s) noexcept : kind_(kind::string) { set_string(s); }
  value_ref(const array& a) noexcept : kind_(kind::array) {
    u_.a.p = a.items.begin();
    u_.a.n = a.items.size();
  }
  value_ref(const object& o) noexcept : kind_(kind::object) {
    u_.o.p = o.members.begin();
    u_.o.n = o.members.size();
  }
  // Everything else: std::string, enums, durations, time points, optionals, ranges, maps, your
  // own types;
  // anything not accepted stops the compilation here with a message that lists what is.
  template <typename T>
  requires(!detail::direct_value<std::remove_cvref_t<T>>) value_ref(const T& v)
  noexcept { assign(v); }

  [[nodiscard]] kind type() const noexcept { return kind_; }
  [[nodiscard]] bool as_bool() const noexcept { return u_.b; }
  [[nodiscard]] std::int64_t as_int64() const noexcept { return u_.i; }
  [[nodiscard]] std::uint64_t as_uint64() const noexcept { return u_.u; }
  [[nodiscard]] double as_double() const noexcept { return u_.d; }
  [[nodiscard]] std::string_view as_string() const noexcept {
    return u_.s.p ? std::string_view(u_.s.p, u_.s.n) : std::string_view(&ch_, 1);
  }
  [[nodiscard]] array_view<const value_ref> as_array() const noexcept { return {u_.a.p, u_.a.n}; }
  [[nodiscard]] array_view<const arg> as_object() const noexcept;
  [[nodiscard]] element_type typed_element() const noexcept { return elem_; }
  [[nodiscard]] const void* typed_data() const noexcept { return u_.t.p; }
  [[nodiscard]] std::size_t typed_size() const noexcept { return u_.t.n; }
  [[nodiscard]] const void* custom_object() const noexcept { return u_.c.p; }
  [[nodiscard]] writer_fn custom_writer() const noexcept { return u_.c.fn; }

 private:
  template <typename T>
  void assign(const T& v) noexcept;
  // A contiguous run of numbers or strings (a vector, an array, a span), kept as one typed array.
  template <detail::array_element T>
  value_ref(const T* items, std::size_t count) noexcept : kind_(kind::typed_array) {
    u_.t.p = items;
    u_.t.n = count;
    elem_ = detail::element_type_of<T>();
  }
  void set_custom(const void* p, writer_fn fn) noexcept {
    kind_ = kind::custom;
    u_.c.p = p;
    u_.c.fn = fn;
  }

  void set_string(std::string_view s) noexcept {
    // Empty strings still need a non-null pointer to tell them from the char form.
    u_.s.p = s.data() ? s.data() : "";
    u_.s.n = s.size();
  }

  union storage {
    bool b;
    std::int64_t i;
    std::uint64_t u;
    double d;
    struct {
      const char* p;
      std::size_t n;
    } s;
    struct {
      const value_ref* p;
      std::size_t n;
    } a;
    struct {
      const arg* p;
      std::size_t n;
    } o;
    struct {
      const void* p;
      std::size_t n;
    } t;
    struct {
      const void* p;
      writer_fn fn;
    } c;
  } u_{};
  kind kind_;
  element_type elem_ = element_type::i64;
  char ch_ = 0;
};

// One `{"key", value}` pair at a call site.
struct arg {
  std::string_view key;
  value_ref value;
};

inline array_view<const arg> value_ref::as_object() const noexcept {
  return {u_.o.p, u_.o.n};
}

// Writes one value for a custom type (attribute_converter, to_attribute), on the calling
// thread, straight into the record being built. Write exactly one value: a value() call, or
// a begin_array()/begin_object() ... end() group whose members are value() calls (after a
// key() in an object) or nested groups. Mistakes cannot corrupt the record: a missing value is
// null, extra ones are ignored, open groups are closed.
class value_writer {
 public:
  value_writer(const value_writer&) = delete;
  value_writer& operator=(const value_writer&) = delete;

  // Any accepted value: numbers, strings, ranges, maps, logfire::object{...}, your own types.
  void value(const value_ref& v) noexcept;
  void begin_array() noexcept;
  void begin_object() noexcept;
  // The key of the next member of the innermost object.
  void key(std::string_view k) noexcept;
  // Closes the innermost array or object.
  void end() noexcept;

 private:
  friend struct detail::custom_encoder;
  explicit value_writer(detail::custom_encoder& e) noexcept : e_(&e) {}
  detail::custom_encoder* e_;
};

namespace detail {

template <typename T>
void write_user(const void* p, value_writer& w) {
  const T& v = *static_cast<const T*>(p);
  if constexpr (has_attribute_converter<T>)
    attribute_converter<T>::write(w, v);
  else
    to_attribute(w, v);
}

// An element of a range as a value_ref: by reference, or copied when the range yields proxies
// (std::vector<bool>).
template <typename R, typename F>
void for_each_element(const R& range, F&& f) {
  using E = range_element_t<R>;
  for (auto&& e : range) {
    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(e)>, E>) {
      f(e);
    } else {
      const E copy = e;
      f(copy);
    }
  }
}

template <typename K>
void write_key(value_writer& w, const K& k) {
  if constexpr (std::is_convertible_v<const K&, std::string_view>) {
    w.key(std::string_view(k));
  } else if constexpr (std::is_enum_v<K>) {
    write_key(w, static_cast<std::underlying_type_t<K>>(k));
  } else if constexpr (std::is_integral_v<K>) {
    // Python's logfire writes a non-string key as its repr: a number's digits.
    using N = std::conditional_t<std::is_signed_v<K>, long long, unsigned long long>;
    char buf[24];
    const N n = static_cast<N>(k);
    char* end = buf + sizeof buf;
    char* p = end;
    bool neg = false;
    if constexpr (std::is_signed_v<K>) neg = n < 0;
    unsigned long long u = neg ? 0ull - static_cast<unsigned long long>(n) : static_cast<unsigned long long>(n);
    do {
      *--p = static_cast<char>('0' + u % 10);
      u /= 10;
    } while (u);
    if (neg) *--p = '-';
    w.key(std::string_view(p, static_cast<std::size_t>(end - p)));
  } else {
    static_assert(always_false<K>,
                  "logfire: a map key must be a string (std::string, std::string_view, const char*), an integer or "
                  "an enum");
  }
}

template <typename R>
void write_map(const void* p, value_writer& w) {
  const R& m = *static_cast<const R*>(p);
  w.begin_object();
  for (const auto& entry : m) {
    write_key(w, entry.first);
    w.value(value_ref(entry.second));
  }
  w.end();
}

template <typename R>
void write_range(const void* p, value_writer& w) {
  w.begin_array();
  for_each_element(*static_cast<const R*>(p), [&](const auto& e) { w.value(value_ref(e)); });
  w.end();
}

// A duration in seconds, as std::chrono::duration<double>(d).count() computes it.
template <duration_like D>
constexpr double seconds_of(const D& d) noexcept {
  using P = typename D::period;
  double s = static_cast<double>(d.count());
  if constexpr (P::num != 1) s *= static_cast<double>(P::num);
  if constexpr (P::den != 1) s /= static_cast<double>(P::den);
  return s;
}

constexpr std::intmax_t gcd(std::intmax_t a, std::intmax_t b) noexcept {
  while (b != 0) {
    const std::intmax_t r = a % b;
    a = b;
    b = r;
  }
  return a;
}

// A time point's nanoseconds since its epoch, as duration_cast<nanoseconds> computes them.
template <time_point_like T>
constexpr std::int64_t nanoseconds_since_epoch(const T& t) noexcept {
  using D = typename T::duration;
  using P = typename D::period;
  // Nanoseconds per tick as a reduced fraction num / den.
  constexpr std::intmax_t g = gcd(P::num * 1'000'000'000, P::den);
  constexpr std::intmax_t num = P::num * 1'000'000'000 / g;
  constexpr std::intmax_t den = P::den / g;
  using R = std::common_type_t<typename D::rep, std::intmax_t>;
  R n = static_cast<R>(t.time_since_epoch().count());
  if constexpr (num != 1) n *= static_cast<R>(num);
  if constexpr (den != 1) n /= static_cast<R>(den);
  return static_cast<std::int64_t>(n);
}

// The same decisions as value_ref::assign, answered without compiling the value in: true for
// exactly the types a value_ref accepts. Integrations use it to fall back to text for the rest.
template <typename U>
constexpr bool accepts_value() noexcept {
  if constexpr (direct_value<U> || user_converted<U> || std::is_same_v<U, std::nullptr_t>) {
    return true;
  } else if constexpr (std::is_pointer_v<U> || std::is_member_pointer_v<U>) {
    return false;
  } else if constexpr (std::is_enum_v<U> || std::is_arithmetic_v<U> || duration_like<U> || system_time_like<U>) {
    return true;
  } else if constexpr (time_point_like<U>) {
    return false;
  } else if constexpr (optional_like<U>) {
    return accepts_value<std::remove_cvref_t<typename U::value_type>>();
  } else if constexpr (std::is_convertible_v<const U&, std::string_view>) {
    return true;
  } else if constexpr (iterable<U>) {
    using E = range_element_t<U>;
    if constexpr (std::is_same_v<E, U>) {
      return false;
    } else if constexpr (map_like<U>) {
      return accepts_value<std::remove_cvref_t<decltype(std::declval<const E&>().second)>>();
    } else {
      return accepts_value<E>();
    }
  } else {
    return false;
  }
}

}  // namespace detail

// True when T can be passed as an attribute value (the types listed in docs/attributes.md, and
// yours once converted); code that takes arbitrary arguments can format the others as text.
template <typename T>
inline constexpr bool is_attribute_value_v = detail::accepts_value<std::remove_cvref_t<T>>();

template <typename T>
void value_ref::assign(const T& v) noexcept {
  using U = std::remove_cvref_t<T>;
  if constexpr (detail::user_converted<U>) {
    set_custom(&v, &detail::write_user<U>);
  } else if constexpr (std::is_same_v<U, std::nullptr_t>) {
    kind_ = kind::nil;
  } else if constexpr (std::is_pointer_v<U> || std::is_member_pointer_v<U>) {
    static_assert(detail::always_false<U>,
                  "logfire: a raw pointer is not an attribute value (only const char* is, as a string): pass the "
                  "value it points to (*p), or a std::optional");
  } else if constexpr (std::is_enum_v<U>) {
    // Logfire Python records an Enum by its value; specialize attribute_converter for names.
    *this = value_ref(static_cast<std::underlying_type_t<U>>(v));
  } else if constexpr (std::is_integral_v<U>) {
    *this = value_ref(static_cast<std::conditional_t<std::is_signed_v<U>, std::int64_t, std::uint64_t>>(v));
  } else if constexpr (std::is_floating_point_v<U>) {
    *this = value_ref(static_cast<double>(v));
  } else if constexpr (detail::duration_like<U>) {
    *this = value_ref(detail::seconds_of(v));  // seconds, as Python's total_seconds()
  } else if constexpr (detail::system_time_like<U>) {
    kind_ = kind::timestamp;
    u_.i = detail::nanoseconds_since_epoch(v);
  } else if constexpr (detail::time_point_like<U>) {
    static_assert(detail::always_false<U>,
                  "logfire: only std::chrono::system_clock time points are attribute values (other clocks have no "
                  "calendar meaning): pass a duration, e.g. now - start");
  } else if constexpr (detail::optional_like<U>) {
    if (v)
      *this = value_ref(*v);
    else
      kind_ = kind::nil;
  } else if constexpr (std::is_convertible_v<const U&, std::string_view>) {
    kind_ = kind::string;
    set_string(std::string_view(v));
  } else if constexpr (detail::iterable<U>) {
    using E = detail::range_element_t<U>;
    if constexpr (std::is_same_v<E, U>) {
      static_assert(detail::always_false<U>,
                    "logfire: this type is a range of itself (std::filesystem::path?); pass it as a string, e.g. "
                    "p.string()");
    } else if constexpr (detail::array_element<E> && !std::is_same_v<E, bool> && detail::contiguous_of<U, E>) {
      *this = value_ref(std::data(v), static_cast<std::size_t>(std::size(v)));
    } else if constexpr (detail::map_like<U>) {
      set_custom(&v, &detail::write_map<U>);
    } else {
      set_custom(&v, &detail::write_range<U>);
    }
  } else {
    static_assert(detail::always_false<U>,
                  "logfire: this type is not an attribute value. Accepted: bool, integers, floating point, strings "
                  "(std::string, std::string_view, const char*), enums (their number), std::chrono durations "
                  "(seconds) and system_clock time points, std::optional, std::nullptr_t, ranges (std::vector, "
                  "std::array, std::span, std::list, std::set, ...) and maps (std::map, std::unordered_map) of "
                  "accepted values, logfire::array{...}, logfire::object{...}, logfire::null; for your own type "
                  "specialize logfire::attribute_converter<T> or declare to_attribute(logfire::value_writer&, "
                  "const T&) in its namespace (docs/attributes.md)");
  }
}

}  // namespace logfire
