// The caller's side of the pipeline: span handles and logs. Runs on the application's
// threads, so it only decides (level, sampling), stamps (ids, times), copies the argument
// values into this thread's ring and returns. No locks, no allocation on the common path.
#include <cstdio>
#include <cstring>
#include <typeinfo>
#include <vector>

#include "context/ids.hpp"
#include "logfire/logfire.hpp"
#include "pipeline/barrier.hpp"
#include "pipeline/pipeline.hpp"
#include "pipeline/remote.hpp"
#include "pipeline/thread_state.hpp"
#include "pipeline/wire.hpp"

namespace logfire {
namespace detail {

std::atomic<std::uint8_t> g_min_level{0};

namespace {

// ---------------------------------------------------------------------------------------
// Records that update an open span must not be lost when the ring is full (a span's end
// especially). They go to this side queue instead: a slow path with a mutex. Ends are always
// taken (bounded by the number of live span handles: a span ends once); other updates are
// bounded by k_side_queue_limit bytes, and counted as span_updates_lost beyond it.
constexpr std::size_t k_side_queue_limit = 4u << 20;

struct side_queue {
  std::mutex mutex;
  std::vector<std::vector<std::byte>> records;  // each: ring_record_header + body, in push order
  std::size_t bytes = 0;
};
side_queue g_side;

// A logfire call in progress on this thread: raises the thread's in-call depth before it reads
// the active control block, so that shutdown() can wait for it (see pipeline/barrier.hpp), and
// starts the thread's counters afresh for a new pipeline generation.
class call_scope {
 public:
  explicit call_scope(thread_state& ts) noexcept : ts_(ts) {
    ts_.in_call.store(ts_.in_call.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    light_barrier();
    ctl_ = g_control.load(std::memory_order_acquire);
    if (ctl_ && ts_.counters.generation.load(std::memory_order_relaxed) != ctl_->generation) [[unlikely]]
      ts_.counters.rollover(ctl_->generation);
  }
  ~call_scope() { ts_.in_call.store(ts_.in_call.load(std::memory_order_relaxed) - 1, std::memory_order_release); }
  call_scope(const call_scope&) = delete;
  call_scope& operator=(const call_scope&) = delete;

  // The pipeline this call belongs to, or null when none is configured.
  [[nodiscard]] control* get() const noexcept { return ctl_; }

 private:
  thread_state& ts_;
  control* ctl_;
};

std::atomic<bool> g_warned_not_configured{false};
std::atomic<std::uint64_t> g_not_configured{0};

[[gnu::noinline, gnu::cold]] void note_not_configured() noexcept {
  g_not_configured.fetch_add(1, std::memory_order_relaxed);
  if (!g_warned_not_configured.exchange(true, std::memory_order_relaxed)) {
    std::fputs(
        "logfire: a span or log was created before logfire::configure() (or after shutdown()); it is not recorded. "
        "Call logfire::configure() at startup.\n",
        stderr);
  }
}

inline std::uint8_t reason_index(drop_reason r) noexcept {
  return static_cast<std::uint8_t>(r);
}

// ----- value encoding ------------------------------------------------------------------

struct encode_limits {
  std::size_t max_value_length;
  std::size_t max_attributes;
};

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
inline std::string_view cut(std::string_view s, std::size_t max, bool& truncated) noexcept {
  if (s.size() <= max) return s;
  truncated = true;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// The encoders are templates over the writer: byte_sizer computes a record's size (plain
// arithmetic after inlining), byte_writer then writes it into the reserved ring space.
template <typename W>
void encode_value(W& w, const value_ref& v, const encode_limits& lim, bool& truncated, int depth = 0) noexcept;

template <typename T, typename W>
void encode_typed_numbers(W& w, const void* data, std::size_t n, vtag tag) noexcept {
  const T* p = static_cast<const T*>(data);
  w.u8(static_cast<std::uint8_t>(tag));
  w.u32(static_cast<std::uint32_t>(n));
  for (std::size_t i = 0; i < n; ++i) {
    if constexpr (std::is_floating_point_v<T>) {
      w.pod(static_cast<double>(p[i]));
    } else if constexpr (std::is_same_v<T, bool>) {
      w.pod(static_cast<std::int64_t>(p[i] ? 1 : 0));
    } else if constexpr (std::is_signed_v<T>) {
      w.pod(static_cast<std::int64_t>(p[i]));
    } else {
      w.pod(static_cast<std::uint64_t>(p[i]));
    }
  }
}

template <typename W>
void encode_typed_array(W& w, const value_ref& v, const encode_limits& lim, bool& truncated) noexcept {
  w.u8(static_cast<std::uint8_t>(vtag::typed_array));
  std::size_t n = v.typed_size();
  if (n > lim.max_attributes * 8) {  // arrays are bounded like everything else
    n = lim.max_attributes * 8;
    truncated = true;
  }
  const void* d = v.typed_data();
  switch (v.typed_element()) {
    case element_type::boolean:
      return encode_typed_numbers<bool>(w, d, n, vtag::boolean);
    case element_type::i8:
      return encode_typed_numbers<std::int8_t>(w, d, n, vtag::int64);
    case element_type::i16:
      return encode_typed_numbers<std::int16_t>(w, d, n, vtag::int64);
    case element_type::i32:
      return encode_typed_numbers<std::int32_t>(w, d, n, vtag::int64);
    case element_type::i64:
      return encode_typed_numbers<std::int64_t>(w, d, n, vtag::int64);
    case element_type::u8:
      return encode_typed_numbers<std::uint8_t>(w, d, n, vtag::uint64);
    case element_type::u16:
      return encode_typed_numbers<std::uint16_t>(w, d, n, vtag::uint64);
    case element_type::u32:
      return encode_typed_numbers<std::uint32_t>(w, d, n, vtag::uint64);
    case element_type::u64:
      return encode_typed_numbers<std::uint64_t>(w, d, n, vtag::uint64);
    case element_type::f32:
      return encode_typed_numbers<float>(w, d, n, vtag::float64);
    case element_type::f64:
      return encode_typed_numbers<double>(w, d, n, vtag::float64);
    case element_type::string:
    case element_type::string_view:
    case element_type::c_string: {
      w.u8(static_cast<std::uint8_t>(vtag::string));
      w.u32(static_cast<std::uint32_t>(n));
      for (std::size_t i = 0; i < n; ++i) {
        std::string_view s;
        if (v.typed_element() == element_type::string)
          s = static_cast<const std::string*>(d)[i];
        else if (v.typed_element() == element_type::string_view)
          s = static_cast<const std::string_view*>(d)[i];
        else {
          const char* c = static_cast<const char* const*>(d)[i];
          s = c ? std::string_view(c) : std::string_view();
        }
        w.str(cut(s, lim.max_value_length, truncated));
      }
      return;
    }
  }
}

template <typename W>
void encode_value(W& w, const value_ref& v, const encode_limits& lim, bool& truncated, int depth) noexcept {
  switch (v.type()) {
    case value_ref::kind::nil:
      w.u8(static_cast<std::uint8_t>(vtag::null));
      return;
    case value_ref::kind::boolean:
      w.u8(static_cast<std::uint8_t>(vtag::boolean));
      w.u8(v.as_bool() ? 1 : 0);
      return;
    case value_ref::kind::int64:
      w.u8(static_cast<std::uint8_t>(vtag::int64));
      w.pod(v.as_int64());
      return;
    case value_ref::kind::uint64:
      w.u8(static_cast<std::uint8_t>(vtag::uint64));
      w.pod(v.as_uint64());
      return;
    case value_ref::kind::float64:
      w.u8(static_cast<std::uint8_t>(vtag::float64));
      w.pod(v.as_double());
      return;
    case value_ref::kind::string:
      w.u8(static_cast<std::uint8_t>(vtag::string));
      w.str(cut(v.as_string(), lim.max_value_length, truncated));
      return;
    case value_ref::kind::typed_array:
      encode_typed_array(w, v, lim, truncated);
      return;
    case value_ref::kind::array: {
      if (depth >= 16) {  // bounded nesting keeps the background's recursion bounded
        truncated = true;
        w.u8(static_cast<std::uint8_t>(vtag::null));
        return;
      }
      auto items = v.as_array();
      w.u8(static_cast<std::uint8_t>(vtag::array));
      w.u32(static_cast<std::uint32_t>(items.size()));
      for (const auto& item : items) encode_value(w, item, lim, truncated, depth + 1);
      return;
    }
    case value_ref::kind::object: {
      if (depth >= 16) {
        truncated = true;
        w.u8(static_cast<std::uint8_t>(vtag::null));
        return;
      }
      auto members = v.as_object();
      w.u8(static_cast<std::uint8_t>(vtag::object));
      w.u32(static_cast<std::uint32_t>(members.size()));
      for (const auto& m : members) {
        w.str(cut(m.key, lim.max_value_length, truncated));
        encode_value(w, m.value, lim, truncated, depth + 1);
      }
      return;
    }
  }
}

template <typename W>
void encode_args(W& w, std::initializer_list<arg> args, std::size_t n, const encode_limits& lim,
                 bool& truncated) noexcept {
  std::size_t i = 0;
  for (const arg& a : args) {
    if (i++ == n) break;
    w.str(cut(a.key, 256, truncated));
    encode_value(w, a.value, lim, truncated);
  }
}

struct record_input {
  rec kind;
  const record_fixed* fixed;
  std::string_view tmpl;
  std::string_view trace_state;
  std::initializer_list<std::string_view> tags;
  std::initializer_list<arg> args;
  std::initializer_list<link_ref> links;
  // exception (logs and exception updates)
  const std::exception* exc = nullptr;
  // link mode: the incoming context a new root links to
  const span_context* extra_link = nullptr;
};

template <typename W>
void encode_exception(W& w, const std::exception& e, const encode_limits& lim, bool& truncated) noexcept {
  // typeid(...).name() has static storage: pass the pointer, demangle on the background.
  w.u8(static_cast<std::uint8_t>(exc_type::mangled));
  w.pod(typeid(e).name());
  const char* what = e.what();
  w.str(cut(what ? std::string_view(what) : std::string_view(), lim.max_value_length, truncated));
  w.str({});  // no stack trace for a std::exception
}

// Flattened: the argument and value encoders are inlined into it (the caller's hot path).
template <typename W>
[[gnu::flatten]] void encode_body(W& w, const record_input& in, const encode_limits& lim, bool& truncated) noexcept {
  w.pod(*in.fixed);
  w.str(cut(in.tmpl, lim.max_value_length, truncated));
  w.str(in.trace_state);
  for (auto t : in.tags) w.str(cut(t, 256, truncated));
  encode_args(w, in.args, in.fixed->n_attrs, lim, truncated);
  for (const link_ref& l : in.links) {
    w.pod(l.context.trace.hi);
    w.pod(l.context.trace.lo);
    w.pod(l.context.span.value);
    w.u8(l.context.flags);
    w.u32(static_cast<std::uint32_t>(l.attributes.size()));
    encode_args(w, l.attributes, l.attributes.size(), lim, truncated);
  }
  if (in.extra_link) {
    w.pod(in.extra_link->trace.hi);
    w.pod(in.extra_link->trace.lo);
    w.pod(in.extra_link->span.value);
    w.u8(in.extra_link->flags);
    w.u32(0);
  }
  if (in.exc) encode_exception(w, *in.exc, lim, truncated);
}

inline std::size_t round8(std::size_t n) noexcept {
  return (n + 7) & ~std::size_t{7};
}

// Encodes a record of `kind` with `body_fn(writer)` into the ring (two passes: size,
// then write). Returns false when the ring is full.
template <typename BodyFn>
bool push(thread_state& ts, control& ctl, rec kind, BodyFn&& body_fn) noexcept {
  byte_sizer sizer;
  body_fn(sizer);
  const std::size_t total = round8(sizeof(ring_record_header) + sizer.size());
  std::byte* out = ts.ring.try_reserve(total);
  if (!out) return false;
  auto* h = reinterpret_cast<ring_record_header*>(out);
  h->size = static_cast<std::uint32_t>(total);
  h->tag = ring_record_header::make_tag(static_cast<std::uint8_t>(kind), ctl.generation);
  byte_writer w(out + sizeof(ring_record_header));
  body_fn(w);
  ts.ring.commit(total);
  if (ts.ring.used_by_producer() > ts.ring.capacity() / 2) [[unlikely]]
    ctl.wake();
  return true;
}

// Slow path for span updates that did not fit in the ring. Allocates (a cold path); an
// allocation failure loses the update, like a full queue.
template <typename BodyFn>
[[gnu::noinline]] bool push_side(std::uint32_t generation, rec kind, bool always, BodyFn&& body_fn) noexcept {
  try {
    byte_sizer sizer;
    body_fn(sizer);
    const std::size_t total = round8(sizeof(ring_record_header) + sizer.size());
    std::vector<std::byte> buf(total);
    auto* h = reinterpret_cast<ring_record_header*>(buf.data());
    h->size = static_cast<std::uint32_t>(total);
    h->tag = ring_record_header::make_tag(static_cast<std::uint8_t>(kind), generation);
    byte_writer w(buf.data() + sizeof(ring_record_header));
    body_fn(w);
    std::lock_guard lock(g_side.mutex);
    if (!always && g_side.bytes + total > k_side_queue_limit) return false;
    g_side.records.push_back(std::move(buf));
    g_side.bytes += total;
    return true;
  } catch (...) {
    return false;
  }
}

// Pushes an update of the span `st` (its end, an attribute, ...): to the pipeline that
// recorded the span only. `make(w, settings)` writes the body.
template <typename Make>
bool push_update(const span_state& st, rec kind, bool must_arrive, Make&& make) noexcept {
  thread_state& ts = this_thread_state();
  const call_scope call(ts);
  control* ctl = call.get();
  if (!ctl || ctl->generation != st.generation) return false;  // the span's pipeline is gone
  auto body_fn = [&](auto& w) { make(w, ctl->settings); };
  if (push(ts, *ctl, kind, body_fn)) return true;
  if (push_side(ctl->generation, kind, must_arrive, body_fn)) return true;
  ts.counters.events[static_cast<std::size_t>(event_counter::span_updates_lost)].add();
  return false;
}

// Counts a span update whose values were cut to the limits.
inline void note_truncated(bool truncated) noexcept {
  if (truncated) [[unlikely]]
    this_thread_state().counters.events[static_cast<std::size_t>(event_counter::attributes_truncated)].add();
}

// The sampling decision for a new span or log: returns 0 to record, or the drop reason + 1.
struct decision {
  std::uint8_t flags;
  std::uint8_t drop;  // 0 = record, else drop_reason + 1
};

// The reason a span or log under an unsampled parent is not recorded.
[[gnu::noinline]] std::uint8_t unsampled_parent_reason(const span_context& parent,
                                                       const remote_state* remote) noexcept {
  if (!parent.is_remote) return reason_index(drop_reason::parent_not_recorded);
  // A platform's "not sampled" flag that our own head sampler confirmed (attach_context on
  // Cloud Run & co. in the default mode): our sampler's decision.
  if (remote && remote->head_sampled_out && remote->incoming.span == parent.span &&
      remote->incoming.trace == parent.trace)
    return reason_index(drop_reason::not_sampled);
  // Otherwise the caller's decision, counted apart so that the platform case is visible.
  return reason_index(drop_reason::remote_parent_not_sampled);
}

inline decision decide(const control& ctl, const span_context& parent, trace_id trace, std::string_view name, level lvl,
                       bool is_log, const remote_state* remote) noexcept {
  const pipeline_settings& s = ctl.settings;
  if (parent.valid()) {
    std::uint8_t flags = parent.flags & trace_flags::known;
    if (flags & trace_flags::sampled) return {flags, 0};
    return {flags, static_cast<std::uint8_t>(unsampled_parent_reason(parent, remote) + 1)};
  }
  std::uint8_t flags = trace_flags::random;
  if (!s.head_sampler.keeps(trace))
    return {flags, static_cast<std::uint8_t>(reason_index(drop_reason::not_sampled) + 1)};
  if (s.hook) {
    bool keep = true;
    try {
      keep = s.hook(sampling_input{trace, parent, name, lvl, is_log});
    } catch (...) {
      keep = true;  // a throwing hook must not lose data silently nor crash: keep
    }
    if (!keep) return {flags, static_cast<std::uint8_t>(reason_index(drop_reason::sampler_hook) + 1)};
  }
  return {static_cast<std::uint8_t>(flags | trace_flags::sampled), 0};
}

}  // namespace

void count_filtered() noexcept {
  // One counter, so the call is never seen half counted; no in-call scope (nothing is pushed):
  // a count racing with shutdown() lands in the closed ledger, produced and dropped together.
  thread_state& ts = this_thread_state();
  if (const control* ctl = g_control.load(std::memory_order_acquire);
      ctl && ts.counters.generation.load(std::memory_order_relaxed) != ctl->generation) [[unlikely]]
    ts.counters.rollover(ctl->generation);
  ts.counters.dropped[static_cast<std::size_t>(drop_reason::filtered_by_level)].add();
}

std::mutex& side_queue_mutex() noexcept {
  return g_side.mutex;
}

// fork() child: the records are the parent's; the prepare handler took the mutex.
void side_queue_after_fork_in_child() noexcept {
  g_side.records.clear();
  g_side.bytes = 0;
  g_side.mutex.unlock();
}

// Background thread: how many records the side queue holds now (the drain's first pass).
std::size_t side_queue_size() noexcept {
  std::lock_guard lock(g_side.mutex);
  return g_side.records.size();
}

std::uint64_t not_configured_count() noexcept {
  return g_not_configured.load(std::memory_order_relaxed);
}

// Background thread: takes the records that went to the side queue, in push order. `out` must
// be empty (the caller processed and cleared the previous ones); no allocation.
void take_side_records(std::vector<std::vector<std::byte>>& out) noexcept {
  std::lock_guard lock(g_side.mutex);
  out.swap(g_side.records);
  g_side.bytes = 0;
}

void emit_log(level lvl, std::string_view msg_template, std::initializer_list<arg> args, const log_options& opts,
              const source_location& loc) noexcept {
  if (!g_control.load(std::memory_order_relaxed)) [[unlikely]] {  // no thread state before configure()
    note_not_configured();
    return;
  }
  thread_state& ts = this_thread_state();
  const call_scope call(ts);
  control* ctl = call.get();
  if (!ctl) [[unlikely]] {
    note_not_configured();
    return;
  }
  const bool explicit_parent = opts.parent.valid();
  const span_context parent = explicit_parent ? opts.parent : ts.current;
  const std::uint64_t now = now_unix_nano();
  const trace_id trace = parent.valid() ? parent.trace : new_trace_id(now);
  const decision d = decide(*ctl, parent, trace, msg_template, lvl, true, ts.remote.get());
  if (d.drop) {
    ts.counters.dropped[d.drop - 1].add();
    return;
  }
  const pipeline_settings& s = ctl->settings;
  const encode_limits lim{s.max_value_length, s.max_attributes};
  record_fixed fixed{};
  fixed.trace_hi = trace.hi;
  fixed.trace_lo = trace.lo;
  fixed.span = new_span_id().value;
  fixed.parent = parent.span.value;
  fixed.start_ns = now;
  fixed.file = loc.file_name();
  fixed.function = loc.function_name();
  fixed.line = loc.line();
  fixed.depth = explicit_parent ? 0 : ts.depth;
  fixed.flags = d.flags;
  fixed.parent_remote = parent.is_remote ? 1 : 0;
  fixed.kind = static_cast<std::uint8_t>(span_kind::internal);
  fixed.lvl = static_cast<std::uint8_t>(lvl);
  fixed.n_tags = static_cast<std::uint16_t>(opts.tags.size());
  fixed.n_attrs = static_cast<std::uint16_t>(args.size() < s.max_attributes ? args.size() : s.max_attributes);
  fixed.n_links = 0;
  fixed.has_exception = opts.exception ? 1 : 0;
  fixed.dropped_attrs = static_cast<std::uint32_t>(args.size() - fixed.n_attrs);
  bool truncated = args.size() > fixed.n_attrs;
  std::string_view trace_state;
  if (const remote_state* remote = ts.remote.get(); remote && remote->incoming.trace == trace) [[unlikely]]
    trace_state = remote->trace_state;
  const record_input in{rec::log, &fixed, msg_template, trace_state, opts.tags, args, {}, opts.exception};
  if (!push(ts, *ctl, rec::log, [&](auto& w) { encode_body(w, in, lim, truncated); })) [[unlikely]] {
    ts.counters.dropped[reason_index(drop_reason::ring_full)].add();
    return;
  }
  ts.counters.pushed.add();
  if (truncated) [[unlikely]]
    ts.counters.events[static_cast<std::size_t>(event_counter::attributes_truncated)].add();
}

}  // namespace detail

using detail::control;
using detail::g_control;
using detail::this_thread_state;

span::span(std::string_view msg_template, std::initializer_list<arg> args, const span_options& opts,
           source_location loc) noexcept {
  if (!g_control.load(std::memory_order_relaxed)) [[unlikely]] {  // no thread state before configure()
    detail::note_not_configured();
    return;
  }
  detail::thread_state& ts = this_thread_state();
  const detail::call_scope call(ts);
  detail::control* ctl = call.get();
  if (!ctl) [[unlikely]] {
    detail::note_not_configured();
    return;
  }
  const bool explicit_parent = opts.parent.valid();
  const span_context parent = explicit_parent ? opts.parent : opts.new_trace ? span_context{} : ts.current;
  const std::uint64_t now = detail::now_unix_nano();

  st_.self.trace = parent.valid() ? parent.trace : detail::new_trace_id(now);
  st_.self.span = detail::new_span_id();
  st_.self.is_remote = false;
  st_.depth = explicit_parent || opts.new_trace ? 0 : ts.depth;
  st_.active = true;

  detail::decision d{};
  if (static_cast<std::uint8_t>(opts.lvl) < detail::g_min_level.load(std::memory_order_relaxed)) [[unlikely]] {
    d = {static_cast<std::uint8_t>(parent.valid() ? parent.flags & trace_flags::known : trace_flags::random),
         static_cast<std::uint8_t>(detail::reason_index(drop_reason::filtered_by_level) + 1)};
  } else {
    d = detail::decide(*ctl, parent, st_.self.trace, msg_template, opts.lvl, false, ts.remote.get());
  }
  st_.self.flags = d.flags;

  // Become the thread's current span, recording or not, so children and outgoing requests
  // keep the trace together (unless the caller tracks work this thread does not wait for).
  if (opts.current) [[likely]] {
    st_.saved_current = ts.current;
    st_.saved_depth = ts.depth;
    st_.is_current = true;
    ts.current = st_.self;
    ts.depth = st_.depth + 1;
  }

  if (d.drop) {
    ts.counters.dropped[d.drop - 1].add();
    return;
  }
  const detail::pipeline_settings& s = ctl->settings;
  const detail::encode_limits lim{s.max_value_length, s.max_attributes};
  detail::record_fixed fixed{};
  fixed.trace_hi = st_.self.trace.hi;
  fixed.trace_lo = st_.self.trace.lo;
  fixed.span = st_.self.span.value;
  fixed.parent = parent.span.value;
  fixed.start_ns = now;
  fixed.file = loc.file_name();
  fixed.function = loc.function_name();
  fixed.line = loc.line();
  fixed.depth = st_.depth;
  fixed.flags = d.flags;
  fixed.parent_remote = parent.is_remote ? 1 : 0;
  fixed.kind = static_cast<std::uint8_t>(opts.kind);
  fixed.lvl = static_cast<std::uint8_t>(opts.lvl);
  fixed.n_tags = static_cast<std::uint16_t>(opts.tags.size());
  fixed.n_attrs = static_cast<std::uint16_t>(args.size() < s.max_attributes ? args.size() : s.max_attributes);
  fixed.n_links = static_cast<std::uint16_t>(opts.links.size());
  fixed.dropped_attrs = static_cast<std::uint32_t>(args.size() - fixed.n_attrs);
  bool truncated = args.size() > fixed.n_attrs;
  // A remote context attached on this thread: carry its tracestate within its trace, and in
  // link mode give a new root a link to it.
  std::string_view trace_state;
  const span_context* extra_link = nullptr;
  if (const detail::remote_state* remote = ts.remote.get()) [[unlikely]] {
    if (remote->incoming.trace == st_.self.trace) trace_state = remote->trace_state;
    if (!parent.valid() && remote->link_to.valid()) {
      extra_link = &remote->link_to;
      ++fixed.n_links;
    }
  }
  const detail::record_input in{
      detail::rec::span_start, &fixed, msg_template, trace_state, opts.tags, args, opts.links, nullptr, extra_link};
  if (!detail::push(ts, *ctl, detail::rec::span_start, [&](auto& w) { detail::encode_body(w, in, lim, truncated); }))
      [[unlikely]] {
    ts.counters.dropped[detail::reason_index(drop_reason::ring_full)].add();
    return;
  }
  ts.counters.pushed.add();
  if (truncated) [[unlikely]]
    ts.counters.events[static_cast<std::size_t>(event_counter::attributes_truncated)].add();
  st_.recording = true;
  st_.generation = ctl->generation;
  st_.uncaught_at_start = std::uncaught_exceptions();
}

span::span(span&& other) noexcept : st_(other.st_) {
  other.st_.active = false;
}

span& span::operator=(span&& other) noexcept {
  if (this != &other) {
    end();
    st_ = other.st_;
    other.st_.active = false;
  }
  return *this;
}

namespace detail {
// A span ended while not current here (a descendant still is): remember what it restores to.
[[gnu::noinline, gnu::cold]] void note_ended_early(thread_state& ts, const span_state& st) noexcept {
  std::size_t slot = 0;
  while (slot < ts.ended_early.size() && ts.ended_early[slot].span != 0) ++slot;
  if (slot == ts.ended_early.size()) {
    slot = ts.ended_early_next;
    ts.ended_early_next = static_cast<std::uint8_t>((slot + 1) % ts.ended_early.size());
  } else {
    ++ts.ended_early_count;
  }
  ts.ended_early[slot] = {st.self.span.value, st.saved_current, st.saved_depth};
}

// Skips, in `ctx`, the spans that already ended out of order.
[[gnu::noinline]] void skip_ended_early(thread_state& ts, span_context& ctx, std::uint32_t& depth) noexcept {
  for (bool found = true; found && ts.ended_early_count;) {
    found = false;
    for (auto& e : ts.ended_early) {
      if (e.span == 0 || e.span != ctx.span.value) continue;
      ctx = e.saved;
      depth = e.saved_depth;
      e.span = 0;
      --ts.ended_early_count;
      found = true;
      break;
    }
  }
}
}  // namespace detail

void span::end() noexcept {
  if (!st_.active) return;
  st_.active = false;
  const std::uint64_t now = detail::now_unix_nano();
  if (st_.is_current) {
    // Restore the previous current span if this span is still current on this thread (it
    // may end on another thread, or after a child that was never ended). Ancestors that
    // ended before this span are skipped, so the thread never keeps an ended span current.
    if (detail::thread_state* ts = detail::this_thread_state_if_any(); ts && ts->current.span == st_.self.span) {
      span_context next = st_.saved_current;
      std::uint32_t depth = st_.saved_depth;
      if (ts->ended_early_count) [[unlikely]]
        detail::skip_ended_early(*ts, next, depth);
      ts->current = next;
      ts->depth = depth;
    } else if (ts) [[unlikely]] {
      detail::note_ended_early(*ts, st_);
    }
  }
  if (!st_.recording) return;
  const detail::span_ref ref{st_.self.span.value, now, 0, 0};
  detail::push_update(st_, detail::rec::span_end, true, [&](auto& w, const auto&) { w.pod(ref); });
}

void span::set_attribute(std::string_view key, value_ref value) noexcept {
  if (!is_recording()) return;
  const detail::span_ref ref{st_.self.span.value, 0, 0, 1};
  bool truncated = false;
  detail::push_update(st_, detail::rec::set_attribute, false, [&](auto& w, const detail::pipeline_settings& s) {
    const detail::encode_limits lim{s.max_value_length, s.max_attributes};
    w.pod(ref);
    w.str(detail::cut(key, 256, truncated));
    detail::encode_value(w, value, lim, truncated);
  });
  detail::note_truncated(truncated);
}

void span::set_level(level lvl) noexcept {
  if (!is_recording()) return;
  const detail::span_ref ref{st_.self.span.value, 0, static_cast<std::uint32_t>(lvl), 0};
  detail::push_update(st_, detail::rec::set_level, false, [&](auto& w, const auto&) { w.pod(ref); });
}

void span::set_status(status_code code, std::string_view description) noexcept {
  if (!is_recording()) return;
  const detail::span_ref ref{st_.self.span.value, 0, static_cast<std::uint32_t>(code), 0};
  detail::push_update(st_, detail::rec::set_status, false, [&](auto& w, const auto&) {
    w.pod(ref);
    w.str(description.substr(0, 1024));
  });
}

void span::record_exception(const std::exception& e, bool escaped) noexcept {
  if (!is_recording()) return;
  st_.escape_recorded |= escaped;
  const detail::span_ref ref{st_.self.span.value, detail::now_unix_nano(), escaped ? 1u : 0u, 0};
  bool truncated = false;
  detail::push_update(st_, detail::rec::exception, false, [&](auto& w, const detail::pipeline_settings& s) {
    const detail::encode_limits lim{s.max_value_length, s.max_attributes};
    w.pod(ref);
    detail::encode_exception(w, e, lim, truncated);
  });
  detail::note_truncated(truncated);
}

void span::record_exception(std::string_view type, std::string_view message, std::string_view stacktrace,
                            bool escaped) noexcept {
  if (!is_recording()) return;
  st_.escape_recorded |= escaped;
  const detail::span_ref ref{st_.self.span.value, detail::now_unix_nano(), escaped ? 1u : 0u, 0};
  bool truncated = false;
  detail::push_update(st_, detail::rec::exception, false, [&](auto& w, const detail::pipeline_settings& s) {
    const std::size_t max = s.max_value_length;
    w.pod(ref);
    w.u8(static_cast<std::uint8_t>(detail::exc_type::text));
    w.str(detail::cut(type, 256, truncated));
    w.str(detail::cut(message, max, truncated));
    w.str(detail::cut(stacktrace, max, truncated));
  });
  detail::note_truncated(truncated);
}

// The destructor runs during stack unwinding. The exception in flight is not reachable from
// here (std::current_exception() names only a caught one), so the event says it is unknown.
[[gnu::cold]] void span::record_unwinding() noexcept {
  if (st_.escape_recorded) return;  // recorded with its type where it was caught and rethrown
  record_exception("unknown", "an exception escaped the span's scope", {}, true);
}

void span::add_event(std::string_view name, std::initializer_list<arg> args) noexcept {
  if (!is_recording()) return;
  const std::uint64_t now = detail::now_unix_nano();
  bool truncated = false;
  detail::push_update(st_, detail::rec::event, false, [&](auto& w, const detail::pipeline_settings& s) {
    const detail::encode_limits lim{s.max_value_length, s.max_attributes};
    const std::size_t n = args.size() < lim.max_attributes ? args.size() : lim.max_attributes;
    truncated = truncated || args.size() > n;
    const detail::span_ref ref{st_.self.span.value, now, 0, static_cast<std::uint32_t>(n)};
    w.pod(ref);
    w.str(detail::cut(name, 256, truncated));
    detail::encode_args(w, args, n, lim, truncated);
  });
  detail::note_truncated(truncated);
}

span_context current_span_context() noexcept {
  const detail::thread_state* ts = detail::this_thread_state_if_any();
  return ts ? ts->current : span_context{};
}

context current_context() noexcept {
  context c;
  if (const detail::thread_state* ts = detail::this_thread_state_if_any()) {
    c.span_ = ts->current;
    c.depth_ = ts->depth;
    c.remote_ = ts->remote;
  }
  return c;
}

attach::attach(const context& ctx) noexcept {
  enter(ctx);
}

void attach::enter(const context& ctx) noexcept {
  detail::thread_state& ts = this_thread_state();
  saved_ = ts.current;
  saved_depth_ = ts.depth;
  saved_remote_ = std::move(ts.remote);
  ts.current = ctx.span_;
  ts.depth = ctx.depth_;
  ts.remote = ctx.remote_;
  entered_ = true;
}

attach::~attach() {
  if (!entered_) return;
  detail::thread_state& ts = this_thread_state();
  ts.current = saved_;
  ts.depth = saved_depth_;
  ts.remote = std::move(saved_remote_);
}

}  // namespace logfire
