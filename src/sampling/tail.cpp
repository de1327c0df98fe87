#include "sampling/tail.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "sampling/ratio.hpp"

namespace logfire {

sampling_options level_or_duration(double head, level level_threshold, std::chrono::nanoseconds duration_threshold,
                                   double background_rate) {
  sampling_options o;
  o.head = head;
  o.background_rate = background_rate;
  o.tail = [level_threshold, duration_threshold, background_rate](const tail_span_info& info) {
    return info.record.level >= level_threshold || info.duration >= duration_threshold ? 1.0 : background_rate;
  };
  return o;
}

}  // namespace logfire

namespace logfire::detail {
namespace {
std::atomic<std::size_t> g_held{0};
std::atomic<std::size_t> g_peak{0};
std::atomic<std::size_t> g_traces{0};

// The bytes a trace's buffer holds: its arena's chunks, its record list and its table entry.
std::size_t footprint(const arena& a, const std::vector<span_record>& records) noexcept {
  return a.capacity() + records.capacity() * sizeof(span_record) + 128;
}
}  // namespace

tail_memory tail_memory_figures() noexcept {
  return {g_held.load(std::memory_order_relaxed), g_peak.load(std::memory_order_relaxed),
          g_traces.load(std::memory_order_relaxed)};
}

tail_sampler::tail_sampler(tail_settings settings, bool want_pending, record_builder& builder, tail_sink& sink)
    : settings_(std::move(settings)), want_pending_(want_pending), builder_(builder), sink_(sink) {
  g_held.store(0, std::memory_order_relaxed);
  g_peak.store(0, std::memory_order_relaxed);
  g_traces.store(0, std::memory_order_relaxed);
}

tail_sampler::~tail_sampler() = default;

std::uint64_t tail_sampler::now_ns() noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

// A decided trace: followed exactly while `open` spans of it are open, then remembered.
void tail_sampler::settle(key k, decision d, std::uint32_t open) noexcept {
  if (open == 0) {
    remember(k, d);
    return;
  }
  try {
    settled_[k] = settled{d, open};
  } catch (...) {  // out of memory: the decision cache still has a chance
    remember(k, d);
  }
}

void tail_sampler::remember(key k, decision d) noexcept {
  if (settings_.decision_cache == 0) return;
  try {
    auto [it, inserted] = decisions_.try_emplace(k, d);
    if (!inserted) {
      it->second = d;
      return;
    }
    try {
      decision_order_.push_back(k);
    } catch (...) {
      decisions_.erase(it);
      return;
    }
    while (decisions_.size() > settings_.decision_cache) {
      decisions_.erase(decision_order_.front());
      decision_order_.pop_front();
    }
  } catch (...) {  // out of memory: the decision is forgotten, a late span starts a new buffer
  }
}

// The buffer of the record's trace, creating one for a new local root trace. Sets `pass` when
// the record is not the sampler's (no trace, a kept trace, remote-parent pass-through), and
// `known` with the remembered decision when the trace was decided (then returns null).
tail_sampler::trace_buffer* tail_sampler::buffer_for(const record_fixed& f, bool starting, bool& pass,
                                                     decision& known) noexcept {
  pass = false;
  const key k{f.trace_hi, f.trace_lo};
  if (auto it = traces_.find(k); it != traces_.end()) return &it->second;
  if (auto s = settled_.find(k); s != settled_.end()) {
    if (starting) ++s->second.open;
    known = s->second.d;
    pass = known == decision::kept;
    return nullptr;
  }
  if (auto d = decisions_.find(k); d != decisions_.end()) {
    known = d->second;
    pass = d->second == decision::kept;
    if (starting) settle(k, known, 1);
    return nullptr;
  }
  if (f.parent_remote && !settings_.buffer_remote) {
    // Passed through: its other spans and logs follow it while any of its spans is open, then
    // by the decision cache.
    if (starting)
      settle(k, decision::kept, 1);
    else
      remember(k, decision::kept);
    pass = true;
    return nullptr;
  }
  trace_buffer* b = create(k);
  if (!b) pass = true;  // out of memory: lose nothing, send it on
  return b;
}

tail_sampler::trace_buffer* tail_sampler::create(key k) noexcept {
  // Room first: the oldest trace is decided now when the buffer holds max_traces.
  while (!traces_.empty() && traces_.size() >= settings_.max_traces) {
    key old;
    if (!oldest(old)) break;
    decide_early(old, drop_reason::tail_bound);
  }
  try {
    trace_buffer b;
    b.seq = next_seq_++;
    b.created_ns = now_ns();
    b.mem = std::make_shared<storage>();
    order_.emplace_back(b.seq, k);
    auto [it, inserted] = traces_.try_emplace(k, std::move(b));
    (void)inserted;
    account(it->second);
    g_traces.store(traces_.size(), std::memory_order_relaxed);
    return &it->second;
  } catch (...) {
    return nullptr;
  }
}

// The oldest buffered trace (skipping order entries of traces already decided).
bool tail_sampler::oldest(key& out) noexcept {
  while (!order_.empty()) {
    const auto [seq, k] = order_.front();
    auto it = traces_.find(k);
    if (it != traces_.end() && it->second.seq == seq) {
      out = k;
      return true;
    }
    order_.pop_front();
  }
  return false;
}

void tail_sampler::account(trace_buffer& b) noexcept {
  const std::size_t now = footprint(b.mem->memory, b.mem->records);
  bytes_ = bytes_ - b.bytes + now;
  b.bytes = now;
}

// Keeps the trace if the callback says so for this record (drawn from the trace id). Returns
// whether it was kept (then `b` is gone).
bool tail_sampler::evaluate(key k, trace_buffer& b, const span_record& r, tail_event ev, std::uint64_t at_ns) noexcept {
  b.max_level = std::max(b.max_level, r.level);
  double p = 1.0;
  try {
    const tail_span_info info{r, ev, std::chrono::nanoseconds(at_ns > b.first_ns ? at_ns - b.first_ns : 0), b.max_level,
                              b.mem->records};
    p = settings_.callback(info);
  } catch (...) {  // a throwing callback keeps the trace: nothing is lost
    p = 1.0;
  }
  if (!ratio_keeps(trace_id{k.hi, k.lo}, p)) return false;
  keep(k);
  return true;
}

// Releases everything buffered, in arrival order; what follows goes straight out.
void tail_sampler::keep(key k) noexcept {
  auto it = traces_.find(k);
  if (it == traces_.end()) return;
  const std::shared_ptr<const void> owner = it->second.mem;
  for (const span_record& r : it->second.mem->records) {
    const bool finished = r.type != record_type::pending_span;
    try {
      sink_.emit(r, finished, owner);
    } catch (...) {
      if (finished) sink_.dropped(drop_reason::internal_error, 1);
    }
  }
  const std::uint32_t open = it->second.open;
  bytes_ -= it->second.bytes;
  traces_.erase(it);
  g_traces.store(traces_.size(), std::memory_order_relaxed);
  g_held.store(bytes_, std::memory_order_relaxed);
  settle(k, decision::kept, open);
}

void tail_sampler::drop(key k, drop_reason reason) noexcept {
  auto it = traces_.find(k);
  if (it == traces_.end()) return;
  sink_.dropped(reason, it->second.finished);
  const std::uint32_t open = it->second.open;
  bytes_ -= it->second.bytes;
  traces_.erase(it);
  g_traces.store(traces_.size(), std::memory_order_relaxed);
  g_held.store(bytes_, std::memory_order_relaxed);
  settle(k, reason == drop_reason::tail_bound ? decision::bound : decision::sampled_out, open);
}

// A bound (or shutdown) decides the trace now by its records so far: the callback sees its
// last record again with the duration up to now; unless kept (or with drop_on_bound), dropped.
void tail_sampler::decide_early(key k, drop_reason reason) noexcept {
  auto it = traces_.find(k);
  if (it == traces_.end()) return;
  trace_buffer& b = it->second;
  if (!(reason == drop_reason::tail_bound && settings_.drop_on_bound) && !b.mem->records.empty()) {
    const span_record& last = b.mem->records.back();
    const tail_event ev = last.type == record_type::log            ? tail_event::log
                          : last.type == record_type::pending_span ? tail_event::span_start
                                                                   : tail_event::span_end;
    if (evaluate(k, b, last, ev, now_ns())) return;
  }
  drop(k, reason);
}

void tail_sampler::enforce_bytes() noexcept {
  while (bytes_ > settings_.max_bytes && !traces_.empty()) {
    key old;
    if (!oldest(old)) break;
    decide_early(old, drop_reason::tail_bound);
  }
  g_held.store(bytes_, std::memory_order_relaxed);
  if (bytes_ > g_peak.load(std::memory_order_relaxed)) g_peak.store(bytes_, std::memory_order_relaxed);
}

bool tail_sampler::on_start(const std::byte* start, std::size_t size) noexcept {
  record_fixed f;
  std::memcpy(&f, start, sizeof f);
  bool pass = false;
  decision known = decision::kept;
  trace_buffer* b = buffer_for(f, true, pass, known);
  if (!b) return !pass;  // decided and not kept: no pending span for it (its end is counted)
  const key k{f.trace_hi, f.trace_lo};
  ++b->open;
  if (b->first_ns == 0 || f.start_ns < b->first_ns) b->first_ns = f.start_ns;
  try {
    if (want_pending_) {
      storage& m = *b->mem;
      m.records.reserve(m.records.size() + 1);
      m.records.push_back(builder_.build_pending(start, size, m.memory));
      account(*b);
      if (!evaluate(k, *b, m.records.back(), tail_event::span_start, f.start_ns)) enforce_bytes();
    } else {
      scratch_.reset();
      const span_record r = scratch_builder_.build_pending(start, size, scratch_);
      if (!evaluate(k, *b, r, tail_event::span_start, f.start_ns)) enforce_bytes();
    }
  } catch (...) {  // the pending span is a preview: nothing is lost without it
  }
  return true;
}

bool tail_sampler::on_end(const std::byte* start, std::size_t size, std::string_view updates,
                          std::uint64_t end_ns) noexcept {
  record_fixed f;
  std::memcpy(&f, start, sizeof f);
  const key k{f.trace_hi, f.trace_lo};
  auto it = traces_.find(k);
  if (it == traces_.end()) {
    decision d = decision::kept;
    if (auto s = settled_.find(k); s != settled_.end()) {
      d = s->second.d;
      if (--s->second.open == 0) {
        settled_.erase(s);
        remember(k, d);
      }
    } else if (auto c = decisions_.find(k); c != decisions_.end()) {
      d = c->second;
    }
    if (d == decision::kept) return false;  // straight through (also a trace never seen)
    sink_.dropped(reason_of(d), 1);
    return true;
  }
  trace_buffer& b = it->second;
  if (b.open > 0) --b.open;
  const bool last_open = b.open == 0;
  storage& m = *b.mem;
  try {
    m.records.reserve(m.records.size() + 1);
    m.records.push_back(builder_.build(start, size, false, updates, end_ns, m.memory));
  } catch (...) {
    sink_.dropped(drop_reason::internal_error, 1);
    account(b);
    return true;
  }
  ++b.finished;
  account(b);
  if (!evaluate(k, b, m.records.back(), tail_event::span_end, end_ns)) {
    if (last_open) {
      try {
        ended_.push_back(k);
      } catch (...) {
        drop(k, drop_reason::tail_sampled_out);
      }
    }
    enforce_bytes();
  }
  return true;
}

bool tail_sampler::on_log(const std::byte* body, std::size_t size) noexcept {
  record_fixed f;
  std::memcpy(&f, body, sizeof f);
  if (f.parent == 0) return false;  // a log outside any trace passes through
  bool pass = false;
  decision known = decision::kept;
  trace_buffer* b = buffer_for(f, false, pass, known);
  if (!b) {
    if (pass) return false;
    sink_.dropped(reason_of(known), 1);
    return true;
  }
  const key k{f.trace_hi, f.trace_lo};
  if (b->first_ns == 0 || f.start_ns < b->first_ns) b->first_ns = f.start_ns;
  storage& m = *b->mem;
  try {
    m.records.reserve(m.records.size() + 1);
    m.records.push_back(builder_.build(body, size, true, {}, 0, m.memory));
  } catch (...) {
    sink_.dropped(drop_reason::internal_error, 1);
    account(*b);
    return true;
  }
  ++b->finished;
  account(*b);
  if (!evaluate(k, *b, m.records.back(), tail_event::log, f.start_ns)) {
    // A log whose span start is not read yet (another thread's ring) makes a trace with nothing
    // open: after the pass it is decided like a finished one.
    if (b->open == 0) {
      try {
        ended_.push_back(k);
      } catch (...) {
        drop(k, drop_reason::tail_sampled_out);
      }
    }
    enforce_bytes();
  }
  return true;
}

void tail_sampler::after_pass() noexcept {
  for (const key& k : ended_) {
    auto it = traces_.find(k);
    if (it != traces_.end() && it->second.open == 0) drop(k, drop_reason::tail_sampled_out);
  }
  ended_.clear();
  const std::uint64_t now = now_ns();
  const auto max_age = static_cast<std::uint64_t>(settings_.max_age.count());
  key old;
  while (oldest(old)) {
    const trace_buffer& b = traces_.find(old)->second;
    if (now - std::min(now, b.created_ns) < max_age) break;
    decide_early(old, drop_reason::tail_bound);
  }
  // Stale order entries of decided traces are skipped lazily; compact when they dominate.
  if (order_.size() > 2 * traces_.size() + 1024) {
    std::deque<std::pair<std::uint64_t, key>> live;
    for (const auto& e : order_) {
      auto it = traces_.find(e.second);
      if (it != traces_.end() && it->second.seq == e.first) live.push_back(e);
    }
    order_.swap(live);
  }
  g_held.store(bytes_, std::memory_order_relaxed);
}

void tail_sampler::at_shutdown() noexcept {
  after_pass();
  key old;
  while (oldest(old)) decide_early(old, drop_reason::tail_sampled_out);
  g_held.store(bytes_, std::memory_order_relaxed);
  g_traces.store(0, std::memory_order_relaxed);
}

void tail_sampler::forget_all() noexcept {
  traces_.clear();
  settled_.clear();
  order_.clear();
  decisions_.clear();
  decision_order_.clear();
  ended_.clear();
  bytes_ = 0;
}

}  // namespace logfire::detail
