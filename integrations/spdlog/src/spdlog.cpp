// The Logfire sink for spdlog and the asynchronous logger that runs it on the caller's thread.
// Threads: spdlog_sink::sink_it_ runs on whichever thread spdlog calls its sinks from: the
// logging thread for a synchronous logger and for spdlog_async_logger, spdlog's worker thread for
// a plain spdlog::async_logger (detected by comparing the record's thread id with ours).
#include "logfire/spdlog.hpp"

#include <spdlog/details/os.h>
#include <spdlog/details/registry.h>

#include <cstdio>
#include <exception>
#include <string>

#include "literal_template.hpp"
#include "logfire/config.hpp"
#include "span_args.hpp"

namespace logfire {
namespace {

thread_local const detail::spdlog_structured* t_structured = nullptr;
std::atomic<bool> g_warned_async{false};

[[gnu::cold]] void warn_async_once() noexcept {
  if (g_warned_async.exchange(true, std::memory_order_relaxed)) return;
  std::fputs(
      "logfire: logfire::spdlog_sink runs on spdlog's asynchronous worker thread, where the trace context of the "
      "call site is gone: these logs have no parent span. Create the logger with "
      "logfire::make_spdlog_async_logger to keep it.\n",
      stderr);
}

level to_level(spdlog::level::level_enum l, bool& off) noexcept {
  off = false;
  switch (l) {
    case spdlog::level::trace:
      return level::trace;
    case spdlog::level::debug:
      return level::debug;
    case spdlog::level::info:
      return level::info;
    case spdlog::level::warn:
      return level::warn;
    case spdlog::level::err:
      return level::error;
    case spdlog::level::critical:
      return level::fatal;
    default:
      off = true;
      return level::info;
  }
}

// fmt's format string as a Logfire template: positional fields ({}, {0}, {:spec}, {1:spec}) take
// their argument's attribute name; named fields stay; a spec is kept unless the argument went
// through fmt (then its value is already text as fmt formats it without a spec). Returns false
// for what Logfire's templates cannot say (nested replacement fields, an index without an
// argument, unbalanced braces): the caller then uses the formatted message.
bool to_logfire_template(const detail::spdlog_structured& call, std::string& out) {
  const std::string_view f = call.format;
  out.clear();
  out.reserve(f.size() + 16);
  std::size_t next_auto = 0;
  for (std::size_t i = 0; i < f.size(); ++i) {
    const char c = f[i];
    if (c == '}') {
      if (i + 1 < f.size() && f[i + 1] == '}') {
        out += "}}";
        ++i;
        continue;
      }
      return false;
    }
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '{') {
      out += "{{";
      ++i;
      continue;
    }
    const std::size_t close = f.find('}', i + 1);
    if (close == std::string_view::npos) return false;
    const std::string_view field = f.substr(i + 1, close - i - 1);
    if (field.find('{') != std::string_view::npos) return false;  // dynamic width/precision
    const std::size_t colon = field.find(':');
    const std::string_view id = field.substr(0, colon);
    const std::string_view spec = colon == std::string_view::npos ? std::string_view() : field.substr(colon);
    std::size_t index = call.args.size();
    if (id.empty()) {
      index = next_auto++;
    } else if (id.find_first_not_of("0123456789") == std::string_view::npos) {
      index = 0;
      for (char d : id) index = index * 10 + static_cast<std::size_t>(d - '0');
    } else {
      for (std::size_t k = 0; k < call.args.size(); ++k)
        if (call.args[k].key == id) index = k;
    }
    if (index >= call.args.size() || call.args[index].key.empty()) return false;
    out.push_back('{');
    out.append(call.args[index].key);
    if (!call.stringified[index]) out.append(spec);
    out.push_back('}');
    i = close;
  }
  return true;
}

}  // namespace

namespace detail {
void spdlog_begin_structured(const spdlog_structured* call) noexcept {
  t_structured = call;
}
void spdlog_end_structured() noexcept {
  t_structured = nullptr;
}
}  // namespace detail

void spdlog_sink::sink_it_(const spdlog::details::log_msg& msg) {
  bool off = false;
  const logfire::level lvl = to_level(msg.level, off);
  if (off) return;
  const bool on_caller = msg.thread_id == spdlog::details::os::thread_id();
  if (!on_caller) [[unlikely]]
    warn_async_once();
  try {
    // spdlog's source_loc holds __FILE__ and __func__ literals (static storage, as
    // logfire::source_location requires); a call without one has null pointers.
    const source_location loc =
        source_location::current(msg.source.filename, static_cast<std::uint32_t>(msg.source.line), msg.source.funcname);
    thread_local std::string tmpl;
    const detail::spdlog_structured* call = on_caller ? t_structured : nullptr;
    if (call && (call->lvl != msg.level || call->line != msg.source.line)) call = nullptr;  // a nested record
    detail::span_args args;
    if (call && to_logfire_template(*call, tmpl)) {
      for (const arg& a : call->args) args.add(a.key, a.value);
    } else {
      detail::assign_literal_template(std::string_view(msg.payload.data(), msg.payload.size()), tmpl);
    }
    args.add("logfire.logger_name", std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    args.add("thread.id", static_cast<std::uint64_t>(msg.thread_id));
    detail::log_with(lvl, tmpl, args, {}, loc);
  } catch (...) {
    // Out of memory for the template: the record is lost to Logfire, not to spdlog's other sinks.
  }
}

void spdlog_sink::flush_() {
  (void)force_flush(opts_.flush_timeout);
}

spdlog_async_logger::spdlog_async_logger(std::string name, const std::vector<spdlog::sink_ptr>& sinks,
                                         std::shared_ptr<spdlog::details::thread_pool> pool,
                                         spdlog::async_overflow_policy policy)
    : spdlog::logger(name), pool_(std::move(pool)), policy_(policy) {
  std::vector<spdlog::sink_ptr> others;
  for (const auto& s : sinks) {
    if (std::dynamic_pointer_cast<spdlog_sink>(s))
      sinks_.push_back(s);
    else
      others.push_back(s);
  }
  if (!others.empty()) {
    async_ = std::make_shared<spdlog::async_logger>(std::move(name), others.begin(), others.end(), pool_, policy_);
    async_->set_level(spdlog::level::trace);  // this logger's level decides
  }
}

std::shared_ptr<spdlog::logger> spdlog_async_logger::clone(std::string new_name) {
  std::vector<spdlog::sink_ptr> all = sinks_;
  if (async_) all.insert(all.end(), async_->sinks().begin(), async_->sinks().end());
  auto copy = std::make_shared<spdlog_async_logger>(std::move(new_name), all, pool_, policy_);
  copy->set_level(level());
  copy->flush_on(flush_level());
  return copy;
}

std::vector<spdlog::sink_ptr>& spdlog_async_logger::async_sinks() {
  static std::vector<spdlog::sink_ptr> none;
  return async_ ? async_->sinks() : none;
}

void spdlog_async_logger::sink_it_(const spdlog::details::log_msg& msg) {
  // The Logfire sinks first, here, where the call site's span is current.
  for (auto& sink : sinks_) {
    if (sink->should_log(msg.level)) {
      try {
        sink->log(msg);
      } catch (const std::exception& e) {
        err_handler_(e.what());
      } catch (...) {
        err_handler_("unknown exception in a Logfire sink");
      }
    }
  }
  // Then the others: a copy of the record goes to spdlog's queue.
  if (async_) async_->log(msg.time, msg.source, msg.level, msg.payload);
  if (should_flush_(msg)) flush_();
}

void spdlog_async_logger::flush_() {
  for (auto& sink : sinks_) {
    try {
      sink->flush();
    } catch (const std::exception& e) {
      err_handler_(e.what());
    } catch (...) {
      err_handler_("unknown exception flushing a Logfire sink");
    }
  }
  if (async_) async_->flush();
}

std::shared_ptr<spdlog_async_logger> make_spdlog_async_logger(std::string name,
                                                              const std::vector<spdlog::sink_ptr>& sinks,
                                                              std::shared_ptr<spdlog::details::thread_pool> pool,
                                                              spdlog::async_overflow_policy policy) {
  if (!pool) {
    auto& registry = spdlog::details::registry::instance();
    std::lock_guard<std::recursive_mutex> lock(registry.tp_mutex());
    pool = registry.get_tp();
    if (!pool) {
      pool = std::make_shared<spdlog::details::thread_pool>(8192, 1U);
      registry.set_tp(pool);
    }
  }
  return std::make_shared<spdlog_async_logger>(std::move(name), sinks, std::move(pool), policy);
}

}  // namespace logfire
