// The instrumentation API: spans, logs at Logfire's levels, exceptions and context hand-off.
// Every function here is noexcept and cheap: it decides, stamps ids and times, copies the
// argument values into this thread's ring and returns. Setup lives in logfire/config.hpp.
//
//   logfire::span s("charge {user_id}", {{"user_id", 42}});
//   logfire::info("card accepted {last4}", {{"last4", "4242"}});
//   try { ... } catch (const std::exception& e) { s.record_exception(e); }
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <memory>
#include <string_view>

#include "logfire/attributes.hpp"
#include "logfire/context.hpp"
#include "logfire/levels.hpp"
#include "logfire/record.hpp"
#include "logfire/source_location.hpp"

namespace logfire {

// A span link as written at the call site.
struct link_ref {
  span_context context;
  std::initializer_list<arg> attributes{};
};

struct span_options {
  // Added as `logfire.tags` (deduplicated, order kept).
  std::initializer_list<std::string_view> tags{};
  level lvl = level::info;
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

struct log_options {
  std::initializer_list<std::string_view> tags{};
  // Recorded as an `exception` event; the log gets status ERROR.
  const std::exception* exception = nullptr;
  span_context parent{};
};

namespace detail {
struct thread_state;
struct remote_state;
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
  int uncaught_at_start = 0;  // std::uncaught_exceptions() when it started (recording spans)
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
class [[nodiscard]] span {
 public:
  span(std::string_view msg_template, std::initializer_list<arg> args = {}, const span_options& opts = {},
       source_location loc = source_location::current()) noexcept;
  span(span&& other) noexcept;
  span& operator=(span&& other) noexcept;
  span(const span&) = delete;
  span& operator=(const span&) = delete;
  ~span() {
    // Unwinding: more exceptions in flight than when the span started (a span created inside a
    // destructor during unwinding compares equal and is not affected).
    if (st_.recording && st_.active && std::uncaught_exceptions() > st_.uncaught_at_start) [[unlikely]]
      record_unwinding();
    end();
  }

  [[nodiscard]] bool is_recording() const noexcept { return st_.recording && st_.active; }
  [[nodiscard]] span_context context() const noexcept { return st_.self; }

  // Adds or replaces an attribute; the message template may refer to it.
  void set_attribute(std::string_view key, value_ref value) noexcept;
  void set_level(level lvl) noexcept;
  void set_status(status_code code, std::string_view description = {}) noexcept;
  // Adds an `exception` event, sets status ERROR ("<Type>: <message>"); escaped => level error.
  void record_exception(const std::exception& e, bool escaped = false) noexcept;
  void record_exception(std::string_view type, std::string_view message, std::string_view stacktrace = {},
                        bool escaped = false) noexcept;
  void add_event(std::string_view name, std::initializer_list<arg> args = {}) noexcept;
  // Ends now (idempotent). The span stops being current on this thread.
  void end() noexcept;

 private:
  void record_unwinding() noexcept;
  detail::span_state st_;
};

namespace detail {
// Current minimum level as a number; records below it are dropped at the call site.
extern std::atomic<std::uint8_t> g_min_level;
void count_filtered() noexcept;
void emit_log(level lvl, std::string_view msg_template, std::initializer_list<arg> args, const log_options& opts,
              const source_location& loc) noexcept;
}  // namespace detail

// A log: a zero-duration record with `logfire.span_type = "log"`, child of the current span.
inline void log(level lvl, std::string_view msg_template, std::initializer_list<arg> args = {},
                const log_options& opts = {}, source_location loc = source_location::current()) noexcept {
  if (static_cast<std::uint8_t>(lvl) < detail::g_min_level.load(std::memory_order_relaxed)) [[unlikely]] {
    detail::count_filtered();
    return;
  }
  detail::emit_log(lvl, msg_template, args, opts, loc);
}

#define LOGFIRE_DEFINE_LEVEL_FUNCTION(name)                                                                           \
  inline void name(std::string_view msg_template, std::initializer_list<arg> args = {}, const log_options& opts = {}, \
                   source_location loc = source_location::current()) noexcept {                                       \
    log(level::name, msg_template, args, opts, loc);                                                                  \
  }
LOGFIRE_DEFINE_LEVEL_FUNCTION(trace)
LOGFIRE_DEFINE_LEVEL_FUNCTION(debug)
LOGFIRE_DEFINE_LEVEL_FUNCTION(info)
LOGFIRE_DEFINE_LEVEL_FUNCTION(notice)
LOGFIRE_DEFINE_LEVEL_FUNCTION(warn)
LOGFIRE_DEFINE_LEVEL_FUNCTION(error)
LOGFIRE_DEFINE_LEVEL_FUNCTION(fatal)
#undef LOGFIRE_DEFINE_LEVEL_FUNCTION

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
  friend context current_context() noexcept;
  friend class attach;
  friend class attach_context;
  span_context span_{};
  std::uint32_t depth_ = 0;
  std::shared_ptr<const detail::remote_state> remote_;  // tracestate, baggage (rare)
};

[[nodiscard]] context current_context() noexcept;

// Makes `ctx` the current context of this thread until the guard ends (for thread pools:
// capture with current_context() on the submitting thread, attach in the task).
class [[nodiscard]] attach {
 public:
  explicit attach(const context& ctx) noexcept;
  ~attach();
  attach(const attach&) = delete;
  attach& operator=(const attach&) = delete;

 private:
  friend class attach_context;
  attach() noexcept = default;
  void enter(const context& ctx) noexcept;
  span_context saved_{};
  std::uint32_t saved_depth_ = 0;
  std::shared_ptr<const detail::remote_state> saved_remote_;
  bool entered_ = false;
};

}  // namespace logfire
