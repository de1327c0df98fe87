// The instrumentation API: spans, logs at Logfire's levels, exceptions and context hand-off.
// Every function here is noexcept and cheap: it decides, stamps ids and times, copies the
// argument values into this thread's ring and returns. Setup lives in logfire/config.hpp.
//
//   logfire::span s("charge {user_id}", {{"user_id", 42}});
//   logfire::info("card accepted {last4}", {{"last4", "4242"}});
//   try { ... } catch (const std::exception& e) { s.record_exception(e); }
//
// Every file that logs includes this header, so it includes little: <string_view>,
// <initializer_list>, <exception> and the small headers below, not <string>, <vector>,
// <memory>, <optional> or <atomic> (scripts/header-cost measures it; docs/architecture.md,
// "The public headers").
#pragma once

#include <cstdint>
#include <exception>
#include <initializer_list>
#include <string_view>

#include "logfire/attributes.hpp"
#include "logfire/context.hpp"
#include "logfire/levels.hpp"
#include "logfire/source_location.hpp"
#include "logfire/span_kind.hpp"

namespace logfire {

// A span link as written at the call site.
struct link_ref {
  span_context context;
  std::initializer_list<arg> attributes{};
};

struct span_options {
  // Added as `logfire.tags` (deduplicated, order kept).
  std::initializer_list<std::string_view> tags{};
  // Default info, or the level of the handle (logfire::with_settings) that opens the span.
  optional_level level{};
  span_kind kind = span_kind::internal;
  // Explicit parent; when unset (invalid), the thread's current span is the parent.
  span_context parent{};
  // Start a new trace even if a span is current.
  bool new_trace = false;
  std::initializer_list<link_ref> links{};
  // Become this thread's current span, so that spans, logs and outgoing requests started on
  // this thread nest under it until it ends. False for a span tracking work the thread does not
  // wait for (a transfer on a curl multi handle, an asynchronous RPC), which must not stay
  // current while the thread goes on with other things. Default true.
  bool current = true;
};
// The defaults as one constant, the default argument of the calls that take span_options or
// log_options: a call passes its address and builds no temporary (a `= {}` default is built at
// every call, before the level test, even when the record is filtered out).
inline constexpr span_options k_default_span_options{};

struct log_options {
  std::initializer_list<std::string_view> tags{};
  // Recorded as an `exception` event; the log gets status ERROR when its level is error or
  // above (logfire::exception, logfire::error), as in Logfire Python.
  const std::exception* exception = nullptr;
  span_context parent{};
};
inline constexpr log_options k_default_log_options{};  // as k_default_span_options

namespace detail {
struct thread_state;
// State shared by copies and complete only inside the library: a context's tracestate and
// baggage, a handle's tags. Counted by the functions the library defines for each.
struct remote_state;
void retain(const remote_state* p) noexcept;
void release(const remote_state* p) noexcept;
struct handle_tags;
void retain(const handle_tags* p) noexcept;
void release(const handle_tags* p) noexcept;

// A counted reference to one of those: what std::shared_ptr<const T> is here, without <memory>.
template <typename T>
class shared_ref {
 public:
  shared_ref() noexcept = default;
  // Takes over one count (a new object starts with one).
  explicit shared_ref(const T* adopted) noexcept : p_(adopted) {}
  shared_ref(const shared_ref& other) noexcept : p_(other.p_) {
    if (p_) retain(p_);
  }
  shared_ref(shared_ref&& other) noexcept : p_(other.p_) { other.p_ = nullptr; }
  shared_ref& operator=(shared_ref other) noexcept {
    const T* old = p_;
    p_ = other.p_;
    other.p_ = old;
    return *this;
  }
  ~shared_ref() {
    if (p_) release(p_);
  }
  [[nodiscard]] const T* get() const noexcept { return p_; }
  const T* operator->() const noexcept { return p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }

 private:
  const T* p_ = nullptr;
};

// What a handle adds to the records it makes (see logfire::handle).
struct handle_defaults {
  array_view<const std::string_view> tags{};
  optional_level level{};
};
struct span_state {
  span_context self{};
  span_context saved_current{};  // the thread's current span before this one started
  std::uint32_t saved_depth = 0;
  std::uint32_t depth = 0;
  bool recording = false;
  bool active = false;           // not yet ended
  bool is_current = false;       // made itself the thread's current span
  bool escape_recorded = false;  // record_exception(..., escaped = true) ran
  // The pipeline generation (configure() or fork) that recorded the start: updates and the end
  // go to that pipeline only.
  std::uint32_t generation = 0;
  int uncaught_at_start = 0;  // exceptions in flight on its thread when it started (recording spans)
  // The thread that recorded the start (its serial number), and whether an update left that
  // thread's ring (pushed from another thread, or to the side queue of a full ring). An end
  // that did neither follows all of its span's records in one ring: the background thread may
  // apply it as soon as it reads it, without waiting for the other rings.
  std::uint32_t origin = 0;
  bool crossed = false;
};
}  // namespace detail

// A span: started by the constructor, made the current span of this thread, ended by the
// destructor or end(). Move-only; a moved-from span does nothing. A span that is not
// recording (filtered, not sampled, queue full, SDK not configured) still has valid ids so
// that its children and outgoing requests keep the trace together.
//
// A span whose scope is left by an exception ends with level error, status ERROR and an
// `exception` event (escaped), unless record_exception(..., escaped = true) already recorded it.
// The destructor sees only that an exception is unwinding, not which one: that event's type is
// "unknown". Record the exception where it is caught, or use logfire::instrument's function
// form (logfire/instrument.hpp), to get its type and message.
//
// A temporary (`logfire::span("x");`) would end at once: the constructor is [[nodiscard]], so the
// compiler warns.
class [[nodiscard]] span {
 public:
  [[nodiscard]] span(std::string_view msg_template, std::initializer_list<arg> args = {},
                     const span_options& opts = k_default_span_options,
                     source_location loc = source_location::current()) noexcept;
  span(span&& other) noexcept;
  span& operator=(span&& other) noexcept;
  span(const span&) = delete;
  span& operator=(const span&) = delete;
  ~span() {
    if (st_.active) end_of_scope();
  }

  [[nodiscard]] bool is_recording() const noexcept { return st_.recording && st_.active; }
  [[nodiscard]] span_context context() const noexcept { return st_.self; }

  // Adds or replaces an attribute; the message template may refer to it.
  void set_attribute(std::string_view key, value_ref value) noexcept;
  // Adds or replaces several: `s.set_attributes({{"rows", 3}, {"table", "orders"}})`.
  void set_attributes(std::initializer_list<arg> attributes) noexcept {
    for (const arg& a : attributes) set_attribute(a.key, a.value);
  }
  void set_level(level lvl) noexcept;
  void set_status(status_code code, std::string_view description = {}) noexcept;
  // Adds an `exception` event. As in Logfire Python, only an exception that escaped the span
  // (`escaped = true`) also makes it an error: status ERROR ("<Type>: <message>"), level error.
  // One that was caught and handled is recorded as an event only.
  void record_exception(const std::exception& e, bool escaped = false) noexcept;
  void record_exception(std::string_view type, std::string_view message, std::string_view stacktrace = {},
                        bool escaped = false) noexcept;
  void add_event(std::string_view name, std::initializer_list<arg> args = {}) noexcept;
  // Ends now (idempotent). The span stops being current on this thread.
  void end() noexcept;

 private:
  // The destructor's end: first, when an exception unwinds the scope (more exceptions in flight
  // than when the span started; a span created inside a destructor during unwinding compares
  // equal and is not affected), its `exception` event.
  void end_of_scope() noexcept;
  void end(detail::thread_state* ts) noexcept;
  void record_unwinding() noexcept;
  friend class handle;
  // A span opened through a handle: its tags come first, its level is the default.
  span(const detail::handle_defaults& defaults, std::string_view msg_template, std::initializer_list<arg> args,
       const span_options& opts, source_location loc) noexcept;
  void start(const detail::handle_defaults* defaults, std::string_view msg_template, std::initializer_list<arg> args,
             const span_options& opts, const source_location& loc) noexcept;

  detail::span_state st_;
};

namespace detail {
// The minimum level as a number; records below it are dropped at the call site. configure()
// writes it while other threads read it: a relaxed atomic, through the compiler builtins
// std::atomic is made of, so that this header needs no <atomic> (0.4 s of parsing in g++ 12).
extern std::uint8_t g_min_level;
[[nodiscard]] inline std::uint8_t min_level() noexcept {
  return __atomic_load_n(&g_min_level, __ATOMIC_RELAXED);
}
// A log below the minimum level is counted (filtered_by_level) where it is made, inline: one
// add to this thread's counter while the pipeline generation it was found for is the current
// one. count_filtered_slow() does the rest (the first count of a thread, the first after a
// configure(), a thread whose state has been retired) and sets the two values below again;
// the thread's exit clears the pointer. (Plain words accessed with the atomic builtins, as
// g_min_level.)
extern std::uint32_t g_count_generation;  // the configured pipeline's generation, 0 when none
inline thread_local std::uint64_t* t_filtered_count = nullptr;
inline thread_local std::uint32_t t_filtered_generation = 0;
void count_filtered_slow() noexcept;
inline void count_filtered() noexcept {
  std::uint64_t* c = t_filtered_count;
  if (c && t_filtered_generation == __atomic_load_n(&g_count_generation, __ATOMIC_RELAXED)) [[likely]] {
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
    return;
  }
  count_filtered_slow();
}
void emit_log(level lvl, std::string_view msg_template, std::initializer_list<arg> args, const log_options& opts,
              const source_location& loc) noexcept;
// The same for a handle's log: its tags come before the call's own.
void emit_tagged_log(level lvl, std::string_view msg_template, std::initializer_list<arg> args, const log_options& opts,
                     const source_location& loc, array_view<const std::string_view> extra_tags) noexcept;
// The enabled branch of LOGFIRE_LOG: logfire::log()'s defaults, without its level test.
inline void emit_log_with_defaults(level lvl, std::string_view msg_template, std::initializer_list<arg> args = {},
                                   const log_options& opts = k_default_log_options,
                                   source_location loc = source_location::current()) noexcept {
  emit_log(lvl, msg_template, args, opts, loc);
}
}  // namespace detail

// A log: a zero-duration record with `logfire.span_type = "log"`, child of the current span.
inline void log(level lvl, std::string_view msg_template, std::initializer_list<arg> args = {},
                const log_options& opts = k_default_log_options,
                source_location loc = source_location::current()) noexcept {
  if (static_cast<std::uint8_t>(lvl) < detail::min_level()) [[unlikely]] {
    detail::count_filtered();
    return;
  }
  detail::emit_log(lvl, msg_template, args, opts, loc);
}

#define LOGFIRE_DEFINE_LEVEL_FUNCTION(name)                                             \
  inline void name(std::string_view msg_template, std::initializer_list<arg> args = {}, \
                   const log_options& opts = k_default_log_options,                     \
                   source_location loc = source_location::current()) noexcept {         \
    log(level::name, msg_template, args, opts, loc);                                    \
  }
LOGFIRE_DEFINE_LEVEL_FUNCTION(trace)
LOGFIRE_DEFINE_LEVEL_FUNCTION(debug)
LOGFIRE_DEFINE_LEVEL_FUNCTION(info)
LOGFIRE_DEFINE_LEVEL_FUNCTION(notice)
LOGFIRE_DEFINE_LEVEL_FUNCTION(warn)
LOGFIRE_DEFINE_LEVEL_FUNCTION(warning)
LOGFIRE_DEFINE_LEVEL_FUNCTION(error)
LOGFIRE_DEFINE_LEVEL_FUNCTION(fatal)
#undef LOGFIRE_DEFINE_LEVEL_FUNCTION

// The same logs as macros that evaluate nothing of the call below `min_level`:
//
//   LOGFIRE_DEBUG("cache miss {key}", {{"key", key}, {"size", describe(entry)}});
//
// is logfire::debug(...) with the same arguments and source location, except that a filtered
// call builds no attributes (describe() is not called): under 1 ns, against about 2.5 ns for
// the function with two attributes (bench_core). The filtered call is counted
// (filtered_by_level) as the function's is. LOGFIRE_LOG(level, ...) takes the level as a value.
#define LOGFIRE_LOG(lvl, ...)                                                                         \
  do {                                                                                                \
    const ::logfire::level logfire_detail_lvl_ = (lvl);                                               \
    if (static_cast<std::uint8_t>(logfire_detail_lvl_) < ::logfire::detail::min_level()) [[unlikely]] \
      ::logfire::detail::count_filtered();                                                            \
    else                                                                                              \
      ::logfire::detail::emit_log_with_defaults(logfire_detail_lvl_, __VA_ARGS__);                    \
  } while (false)
#define LOGFIRE_TRACE(...) LOGFIRE_LOG(::logfire::level::trace, __VA_ARGS__)
#define LOGFIRE_DEBUG(...) LOGFIRE_LOG(::logfire::level::debug, __VA_ARGS__)
#define LOGFIRE_INFO(...) LOGFIRE_LOG(::logfire::level::info, __VA_ARGS__)
#define LOGFIRE_NOTICE(...) LOGFIRE_LOG(::logfire::level::notice, __VA_ARGS__)
#define LOGFIRE_WARN(...) LOGFIRE_LOG(::logfire::level::warn, __VA_ARGS__)
#define LOGFIRE_ERROR(...) LOGFIRE_LOG(::logfire::level::error, __VA_ARGS__)
#define LOGFIRE_FATAL(...) LOGFIRE_LOG(::logfire::level::fatal, __VA_ARGS__)

// Logs `e` at error level with an `exception` event: `logfire::exception("payment failed", e)`.
inline void exception(std::string_view msg_template, const std::exception& e, std::initializer_list<arg> args = {},
                      source_location loc = source_location::current()) noexcept {
  log(level::error, msg_template, args, log_options{.exception = &e}, loc);
}

// The current span of this thread (invalid when there is none).
[[nodiscard]] span_context current_span_context() noexcept;

// A context to hand to another thread: the current span, its depth and the remote state
// (tracestate) it carries. Cheap to copy for the common case.
class context {
 public:
  context() = default;
  [[nodiscard]] const span_context& span() const noexcept { return span_; }
  [[nodiscard]] bool valid() const noexcept { return span_.valid(); }
  // This context with `s` as its span, keeping the tracestate and baggage it carries: the
  // context of a span started under it with `.current = false`, to attach while injecting that
  // span into an outgoing request.
  [[nodiscard]] context with_span(const span_context& s) const noexcept {
    context c = *this;
    c.span_ = s;
    c.depth_ = depth_ + 1;
    return c;
  }

 private:
  friend context capture_context() noexcept;
  friend class context_scope;
  friend class attach_context;
  friend class set_baggage;
  span_context span_{};
  std::uint32_t depth_ = 0;
  detail::shared_ref<detail::remote_state> remote_;  // tracestate, baggage (rare)
};

[[nodiscard]] context capture_context() noexcept;

// Makes `ctx` the current context of this thread until the guard ends (for thread pools:
// capture with capture_context() on the submitting thread, hold a context_scope in the task).
class [[nodiscard]] context_scope {
 public:
  [[nodiscard]] explicit context_scope(const context& ctx) noexcept;
  ~context_scope();
  context_scope(const context_scope&) = delete;
  context_scope& operator=(const context_scope&) = delete;

 private:
  friend class attach_context;
  friend class set_baggage;
  context_scope() noexcept = default;
  void enter(const context& ctx) noexcept;
  span_context saved_{};
  std::uint32_t saved_depth_ = 0;
  detail::shared_ref<detail::remote_state> saved_remote_;
  bool entered_ = false;
};

// What logfire::with_settings() sets on a handle (Logfire Python's `with_settings`).
struct handle_settings {
  // Added to every span and log made through the handle, before the call's own tags (copied:
  // the strings need not outlive the call).
  std::initializer_list<std::string_view> tags{};
  // The level of spans opened through the handle when the call gives none. Default info.
  optional_level level{};
};

// A handle carrying tags and a default level, as Logfire Python's `logfire.with_tags(...)` and
// `logfire.with_settings(...)` return. Cheap to copy and to keep (in a class, a namespace-scope
// constant); safe to use from any thread. Its calls cost what the free functions cost, plus
// its tags' bytes in the record.
//
//   const auto payments = logfire::with_tags({"payments"});
//   payments.info("charged {user_id}", {{"user_id", 42}});           // tags: payments
//   auto s = payments.span("refund {id}", {{"id", 7}}, {.tags = {"slow"}});  // payments, slow
class handle {
 public:
  handle() = default;

  // A new handle with `tags` added to this one's.
  [[nodiscard]] handle with_tags(std::initializer_list<std::string_view> tags) const;
  // A new handle with `settings` applied: tags are added, a level replaces this one's.
  [[nodiscard]] handle with_settings(const handle_settings& settings) const;

  [[nodiscard]] array_view<const std::string_view> tags() const noexcept { return d_.tags; }
  [[nodiscard]] optional_level level() const noexcept { return d_.level; }

  // logfire::span through this handle.
  [[nodiscard]] logfire::span span(std::string_view msg_template, std::initializer_list<arg> args = {},
                                   const span_options& opts = k_default_span_options,
                                   source_location loc = source_location::current()) const noexcept {
    return logfire::span(d_, msg_template, args, opts, loc);
  }

  void log(logfire::level lvl, std::string_view msg_template, std::initializer_list<arg> args = {},
           const log_options& opts = k_default_log_options,
           source_location loc = source_location::current()) const noexcept {
    if (static_cast<std::uint8_t>(lvl) < detail::min_level()) [[unlikely]] {
      detail::count_filtered();
      return;
    }
    detail::emit_tagged_log(lvl, msg_template, args, opts, loc, d_.tags);
  }

#define LOGFIRE_DEFINE_HANDLE_LEVEL(name)                                                                      \
  void name(std::string_view msg_template, std::initializer_list<arg> args = {},                               \
            const log_options& opts = k_default_log_options, source_location loc = source_location::current()) \
      const noexcept {                                                                                         \
    log(logfire::level::name, msg_template, args, opts, loc);                                                  \
  }
  LOGFIRE_DEFINE_HANDLE_LEVEL(trace)
  LOGFIRE_DEFINE_HANDLE_LEVEL(debug)
  LOGFIRE_DEFINE_HANDLE_LEVEL(info)
  LOGFIRE_DEFINE_HANDLE_LEVEL(notice)
  LOGFIRE_DEFINE_HANDLE_LEVEL(warn)
  LOGFIRE_DEFINE_HANDLE_LEVEL(warning)
  LOGFIRE_DEFINE_HANDLE_LEVEL(error)
  LOGFIRE_DEFINE_HANDLE_LEVEL(fatal)
#undef LOGFIRE_DEFINE_HANDLE_LEVEL

  void exception(std::string_view msg_template, const std::exception& e, std::initializer_list<arg> args = {},
                 source_location loc = source_location::current()) const noexcept {
    log(logfire::level::error, msg_template, args, log_options{.exception = &e}, loc);
  }

 private:
  handle(detail::shared_ref<detail::handle_tags> tags, optional_level lvl) noexcept;

  // Immutable once built and shared by copies, so the views in d_ stay valid.
  detail::shared_ref<detail::handle_tags> tags_;
  detail::handle_defaults d_{};
};

// A handle whose spans and logs carry `tags`: `logfire::with_tags({"payments"})`.
[[nodiscard]] handle with_tags(std::initializer_list<std::string_view> tags);
// A handle with tags and a default span level: `logfire::with_settings({.tags = {"db"}})`.
[[nodiscard]] handle with_settings(const handle_settings& settings);

// While the guard lives, spans and logs made on this thread are not recorded (counted as
// `suppressed`), as inside Logfire Python's `with logfire.suppress_instrumentation():`. For
// code whose own telemetry would be noise (a health check, the SDK's own calls). Nests; other
// threads are not affected.
class suppress_instrumentation {
 public:
  [[nodiscard]] suppress_instrumentation() noexcept;
  ~suppress_instrumentation();
  suppress_instrumentation(const suppress_instrumentation&) = delete;
  suppress_instrumentation& operator=(const suppress_instrumentation&) = delete;

 private:
  bool previous_ = false;
};

}  // namespace logfire
