// Starting a span (or writing a log) whose attributes are only known at run time. logfire::span takes an
// std::initializer_list<arg>, whose length is fixed where it is written; the integration
// collects up to `capacity` args here and expands them through one of capacity + 1
// instantiations. Every attribute goes into the span start, so the message template (which
// may use any of them) formats the same for pending and finished spans.
#pragma once

#include <array>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <utility>

#include "logfire/logfire.hpp"

namespace logfire::detail {

class span_args {
 public:
  static constexpr std::size_t capacity = 24;

  // Keys and values are views: what they point to must outlive the span's constructor call.
  // Beyond `capacity` args, the rest are ignored.
  void add(std::string_view key, value_ref value) noexcept {
    if (n_ < capacity) items_[n_++] = arg{key, value};
  }
  [[nodiscard]] std::size_t size() const noexcept { return n_; }
  [[nodiscard]] const arg* data() const noexcept { return items_.data(); }

 private:
  std::array<arg, capacity> items_{};
  std::size_t n_ = 0;
};

// The span is built here and moved into `out`, so its code location is this file's (the
// integration's), not the standard library's optional::emplace.
template <std::size_t... I>
void emplace_span_n(std::optional<span>& out, std::string_view tmpl, const arg* a, const span_options& opts,
                    std::index_sequence<I...>) noexcept {
  out.emplace(span(tmpl, std::initializer_list<arg>{a[I]...}, opts));
}

template <std::size_t... N>
constexpr auto make_emplace_table(std::index_sequence<N...>) noexcept {
  using fn = void (*)(std::optional<span>&, std::string_view, const arg*, const span_options&) noexcept;
  return std::array<fn, sizeof...(N)>{
      [](std::optional<span>& out, std::string_view tmpl, const arg* a, const span_options& opts) noexcept {
        emplace_span_n(out, tmpl, a, opts, std::make_index_sequence<N>{});
      }...};
}

// Starts `out` as span(tmpl, args, opts).
inline void emplace_span(std::optional<span>& out, std::string_view tmpl, const span_args& args,
                         const span_options& opts) noexcept {
  static constexpr auto table = make_emplace_table(std::make_index_sequence<span_args::capacity + 1>{});
  table[args.size()](out, tmpl, args.data(), opts);
}

template <std::size_t... I>
void log_n(level lvl, std::string_view tmpl, const arg* a, const log_options& opts, const source_location& loc,
           std::index_sequence<I...>) noexcept {
  log(lvl, tmpl, std::initializer_list<arg>{a[I]...}, opts, loc);
}

template <std::size_t... N>
constexpr auto make_log_table(std::index_sequence<N...>) noexcept {
  using fn = void (*)(level, std::string_view, const arg*, const log_options&, const source_location&) noexcept;
  return std::array<fn, sizeof...(N)>{
      [](level lvl, std::string_view tmpl, const arg* a, const log_options& opts, const source_location& loc) noexcept {
        log_n(lvl, tmpl, a, opts, loc, std::make_index_sequence<N>{});
      }...};
}

// Writes log(lvl, tmpl, args, opts, loc).
inline void log_with(level lvl, std::string_view tmpl, const span_args& args, const log_options& opts,
                     const source_location& loc) noexcept {
  static constexpr auto table = make_log_table(std::make_index_sequence<span_args::capacity + 1>{});
  table[args.size()](lvl, tmpl, args.data(), opts, loc);
}

}  // namespace logfire::detail
