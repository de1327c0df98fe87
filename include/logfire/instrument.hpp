// Logfire Python's @logfire.instrument for C++: one line at the top of a function opens a span
// named by a message template, with the function's arguments as attributes, that lasts until
// the function returns or an exception leaves it (recorded on the span, level error).
//
//   double charge(int user_id, double amount) {
//     LOGFIRE_INSTRUMENT("charge {user_id}", user_id, amount);  // attributes user_id, amount
//     ...
//   }
//
//   // The function form also records the escaping exception's type and message:
//   auto charge = logfire::instrument("charge {user_id}", {"user_id", "amount"}, charge_impl);
//   charge(42, 9.5);
//
// Both cost what the hand-written logfire::span costs (BM_instrument_* in bench/bench_core.cpp).
#pragma once

#include <cxxabi.h>

#include <array>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <functional>
#include <initializer_list>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "logfire/logfire.hpp"

// ----- the macro form ---------------------------------------------------------------------

// Applies `m` to each argument, comma-separated (up to 64 arguments).
#define LOGFIRE_DETAIL_PARENS ()
#define LOGFIRE_DETAIL_EXPAND(...) LOGFIRE_DETAIL_EXPAND3(LOGFIRE_DETAIL_EXPAND3(LOGFIRE_DETAIL_EXPAND3(__VA_ARGS__)))
#define LOGFIRE_DETAIL_EXPAND3(...) LOGFIRE_DETAIL_EXPAND2(LOGFIRE_DETAIL_EXPAND2(LOGFIRE_DETAIL_EXPAND2(__VA_ARGS__)))
#define LOGFIRE_DETAIL_EXPAND2(...) LOGFIRE_DETAIL_EXPAND1(LOGFIRE_DETAIL_EXPAND1(LOGFIRE_DETAIL_EXPAND1(__VA_ARGS__)))
#define LOGFIRE_DETAIL_EXPAND1(...) __VA_ARGS__
#define LOGFIRE_DETAIL_FOR_EACH(m, ...) __VA_OPT__(LOGFIRE_DETAIL_EXPAND(LOGFIRE_DETAIL_FOR_EACH_STEP(m, __VA_ARGS__)))
#define LOGFIRE_DETAIL_FOR_EACH_STEP(m, a, ...) \
  m(a) __VA_OPT__(, LOGFIRE_DETAIL_FOR_EACH_AGAIN LOGFIRE_DETAIL_PARENS(m, __VA_ARGS__))
#define LOGFIRE_DETAIL_FOR_EACH_AGAIN() LOGFIRE_DETAIL_FOR_EACH_STEP
// clang-format would read the stringizing `#a` as a directive:
// clang-format off
#define LOGFIRE_DETAIL_NAMED_ARG(a) ::logfire::arg{#a, a}
// clang-format on
#define LOGFIRE_DETAIL_CAT2(a, b) a##b
#define LOGFIRE_DETAIL_CAT(a, b) LOGFIRE_DETAIL_CAT2(a, b)

// A span for the rest of the enclosing scope, named by `msg_template`; each further argument
// becomes an attribute named as written (`user_id`, `order.id`): a bool, number, string,
// std::vector/std::span of those, or logfire::array/object. An exception leaving the scope ends
// it with level error and an `exception` event (of type "unknown": the function form below
// knows the type and message).
#define LOGFIRE_INSTRUMENT(msg_template, ...)                               \
  ::logfire::span LOGFIRE_DETAIL_CAT(logfire_instrumented_span_, __LINE__)( \
      msg_template, {LOGFIRE_DETAIL_FOR_EACH(LOGFIRE_DETAIL_NAMED_ARG, __VA_ARGS__)})

// The same with span options (tags, level, kind), given as an lvalue or a call:
//   static const logfire::span_options k_opts{.tags = {"payments"}};  // tags: string literals
//   LOGFIRE_INSTRUMENT_WITH(k_opts, "charge {user_id}", user_id);
#define LOGFIRE_INSTRUMENT_WITH(options, msg_template, ...)                 \
  ::logfire::span LOGFIRE_DETAIL_CAT(logfire_instrumented_span_, __LINE__)( \
      msg_template, {LOGFIRE_DETAIL_FOR_EACH(LOGFIRE_DETAIL_NAMED_ARG, __VA_ARGS__)}, options)

namespace logfire {

// ----- the function form ------------------------------------------------------------------

struct instrument_options {
  level lvl = level::info;
  span_kind kind = span_kind::internal;
  // Record the return value as the attribute `return` (when it converts to an attribute
  // value), as Logfire Python's record_return does. Default false.
  bool record_return = false;
};

namespace detail {

// Records the exception being handled (call only inside a catch block) as escaping `s`.
inline void record_escaping(span& s) noexcept {
  try {
    throw;
  } catch (const std::exception& e) {
    s.record_exception(e, true);
  } catch (...) {
    // Not a std::exception (e.g. `throw 42`, or a library's own hierarchy): its type is all
    // there is, from the C++ ABI that g++ and clang share.
    const std::type_info* t = abi::__cxa_current_exception_type();
    int status = -1;
    char* demangled = t ? abi::__cxa_demangle(t->name(), nullptr, nullptr, &status) : nullptr;
    s.record_exception(demangled ? std::string_view(demangled) : std::string_view(t ? t->name() : "unknown"),
                       "a non-standard exception escaped", {}, true);
    std::free(demangled);  // NOLINT(cppcoreguidelines-no-malloc): __cxa_demangle's contract
  }
}

template <class T>
using const_ref_t = const std::remove_cvref_t<T>&;
template <class T>
concept attribute_value_of = std::is_constructible_v<value_ref, const_ref_t<T>>;

template <std::size_t K, class F>
class instrumented {
 public:
  instrumented(std::string_view tmpl, const std::array<std::string_view, K>& names, F fn, instrument_options opts,
               source_location loc)
      : fn_(std::move(fn)), names_(names), tmpl_(tmpl), opts_(opts), loc_(loc) {}

  // Calls the function inside a span whose attributes are its first K arguments; an exception
  // is recorded with its type and message, then rethrown unchanged.
  template <class... A>
  decltype(auto) operator()(A&&... a) const {
    static_assert(sizeof...(A) >= K, "logfire::instrument: more argument names than the call has arguments");
    return call(std::make_index_sequence<K>{}, std::forward<A>(a)...);
  }

 private:
  template <std::size_t... I, class... A>
  decltype(auto) call(std::index_sequence<I...>, A&&... a) const {
    [[maybe_unused]] const auto refs = std::forward_as_tuple(a...);
    static_assert((attribute_value_of<std::tuple_element_t<I, std::tuple<A...>>> && ...),
                  "logfire::instrument: a named argument is not an attribute value (bool, number, string, "
                  "std::vector/std::span of those, logfire::array/object)");
    span s(tmpl_, {arg{names_[I], value_ref(std::get<I>(refs))}...}, span_options{.lvl = opts_.lvl, .kind = opts_.kind},
           loc_);
    using result = std::invoke_result_t<const F&, A&&...>;
    try {
      if constexpr (std::is_void_v<result>) {
        std::invoke(fn_, std::forward<A>(a)...);
      } else if constexpr (std::is_reference_v<result>) {
        return std::invoke(fn_, std::forward<A>(a)...);
      } else {
        result r = std::invoke(fn_, std::forward<A>(a)...);
        if constexpr (attribute_value_of<result>)
          if (opts_.record_return) s.set_attribute("return", value_ref(r));
        return r;
      }
    } catch (...) {
      record_escaping(s);
      throw;
    }
  }

  F fn_;
  std::array<std::string_view, K> names_;
  std::string_view tmpl_;
  instrument_options opts_;
  source_location loc_;
};

}  // namespace detail

// Wraps `fn`: each call runs inside a span named `msg_template` whose attributes are the call's
// first arguments, named by `arg_names` in order; an exception leaving `fn` is recorded with
// its type and message (level error, status ERROR) and rethrown. The template and the names
// must outlive the wrapper (string literals do); code.* point at this call.
template <std::size_t K, class F>
[[nodiscard]] auto instrument(std::string_view msg_template, const std::string_view (&arg_names)[K], F&& fn,
                              instrument_options opts = {}, source_location loc = source_location::current()) {
  std::array<std::string_view, K> names{};
  for (std::size_t i = 0; i < K; ++i) names[i] = arg_names[i];
  return detail::instrumented<K, std::decay_t<F>>(msg_template, names, std::forward<F>(fn), opts, loc);
}

// The same without argument attributes.
template <class F>
[[nodiscard]] auto instrument(std::string_view msg_template, F&& fn, instrument_options opts = {},
                              source_location loc = source_location::current()) {
  return detail::instrumented<0, std::decay_t<F>>(msg_template, {}, std::forward<F>(fn), opts, loc);
}

}  // namespace logfire
