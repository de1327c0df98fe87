// The background thread: drains every thread's ring, joins span starts with their ends,
// builds span_records in a per-batch arena, batches by size and time, and hands batches to
// the exporters. Also the thread registry and the stats.
#include "pipeline/pipeline.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "pipeline/diagnostics.hpp"
#include "pipeline/records.hpp"
#include "pipeline/thread_state.hpp"
#include "pipeline/wire.hpp"
#include "resource/resource_listener.hpp"
#include "scrub/scrubber.hpp"

namespace logfire::detail {

std::atomic<control*> g_control{nullptr};
pipeline* g_active_pipeline = nullptr;

void take_side_records(std::vector<std::vector<std::byte>>& out);
std::uint64_t not_configured_count() noexcept;
extern std::atomic<std::uint8_t> g_min_level;

// ----- thread registry -----------------------------------------------------------------

thread_registry& thread_registry::instance() noexcept {
  static thread_registry* r = new thread_registry;  // never destroyed: threads outlive statics
  return *r;
}

void thread_registry::add(thread_state* t) {
  std::lock_guard lock(mutex_);
  states_.push_back(t);
}

void thread_registry::collect_retired() {
  std::lock_guard lock(mutex_);
  auto it = std::remove_if(states_.begin(), states_.end(), [&](thread_state* t) {
    if (!t->retired.load(std::memory_order_acquire) || !t->ring.empty()) return false;
    retired_produced_ += t->produced.get();
    for (std::size_t i = 0; i < drop_reason_count; ++i) retired_dropped_[i] += t->dropped[i].get();
    for (std::size_t i = 0; i < event_counter_count; ++i) retired_events_[i] += t->events[i].get();
    delete t;
    return true;
  });
  states_.erase(it, states_.end());
}

void thread_registry::sum(pipeline_stats& out) {
  std::lock_guard lock(mutex_);
  out.produced += retired_produced_;
  for (std::size_t i = 0; i < drop_reason_count; ++i) out.dropped[i] += retired_dropped_[i];
  for (std::size_t i = 0; i < event_counter_count; ++i) out.events[i] += retired_events_[i];
  for (const thread_state* t : states_) {
    out.produced += t->produced.get();
    for (std::size_t i = 0; i < drop_reason_count; ++i) out.dropped[i] += t->dropped[i].get();
    for (std::size_t i = 0; i < event_counter_count; ++i) out.events[i] += t->events[i].get();
  }
}

void thread_registry::after_fork_in_child(thread_state* survivor) noexcept {
  // The registry mutex was taken by this (the forking) thread in the prepare handler; it is
  // released at the end, after the cleanup it protects.
  // Other threads do not exist in the child: their records belong to the parent. The child
  // starts its own accounting from zero.
  for (thread_state* t : states_)
    if (t != survivor) delete t;
  states_.clear();
  retired_produced_ = 0;
  retired_dropped_ = {};
  retired_events_ = {};
  if (survivor) {
    survivor->ring.discard_all_after_fork();
    survivor->produced.value.store(0);
    for (auto& c : survivor->dropped) c.value.store(0);
    for (auto& c : survivor->events) c.value.store(0);
    states_.push_back(survivor);
  }
  mutex_.unlock();
}

namespace {

struct thread_handle {
  thread_state* state = nullptr;
  ~thread_handle() {
    if (state) state->retired.store(true, std::memory_order_release);
  }
};
thread_local thread_handle t_handle;

[[gnu::noinline]] thread_state& create_thread_state() noexcept {
  std::size_t ring_bytes = 1u << 20;
  if (control* c = g_control.load(std::memory_order_acquire)) ring_bytes = c->settings.ring_bytes;
  auto* t = new thread_state(ring_bytes);
  thread_registry::instance().add(t);
  t_handle.state = t;
  return *t;
}

}  // namespace

thread_state& this_thread_state() noexcept {
  thread_state* t = t_handle.state;
  if (t) [[likely]]
    return *t;
  return create_thread_state();
}

thread_state* this_thread_state_if_any() noexcept {
  return t_handle.state;
}

// ----- exporter slots ------------------------------------------------------------------

struct pipeline::exporter_slot final : delivery_counter {
  std::shared_ptr<exporter> exp;
  std::string name;
  bool destination = true;
  std::atomic<std::uint64_t> exported{0};
  std::array<std::atomic<std::uint64_t>, drop_reason_count> dropped_counts{};
  std::array<std::atomic<std::uint64_t>, event_counter_count> event_counts{};
  std::mutex detail_mutex;
  std::array<std::string, drop_reason_count> first_detail;

  void delivered(std::uint64_t n) noexcept override { exported.fetch_add(n, std::memory_order_relaxed); }
  void dropped_records(drop_reason r, std::uint64_t n, std::string_view detail) noexcept {
    const auto i = static_cast<std::size_t>(r);
    if (!detail.empty()) {
      std::lock_guard lock(detail_mutex);
      if (first_detail[i].empty()) {
        try {
          first_detail[i].assign(detail.substr(0, 300));
        } catch (...) {
        }
      }
    }
    dropped_counts[i].fetch_add(n, std::memory_order_relaxed);
  }
  void dropped(drop_reason r, std::uint64_t n, std::string_view detail) noexcept override {
    dropped_records(r, n, detail);
  }
  void count(event_counter c, std::uint64_t n) noexcept override {
    event_counts[static_cast<std::size_t>(c)].fetch_add(n, std::memory_order_relaxed);
  }
};

// ----- background state ----------------------------------------------------------------

struct pipeline::state {
  struct open_span {
    std::vector<std::byte> start;  // the span_start body
    std::string updates;           // [u8 kind][u32 size][body] ...
  };
  std::unordered_map<std::uint64_t, open_span> open;
  // Updates (and ends) that arrived before their start (another thread's ring drained first).
  std::unordered_map<std::uint64_t, open_span> early;
  std::vector<std::uint64_t> early_ended;  // span ids whose end arrived early
  std::unordered_map<std::uint64_t, std::uint64_t> early_end_time;

  arena batch_arena;
  std::vector<span_record> batch;
  std::vector<span_record> without_pending;
  std::size_t finished_in_batch = 0;  // spans and logs (not pending spans) in the batch
  clock::time_point batch_deadline{};
  bool first_batch = true;
  decode_counters counters;
  record_builder builder{counters};
  std::vector<std::vector<std::byte>> side;
  std::array<std::atomic<std::uint64_t>, drop_reason_count> own_dropped{};  // drops decided here
  std::atomic<std::uint64_t> console_only_exported{0};
};

pipeline::pipeline(pipeline_settings settings, resource res, std::vector<std::shared_ptr<exporter>> exporters)
    : control_(new control), resource_(std::move(res)), state_(std::make_unique<state>()) {
  control_->settings = std::move(settings);
  for (auto& e : exporters) {
    if (!e) continue;
    auto slot = std::make_unique<exporter_slot>();
    slot->name = e->name();
    slot->destination = e->is_destination();
    slot->exp = std::move(e);
    slots_.push_back(std::move(slot));
  }
  diagnostic_context dctx;
  const std::uint8_t ml = g_min_level.load(std::memory_order_relaxed);
  if (ml) dctx.min_level = std::string(to_string(static_cast<level>(ml)));
  dctx.sample_rate = control_->settings.head_sampler.rate();
  diag_ = std::make_unique<diagnostics>(std::move(dctx));
  state_->builder.set_scrubber(control_->settings.scrub.get(), diag_.get());
  thread_registry::instance().sum(baseline_);
  baseline_.produced += not_configured_count();
  baseline_.dropped[static_cast<std::size_t>(drop_reason::not_configured)] += not_configured_count();
}

pipeline::~pipeline() {
  if (thread_.joinable()) {
    {
      std::lock_guard lock(control_->mutex);
      stop_ = true;
    }
    control_->cv.notify_all();
    thread_.join();
  }
}

void pipeline::start() {
  for (auto& s : slots_) s->exp->start(*s);
  running_ = true;
  thread_ = std::thread([this] { run(); });
  g_control.store(control_, std::memory_order_release);
}

namespace {
void append_update(std::string& updates, std::uint8_t kind, const std::byte* body, std::size_t size) {
  updates.push_back(static_cast<char>(kind));
  const auto n = static_cast<std::uint32_t>(size);
  updates.append(reinterpret_cast<const char*>(&n), sizeof n);
  updates.append(reinterpret_cast<const char*>(body), size);
}
}  // namespace

void pipeline::drain_all() {
  state& st = *state_;
  const bool any_pending_exporter =
      std::any_of(slots_.begin(), slots_.end(), [](const auto& s) { return s->exp->wants_pending_spans(); });

  auto on_record = [&](std::uint8_t kind, const std::byte* body, std::size_t size) {
    switch (static_cast<rec>(kind)) {
      case rec::log: {
        st.batch.push_back(st.builder.build(body, size, true, {}, 0, st.batch_arena));
        ++st.finished_in_batch;
        break;
      }
      case rec::span_start: {
        record_fixed fixed;
        std::memcpy(&fixed, body, sizeof fixed);
        auto& os = st.open[fixed.span];
        os.start.assign(body, body + size);
        if (any_pending_exporter) st.batch.push_back(st.builder.build_pending(body, size, st.batch_arena));
        // Updates that arrived first (from another thread's ring).
        if (auto it = st.early.find(fixed.span); it != st.early.end()) {
          os.updates = std::move(it->second.updates);
          st.early.erase(it);
          if (auto e = st.early_end_time.find(fixed.span); e != st.early_end_time.end()) {
            const std::uint64_t end_ns = e->second;
            st.early_end_time.erase(e);
            st.batch.push_back(
                st.builder.build(os.start.data(), os.start.size(), false, os.updates, end_ns, st.batch_arena));
            ++st.finished_in_batch;
            st.open.erase(fixed.span);
          }
        }
        break;
      }
      case rec::span_end: {
        span_ref ref;
        std::memcpy(&ref, body, sizeof ref);
        auto it = st.open.find(ref.span);
        if (it == st.open.end()) {
          if (st.early_end_time.size() < 100000) st.early_end_time[ref.span] = ref.time_ns;
          st.early[ref.span];
          break;
        }
        st.batch.push_back(st.builder.build(it->second.start.data(), it->second.start.size(), false, it->second.updates,
                                            ref.time_ns, st.batch_arena));
        ++st.finished_in_batch;
        st.open.erase(it);
        break;
      }
      case rec::set_attribute:
      case rec::set_level:
      case rec::set_status:
      case rec::exception:
      case rec::event: {
        span_ref ref;
        std::memcpy(&ref, body, sizeof ref);
        auto it = st.open.find(ref.span);
        if (it != st.open.end()) {
          append_update(it->second.updates, kind, body, size);
        } else if (st.early.size() < 100000) {
          append_update(st.early[ref.span].updates, kind, body, size);
        }
        break;
      }
      case rec::padding:
        break;
    }
  };

  thread_registry::instance().for_each([&](thread_state& t) { t.ring.drain(on_record); });
  take_side_records(st.side);
  for (auto& r : st.side) {
    const auto* h = reinterpret_cast<const ring_record_header*>(r.data());
    on_record(h->kind, r.data() + sizeof(ring_record_header), h->size - sizeof(ring_record_header));
  }
  st.side.clear();
}

void pipeline::export_batch() {
  state& st = *state_;
  if (st.batch.empty()) return;
  bool has_destination = false;
  for (auto& s : slots_) has_destination = has_destination || s->destination;
  bool filtered = false;
  for (auto& s : slots_) {
    std::span<const span_record> view = st.batch;
    if (!s->exp->wants_pending_spans()) {
      if (!filtered) {
        st.without_pending.clear();
        for (const auto& r : st.batch)
          if (r.type != record_type::pending_span) st.without_pending.push_back(r);
        filtered = true;
      }
      view = st.without_pending;
    }
    if (!view.empty()) s->exp->export_batch(view);
  }
  // With only views (the console), records shown there count as exported.
  if (!has_destination) st.console_only_exported += st.finished_in_batch;
  st.batch.clear();
  st.finished_in_batch = 0;
  st.batch_arena.reset();
}

void pipeline::add_resource_attributes(resource additions) {
  std::lock_guard lock(resource_mutex_);
  if (!resource_additions_) resource_additions_ = resource{};
  for (auto& a : additions.attributes) resource_additions_->set(a.key, std::move(a.value));
}

void pipeline::report_losses(bool final_summary) {
  pipeline_stats s;
  fill_stats(s);
  std::array<std::string, drop_reason_count> detail;
  for (auto& slot : slots_) {
    std::lock_guard lock(slot->detail_mutex);
    for (std::size_t i = 0; i < drop_reason_count; ++i)
      if (detail[i].empty()) detail[i] = slot->first_detail[i];
  }
  diag_->report(s, detail);
  if (final_summary) diag_->summary(s);
}

void pipeline::run() noexcept {
  state& st = *state_;
  control& ctl = *control_;
  const pipeline_settings& cfg = ctl.settings;
  auto last_report = clock::now();
  for (;;) {
    bool stopping = false;
    bool flushing = false;
    std::uint64_t flush_seq = 0;
    clock::time_point flush_deadline{};
    {
      std::unique_lock lock(ctl.mutex);
      const auto wait_until = st.batch.empty() ? clock::now() + cfg.first_delay : st.batch_deadline;
      ctl.cv.wait_until(lock, wait_until,
                        [&] { return ctl.wake_requested || stop_ || flush_requested_ > flush_done_; });
      ctl.wake_requested = false;
      ctl.wake_pending.store(false, std::memory_order_release);
      stopping = stop_;
      flushing = flush_requested_ > flush_done_;
      flush_seq = flush_requested_;
      flush_deadline = flush_deadline_;
    }
    try {
      // fork() waits for this section (before_fork), so a child never inherits half-built
      // batches or an exporter lock held by this thread. Exporter flushes run outside it.
      std::unique_lock work(work_mutex_);
      {
        std::optional<resource> additions;
        {
          std::lock_guard lock(resource_mutex_);
          additions.swap(resource_additions_);
        }
        if (additions) {
          for (auto& a : additions->attributes) resource_.set(a.key, a.value);
          for (auto& s : slots_)
            if (auto* l = dynamic_cast<resource_listener*>(s->exp.get())) l->add_resource_attributes(*additions);
        }
      }
      const bool was_empty = st.batch.empty();
      drain_all();
      if (was_empty && !st.batch.empty())
        st.batch_deadline = clock::now() + (st.first_batch ? cfg.first_delay : cfg.schedule_delay);
      // Export in batches of at most max_batch finished records.
      if (st.finished_in_batch >= cfg.max_batch || flushing || stopping ||
          (!st.batch.empty() && clock::now() >= st.batch_deadline)) {
        export_batch();
        st.first_batch = false;
      }
      thread_registry::instance().collect_retired();
      if (stopping) {
        // Spans still open will never end in this pipeline.
        st.own_dropped[static_cast<std::size_t>(drop_reason::open_at_shutdown)] += st.open.size();
        st.open.clear();
      }
      work.unlock();
      if (flushing || stopping) {
        bool ok = true;
        for (auto& s : slots_) ok = s->exp->force_flush(flush_deadline) && ok;
        if (stopping)
          for (auto& s : slots_) ok = s->exp->shutdown(flush_deadline) && ok;
        std::lock_guard lock(ctl.mutex);
        last_flush_ok_ = ok;
        if (flushing) flush_done_ = flush_seq;
      }
      if (flushing || stopping) done_cv_.notify_all();
      const auto now = clock::now();
      if (now - last_report >= std::chrono::milliseconds(200) || flushing || stopping) {
        work.lock();
        report_losses(false);
        last_report = now;
      }
    } catch (...) {
      // Out of memory or a bug: keep the thread alive; the records in flight are lost and
      // the counters still tell.
    }
    if (stopping) break;
  }
  running_ = false;
}

bool pipeline::flush(clock::time_point deadline) noexcept {
  if (!running_) return false;
  std::unique_lock lock(control_->mutex);
  const std::uint64_t seq = ++flush_requested_;
  flush_deadline_ = deadline;
  control_->cv.notify_all();
  if (!done_cv_.wait_until(lock, deadline, [&] { return flush_done_ >= seq; })) return false;
  const bool exporters_ok = last_flush_ok_;
  lock.unlock();
  // "Everything was delivered" also means nothing was lost on the way since the last flush
  // (a full ring, a rejected batch); deliberate drops (level, sampling) do not count.
  pipeline_stats s;
  fill_stats(s);
  const std::uint64_t lost = involuntary_losses(s);
  const std::uint64_t before = involuntary_at_last_flush_.exchange(lost, std::memory_order_acq_rel);
  return exporters_ok && lost == before;
}

std::uint64_t involuntary_losses(const pipeline_stats& s) noexcept {
  std::uint64_t n = 0;
  for (drop_reason r : {drop_reason::queue_full, drop_reason::export_failed, drop_reason::rejected_by_backend,
                        drop_reason::shutdown_timeout, drop_reason::spool_full, drop_reason::spool_corrupt,
                        drop_reason::open_at_shutdown})
    n += s.dropped_by(r);
  return n;
}

bool pipeline::shutdown(clock::time_point deadline) noexcept {
  if (!thread_.joinable()) return false;
  // First make the last records visible, then stop.
  {
    std::lock_guard lock(control_->mutex);
    flush_deadline_ = deadline;
    stop_ = true;
  }
  control_->cv.notify_all();
  thread_.join();
  report_losses(true);
  pipeline_stats s;
  fill_stats(s);
  // Spans still open were never delivered either: not everything made it.
  return last_flush_ok_ && involuntary_losses(s) == involuntary_at_last_flush_.load(std::memory_order_acquire);
}

void pipeline::fill_stats(pipeline_stats& out) const {
  out = pipeline_stats{};
  thread_registry::instance().sum(out);
  out.produced += not_configured_count();
  out.dropped[static_cast<std::size_t>(drop_reason::not_configured)] += not_configured_count();
  out.produced -= baseline_.produced;
  for (std::size_t i = 0; i < drop_reason_count; ++i) out.dropped[i] -= baseline_.dropped[i];
  for (std::size_t i = 0; i < event_counter_count; ++i) out.events[i] -= baseline_.events[i];
  bool has_destination = false;
  for (auto& s : slots_) has_destination = has_destination || s->destination;
  for (std::size_t i = 0; i < drop_reason_count; ++i) out.dropped[i] += state_->own_dropped[i];
  out.events[static_cast<std::size_t>(event_counter::invalid_utf8_repaired)] += state_->counters.utf8_repaired.load();
  out.events[static_cast<std::size_t>(event_counter::template_errors)] += state_->counters.template_errors.load();
  for (auto& s : slots_) {
    exporter_stats es;
    es.name = s->name;
    es.exported = s->exported.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < drop_reason_count; ++i)
      es.dropped[i] = s->dropped_counts[i].load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < event_counter_count; ++i)
      out.events[i] += s->event_counts[i].load(std::memory_order_relaxed);
    if (s->destination) {
      out.exported += es.exported;
      for (std::size_t i = 0; i < drop_reason_count; ++i) out.dropped[i] += es.dropped[i];
    }
    out.exporters.push_back(std::move(es));
  }
  if (!has_destination) out.exported += state_->console_only_exported;
  if (const auto& scrub = control_->settings.scrub) out.scrubbed = scrub->counts();
}

void pipeline::before_fork() noexcept {
  work_mutex_.lock();  // the background thread is between cycles
  control_->mutex.lock();
}
void pipeline::after_fork_in_parent() noexcept {
  control_->mutex.unlock();
  work_mutex_.unlock();
}

void pipeline::after_fork_in_child() noexcept {
  // Only the forking thread exists now. The background thread is gone: forget its handle
  // without touching it, start a new one, and let exporters restart their own threads.
  // The mutexes were locked by this thread in before_fork(): unlock them (re-creating a locked
  // mutex is undefined and confuses ThreadSanitizer). Condition variables may have recorded
  // the parent's background thread as a waiter: those are re-created.
  control_->mutex.unlock();
  work_mutex_.unlock();
  new (&control_->cv) std::condition_variable();
  new (&done_cv_) std::condition_variable();
  new (&thread_) std::thread();
  state_->open.clear();
  state_->early.clear();
  state_->early_end_time.clear();
  state_->batch.clear();
  state_->finished_in_batch = 0;
  state_->batch_arena.reset();
  for (auto& d : state_->own_dropped) d = 0;
  state_->console_only_exported = 0;
  state_->counters.utf8_repaired = 0;
  state_->counters.template_errors = 0;
  for (auto& s : slots_) {
    s->exported = 0;
    for (auto& d : s->dropped_counts) d = 0;
    for (auto& e : s->event_counts) e = 0;
    s->exp->after_fork_in_child();
  }
  flush_requested_ = flush_done_ = 0;
  involuntary_at_last_flush_ = 0;
  diag_->forget_reported();  // the child's counters start from zero
  baseline_ = pipeline_stats{};
  baseline_.produced = not_configured_count();
  baseline_.dropped[static_cast<std::size_t>(drop_reason::not_configured)] = not_configured_count();
  control_->wake_requested = false;
  control_->wake_pending = false;
  thread_ = std::thread([this] { run(); });
}

}  // namespace logfire::detail
