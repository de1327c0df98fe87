// Attribute arguments as the caller writes them: non-owning views, valid for one call.
// The caller's thread copies their bytes into its ring; nothing here allocates.
//
//   logfire::info("charged {user_id}", {{"user_id", 42}, {"tags", logfire::array{"a", "b"}},
//                                        {"card", logfire::object{{"last4", "4242"}}}});
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace logfire {

struct arg;
class value_ref;

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
}  // namespace detail

// One attribute value as written at the call site. Holds pointers into the caller's data,
// so it must not outlive the call (instrumentation functions copy what they need).
class value_ref {
 public:
  enum class kind : std::uint8_t { nil, boolean, int64, uint64, float64, string, typed_array, array, object };

  value_ref() noexcept : kind_(kind::nil) {}
  value_ref(null_t) noexcept : kind_(kind::nil) {}
  value_ref(bool v) noexcept : kind_(kind::boolean) { u_.b = v; }
  template <std::integral T>
  requires(!std::is_same_v<T, bool> && !std::is_same_v<T, char>) value_ref(T v)
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
  value_ref(const std::string& s) noexcept : kind_(kind::string) { set_string(s); }
  value_ref(const array& a) noexcept : kind_(kind::array) {
    u_.a.p = a.items.begin();
    u_.a.n = a.items.size();
  }
  value_ref(const object& o) noexcept : kind_(kind::object) {
    u_.o.p = o.members.begin();
    u_.o.n = o.members.size();
  }
  template <detail::array_element T>
  value_ref(std::span<T> items) noexcept : kind_(kind::typed_array) {
    u_.t.p = items.data();
    u_.t.n = items.size();
    elem_ = detail::element_type_of<T>();
  }
  template <detail::array_element T>
  requires(!std::is_same_v<T, bool>) value_ref(const std::vector<T>& items)
  noexcept : value_ref(std::span<const T>(items)) {}
  value_ref(const std::vector<bool>&) = delete;  // not contiguous; copy into std::vector<char> or an array{}

  [[nodiscard]] kind type() const noexcept { return kind_; }
  [[nodiscard]] bool as_bool() const noexcept { return u_.b; }
  [[nodiscard]] std::int64_t as_int64() const noexcept { return u_.i; }
  [[nodiscard]] std::uint64_t as_uint64() const noexcept { return u_.u; }
  [[nodiscard]] double as_double() const noexcept { return u_.d; }
  [[nodiscard]] std::string_view as_string() const noexcept {
    return u_.s.p ? std::string_view(u_.s.p, u_.s.n) : std::string_view(&ch_, 1);
  }
  [[nodiscard]] std::span<const value_ref> as_array() const noexcept { return {u_.a.p, u_.a.n}; }
  [[nodiscard]] std::span<const arg> as_object() const noexcept;
  [[nodiscard]] element_type typed_element() const noexcept { return elem_; }
  [[nodiscard]] const void* typed_data() const noexcept { return u_.t.p; }
  [[nodiscard]] std::size_t typed_size() const noexcept { return u_.t.n; }

 private:
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

inline std::span<const arg> value_ref::as_object() const noexcept {
  return {u_.o.p, u_.o.n};
}

}  // namespace logfire
