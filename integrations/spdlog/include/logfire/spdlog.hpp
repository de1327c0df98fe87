// spdlog integration: a sink that turns spdlog records into Logfire logs, an asynchronous logger
// that keeps the trace context of the call site, and macros that keep the message template and
// its arguments. Link logfire::spdlog; the core library never includes spdlog.
//
//   auto sink = std::make_shared<logfire::spdlog_sink>();
//   auto log = std::make_shared<spdlog::logger>("checkout", spdlog::sinks_init_list{sink, console});
//   log->info("card {} accepted", last4);                       // a Logfire log, message as spdlog wrote it
//   LOGFIRE_SPDLOG_INFO(log, "charged {user_id} {amount:.2f}", fmt::arg("user_id", 42),
//                       fmt::arg("amount", 9.5));               // template + attributes kept
//
//   // Asynchronous: other sinks run on spdlog's thread pool, the Logfire sink on the caller's
//   // thread (Logfire's own pipeline is already asynchronous), where the trace context is.
//   auto alog = logfire::make_spdlog_async_logger("checkout", {sink, file_sink});
//
// What each record gets: level trace/debug/info/warn/error/critical -> Logfire's trace, debug,
// info, warn, error, fatal; code.filepath/lineno/function from spdlog's source location (the
// SPDLOG_* and LOGFIRE_SPDLOG_* macros fill it; plain calls have none); `logfire.logger_name`
// (as Logfire Python's logging handler names it) and `thread.id`; the parent span of the call
// site. A plain spdlog call formats its arguments before any sink sees the record, so its
// message is the text spdlog wrote and the template is that text; the LOGFIRE_SPDLOG_* macros
// keep the format string as `logfire.msg_template` and each argument as an attribute (see
// docs/integrations.md for the rules).
#pragma once

#include <fmt/format.h>
#include <spdlog/async_logger.h>
#include <spdlog/details/thread_pool.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/base_sink.h>

#include <array>
#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "logfire/instrument.hpp"
#include "logfire/logfire.hpp"

namespace logfire {

struct spdlog_sink_options {
  // Upper bound of the SDK flush that spdlog's flush runs (logger->flush(), flush_on(level),
  // spdlog::flush_every). Default 2 s.
  std::chrono::milliseconds flush_timeout{2000};
};

// A spdlog sink writing Logfire logs. Thread-safe without a lock of its own (Logfire's API is),
// hence the null mutex. Put it on a synchronous logger, or use make_spdlog_async_logger: on a
// plain spdlog::async_logger it runs on spdlog's worker thread, where the call site's trace
// context is gone; it then says so once on stderr and its logs have no parent span.
class spdlog_sink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  explicit spdlog_sink(spdlog_sink_options opts = {}) noexcept : opts_(opts) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  // Flushes the SDK (force_flush) within options.flush_timeout.
  void flush_() override;

 private:
  spdlog_sink_options opts_;
};

// A logger whose Logfire sinks run on the caller's thread, capturing the call site's trace
// context before anything is queued, and whose other sinks run on a spdlog::async_logger backed
// by `pool`. sinks() holds the Logfire sinks; async_sinks() the others.
class spdlog_async_logger final : public spdlog::logger {
 public:
  spdlog_async_logger(std::string name, const std::vector<spdlog::sink_ptr>& sinks,
                      std::shared_ptr<spdlog::details::thread_pool> pool, spdlog::async_overflow_policy policy);
  std::shared_ptr<spdlog::logger> clone(std::string new_name) override;
  [[nodiscard]] std::vector<spdlog::sink_ptr>& async_sinks();

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  std::shared_ptr<spdlog::async_logger> async_;  // null when every sink is a Logfire sink
  std::shared_ptr<spdlog::details::thread_pool> pool_;
  spdlog::async_overflow_policy policy_;
};

// Creates a spdlog_async_logger (not registered: spdlog::register_logger or
// spdlog::set_default_logger it as you like). Without a pool, spdlog's global thread pool, made
// as spdlog::async_factory makes it (8192 entries, one thread) when there is none yet.
[[nodiscard]] std::shared_ptr<spdlog_async_logger> make_spdlog_async_logger(
    std::string name, const std::vector<spdlog::sink_ptr>& sinks,
    std::shared_ptr<spdlog::details::thread_pool> pool = nullptr,
    spdlog::async_overflow_policy policy = spdlog::async_overflow_policy::block);

namespace detail {

// One LOGFIRE_SPDLOG_* call in progress on this thread: what the Logfire sink takes instead of
// spdlog's formatted payload when it runs during the call.
struct spdlog_structured {
  std::string_view format;            // the format string as written
  std::span<const arg> args;          // one per format argument, in order, named
  std::span<const bool> stringified;  // the argument went through fmt (its spec is dropped)
  spdlog::level::level_enum lvl;      // these two match the call to its record
  int line = 0;
};

void spdlog_begin_structured(const spdlog_structured* call) noexcept;
void spdlog_end_structured() noexcept;

template <class... E>
constexpr std::array<std::string_view, sizeof...(E)> spdlog_expressions(E... e) noexcept {
  return {std::string_view(e)...};
}

// "user_id", "order.id": the name of a positional argument written as a (dotted) identifier;
// anything else is named by its position (argN).
constexpr bool plain_name(std::string_view e) noexcept {
  if (e.empty()) return false;
  bool start = true;
  for (char c : e) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (c == '.') {
      if (start) return false;
      start = true;
    } else if (alpha || (digit && !start)) {
      start = false;
    } else {
      return false;
    }
  }
  return !start;
}

inline constexpr std::array<std::string_view, 16> k_positional_names = {
    "arg0", "arg1", "arg2",  "arg3",  "arg4",  "arg5",  "arg6",  "arg7",
    "arg8", "arg9", "arg10", "arg11", "arg12", "arg13", "arg14", "arg15"};

template <class T>
struct is_fmt_named : std::false_type {};
template <class Char, class T>
struct is_fmt_named<fmt::detail::named_arg<Char, T>> : std::true_type {};

template <class T>
concept direct_attribute = std::is_constructible_v<value_ref, const T&> && !std::is_pointer_v<T>;

// Fills the attribute of one argument: named by fmt::arg's name or by its expression; its value
// as is when it is an attribute value, else as fmt formats it (into `text`).
template <class A>
void spdlog_attribute(const A& a, std::string_view expr, std::size_t index, arg& out, std::string& text,
                      bool& stringified) {
  using T = std::remove_cvref_t<A>;
  if constexpr (is_fmt_named<T>::value) {
    using V = std::remove_cvref_t<decltype(a.value)>;
    out.key = a.name;
    if constexpr (direct_attribute<V>) {
      out.value = value_ref(a.value);
    } else {
      text = fmt::format("{}", a.value);
      out.value = value_ref(text);
      stringified = true;
    }
  } else {
    out.key =
        plain_name(expr) ? expr : (index < k_positional_names.size() ? k_positional_names[index] : std::string_view());
    if constexpr (direct_attribute<T> || std::is_same_v<T, const char*> || std::is_same_v<T, char*>) {
      out.value = value_ref(a);
    } else {
      text = fmt::format("{}", a);
      out.value = value_ref(text);
      stringified = true;
    }
  }
}

template <std::size_t N, class... Args>
void spdlog_structured_log(spdlog::logger& logger, spdlog::source_loc loc, spdlog::level::level_enum lvl,
                           const std::array<std::string_view, N>& exprs, spdlog::format_string_t<Args...> format,
                           Args&&... args) {
  static_assert(N == sizeof...(Args));
  if (!logger.should_log(lvl)) return;
  std::array<arg, sizeof...(Args)> attrs{};
  [[maybe_unused]] std::array<std::string, sizeof...(Args)> texts{};
  std::array<bool, sizeof...(Args)> stringified{};
  [[maybe_unused]] std::size_t i = 0;
  ((spdlog_attribute(args, exprs[i], i, attrs[i], texts[i], stringified[i]), ++i), ...);
  const fmt::string_view text(format);
  const spdlog_structured call{std::string_view(text.data(), text.size()), attrs, stringified, lvl, loc.line};
  spdlog_begin_structured(&call);
  struct end_guard {
    ~end_guard() { spdlog_end_structured(); }
  } guard;
  logger.log(loc, lvl, format, std::forward<Args>(args)...);
}

template <std::size_t N, class L, class... Args>
void spdlog_structured_log(const std::shared_ptr<L>& logger, spdlog::source_loc loc, spdlog::level::level_enum lvl,
                           const std::array<std::string_view, N>& exprs, spdlog::format_string_t<Args...> format,
                           Args&&... args) {
  if (logger) spdlog_structured_log(*logger, loc, lvl, exprs, format, std::forward<Args>(args)...);
}

}  // namespace detail
}  // namespace logfire

#define LOGFIRE_DETAIL_STRINGIFY(a) #a

// spdlog calls that keep their format string as `logfire.msg_template` and their arguments as
// attributes: fmt::arg("name", v) by its name, a positional argument by its expression when that
// is an identifier (`user_id`, `order.id`), else argN. `logger`: a spdlog::logger& or a
// std::shared_ptr to one. Source location as spdlog's SPDLOG_LOGGER_* macros give it.
#define LOGFIRE_SPDLOG_LOG(logger, level, format, ...)                                                       \
  ::logfire::detail::spdlog_structured_log(                                                                  \
      logger, ::spdlog::source_loc{__FILE__, __LINE__, SPDLOG_FUNCTION}, level,                              \
      ::logfire::detail::spdlog_expressions(LOGFIRE_DETAIL_FOR_EACH(LOGFIRE_DETAIL_STRINGIFY, __VA_ARGS__)), \
      format __VA_OPT__(, ) __VA_ARGS__)
#define LOGFIRE_SPDLOG_TRACE(logger, format, ...) \
  LOGFIRE_SPDLOG_LOG(logger, ::spdlog::level::trace, format __VA_OPT__(, ) __VA_ARGS__)
#define LOGFIRE_SPDLOG_DEBUG(logger, format, ...) \
  LOGFIRE_SPDLOG_LOG(logger, ::spdlog::level::debug, format __VA_OPT__(, ) __VA_ARGS__)
#define LOGFIRE_SPDLOG_INFO(logger, format, ...) \
  LOGFIRE_SPDLOG_LOG(logger, ::spdlog::level::info, format __VA_OPT__(, ) __VA_ARGS__)
#define LOGFIRE_SPDLOG_WARN(logger, format, ...) \
  LOGFIRE_SPDLOG_LOG(logger, ::spdlog::level::warn, format __VA_OPT__(, ) __VA_ARGS__)
#define LOGFIRE_SPDLOG_ERROR(logger, format, ...) \
  LOGFIRE_SPDLOG_LOG(logger, ::spdlog::level::err, format __VA_OPT__(, ) __VA_ARGS__)
#define LOGFIRE_SPDLOG_CRITICAL(logger, format, ...) \
  LOGFIRE_SPDLOG_LOG(logger, ::spdlog::level::critical, format __VA_OPT__(, ) __VA_ARGS__)
