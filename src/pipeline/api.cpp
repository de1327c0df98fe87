// The caller's side of the pipeline: span handles and logs. Runs on the application's
// threads, so it only decides (level, sampling), stamps (ids, times), copies the argument
// values into this thread's ring and returns. No locks, no allocation on the common path.
#include <algorithm>
#include <array>
#include <cassert>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <thread>
#include <typeinfo>
#include <vector>

#include "context/ids.hpp"
#include "context/remote.hpp"
#include "context/wall_clock.hpp"
#include "logfire/logfire.hpp"
#include "pipeline/barrier.hpp"
#include "pipeline/pipeline.hpp"
#include "pipeline/thread_state.hpp"
#include "record/stack_trace.hpp"
#include "record/wire.hpp"
#include "sampling/head.hpp"

namespace logfire {
namespace detail {

std::uint8_t g_min_level = 0;          // a relaxed atomic through the __atomic builtins (logfire.hpp)
std::uint32_t g_count_generation = 0;  // likewise
std::atomic<bool> g_shut_down{false};

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

std::atomic<bool> g_warned_before_configure{false};
std::atomic<bool> g_warned_after_shutdown{false};
std::atomic<std::uint64_t> g_not_configured{0};

[[gnu::noinline, gnu::cold]] void note_not_configured() noexcept {
  g_not_configured.fetch_add(1, std::memory_order_relaxed);
  // One line of each kind per process, naming what actually happened.
  if (g_shut_down.load(std::memory_order_relaxed)) {
    if (!g_warned_after_shutdown.exchange(true, std::memory_order_relaxed))
      std::fputs(
          "logfire: a span or log was created after logfire::shutdown(); it is not recorded (counted as "
          "not_configured).\n",
          stderr);
  } else if (!g_warned_before_configure.exchange(true, std::memory_order_relaxed)) {
    std::fputs(
        "logfire: a span or log was created before logfire::configure(); it is not recorded (counted as "
        "not_configured). Call logfire::configure() at startup.\n",
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

// The encoders are templates over the writer: record_sizer computes a record's size (plain
// arithmetic after inlining), byte_writer then writes it into the reserved ring space. Span
// starts and logs of plain values skip the sizer: body_bound() bounds their size from the
// lengths alone, and push() publishes what was written.

// ----- custom values (maps, ranges, users' types) and time points -------------------------
// A custom value is written by a function (attribute_converter, to_attribute, the map and
// range adapters), which must run once per record: during the size pass it writes into this
// thread's scratch buffer, and the write pass copies those bytes. So the record's size never
// depends on running user code twice, and a value written differently each time cannot
// overflow the reserved space. Scratch memory is kept per thread (it grows once, for records
// with custom values only).
constexpr std::size_t k_custom_max_bytes = 1u << 20;  // per custom value; beyond it: null

struct custom_scratch {
  std::vector<std::byte> bytes;
  std::vector<std::uint32_t> ends;  // end offset of each custom value of the record, in order
  std::size_t next = 0;             // the write pass copies this one next
  bool busy = false;                // a custom function is running (it may log: re-entry)
};
thread_local custom_scratch t_custom;

// The size pass: a byte_sizer that knows whether this record's custom values started yet, and
// whether they are blocked (a record made inside a custom function gets nulls for its own
// custom values, so the two records never share the scratch buffer).
struct record_sizer : byte_sizer {
  bool custom_started = false;
  bool custom_blocked = false;
};
// The write pass, told by the size pass whether custom values were blocked.
struct record_writer : byte_writer {
  record_writer(std::byte* out, bool blocked) noexcept : byte_writer(out), custom_blocked(blocked) {}
  bool custom_blocked;
};

}  // namespace
}  // namespace detail

namespace detail {

// What a value_writer writes into: wire-format bytes appended to the scratch buffer, with the
// structure enforced (one value per custom function; arrays and objects closed, counted and
// bounded). Runs on the caller's thread.
struct custom_encoder {
  std::vector<std::byte>& out;
  std::size_t max_value_length;
  std::size_t max_attributes;
  bool& truncated;
  int depth;  // nesting of the custom value in its attribute
  bool failed = false;

  struct container {
    std::size_t count_pos;
    std::uint32_t count;
    bool is_object;
    bool key_pending;
  };
  std::array<container, 16> stack{};
  int top = 0;         // open containers
  int frame_base = 0;  // containers that belong to enclosing custom values
  bool frame_done = false;
  int ignoring = 0;  // containers opened past the limits, whose contents are skipped

  // The byte_writer interface, appending.
  void raw(const void* p, std::size_t n) noexcept {
    if (failed || n == 0) return;
    if (out.size() + n > k_custom_max_bytes) {
      failed = true;
      return;
    }
    try {
      const auto* b = static_cast<const std::byte*>(p);
      out.insert(out.end(), b, b + n);
    } catch (...) {
      failed = true;
    }
  }
  template <typename T>
  void pod(const T& v) noexcept {
    raw(&v, sizeof v);
  }
  void u8(std::uint8_t v) noexcept { pod(v); }
  void u32(std::uint32_t v) noexcept { pod(v); }
  void str(std::string_view s) noexcept { put_text(*this, s); }

  // Claims the place of the next value: false when there is none (counted as truncated).
  bool take_slot() noexcept {
    if (ignoring) return false;
    if (top == frame_base) {
      if (frame_done) {
        truncated = true;
        return false;
      }
      frame_done = true;
      return true;
    }
    container& c = stack[static_cast<std::size_t>(top - 1)];
    if ((c.is_object && !c.key_pending) || c.count >= max_attributes * 8) {
      truncated = true;
      return false;
    }
    ++c.count;
    c.key_pending = false;
    return true;
  }

  void value(const value_ref& v) noexcept;
  void begin(bool is_object) noexcept {
    if (ignoring) {
      ++ignoring;
      return;
    }
    if (!take_slot()) {
      ++ignoring;
      return;
    }
    if (depth + top >= 15 || top == static_cast<int>(stack.size())) {  // bounded nesting, as elsewhere
      truncated = true;
      u8(static_cast<std::uint8_t>(vtag::null));
      ++ignoring;
      return;
    }
    u8(static_cast<std::uint8_t>(is_object ? vtag::object : vtag::array));
    stack[static_cast<std::size_t>(top++)] = {out.size(), 0, is_object, false};
    u32(0);  // the count, patched by end()
  }
  void key(std::string_view k) noexcept {
    if (ignoring || top == frame_base) return;
    container& c = stack[static_cast<std::size_t>(top - 1)];
    if (!c.is_object || c.key_pending) return;
    str(cut(k, 256, truncated));
    c.key_pending = true;
  }
  void end() noexcept {
    if (ignoring) {
      --ignoring;
      return;
    }
    if (top == frame_base) return;
    container& c = stack[static_cast<std::size_t>(top - 1)];
    if (c.key_pending) {  // a key without its value
      u8(static_cast<std::uint8_t>(vtag::null));
      ++c.count;
    }
    if (!failed) std::memcpy(out.data() + c.count_pos, &c.count, sizeof c.count);
    --top;
  }

  // Writes `v`, a custom value, as exactly one value.
  void run(const value_ref& v) noexcept {
    const int saved_base = frame_base;
    const bool saved_done = frame_done;
    const int saved_ignoring = ignoring;
    frame_base = top;
    frame_done = false;
    ignoring = 0;
    const std::size_t mark = out.size();
    value_writer w(*this);
    try {
      v.custom_writer()(v.custom_object(), w);
    } catch (...) {
      // The value is null; what it wrote is discarded.
      if (!failed) out.resize(mark);
      top = frame_base;
      frame_done = false;
      truncated = true;
    }
    ignoring = 0;
    while (top > frame_base) end();
    if (!frame_done) u8(static_cast<std::uint8_t>(vtag::null));
    frame_base = saved_base;
    frame_done = saved_done;
    ignoring = saved_ignoring;
  }
};

namespace {

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

// RFC 3339 in UTC with microseconds, as Logfire Python writes a datetime: the calendar
// arithmetic is a few integer operations, done here so the value keeps its meaning.
[[gnu::noinline]] inline std::size_t format_timestamp(std::int64_t ns, char (&buf)[40]) noexcept {
  std::int64_t secs = ns / 1'000'000'000;
  std::int64_t frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  std::int64_t days = secs / 86400;
  std::int64_t sod = secs % 86400;
  if (sod < 0) {
    sod += 86400;
    --days;
  }
  // Days since 1970-01-01 to a civil date (proleptic Gregorian), in 400-year eras.
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
  std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  if (year < 0 || year > 9999) year = year < 0 ? 0 : 9999;  // outside RFC 3339: clamped
  auto put = [&](char* p, std::int64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) {
      p[i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
  };
  put(buf, year, 4);
  buf[4] = '-';
  put(buf + 5, month, 2);
  buf[7] = '-';
  put(buf + 8, day, 2);
  buf[10] = 'T';
  put(buf + 11, sod / 3600, 2);
  buf[13] = ':';
  put(buf + 14, sod / 60 % 60, 2);
  buf[16] = ':';
  put(buf + 17, sod % 60, 2);
  buf[19] = '.';
  put(buf + 20, frac / 1000, 6);
  buf[26] = 'Z';
  return 27;
}

template <typename W>
void encode_timestamp(W& w, std::int64_t ns) noexcept {
  w.u8(static_cast<std::uint8_t>(vtag::string));
  if constexpr (std::is_base_of_v<byte_sizer, W>) {
    w.str(std::string_view("0000-00-00T00:00:00.000000Z"));  // the size only: always 27 bytes
  } else {
    char buf[40];
    w.str(std::string_view(buf, format_timestamp(ns, buf)));
  }
}

template <typename W>
[[gnu::noinline]] void encode_custom(W& w, const value_ref& v, const encode_limits& lim, bool& truncated,
                                     int depth) noexcept {
  if constexpr (std::is_same_v<W, custom_encoder>) {
    w.run(v);  // inside another custom value: written in place
  } else if constexpr (std::is_same_v<W, record_sizer>) {
    custom_scratch& sc = t_custom;
    if (sc.busy || w.custom_blocked) {
      w.custom_blocked = true;
      truncated = true;
      w.u8(static_cast<std::uint8_t>(vtag::null));
      return;
    }
    if (!w.custom_started) {
      sc.bytes.clear();
      sc.ends.clear();
      sc.next = 0;
      w.custom_started = true;
    }
    const std::size_t start = sc.bytes.size();
    custom_encoder enc{sc.bytes, lim.max_value_length, lim.max_attributes, truncated, depth};
    sc.busy = true;
    enc.run(v);
    sc.busy = false;
    if (enc.failed) {  // too large or out of memory: null
      sc.bytes.resize(start);
      truncated = true;
      const auto null_tag = static_cast<std::byte>(vtag::null);
      try {
        sc.bytes.push_back(null_tag);
      } catch (...) {
      }
    }
    try {
      sc.ends.push_back(static_cast<std::uint32_t>(sc.bytes.size()));
    } catch (...) {
      sc.bytes.resize(start);  // the write pass finds no segment and writes null: same size
    }
    w.raw(nullptr, sc.bytes.size() > start ? sc.bytes.size() - start : 1);
  } else {
    static_assert(std::is_same_v<W, record_writer>);
    custom_scratch& sc = t_custom;
    if (w.custom_blocked) {
      w.u8(static_cast<std::uint8_t>(vtag::null));
    } else if (sc.next < sc.ends.size()) {
      const std::uint32_t begin = sc.next ? sc.ends[sc.next - 1] : 0;
      const std::uint32_t end = sc.ends[sc.next++];
      w.raw(sc.bytes.data() + begin, end - begin);
    } else {
      w.u8(static_cast<std::uint8_t>(vtag::null));
    }
  }
}

// Time points and custom values, out of line so the common cases stay small (encode_body is
// flattened into the caller's hot path).
template <typename W>
[[gnu::noinline, gnu::cold]] void encode_rare(W& w, const value_ref& v, const encode_limits& lim, bool& truncated,
                                              int depth) noexcept {
  if (v.type() == value_ref::kind::timestamp) {
    encode_timestamp(w, v.as_int64());
  } else if (depth >= 16) {
    truncated = true;
    w.u8(static_cast<std::uint8_t>(vtag::null));
  } else {
    encode_custom(w, v, lim, truncated, depth);
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
    case value_ref::kind::timestamp:
    case value_ref::kind::custom:
      encode_rare(w, v, lim, truncated, depth);
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

// The first `n` of `args` (n <= args.size()).
template <typename W>
void encode_args(W& w, std::initializer_list<arg> args, std::size_t n, const encode_limits& lim,
                 bool& truncated) noexcept {
  for (const arg *a = args.begin(), *end = a + n; a != end; ++a) {
    w.str(cut(a->key, 256, truncated));
    encode_value(w, a->value, lim, truncated);
  }
}

struct record_input {
  rec kind;
  const record_fixed* fixed;
  std::string_view tmpl;
  std::string_view trace_state;
  std::span<const std::string_view> extra_tags;  // a handle's, before the call's own
  std::initializer_list<std::string_view> tags;
  std::span<const baggage_member> baggage;  // added as string attributes before args
  std::initializer_list<arg> args;
  std::initializer_list<link_ref> links;
  // exception (logs and exception updates)
  const std::exception* exc = nullptr;
  // link mode: the incoming context a new root links to
  const span_context* extra_link = nullptr;
  // the stack where the exception was recorded, or null
  const stack_capture* stack = nullptr;
};

// The return addresses of an exception's stack (symbolized on the background thread).
template <typename W>
void encode_frames(W& w, const stack_capture* stack) noexcept {
  const std::uint8_t n = stack ? stack->size : 0;
  w.u8(n);
  for (std::uint8_t i = 0; i < n; ++i) w.pod(stack->pc[i]);
}

// An exception's type and message (then a stack trace as text, empty: frames follow).
template <typename W>
void encode_exception_cause(W& w, const std::exception& e, const encode_limits& lim, bool& truncated) noexcept {
  // typeid(...).name() has static storage: pass the pointer, demangle on the background.
  w.u8(static_cast<std::uint8_t>(exc_type::mangled));
  w.pod(typeid(e).name());
  const char* what = e.what();
  w.str(cut(what ? std::string_view(what) : std::string_view(), lim.max_value_length, truncated));
  w.str({});
}

// options::stack_traces of the pipeline this thread's calls go to.
[[gnu::cold]] bool stack_traces_wanted() noexcept {
  thread_state& ts = this_thread_state();
  const call_scope call(ts);
  const control* ctl = call.get();
  return ctl && ctl->settings.stack_traces;
}

// Baggage entries as string attributes (only under logfire::set_baggage or an incoming request).
template <typename W>
[[gnu::noinline]] void encode_baggage(W& w, std::span<const baggage_member> baggage, const encode_limits& lim,
                                      bool& truncated) noexcept {
  for (const baggage_member& m : baggage) {
    w.str(cut(m.key, 256, truncated));
    w.u8(static_cast<std::uint8_t>(vtag::string));
    w.str(cut(m.value, lim.max_value_length, truncated));
  }
}

// Flattened: the argument and value encoders are inlined into it (the caller's hot path).
template <typename W>
[[gnu::flatten]] void encode_body(W& w, const record_input& in, const encode_limits& lim, bool& truncated) noexcept {
  w.pod(*in.fixed);
  w.str(cut(in.tmpl, lim.max_value_length, truncated));
  w.str(in.trace_state);
  if (!in.extra_tags.empty()) [[unlikely]]
    for (auto t : in.extra_tags) w.str(cut(t, 256, truncated));
  for (auto t : in.tags) w.str(cut(t, 256, truncated));
  if (!in.baggage.empty()) [[unlikely]]
    encode_baggage(w, in.baggage, lim, truncated);
  encode_args(w, in.args, in.fixed->n_attrs - in.baggage.size(), lim, truncated);
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
  if (in.exc) {
    encode_exception_cause(w, *in.exc, lim, truncated);
    encode_frames(w, in.stack);
  }
}

// The bytes encode_body() writes at most for `in`, found without running it, or 0 when only
// the size pass can tell: values other than null, booleans, numbers and texts (their encoders
// run user code or recurse), baggage, links or an exception. Each text counts at its limit's
// length when longer: cut() may keep up to 3 bytes fewer (a UTF-8 boundary), never more.
// It mirrors encode_body() part by part. push() asserts that no record writes more than its
// bound, so every record of the tests in a debug build (the sanitizer run) checks it;
// limits_test's plain_values_of_every_kind_at_and_past_each_limit has each part at and past
// its limit.
[[gnu::always_inline]] inline std::size_t body_bound(const record_input& in, const encode_limits& lim) noexcept {
  if (!in.baggage.empty() || in.links.size() != 0 || in.extra_link || in.exc) [[unlikely]]
    return 0;
  const auto text = [](std::string_view t, std::size_t max) { return str_bytes(std::min(t.size(), max)); };
  std::size_t n = sizeof(record_fixed) + text(in.tmpl, lim.max_value_length) + str_bytes(in.trace_state.size());
  for (auto t : in.extra_tags) n += text(t, 256);
  for (auto t : in.tags) n += text(t, 256);
  // encode_value()'s bytes by kind: the tag, then the value (a text's, prefix and bytes, comes
  // on top).
  constexpr std::uint8_t k_value_bytes[] = {1, 2, 9, 9, 9, 1};
  static_assert(static_cast<int>(value_ref::kind::nil) == 0 && static_cast<int>(value_ref::kind::boolean) == 1 &&
                static_cast<int>(value_ref::kind::int64) == 2 && static_cast<int>(value_ref::kind::uint64) == 3 &&
                static_cast<int>(value_ref::kind::float64) == 4 && static_cast<int>(value_ref::kind::string) == 5);
  for (const arg *a = in.args.begin(), *end = a + in.fixed->n_attrs; a != end; ++a) {
    const value_ref::kind k = a->value.type();
    if (k > value_ref::kind::string) [[unlikely]]
      return 0;
    n += text(a->key, 256) + k_value_bytes[static_cast<std::size_t>(k)];
    if (k == value_ref::kind::string) n += text(a->value.as_string(), lim.max_value_length);
  }
  return n;
}

inline std::size_t round8(std::size_t n) noexcept {
  return (n + 7) & ~std::size_t{7};
}

// overflow_policy::block, caller's thread, after try_reserve() failed: wakes the background
// thread and retries until the ring has room for `total` bytes, the block timeout passes, or
// shutdown begins (g_control no longer names this pipeline; shutdown() waits for callers in a
// call, so a waiter must let go). Never waits on the background thread itself (it is the only
// one that frees ring space) nor for a record larger than the ring. Returns null when it gave
// up: the caller counts the record as ring_full, as under the drop policy.
[[gnu::noinline]] std::byte* wait_for_space(thread_state& ts, control& ctl, std::size_t total) noexcept {
  if (t_never_block || total > ts.ring.capacity()) return nullptr;
  const auto deadline = std::chrono::steady_clock::now() + ctl.settings.block_timeout;
  // Short sleeps rather than a futex on the ring's tail: the background thread frees space in
  // chunks within microseconds once awake, and this costs it nothing when nobody waits.
  auto pause = std::chrono::microseconds(20);
  for (;;) {
    ctl.wake();
    if (g_control.load(std::memory_order_acquire) != &ctl) return nullptr;
    if (std::byte* out = ts.ring.try_reserve(total)) return out;
    if (std::chrono::steady_clock::now() >= deadline) return nullptr;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(1000));
  }
}

// Caller's thread, after try_reserve() said the ring is full: a new segment if the ring may
// grow (counted as ring_grown), else what the overflow policy says. Null: the caller drops the
// record and counts it as ring_full.
[[gnu::noinline]] std::byte* reserve_when_full(thread_state& ts, control& ctl, std::size_t total) noexcept {
  if (std::byte* out = ts.ring.try_grow(total, ctl.settings.ring_growth)) {
    ts.counters.events[static_cast<std::size_t>(event_counter::ring_grown)].add();
    return out;
  }
  if (ctl.settings.overflow != overflow_policy::block) return nullptr;
  return wait_for_space(ts, ctl, total);
}

// Prompt mode: the console prints the record now and its answer is written into the record
// (record_fixed::console_mark) before it is committed. Out of line: the default path pays one
// load and one branch.
[[gnu::noinline, gnu::cold]] void print_at_call(prompt_printer& p, bool is_log, std::byte* body,
                                                std::size_t size) noexcept {
  const console_mark mark = p.print(is_log, body, size);
  const auto byte = static_cast<std::uint8_t>(mark);
  std::memcpy(body + offsetof(record_fixed, console_mark), &byte, 1);
}

// Encodes a record of `kind` with `body_fn(writer)` into the ring and returns false when the
// ring is full. Two passes, size then write, unless the caller knows `bound`, bytes the body
// takes at most (body_bound()): then space for the bound is reserved, the body written once,
// and only the bytes written are published.
template <typename BodyFn>
bool push(thread_state& ts, control& ctl, rec kind, BodyFn&& body_fn, std::size_t bound = 0) noexcept {
  record_sizer sizer;
  if (bound == 0) {
    body_fn(sizer);
    bound = sizer.size();
  }
  std::size_t total = round8(sizeof(ring_record_header) + bound);
  std::byte* out = ts.ring.try_reserve(total);
  bool was_full = false;
  if (!out) [[unlikely]] {
    // Growth and the policy are read only here, after the ring said no: nothing on the fast path.
    out = reserve_when_full(ts, ctl, total);
    if (!out) return false;
    was_full = true;  // the background thread is behind: wake it
  }
  record_writer w(out + sizeof(ring_record_header), sizer.custom_blocked);
  body_fn(w);
  assert(w.size() <= bound);  // else body_bound() undercounted, and the record overran its space
  total = round8(sizeof(ring_record_header) + w.size());  // the same, or less than the bound
  auto* h = reinterpret_cast<ring_record_header*>(out);
  h->size = static_cast<std::uint32_t>(total);
  h->tag = ring_record_header::make_tag(static_cast<std::uint8_t>(kind), ctl.generation);
  if (kind == rec::span_start || kind == rec::log) {
    if (prompt_printer* p = ctl.settings.prompt.get()) [[unlikely]]
      print_at_call(*p, kind == rec::log, out + sizeof(ring_record_header), w.size());
  }
  ts.ring.commit(total);
  if (was_full || ts.ring.past_half()) [[unlikely]]
    ctl.wake();
  return true;
}

// Slow path for span updates that did not fit in the ring. Allocates (a cold path); an
// allocation failure loses the update, like a full queue.
template <typename BodyFn>
[[gnu::noinline]] bool push_side(std::uint32_t generation, rec kind, bool always, BodyFn&& body_fn) noexcept {
  try {
    record_sizer sizer;
    body_fn(sizer);
    const std::size_t total = round8(sizeof(ring_record_header) + sizer.size());
    std::vector<std::byte> buf(total);
    auto* h = reinterpret_cast<ring_record_header*>(buf.data());
    h->size = static_cast<std::uint32_t>(total);
    h->tag = ring_record_header::make_tag(static_cast<std::uint8_t>(kind), generation);
    record_writer w(buf.data() + sizeof(ring_record_header), sizer.custom_blocked);
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
bool push_update(span_state& st, rec kind, bool must_arrive, Make&& make) noexcept {
  thread_state& ts = this_thread_state();
  const call_scope call(ts);
  control* ctl = call.get();
  if (!ctl || ctl->generation != st.generation) return false;  // the span's pipeline is gone
  if (ts.serial != st.origin) [[unlikely]]
    st.crossed = true;
  auto body_fn = [&](auto& w) { make(w, ctl->settings); };
  if (push(ts, *ctl, kind, body_fn)) return true;
  st.crossed = true;  // before the body is written again, for an end into the side queue
  if (push_side(ctl->generation, kind, must_arrive, body_fn)) return true;
  ts.counters.events[static_cast<std::size_t>(event_counter::span_updates_lost)].add();
  return false;
}

// The baggage entries a new record gets as attributes: those of the context attached on this
// thread, as many as fit beside the call's own attributes.
inline std::span<const baggage_member> baggage_attributes(const remote_state* remote, const pipeline_settings& s,
                                                          std::size_t n_args) noexcept {
  if (!remote || remote->baggage.empty() || !s.baggage_attributes) return {};
  const std::size_t room = s.max_attributes > n_args ? s.max_attributes - n_args : 0;
  return std::span<const baggage_member>(remote->baggage).first(std::min(room, remote->baggage.size()));
}

// Counts a span update whose values were cut to the limits.
inline void note_truncated(bool truncated) noexcept {
  if (truncated) [[unlikely]]
    this_thread_state().counters.events[static_cast<std::size_t>(event_counter::attributes_truncated)].add();
}

}  // namespace

void custom_encoder::value(const value_ref& v) noexcept {
  if (!take_slot()) return;
  encode_value(*this, v, encode_limits{max_value_length, max_attributes}, truncated, depth + top);
}

void count_filtered_slow() noexcept {
  // One counter, so the call is never seen half counted; no in-call scope (nothing is pushed):
  // a count racing with shutdown() lands in the closed ledger, produced and dropped together.
  thread_state& ts = this_thread_state();
  owned_counter& filtered = ts.counters.dropped[static_cast<std::size_t>(drop_reason::filtered_by_level)];
  if (const control* ctl = g_control.load(std::memory_order_acquire)) {
    if (ts.counters.generation.load(std::memory_order_relaxed) != ctl->generation) [[unlikely]]
      ts.counters.rollover(ctl->generation);
    // The next counts of this generation go inline (logfire.hpp); never into a retired state,
    // which the background thread frees once its ring is read.
    if (!ts.retired.load(std::memory_order_relaxed)) {
      t_filtered_count = &filtered.value;
      t_filtered_generation = ctl->generation;
    }
  }
  filtered.add();
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

namespace {
// The fixed header of a span start or a log, filled the same way by both entry points: ids,
// time, code location, flags, kind, level, and how many tags and attributes follow (arguments
// beyond max_attributes are dropped here and counted in the record).
[[gnu::always_inline]] inline record_fixed make_fixed(trace_id trace, span_id self, const span_context& parent,
                                                      std::uint64_t now, const source_location& loc,
                                                      std::uint32_t depth, std::uint8_t flags, span_kind kind,
                                                      level lvl, std::size_t n_tags, std::size_t n_args,
                                                      std::size_t max_attributes) noexcept {
  record_fixed fixed{};
  fixed.trace_hi = trace.hi;
  fixed.trace_lo = trace.lo;
  fixed.span = self.value;
  fixed.parent = parent.span.value;
  fixed.start_ns = now;
  fixed.file = loc.file_name();
  fixed.function = loc.function_name();
  fixed.line = loc.line();
  fixed.depth = depth;
  fixed.flags = flags;
  fixed.parent_remote = parent.is_remote ? 1 : 0;
  fixed.kind = static_cast<std::uint8_t>(kind);
  fixed.lvl = static_cast<std::uint8_t>(lvl);
  fixed.n_tags = static_cast<std::uint16_t>(n_tags);
  fixed.n_attrs = static_cast<std::uint16_t>(n_args < max_attributes ? n_args : max_attributes);
  fixed.dropped_attrs = static_cast<std::uint32_t>(n_args - fixed.n_attrs);
  return fixed;
}

// Encodes a span start or a log into the thread's ring and counts it: pushed, or dropped as
// ring_full; an argument cut to the limits (or beyond max_attributes) counts an event.
[[gnu::always_inline]] inline bool push_counted(thread_state& ts, control& ctl, const record_input& in,
                                                const encode_limits& lim) noexcept {
  bool truncated = in.fixed->dropped_attrs != 0;
  const auto body = [&](auto& w) { encode_body(w, in, lim, truncated); };
  if (!push(ts, ctl, in.kind, body, body_bound(in, lim))) [[unlikely]] {
    ts.counters.dropped[reason_index(drop_reason::ring_full)].add();
    return false;
  }
  ts.counters.pushed.add();
  if (truncated) [[unlikely]]
    ts.counters.events[static_cast<std::size_t>(event_counter::attributes_truncated)].add();
  return true;
}

// Both log entry points; inlined into each so the plain one passes no tags at all.
[[gnu::always_inline]] inline void emit_log_impl(level lvl, std::string_view msg_template,
                                                 std::initializer_list<arg> args, const log_options& opts,
                                                 const source_location& loc,
                                                 std::span<const std::string_view> extra_tags) noexcept {
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
  const std::uint64_t now = wall_now_ns();
  const trace_id trace = parent.valid() ? parent.trace : new_trace_id(now);
  if (ts.suppressed) [[unlikely]] {
    ts.counters.dropped[reason_index(drop_reason::suppressed)].add();
    return;
  }
  const decision d = decide(ctl->settings.head, parent, trace, msg_template, lvl, true, ts.remote.get());
  if (d.drop) {
    ts.counters.dropped[d.drop - 1].add();
    return;
  }
  const pipeline_settings& s = ctl->settings;
  const encode_limits lim{s.max_value_length, s.max_attributes};
  record_fixed fixed =
      make_fixed(trace, new_span_id(), parent, now, loc, explicit_parent ? 0 : ts.depth, d.flags, span_kind::internal,
                 lvl, extra_tags.size() + opts.tags.size(), args.size(), s.max_attributes);
  fixed.has_exception = opts.exception ? 1 : 0;
  std::string_view trace_state;
  std::span<const baggage_member> baggage;
  if (const remote_state* remote = ts.remote.get()) [[unlikely]] {
    if (remote->incoming.trace == trace) trace_state = remote->trace_state;
    baggage = baggage_attributes(remote, s, fixed.n_attrs);
    fixed.n_attrs = static_cast<std::uint16_t>(fixed.n_attrs + baggage.size());
  }
  stack_capture stack;
  if (opts.exception && s.stack_traces) [[unlikely]]
    capture_stack(stack, 2);  // capture_stack, emit_log (this function is inlined into it)
  const record_input in{rec::log, &fixed, msg_template, trace_state,    extra_tags, opts.tags,
                        baggage,  args,   {},           opts.exception, nullptr,    opts.exception ? &stack : nullptr};
  (void)push_counted(ts, *ctl, in, lim);
}
}  // namespace

void emit_log(level lvl, std::string_view msg_template, std::initializer_list<arg> args, const log_options& opts,
              const source_location& loc) noexcept {
  emit_log_impl(lvl, msg_template, args, opts, loc, {});
}

void emit_tagged_log(level lvl, std::string_view msg_template, std::initializer_list<arg> args, const log_options& opts,
                     const source_location& loc, array_view<const std::string_view> extra_tags) noexcept {
  emit_log_impl(lvl, msg_template, args, opts, loc, {extra_tags.data(), extra_tags.size()});
}

}  // namespace detail

using detail::control;
using detail::g_control;
using detail::this_thread_state;

span::span(std::string_view msg_template, std::initializer_list<arg> args, const span_options& opts,
           source_location loc) noexcept {
  start(nullptr, msg_template, args, opts, loc);
}

span::span(const detail::handle_defaults& defaults, std::string_view msg_template, std::initializer_list<arg> args,
           const span_options& opts, source_location loc) noexcept {
  start(&defaults, msg_template, args, opts, loc);
}

// Both constructors: decide, stamp, become current, encode the start into this thread's ring.
void span::start(const detail::handle_defaults* defaults, std::string_view msg_template,
                 std::initializer_list<arg> args, const span_options& opts, const source_location& loc) noexcept {
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
  const std::uint64_t now = detail::wall_now_ns();

  st_.self.trace = parent.valid() ? parent.trace : detail::new_trace_id(now);
  st_.self.span = detail::new_span_id();
  st_.self.is_remote = false;
  st_.depth = explicit_parent || opts.new_trace ? 0 : ts.depth;
  st_.active = true;

  const level lvl = opts.level ? *opts.level : defaults && defaults->level ? *defaults->level : level::info;
  detail::decision d{};
  if (static_cast<std::uint8_t>(lvl) < detail::min_level()) [[unlikely]] {
    d = {static_cast<std::uint8_t>(parent.valid() ? parent.flags & trace_flags::known : trace_flags::random),
         static_cast<std::uint8_t>(detail::reason_index(drop_reason::filtered_by_level) + 1)};
  } else if (ts.suppressed) [[unlikely]] {
    d = {static_cast<std::uint8_t>(parent.valid() ? parent.flags & trace_flags::known : trace_flags::random),
         static_cast<std::uint8_t>(detail::reason_index(drop_reason::suppressed) + 1)};
  } else {
    d = detail::decide(ctl->settings.head, parent, st_.self.trace, msg_template, lvl, false, ts.remote.get());
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
  const std::span<const std::string_view> extra_tags = defaults ? defaults->tags : std::span<const std::string_view>{};
  detail::record_fixed fixed =
      detail::make_fixed(st_.self.trace, st_.self.span, parent, now, loc, st_.depth, d.flags, opts.kind, lvl,
                         extra_tags.size() + opts.tags.size(), args.size(), s.max_attributes);
  fixed.n_links = static_cast<std::uint16_t>(opts.links.size());
  // A remote context attached on this thread: carry its tracestate within its trace, and in
  // link mode give a new root a link to it.
  std::string_view trace_state;
  const span_context* extra_link = nullptr;
  std::span<const baggage_member> baggage;
  if (const detail::remote_state* remote = ts.remote.get()) [[unlikely]] {
    if (remote->incoming.trace == st_.self.trace) trace_state = remote->trace_state;
    baggage = detail::baggage_attributes(remote, s, fixed.n_attrs);
    fixed.n_attrs = static_cast<std::uint16_t>(fixed.n_attrs + baggage.size());
    if (!parent.valid() && remote->link_to.valid()) {
      extra_link = &remote->link_to;
      ++fixed.n_links;
    }
  }
  const detail::record_input in{detail::rec::span_start,
                                &fixed,
                                msg_template,
                                trace_state,
                                extra_tags,
                                opts.tags,
                                baggage,
                                args,
                                opts.links,
                                nullptr,
                                extra_link};
  if (!detail::push_counted(ts, *ctl, in, lim)) [[unlikely]]
    return;
  st_.recording = true;
  st_.generation = ctl->generation;
  st_.origin = ts.serial;
  st_.uncaught_at_start = detail::exceptions_in_flight(&ts);
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
  if (st_.active) end(detail::this_thread_state_if_any());
}

void span::end_of_scope() noexcept {
  detail::thread_state* ts = detail::this_thread_state_if_any();
  if (st_.recording && detail::exceptions_in_flight(ts) > st_.uncaught_at_start) [[unlikely]]
    record_unwinding();
  end(ts);
}

// `ts`: the calling thread's state, or null.
void span::end(detail::thread_state* ts) noexcept {
  st_.active = false;
  const std::uint64_t now = detail::wall_now_ns();
  if (st_.is_current) {
    // Restore the previous current span if this span is still current on this thread (it
    // may end on another thread, or after a child that was never ended). Ancestors that
    // ended before this span are skipped, so the thread never keeps an ended span current.
    if (ts && ts->current.span == st_.self.span) {
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
  // value 1: "alone" (span_state::crossed), read when the body is written, after push_update
  // has looked at this call's thread and ring.
  detail::push_update(st_, detail::rec::span_end, true, [&](auto& w, const auto&) {
    w.pod(detail::span_ref{st_.self.span.value, now, st_.crossed ? 0u : 1u, 0});
  });
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

namespace detail {
namespace {
// An exception event on the span `st`: `write_cause(w, settings)` writes the type and message.
template <typename WriteCause>
void push_exception(span_state& st, bool escaped, const stack_capture* stack, WriteCause&& write_cause) noexcept {
  st.escape_recorded |= escaped;
  const span_ref ref{st.self.span.value, wall_now_ns(), escaped ? 1u : 0u, 0};
  bool truncated = false;
  push_update(st, rec::exception, false, [&](auto& w, const pipeline_settings& s) {
    w.pod(ref);
    write_cause(w, s, truncated);
    encode_frames(w, stack);
  });
  note_truncated(truncated);
}
}  // namespace
}  // namespace detail

// Each public entry captures the stack itself, so that the frames it skips (capture_stack and
// the entry) are the same whichever way it is called.
void span::record_exception(const std::exception& e, bool escaped) noexcept {
  if (!is_recording()) return;
  detail::stack_capture stack;
  if (detail::stack_traces_wanted()) detail::capture_stack(stack, 2);
  detail::push_exception(st_, escaped, &stack, [&](auto& w, const detail::pipeline_settings& s, bool& truncated) {
    const detail::encode_limits lim{s.max_value_length, s.max_attributes};
    detail::encode_exception_cause(w, e, lim, truncated);
  });
}

namespace {
template <typename W>
void write_text_cause(W& w, std::string_view type, std::string_view message, std::string_view stacktrace,
                      std::size_t max, bool& truncated) noexcept {
  w.u8(static_cast<std::uint8_t>(detail::exc_type::text));
  w.str(detail::cut(type, 256, truncated));
  w.str(detail::cut(message, max, truncated));
  w.str(detail::cut(stacktrace, max, truncated));
}
}  // namespace

void span::record_exception(std::string_view type, std::string_view message, std::string_view stacktrace,
                            bool escaped) noexcept {
  if (!is_recording()) return;
  detail::stack_capture stack;
  if (stacktrace.empty() && detail::stack_traces_wanted()) detail::capture_stack(stack, 2);
  detail::push_exception(st_, escaped, &stack, [&](auto& w, const detail::pipeline_settings& s, bool& truncated) {
    write_text_cause(w, type, message, stacktrace, s.max_value_length, truncated);
  });
}

// The destructor runs during stack unwinding. The exception in flight is not reachable from
// here (std::current_exception() names only a caught one), so the event says it is unknown; its
// stack is the scope the exception is leaving (the span's destructor is inlined into it).
[[gnu::cold]] void span::record_unwinding() noexcept {
  if (st_.escape_recorded) return;  // recorded with its type where it was caught and rethrown
  detail::stack_capture stack;
  if (detail::stack_traces_wanted()) detail::capture_stack(stack, 2);
  detail::push_exception(st_, true, &stack, [&](auto& w, const detail::pipeline_settings& s, bool& truncated) {
    write_text_cause(w, "unknown", "an exception escaped the span's scope", {}, s.max_value_length, truncated);
  });
}

void span::add_event(std::string_view name, std::initializer_list<arg> args) noexcept {
  if (!is_recording()) return;
  const std::uint64_t now = detail::wall_now_ns();
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

context capture_context() noexcept {
  context c;
  if (const detail::thread_state* ts = detail::this_thread_state_if_any()) {
    c.span_ = ts->current;
    c.depth_ = ts->depth;
    c.remote_ = ts->remote;
  }
  return c;
}

context_scope::context_scope(const context& ctx) noexcept {
  enter(ctx);
}

void context_scope::enter(const context& ctx) noexcept {
  detail::thread_state& ts = this_thread_state();
  saved_ = ts.current;
  saved_depth_ = ts.depth;
  saved_remote_ = std::move(ts.remote);
  ts.current = ctx.span_;
  ts.depth = ctx.depth_;
  ts.remote = ctx.remote_;
  entered_ = true;
}

context_scope::~context_scope() {
  if (!entered_) return;
  detail::thread_state& ts = this_thread_state();
  ts.current = saved_;
  ts.depth = saved_depth_;
  ts.remote = std::move(saved_remote_);
}

// ----- value_writer (custom attribute values) ----------------------------------------------

void value_writer::value(const value_ref& v) noexcept {
  e_->value(v);
}
void value_writer::begin_array() noexcept {
  e_->begin(false);
}
void value_writer::begin_object() noexcept {
  e_->begin(true);
}
void value_writer::key(std::string_view k) noexcept {
  e_->key(k);
}
void value_writer::end() noexcept {
  e_->end();
}

// ----- handles (with_tags / with_settings) ----------------------------------------------
// Setup-time code (allocates); the handle's calls themselves are the ordinary hot path.

namespace detail {
// A handle's tags: the strings, and views of them that handle_defaults points to. Immutable
// once built; shared by the handle's copies.
struct handle_tags : ref_count {
  std::vector<std::string> strings;
  std::vector<std::string_view> views;
};
void retain(const handle_tags* p) noexcept {
  p->refs.fetch_add(1, std::memory_order_relaxed);
}
void release(const handle_tags* p) noexcept {
  if (p->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete p;
}
}  // namespace detail

handle::handle(detail::shared_ref<detail::handle_tags> tags, optional_level lvl) noexcept : tags_(std::move(tags)) {
  if (tags_) d_.tags = {tags_->views.data(), tags_->views.size()};
  d_.level = lvl;
}

handle handle::with_settings(const handle_settings& settings) const {
  auto* t = new detail::handle_tags();
  detail::shared_ref<detail::handle_tags> owner(t);
  t->strings.reserve(d_.tags.size() + settings.tags.size());
  for (auto tag : d_.tags) t->strings.emplace_back(tag);
  for (auto tag : settings.tags) t->strings.emplace_back(tag);
  // Views into the strings, taken once they no longer move.
  t->views.assign(t->strings.begin(), t->strings.end());
  return handle(std::move(owner), settings.level ? settings.level : d_.level);
}

handle handle::with_tags(std::initializer_list<std::string_view> tags) const {
  return with_settings({.tags = tags});
}

handle with_tags(std::initializer_list<std::string_view> tags) {
  return handle().with_tags(tags);
}

handle with_settings(const handle_settings& settings) {
  return handle().with_settings(settings);
}

// ----- suppress_instrumentation ----------------------------------------------------------

suppress_instrumentation::suppress_instrumentation() noexcept {
  detail::thread_state& ts = this_thread_state();
  previous_ = ts.suppressed;
  ts.suppressed = true;
}

suppress_instrumentation::~suppress_instrumentation() {
  this_thread_state().suppressed = previous_;
}

}  // namespace logfire
