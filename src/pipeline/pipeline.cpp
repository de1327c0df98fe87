// The background thread: drains every thread's ring, joins span starts with their updates and
// ends, builds span_records in a per-batch arena, batches by size and time, and hands batches
// to the exporters. Also the thread registry and the ledger (stats). docs/architecture.md,
// "Accounting", lists every place a record can stop and the counter it lands in.
#include "pipeline/pipeline.hpp"

#include <pthread.h>
#if __has_include(<cxxabi.h>)
#include <cxxabi.h>
#endif

#include <algorithm>
#include <cstring>
#include <deque>
#include <unordered_map>

#include "accounting/diagnostics.hpp"
#include "pipeline/thread_state.hpp"
#include "record/records.hpp"
#include "record/wire.hpp"
#include "resource/resource_listener.hpp"
#include "scrub/scrubber.hpp"

namespace logfire::detail {

std::atomic<control*> g_control{nullptr};

control* publish_control(control* c) noexcept {
  control* old = g_control.exchange(c, std::memory_order_acq_rel);
  __atomic_store_n(&g_count_generation, c ? c->generation : std::uint32_t{0}, __ATOMIC_RELAXED);
  return old;
}
pipeline* g_active_pipeline = nullptr;

std::mutex& consumer_mutex() noexcept {
  static std::mutex* m = new std::mutex;  // never destroyed: an abandoned thread may still use it
  return *m;
}

void take_side_records(std::vector<std::vector<std::byte>>& out) noexcept;
std::size_t side_queue_size() noexcept;
std::uint64_t not_configured_count() noexcept;

std::uint32_t next_generation() noexcept {
  static std::atomic<std::uint32_t> last{0};
  std::uint32_t g = last.fetch_add(1, std::memory_order_relaxed) + 1;
  while ((g & k_generation_mask) == 0) g = last.fetch_add(1, std::memory_order_relaxed) + 1;  // 0 marks nothing
  return g;
}

// ----- thread registry -----------------------------------------------------------------

thread_registry& thread_registry::instance() noexcept {
  static thread_registry* r = new thread_registry;  // never destroyed: threads outlive statics
  return *r;
}

void thread_registry::add(thread_state* t) {
  std::lock_guard lock(mutex_);
  states_.push_back(t);
  registrations_.fetch_add(1, std::memory_order_release);
}

std::uint64_t thread_registry::snapshot(std::vector<thread_state*>& out) {
  std::lock_guard lock(mutex_);
  out.assign(states_.begin(), states_.end());
  return registrations_.load(std::memory_order_relaxed);
}

namespace {
void add_counters(const call_counters& c, call_totals& out) noexcept {
  out.pushed += c.pushed.get();
  for (std::size_t i = 0; i < drop_reason_count; ++i) out.dropped[i] += c.dropped[i].get();
  for (std::size_t i = 0; i < event_counter_count; ++i) out.events[i] += c.events[i].get();
}
}  // namespace

std::uint32_t next_thread_serial() noexcept {
  static std::atomic<std::uint32_t> next{0};
  std::uint32_t s = next.fetch_add(1, std::memory_order_relaxed) + 1;
  if (s == 0) s = next.fetch_add(1, std::memory_order_relaxed) + 1;  // after 2^32 threads
  return s;
}

void thread_registry::collect_retired(std::uint32_t generation) {
  std::lock_guard lock(mutex_);
  auto it = std::remove_if(states_.begin(), states_.end(), [&](thread_state* t) {
    if (!t->retired.load(std::memory_order_acquire) || !t->ring.empty()) return false;
    if (t->counters.generation.load(std::memory_order_acquire) == generation) {
      if (retired_generation_ != generation) {  // the totals of a closed generation are not needed
        retired_ = {};
        retired_generation_ = generation;
      }
      add_counters(t->counters, retired_);
    }
    delete t;
    return true;
  });
  states_.erase(it, states_.end());
}

void thread_registry::sum(std::uint32_t generation, call_totals& out) {
  std::lock_guard lock(mutex_);
  if (retired_generation_ == generation) {
    out.pushed += retired_.pushed;
    for (std::size_t i = 0; i < drop_reason_count; ++i) out.dropped[i] += retired_.dropped[i];
    for (std::size_t i = 0; i < event_counter_count; ++i) out.events[i] += retired_.events[i];
  }
  for (const thread_state* t : states_)
    if (t->counters.generation.load(std::memory_order_acquire) == generation) add_counters(t->counters, out);
}

bool thread_registry::wait_for_callers(std::chrono::steady_clock::time_point deadline) noexcept {
  const thread_state* self = this_thread_state_if_any();
  for (int round = 0;; ++round) {
    bool busy = false;
    {
      std::lock_guard lock(mutex_);
      for (const thread_state* t : states_)
        if (t != self && t->in_call.load(std::memory_order_acquire) != 0) busy = true;
    }
    if (!busy) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    // A call lasts a fraction of a microsecond unless a sampler hook blocks: yield first.
    if (round < 64)
      std::this_thread::yield();
    else
      std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

void thread_registry::after_fork_in_child(thread_state* survivor) noexcept {
  // The registry mutex was taken by this (the forking) thread in the prepare handler; it is
  // released at the end, after the cleanup it protects.
  // Other threads do not exist in the child: their records belong to the parent. The child
  // starts its own accounting from zero (its pipeline gets a new generation).
  for (thread_state* t : states_)
    if (t != survivor) delete t;
  states_.clear();
  retired_generation_ = 0;
  retired_ = {};
  if (survivor) {
    survivor->ring.discard_all_after_fork();
    survivor->counters.rollover(0);
    states_.push_back(survivor);
  }
  mutex_.unlock();
}

namespace {

// The thread's state: a plain pointer with no destructor, so that it stays usable while the
// thread's thread_local objects are destroyed (an application's destructor may log).
thread_local thread_state* t_state = nullptr;

// Retires the thread's state; the background thread frees a retired state once its ring is
// read. It runs as the destructor of a pthread key, which glibc calls after every C++
// thread_local destructor of the exiting thread: a call made from one of those still finds its
// state alive. (A thread_local object retired it before, so a destructor that ran after it and
// logged late could write into a state already freed.) A call made later still, from another
// key's destructor, finds no state and makes a new one, which sets the key again: glibc then
// runs the destructors again (PTHREAD_DESTRUCTOR_ITERATIONS rounds). The main thread's state
// is never retired: exit() runs no key destructors, and the process ends.
void mark_retired(thread_state* t) noexcept {
  t_filtered_count = nullptr;  // logfire.hpp: counts after this take the slow path
  t->retired.store(true, std::memory_order_release);
}

void retire_thread_state(void* p) noexcept {
  auto* t = static_cast<thread_state*>(p);
  if (t_state == t) t_state = nullptr;
  mark_retired(t);
}

struct thread_exit_key {
  pthread_key_t key{};
  bool made = false;
  thread_exit_key() noexcept { made = pthread_key_create(&key, retire_thread_state) == 0; }
};
thread_exit_key& exit_key() noexcept {
  static thread_exit_key k;  // never deleted: threads may exit until the process does
  return k;
}

// When the process has no pthread key left to give (PTHREAD_KEYS_MAX), a thread_local object
// retires the state as its destructor runs, with the limit above for later destructors.
struct fallback_retirer {
  thread_state* state = nullptr;
  ~fallback_retirer() {
    if (state) mark_retired(state);
  }
};
thread_local fallback_retirer t_fallback_retirer;

[[gnu::noinline]] thread_state& create_thread_state() noexcept {
  std::size_t ring_bytes = 1u << 20;
  if (control* c = g_control.load(std::memory_order_acquire)) ring_bytes = c->settings.ring_bytes;
  auto* t = new thread_state(ring_bytes);
  thread_registry::instance().add(t);
  t_state = t;
  if (thread_exit_key& k = exit_key(); !k.made || pthread_setspecific(k.key, t) != 0) t_fallback_retirer.state = t;
  return *t;
}

}  // namespace

const unsigned int* uncaught_exceptions_word() noexcept {
#if __has_include(<cxxabi.h>) && (defined(__GLIBCXX__) || defined(_LIBCPPABI_VERSION))
  struct eh_globals_start {
    void* caught_exceptions;
    unsigned int uncaught_exceptions;
  };
  const auto* g = reinterpret_cast<const eh_globals_start*>(abi::__cxa_get_globals());
  if (g && static_cast<int>(g->uncaught_exceptions) == std::uncaught_exceptions()) return &g->uncaught_exceptions;
#endif
  return nullptr;
}

thread_state& this_thread_state() noexcept {
  thread_state* t = t_state;
  if (t) [[likely]]
    return *t;
  return create_thread_state();
}

thread_state* this_thread_state_if_any() noexcept {
  return t_state;
}

// ----- exporter slots ------------------------------------------------------------------

// The ledger of one exporter: what it reports, from any of its threads. Reports made after
// the pipeline closed its ledger (a stalled exporter waking up after shutdown's deadline) are
// ignored: the closed ledger already counted those records.
struct pipeline::exporter_slot final : delivery_counter {
  std::shared_ptr<exporter> exp;
  std::string name;
  // Its deliveries and drops count in the totals: a destination, or the console when it is
  // the only output.
  bool destination = true;
  const std::atomic<bool>* closed = nullptr;
  std::atomic<std::uint64_t> exported{0};
  std::array<std::atomic<std::uint64_t>, drop_reason_count> dropped_counts{};
  std::array<std::atomic<std::uint64_t>, event_counter_count> event_counts{};
  std::atomic<std::uint64_t> spooled_count{0};
  std::atomic<std::uint64_t> unspooled_count{0};
  std::atomic<std::uint64_t> taken_over_count{0};
  std::atomic<std::uint64_t> replay_exported{0};
  std::array<std::atomic<std::uint64_t>, drop_reason_count> replay_dropped_counts{};
  std::mutex detail_mutex;
  diagnostic_details first;  // guarded by detail_mutex

  [[nodiscard]] bool open() const noexcept { return !closed->load(std::memory_order_acquire); }
  // Keeps the first detail given, or with `latest` the newest one.
  void note(std::string& slot, std::string_view detail, bool latest = false) noexcept {
    if (detail.empty()) return;
    std::lock_guard lock(detail_mutex);
    if (!latest && !slot.empty()) return;
    try {
      slot.assign(detail.substr(0, 300));
    } catch (...) {
    }
  }

  void delivered(std::uint64_t n) noexcept override {
    if (open()) exported.fetch_add(n, std::memory_order_relaxed);
  }
  void dropped(drop_reason r, std::uint64_t n, std::string_view detail) noexcept override {
    if (!open()) return;
    const auto i = static_cast<std::size_t>(r);
    note(first.dropped[i], detail);
    dropped_counts[i].fetch_add(n, std::memory_order_relaxed);
  }
  void count(event_counter c, std::uint64_t n) noexcept override {
    if (open()) event_counts[static_cast<std::size_t>(c)].fetch_add(n, std::memory_order_relaxed);
  }
  void count_with_detail(event_counter c, std::uint64_t n, std::string_view detail) noexcept override {
    if (!open()) return;
    // A failing or recovered destination is said with its latest cause; the rest keep the first.
    note(first.events[static_cast<std::size_t>(c)], detail,
         c == event_counter::batches_retried || c == event_counter::export_recovered);
    event_counts[static_cast<std::size_t>(c)].fetch_add(n, std::memory_order_relaxed);
  }
  void spooled(std::uint64_t n) noexcept override {
    if (open()) spooled_count.fetch_add(n, std::memory_order_relaxed);
  }
  void unspooled(std::uint64_t n) noexcept override {
    if (open()) unspooled_count.fetch_add(n, std::memory_order_relaxed);
  }
  void taken_over(std::uint64_t n) noexcept override {
    if (open()) taken_over_count.fetch_add(n, std::memory_order_relaxed);
  }
  void replay_delivered(std::uint64_t n) noexcept override {
    if (open()) replay_exported.fetch_add(n, std::memory_order_relaxed);
  }
  void replay_dropped(drop_reason r, std::uint64_t n, std::string_view detail) noexcept override {
    if (!open()) return;
    const auto i = static_cast<std::size_t>(r);
    note(first.replayed[i], detail);
    replay_dropped_counts[i].fetch_add(n, std::memory_order_relaxed);
  }

  // Records of this pipeline on disk: spooled and not yet delivered, dropped or taken over.
  // The exporter reports `spooled` before writing, so this never goes below zero for long.
  [[nodiscard]] std::uint64_t in_spool() const noexcept {
    const std::uint64_t in = spooled_count.load(std::memory_order_relaxed);
    const std::uint64_t out =
        unspooled_count.load(std::memory_order_relaxed) + taken_over_count.load(std::memory_order_relaxed);
    return in > out ? in - out : 0;
  }
};

// ----- background state ----------------------------------------------------------------

namespace {

// Bounds of the background thread's tables (besides max_open_spans, an option).
constexpr std::size_t k_max_span_updates_bytes = 4u << 20;  // updates kept per open span
constexpr std::size_t k_max_leaf_updates = 16;              // updates leaf_span() looks through for the span's end
constexpr std::size_t k_max_orphans = 65536;                // updates waiting for their start
// Open-span entries kept for reuse once their span ends (node and buffers: no allocation per
// span in a steady state), and the largest buffers kept with them.
constexpr std::size_t k_recycled_open_spans = 256;
constexpr std::size_t k_max_recycled_bytes = 4096;
constexpr std::size_t k_max_orphan_bytes = 4u << 20;
// Full batches waiting for the exporters at most before a pass lets the exporters have them:
// bounds the background thread's memory (each batch holds an arena) during a large backlog.
constexpr std::size_t k_waiting_batches = 4;
// Snapshots of the thread registry a pass takes at most while threads keep registering.
constexpr int k_snapshot_attempts = 3;
// Paced wake-ups of the background thread while records flow (see pipeline::run()): a pass
// that read at least k_flow_bytes from one ring paces the next wake-up, never sooner than
// k_min_flow_sleep after this one.
constexpr std::size_t k_flow_bytes = 8192;
constexpr auto k_min_flow_sleep = std::chrono::microseconds(50);

// Appends "[u8 kind][u32 size][body]" to `updates`, all or nothing (std::bad_alloc leaves it
// unchanged).
void append_update(std::string& updates, std::uint8_t kind, const std::byte* body, std::size_t size) {
  updates.reserve(updates.size() + 5 + size);
  updates.push_back(static_cast<char>(kind));
  const auto n = static_cast<std::uint32_t>(size);
  updates.append(reinterpret_cast<const char*>(&n), sizeof n);
  updates.append(reinterpret_cast<const char*>(body), size);
}

}  // namespace

struct pipeline::batch {
  arena memory;
  std::vector<span_record> records;               // at most max_batch, pending spans included
  std::size_t finished = 0;                       // spans and logs (not pending spans)
  std::vector<std::shared_ptr<const void>> held;  // memory of records released by tail sampling
};

struct pipeline::background_state {
  struct open_span {
    std::vector<std::byte> start;  // the span_start body
    std::string updates;           // [u8 kind][u32 size][body] ...
  };
  using open_table = std::unordered_map<std::uint64_t, open_span>;
  open_table open;
  std::vector<open_table::node_type> recycled;  // reserved to k_recycled_open_spans

  background_state() { recycled.reserve(k_recycled_open_spans); }
  // Updates whose span start was not seen yet: it is in a ring drained later in the same pass,
  // or committed just after that ring was read (then the next complete pass finds it).
  struct orphan {
    std::string updates;
    std::uint64_t pass = 0;  // `passes` when it arrived
  };
  std::unordered_map<std::uint64_t, orphan> orphans;
  std::size_t orphan_bytes = 0;

  // The entry for a span start just read: a recycled one when there is one, else a new one.
  // Throws (memory) with the table unchanged.
  open_table::iterator open_entry(std::uint64_t span) {
    if (auto it = open.find(span); it != open.end()) return it;  // a span id seen twice: the last start wins
    if (recycled.empty()) return open.try_emplace(span).first;
    open_table::node_type node = std::move(recycled.back());
    recycled.pop_back();
    node.key() = span;
    node.mapped().updates.clear();
    return open.insert(std::move(node)).position;
  }
  // Removes an ended (or failed) span's entry, keeping it for the next start while there is
  // room and its buffers are small.
  void close_entry(open_table::iterator it) noexcept {
    if (recycled.size() < recycled.capacity() && it->second.start.capacity() <= k_max_recycled_bytes &&
        it->second.updates.capacity() <= k_max_recycled_bytes) {
      recycled.push_back(open.extract(it));  // no allocation: within the reserved capacity
      return;
    }
    open.erase(it);
  }
  // Span ends, applied once every update made before them (on any thread) has been read: ends
  // committed before a pass's mark are applied at the end of that pass; later ones, and all of
  // them when a pass was cut short (fork), wait for the next complete pass.
  std::vector<span_ref> ends_now;
  std::vector<span_ref> ends_next;
  std::vector<span_ref> ends_deferred;
  std::uint64_t passes = 0;  // complete passes so far
  // The ring that filled fastest in the last cycle's pass (flow_wake() paces wake-ups by it):
  std::size_t fill_bytes = 0;       // the bytes read from it
  std::size_t fill_capacity = 0;    // the size of its segment
  clock::time_point pass_start{};   // when that pass began
  clock::duration fill_interval{};  // since the pass before began: the time those bytes took

  // While records flow (the last pass read at least k_flow_bytes from one ring): when that
  // ring would be a quarter full again at the rate it filled, less the time the pass took, and
  // never sooner than k_min_flow_sleep from `now`. time_point::max() when nothing flows.
  [[nodiscard]] clock::time_point flow_wake(clock::time_point now) const noexcept {
    if (fill_bytes < k_flow_bytes || fill_interval <= clock::duration::zero()) return clock::time_point::max();
    const double bytes_per_tick = static_cast<double>(fill_bytes) / static_cast<double>(fill_interval.count());
    // Capped at 1e18 ticks (decades), so that the sum below cannot overflow.
    const auto to_quarter = clock::duration(
        static_cast<clock::rep>(std::min(static_cast<double>(fill_capacity / 4) / bytes_per_tick, 1e18)));
    return now + std::max<clock::duration>(to_quarter - (now - pass_start), k_min_flow_sleep);
  }
  std::vector<thread_state*> rings;  // this pass's snapshot of the registry
  std::vector<std::uint64_t> marks;  // each ring's published position at the start of the pass
  std::vector<std::vector<std::byte>> side;

  // Records go into `current`; a full batch waits in `full`. The exporters get the waiting
  // batches after the pass, or in the middle of it once there are k_waiting_batches, with the
  // consumer lock released meanwhile: a stalled exporter never holds the rings, and memory
  // stays bounded whatever the backlog.
  batch current;
  std::deque<batch> full;
  std::vector<batch> spare;  // emptied batches, reused
  std::vector<span_record> without_pending;
  clock::time_point batch_deadline{};
  bool first_batch = true;
  bool any_pending_exporter = false;
  decode_counters counters;
  record_builder builder{counters};
  std::array<std::atomic<std::uint64_t>, drop_reason_count> own_dropped{};  // drops decided here
  std::atomic<std::uint64_t> updates_lost{0};
  std::string leaf_updates;  // a leaf span's updates, as an open span's are kept (leaf_span())
  // Tail sampling: traces buffered after decoding, released into the current batch.
  struct tail_output final : tail_sink {
    pipeline* p = nullptr;
    void emit(const span_record& r, bool finished, const std::shared_ptr<const void>& owner) override {
      background_state& st = *p->bg_;
      p->make_room();
      if (st.current.held.empty() || st.current.held.back() != owner) st.current.held.push_back(owner);
      p->add_to_batch(r, finished);
    }
    void dropped(drop_reason reason, std::uint64_t n) noexcept override { p->lost(reason, n); }
  } tail_out;
  std::unique_ptr<tail_sampler> tail;
};

pipeline::pipeline(pipeline_settings settings, resource res, std::vector<std::shared_ptr<exporter>> exporters)
    : control_(new control), resource_(std::move(res)), bg_(std::make_unique<background_state>()) {
  control_->settings = std::move(settings);
  control_->generation = next_generation();
  for (auto& e : exporters) {
    if (!e) continue;
    auto slot = std::make_unique<exporter_slot>();
    slot->name = e->name();
    slot->destination = e->is_destination();
    slot->closed = &closed_;
    slot->exp = std::move(e);
    slots_.push_back(std::move(slot));
  }
  // Without a destination, the views (the console) are the only output: what they show or fail
  // to show is what the user gets.
  if (!has_destination())
    for (auto& s : slots_) s->destination = true;
  background_state& st = *bg_;
  const pipeline_settings& cfg = control_->settings;
  st.any_pending_exporter =
      std::any_of(slots_.begin(), slots_.end(), [](const auto& s) { return s->exp->wants_pending_spans(); });
  // A batch never outgrows max_batch, so it is reserved once (up to a sane size).
  st.current.records.reserve(batch_reserve());
  st.without_pending.reserve(batch_reserve());
  st.builder.set_max_attributes(cfg.max_attributes);
  if (cfg.tail) {
    st.tail_out.p = this;
    st.tail = std::make_unique<tail_sampler>(*cfg.tail, st.any_pending_exporter, st.builder, st.tail_out);
  }
  diagnostic_context dctx;
  const std::uint8_t ml = min_level();
  if (ml) dctx.min_level = std::string(to_string(static_cast<level>(ml)));
  dctx.sample_rate = cfg.head.ratio.rate();
  dctx.ring_bytes = cfg.ring_bytes;
  dctx.max_ring_bytes = cfg.ring_growth.max_bytes;
  dctx.ring_growth_budget = cfg.ring_growth.budget;
  dctx.overflow_block = cfg.overflow == overflow_policy::block;
  dctx.overflow_block_ms = static_cast<std::uint64_t>(cfg.block_timeout.count());
  dctx.max_open_spans = cfg.max_open_spans;
  dctx.console_min_level = cfg.console_min_level;
  if (cfg.tail)
    dctx.tail_bounds =
        std::to_string(cfg.tail->max_traces) + " traces, " + std::to_string(cfg.tail->max_bytes) + " bytes, " +
        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(cfg.tail->max_age).count()) + " ms";
  diag_ = std::make_unique<diagnostics>(std::move(dctx));
  not_configured_at_start_ = not_configured_count();
  st.builder.set_scrubber(cfg.scrub.get(), diag_.get());
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

bool pipeline::has_destination() const noexcept {
  return std::any_of(slots_.begin(), slots_.end(), [](const auto& s) { return s->destination; });
}

void pipeline::start() {
  for (auto& s : slots_) s->exp->start(*s);
  running_ = true;
  thread_ = std::thread([this] { run(); });
  publish_control(control_);
}

// ----- background thread: records ------------------------------------------------------

void pipeline::lost(drop_reason reason, std::uint64_t n) noexcept {
  if (n == 0) return;
  bg_->own_dropped[static_cast<std::size_t>(reason)].fetch_add(n, std::memory_order_relaxed);
}

std::size_t pipeline::batch_reserve() const noexcept {
  return std::min<std::size_t>(control_->settings.max_batch, 8192);
}

// Makes room for one more record in the current batch: a full one joins the batches waiting
// for the exporters, and an empty one (reused when possible) takes its place. Throws
// std::bad_alloc leaving everything as it was.
void pipeline::make_room() {
  if (bg_->current.records.size() < control_->settings.max_batch) [[likely]]
    return;
  next_batch();
}

// make_room()'s work when the current batch is full (out of line: make_room() runs for every
// record).
void pipeline::next_batch() {
  background_state& st = *bg_;
  batch fresh;
  if (!st.spare.empty()) {
    fresh = std::move(st.spare.back());
    st.spare.pop_back();
  } else {
    fresh.records.reserve(batch_reserve());
  }
  try {
    st.full.push_back(std::move(st.current));
  } catch (...) {
    st.spare.push_back(std::move(fresh));  // capacity is there: it came from it, or it is new
    throw;
  }
  st.current = std::move(fresh);
  st.batch_deadline = clock::time_point::max();  // set by the next record
}

// Adds a record built in the current batch's arena (after make_room(), before building).
void pipeline::add_to_batch(const span_record& r, bool finished) {
  background_state& st = *bg_;
  const bool was_empty = st.current.records.empty();
  st.current.records.push_back(r);  // within the reserved capacity unless max_batch is above 8192
  note_added(was_empty, finished);
}

template <class Build>
void pipeline::build_into_batch(bool finished, Build&& build) {
  background_state& st = *bg_;
  std::vector<span_record>& records = st.current.records;
  const bool was_empty = records.empty();
  span_record& r = records.emplace_back();  // within the reserved capacity, as above
  try {
    build(r);
  } catch (...) {
    records.pop_back();
    throw;
  }
  note_added(was_empty, finished);
}

void pipeline::note_added(bool was_empty, bool finished) {
  background_state& st = *bg_;
  if (finished) ++st.current.finished;
  if (was_empty) [[unlikely]]
    set_batch_deadline();
}

// The first record of a batch sets when the batch is due (out of line: note_added() runs for
// every record).
void pipeline::set_batch_deadline() noexcept {
  background_state& st = *bg_;
  const pipeline_settings& cfg = control_->settings;
  st.batch_deadline = clock::now() + (st.first_batch ? cfg.first_delay : cfg.schedule_delay);
}

// The pending span of a span start, for the exporters that take them. A preview of a span
// counted when it ends: when it cannot be made, nothing is lost.
void pipeline::add_pending_span(const std::byte* start, std::size_t size) noexcept {
  background_state& st = *bg_;
  try {
    make_room();
    build_into_batch(false, [&](span_record& r) { st.builder.build_pending(start, size, st.current.memory, r); });
  } catch (...) {
  }
}

void pipeline::finish_span(std::uint64_t span, std::uint64_t end_ns) noexcept {
  background_state& st = *bg_;
  auto it = st.open.find(span);
  if (it == st.open.end()) {
    // Its start was dropped here (and counted: open_spans_full, internal_error).
    if (auto o = st.orphans.find(span); o != st.orphans.end()) {
      st.orphan_bytes -= o->second.updates.size();
      st.orphans.erase(o);
      st.updates_lost.fetch_add(1, std::memory_order_relaxed);
    }
    return;
  }
  if (st.tail && st.tail->on_end(it->second.start.data(), it->second.start.size(), it->second.updates, end_ns)) {
    st.close_entry(it);
    return;
  }
  try {
    make_room();
    build_into_batch(true, [&](span_record& r) {
      st.builder.build(it->second.start.data(), it->second.start.size(), false, it->second.updates, end_ns,
                       st.current.memory, r);
    });
  } catch (...) {
    lost(drop_reason::internal_error, 1);
  }
  st.close_entry(it);
}

void pipeline::on_record(const ring_record_header& h, const std::byte* body, std::size_t size,
                         bool before_mark) noexcept {
  background_state& st = *bg_;
  // A record of another pipeline (pushed by a call that outlived that pipeline's shutdown):
  // that pipeline's closed ledger settled it (or never counted it). Never exported here.
  if (h.generation() != (control_->generation & k_generation_mask)) return;
  const pipeline_settings& cfg = control_->settings;
  const auto kind = static_cast<rec>(h.kind());
  switch (kind) {
    case rec::log: {
      if (st.tail && st.tail->on_log(body, size)) return;
      try {
        make_room();
        build_into_batch(true,
                         [&](span_record& r) { st.builder.build(body, size, true, {}, 0, st.current.memory, r); });
      } catch (...) {
        lost(drop_reason::internal_error, 1);
      }
      return;
    }
    case rec::span_start: {
      record_fixed fixed;
      std::memcpy(&fixed, body, sizeof fixed);
      auto orphan = st.orphans.find(fixed.span);
      if (st.open.size() >= cfg.max_open_spans) {
        lost(drop_reason::open_spans_full, 1);
        return;  // its orphaned updates, if any, expire and are counted
      }
      try {
        auto it = st.open_entry(fixed.span);
        try {
          it->second.start.assign(body, body + size);
        } catch (...) {
          st.close_entry(it);
          throw;
        }
        if (orphan != st.orphans.end()) {  // updates that were read before their start
          st.orphan_bytes -= orphan->second.updates.size();
          it->second.updates = std::move(orphan->second.updates);
          st.orphans.erase(orphan);
        }
      } catch (...) {
        lost(drop_reason::internal_error, 1);
        return;
      }
      if (st.tail && st.tail->on_start(body, size)) return;
      if (st.any_pending_exporter) add_pending_span(body, size);
      return;
    }
    case rec::span_end: {
      span_ref ref;
      std::memcpy(&ref, body, sizeof ref);
      // Its start and updates came through this ring, before it: nothing to wait for. Ends
      // applied at once keep the open-span table small when a pass reads a long backlog.
      if (ref.value == 1) {
        finish_span(ref.span, ref.time_ns);
        return;
      }
      try {
        (before_mark ? st.ends_now : st.ends_next).push_back(ref);
      } catch (...) {
        finish_span(ref.span, ref.time_ns);  // no room to wait: end it now
      }
      return;
    }
    case rec::set_attribute:
    case rec::set_level:
    case rec::set_status:
    case rec::exception:
    case rec::event: {
      span_ref ref;
      std::memcpy(&ref, body, sizeof ref);
      // Over a bound, or out of memory: the update is lost, and counted.
      try {
        if (auto it = st.open.find(ref.span); it != st.open.end()) {
          if (it->second.updates.size() + 5 + size > k_max_span_updates_bytes) {
            st.updates_lost.fetch_add(1, std::memory_order_relaxed);
            return;
          }
          append_update(it->second.updates, static_cast<std::uint8_t>(kind), body, size);
          return;
        }
        if (st.orphans.size() >= k_max_orphans || st.orphan_bytes + 5 + size > k_max_orphan_bytes) {
          st.updates_lost.fetch_add(1, std::memory_order_relaxed);
          return;
        }
        auto [it, inserted] = st.orphans.try_emplace(ref.span);
        if (inserted) it->second.pass = st.passes;
        append_update(it->second.updates, static_cast<std::uint8_t>(kind), body, size);
        st.orphan_bytes += 5 + size;
      } catch (...) {
        st.updates_lost.fetch_add(1, std::memory_order_relaxed);
      }
      return;
    }
    case rec::padding:
      return;
  }
}

// A span start followed at once, in the same ring, by its own updates if any (at most
// k_max_leaf_updates: a span that sets its status code before it ends) and its end with nothing
// to wait for (the span never left its thread: a leaf span). Built straight from the ring,
// without an entry in the open-span table. Returns the bytes it took after the start (the
// updates and the end); 0, having done nothing, for anything else, which takes the usual path.
std::uint64_t pipeline::leaf_span(const ring_record_header& h, const std::byte* body, std::size_t size,
                                  const following_records& after) noexcept {
  background_state& st = *bg_;
  const std::uint32_t generation = control_->generation & k_generation_mask;
  if (static_cast<rec>(h.kind()) != rec::span_start || h.generation() != generation || st.tail) return 0;
  record_fixed fixed;
  std::memcpy(&fixed, body, sizeof fixed);
  // Its updates, then its end: each of this span, of this pipeline, and whole.
  std::uint64_t at = after.begin();
  std::size_t updates = 0;
  span_ref ref;
  for (;;) {
    const ring_record_header* r = after.at(at);
    if (!r || r->generation() != generation || r->size < sizeof(ring_record_header) + sizeof(span_ref)) return 0;
    const auto kind = static_cast<rec>(r->kind());
    const bool end = kind == rec::span_end;
    if (!end && kind != rec::set_attribute && kind != rec::set_level && kind != rec::set_status &&
        kind != rec::exception && kind != rec::event)
      return 0;
    std::memcpy(&ref, r + 1, sizeof ref);
    if (ref.span != fixed.span) return 0;
    at += r->size;
    if (end) break;
    if (++updates > k_max_leaf_updates) return 0;
  }
  if (ref.value != 1) return 0;
  // Updates of this id read before its start (only a reused id can have them): the usual path.
  if (!st.orphans.empty() && st.orphans.find(fixed.span) != st.orphans.end()) return 0;
  std::string_view joined;
  if (updates) {
    // As an open span keeps them ([u8 kind][u32 size][body] each); over the bound an open span
    // keeps, or out of memory: the usual path, which counts what it loses.
    try {
      st.leaf_updates.clear();
      for (std::uint64_t u = after.begin(); u < at;) {
        const ring_record_header* r = after.at(u);
        u += r->size;
        if (u == at) break;  // the end
        const std::size_t body_size = r->size - sizeof(ring_record_header);
        if (st.leaf_updates.size() + 5 + body_size > k_max_span_updates_bytes) return 0;
        append_update(st.leaf_updates, r->kind(), reinterpret_cast<const std::byte*>(r + 1), body_size);
      }
    } catch (...) {
      return 0;
    }
    joined = st.leaf_updates;
  }
  if (st.any_pending_exporter) add_pending_span(body, size);
  try {
    make_room();
    build_into_batch(
        true, [&](span_record& r) { st.builder.build(body, size, false, joined, ref.time_ns, st.current.memory, r); });
  } catch (...) {
    lost(drop_reason::internal_error, 1);
  }
  // Kept for the next leaf span's updates, as an open span's buffers are: up to the same size.
  if (updates && st.leaf_updates.capacity() > k_max_recycled_bytes) std::string().swap(st.leaf_updates);
  return at - after.begin();
}

// Lets the exporters have the batches that filled up during a pass once there are
// k_waiting_batches of them, with the consumer lock released meanwhile (see cycle()). Returns false
// when shutdown() gave up on this pipeline during the export: the pass then stops at once and
// touches no ring, no side queue and no registry entry again (a later pipeline owns them).
bool pipeline::relieve(std::unique_lock<std::mutex>& consumer) noexcept {
  background_state& st = *bg_;
  if (st.full.size() < k_waiting_batches) return true;
  consumer.unlock();
  export_batches(false);
  consumer.lock();
  return !abandoned_.load(std::memory_order_acquire);
}

// One pass over every ring and the side queue, with the consumer lock held (except while
// relieve() exports). Two reads of each ring's position make a span's cross-thread updates
// arrive before its end: an end committed before the first read (the "mark") happened after
// every update made before it on any thread, and those updates were committed before the
// second read, which the drain does. Ends after the mark wait for the next complete pass.
// Returns false when the pipeline was abandoned meanwhile (stop touching anything shared).
bool pipeline::drain_rings(std::unique_lock<std::mutex>& consumer, bool final) {
  background_state& st = *bg_;
  // The marks: how far each ring is read this pass. An end read before its ring's mark is
  // settled by this pass only if every update committed before it is read too, so no ring may
  // be missing from the snapshot: a thread that registers between the snapshot and the marks
  // can push updates, be joined, and have its span ended before a mark. Take the snapshot
  // again until no registration came between; if threads keep registering, the pass settles
  // no end (as a cut pass) and the next one does.
  thread_registry& registry = thread_registry::instance();
  bool settled = false;
  for (int attempt = 0; attempt < k_snapshot_attempts && !settled; ++attempt) {
    const std::uint64_t registered = registry.snapshot(st.rings);  // may throw before anything is consumed
    st.marks.resize(st.rings.size());
    for (std::size_t i = 0; i < st.rings.size(); ++i) st.marks[i] = st.rings[i]->ring.published();
    settled = registry.registrations() == registered;
  }
  const std::size_t side_mark = side_queue_size();

  // A fork() waiting for this thread cuts the pass short (not at shutdown, when every record
  // must be settled): what is left stays in the rings, and every end waits for a complete pass.
  bool cut = false;
  bool gone = false;
  const auto keep_going = [&](const auto& free_read) {
    if (!final && fork_waiting_.load(std::memory_order_relaxed)) {
      cut = true;
      return false;
    }
    // relieve() is about to release the consumer lock: give back what was read first (a
    // later pipeline may drain this ring if this one is abandoned meanwhile). Tested here first:
    // this runs for every record, and relieve() is not inlined.
    if (st.full.size() >= k_waiting_batches) {
      free_read();
      if (!relieve(consumer)) {
        gone = true;
        return false;
      }
    }
    return true;
  };
  for (std::size_t i = 0; i < st.rings.size() && !cut; ++i) {
    const std::uint64_t mark = st.marks[i];
    // The positions of the first record read and just past the last (end 0: none read), for
    // flow_wake().
    std::uint64_t first = 0;
    std::uint64_t end = 0;
    st.rings[i]->ring.drain(
        [&](const ring_record_header& h, const std::byte* body, std::size_t size, std::uint64_t at,
            const following_records& after) -> std::uint64_t {
          if (end == 0) first = at;
          end = at + h.size;
          if (const std::uint64_t taken = leaf_span(h, body, size, after)) {
            end += taken;
            return taken;
          }
          on_record(h, body, size, at < mark);
          return 0;
        },
        keep_going);
    if (gone) return false;
    if (end - first > st.fill_bytes) {
      st.fill_bytes = static_cast<std::size_t>(end - first);
      st.fill_capacity = st.rings[i]->ring.capacity();
    }
  }
  take_side_records(st.side);
  for (std::size_t j = 0; j < st.side.size(); ++j) {
    if (!relieve(consumer)) return false;
    const auto& r = st.side[j];
    const auto* h = reinterpret_cast<const ring_record_header*>(r.data());
    on_record(*h, r.data() + sizeof(ring_record_header), h->size - sizeof(ring_record_header), j < side_mark);
  }
  st.side.clear();

  const auto finish_all = [&](std::vector<span_ref>& ends) {
    for (const span_ref& e : ends) {
      if (!relieve(consumer)) return false;
      finish_span(e.span, e.time_ns);
    }
    ends.clear();
    return true;
  };
  if (cut || !settled) {
    // Some rings were not read up to their marks, or a ring was missed: no end is safe yet.
    try {
      st.ends_deferred.insert(st.ends_deferred.end(), st.ends_now.begin(), st.ends_now.end());
      st.ends_deferred.insert(st.ends_deferred.end(), st.ends_next.begin(), st.ends_next.end());
      st.ends_now.clear();
      st.ends_next.clear();
    } catch (...) {  // no room to wait: end them now
      if (!finish_all(st.ends_now) || !finish_all(st.ends_next)) return false;
    }
    return true;
  }
  ++st.passes;
  if (!finish_all(st.ends_deferred) || !finish_all(st.ends_now)) return false;
  st.ends_deferred.swap(st.ends_next);
  if (final && !finish_all(st.ends_deferred)) return false;  // nothing arrives after the last pass
  if (st.tail) st.tail->after_pass();

  // Updates whose start never came (it was dropped and counted): a complete pass that began
  // after they arrived has read every start committed before them. They can wait no longer.
  for (auto it = st.orphans.begin(); it != st.orphans.end();) {
    if (it->second.pass + 2 <= st.passes) {
      st.orphan_bytes -= it->second.updates.size();
      st.updates_lost.fetch_add(1, std::memory_order_relaxed);
      it = st.orphans.erase(it);
    } else {
      ++it;
    }
  }
  return true;
}

// Hands one batch to every exporter (without pending spans to those that do not want them),
// then empties it for reuse. Never called with the consumer lock held.
void pipeline::export_one(batch& b) noexcept {
  background_state& st = *bg_;
  if (!b.records.empty()) {
    if (slots_.empty()) {
      lost(drop_reason::no_exporter, b.finished);
    } else {
      bool filtered = false;
      bool filter_failed = false;
      for (auto& s : slots_) {
        // Abandoned (shutdown() returned without this thread): the closed ledger counted these
        // records, and what the exporters write to may be gone.
        if (abandoned_.load(std::memory_order_acquire)) break;
        std::span<const span_record> view = b.records;
        // Pending spans are left out for an exporter that does not take them (a batch without
        // any is passed as it is).
        if (!s->exp->wants_pending_spans() && b.finished != b.records.size()) {
          if (!filtered) {
            filtered = true;
            try {
              st.without_pending.clear();
              for (const auto& r : b.records)
                if (r.type != record_type::pending_span) st.without_pending.push_back(r);
            } catch (...) {
              filter_failed = true;
            }
          }
          if (filter_failed) {
            s->dropped(drop_reason::internal_error, b.finished, "out of memory while batching");
            continue;
          }
          view = st.without_pending;
        }
        if (!view.empty()) s->exp->export_batch(view);
      }
    }
    st.first_batch = false;
  }
  b.records.clear();
  b.finished = 0;
  b.memory.reset();
  b.held.clear();
}

// The batches that filled up, oldest first, then the current one when `and_current`.
void pipeline::export_batches(bool and_current) noexcept {
  background_state& st = *bg_;
  while (!st.full.empty()) {
    export_one(st.full.front());
    if (st.spare.size() < 2) {  // keep a couple for the next backlog; free the rest
      try {
        st.spare.push_back(std::move(st.full.front()));
      } catch (...) {
      }
    }
    st.full.pop_front();
  }
  if (and_current) export_one(st.current);
}

void pipeline::end_open_spans() noexcept {
  background_state& st = *bg_;
  // Spans still open will never end in this pipeline (their ends, if any, are ignored).
  lost(drop_reason::open_at_shutdown, st.open.size());
  st.open.clear();
  st.updates_lost.fetch_add(st.orphans.size(), std::memory_order_relaxed);
  st.orphans.clear();
  st.orphan_bytes = 0;
}

// One cycle of the background thread. The rings, the side queue and the registry's retired
// states have one consumer at a time, process-wide: the consumer lock. It is never held while
// an exporter runs (a stalled exporter would hold the rings), and shutdown() marks a pipeline
// abandoned under it, so a thread that outlived its pipeline's shutdown never drains again.
void pipeline::cycle(bool flushing, bool stopping) {
  background_state& st = *bg_;
  const auto start = clock::now();
  st.fill_interval = start - st.pass_start;
  st.pass_start = start;
  st.fill_bytes = 0;
  {
    std::unique_lock consumer(consumer_mutex());
    if (abandoned_.load(std::memory_order_acquire)) return;
    try {
      if (!drain_rings(consumer, false)) return;  // abandoned during an export: touch nothing shared
      // At shutdown the callers are done (shutdown() waited for them): a second pass settles
      // the ends that waited for it, and nothing arrives after.
      if (stopping && !drain_rings(consumer, true)) return;
    } catch (...) {
      // The registry snapshot could not be allocated: nothing was consumed, the next cycle
      // tries again. At shutdown, what stays in the rings is counted when the ledger closes.
      if (stopping) drain_failed_.store(true, std::memory_order_relaxed);
    }
    if (stopping && st.tail) st.tail->at_shutdown();  // decided by their records so far (docs/sampling.md)
    if (stopping) end_open_spans();
    try {
      thread_registry::instance().collect_retired(control_->generation);
    } catch (...) {
    }
  }
  const bool due = !st.current.records.empty() && clock::now() >= st.batch_deadline;
  export_batches(flushing || stopping || due);
}

void pipeline::add_resource_attributes(resource additions) {
  std::lock_guard lock(resource_mutex_);
  if (!resource_additions_) resource_additions_ = resource{};
  for (auto& a : additions.attributes) resource_additions_->set(a.key, std::move(a.value));
}

void pipeline::report_losses(bool final_summary) noexcept {
  try {
    pipeline_stats s;
    fill_stats(s);
    diagnostic_details details;
    for (auto& slot : slots_) {
      std::lock_guard lock(slot->detail_mutex);
      for (std::size_t i = 0; i < drop_reason_count; ++i) {
        if (details.dropped[i].empty()) details.dropped[i] = slot->first.dropped[i];
        if (details.replayed[i].empty()) details.replayed[i] = slot->first.replayed[i];
      }
      for (std::size_t i = 0; i < event_counter_count; ++i)
        if (details.events[i].empty()) details.events[i] = slot->first.events[i];
    }
    std::lock_guard lock(diag_mutex_);
    diag_->report(s, details);
    if (final_summary) diag_->summary(s, details);
  } catch (...) {  // out of memory: the counters still tell
  }
}

void pipeline::run() noexcept {
  background_state& st = *bg_;
  control& ctl = *control_;
  const pipeline_settings& cfg = ctl.settings;
  auto last_report = clock::now();
  t_never_block = true;  // only this thread frees ring space: it never waits for it
  // Its name in `top -H`, debuggers and /proc.
  ::pthread_setname_np(::pthread_self(), "logfire-drain");
  for (;;) {
    bool stopping = false;
    bool flushing = false;
    std::uint64_t flush_seq = 0;
    clock::time_point flush_deadline{};
    {
      std::unique_lock lock(ctl.mutex);
      // While records flow, wake when the fastest ring would be a quarter full again
      // (flow_wake()), so that the producers' half-full wake-up stays rare and a steady flow
      // costs a wake-up per quarter ring, not one per few records (each costs µs of CPU in a
      // virtual machine).
      const auto now = clock::now();
      const auto wait_until =
          std::min(st.current.records.empty() ? now + cfg.first_delay : st.batch_deadline, st.flow_wake(now));
      ctl.cv.wait_until(lock, wait_until,
                        [&] { return ctl.wake_requested || stop_ || flush_requested_ > flush_done_; });
      ctl.wake_requested = false;
      ctl.wake_pending.store(false, std::memory_order_release);
      stopping = stop_;
      flushing = flush_requested_ > flush_done_;
      flush_seq = flush_requested_;
      flush_deadline = flush_deadline_;
    }
    // A fork() in progress gets the work section first (before_fork).
    while (fork_waiting_.load(std::memory_order_acquire) && !stopping)
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    {
      // fork() waits for this section (before_fork), so a child never inherits half-built
      // batches or an exporter lock held by this thread. Exporter flushes run outside it.
      std::lock_guard work(work_mutex_);
      try {
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
      } catch (...) {
      }
      if (abandoned_.load(std::memory_order_acquire)) break;  // shut down without us: touch nothing shared
      cycle(flushing, stopping);
    }
    if (abandoned_.load(std::memory_order_acquire)) break;  // never call an exporter again
    if (flushing || stopping) {
      bool ok = true;
      for (auto& s : slots_)
        if (!abandoned_.load(std::memory_order_acquire)) ok = s->exp->force_flush(flush_deadline) && ok;
      if (stopping)
        for (auto& s : slots_)
          if (!abandoned_.load(std::memory_order_acquire)) ok = s->exp->shutdown(flush_deadline) && ok;
      {
        std::lock_guard lock(ctl.mutex);
        last_flush_ok_ = ok;
        if (flushing) flush_done_ = flush_seq;
      }
      done_cv_.notify_all();
    }
    if (stopping) break;
    const auto now = clock::now();
    if (now - last_report >= std::chrono::milliseconds(200) || flushing) {
      report_losses(false);
      last_report = now;
    }
  }
  {
    std::lock_guard lock(ctl.mutex);
    finished_ = true;
  }
  done_cv_.notify_all();
  running_ = false;
}

// ----- callers' side: flush, shutdown, stats -------------------------------------------

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
  try {
    fill_stats(s);
  } catch (...) {
    return false;
  }
  const std::uint64_t lost_now = involuntary_losses(s);
  const std::uint64_t before = involuntary_at_last_flush_.exchange(lost_now, std::memory_order_acq_rel);
  return exporters_ok && lost_now == before && s.in_spool == 0;
}

std::uint64_t involuntary_losses(const pipeline_stats& s) noexcept {
  std::uint64_t n = 0;
  for (drop_reason r :
       {drop_reason::ring_full, drop_reason::export_failed, drop_reason::rejected_by_backend,
        drop_reason::shutdown_timeout, drop_reason::spool_full, drop_reason::spool_corrupt,
        drop_reason::open_at_shutdown, drop_reason::export_queue_full, drop_reason::console_write_failed,
        drop_reason::no_exporter, drop_reason::open_spans_full, drop_reason::internal_error})
    n += s.dropped_by(r);
  return n;
}

bool pipeline::shutdown(clock::time_point deadline, bool callers_stuck) noexcept {
  if (!thread_.joinable() || closed_.load()) return false;
  {
    std::lock_guard lock(control_->mutex);
    flush_deadline_ = deadline;
    stop_ = true;
  }
  control_->cv.notify_all();
  bool finished = false;
  bool exporters_ok = false;
  {
    std::unique_lock lock(control_->mutex);
    finished = done_cv_.wait_until(lock, deadline + k_stop_grace, [&] { return finished_; });
    exporters_ok = last_flush_ok_;
  }
  if (finished) {
    thread_.join();
  } else {
    // Stuck in an exporter (or the machine is starved): leave it; this object stays alive.
    // Under the consumer lock, so that from now on it never drains a ring again.
    thread_.detach();
    std::lock_guard consumer(consumer_mutex());
    abandoned_.store(true, std::memory_order_release);
  }
  running_ = false;

  // Close the ledger. Normally everything is settled by now, and nothing is filled in (an
  // accounting bug shows as an imbalance). Reports arriving later are ignored, records pushed
  // later are never exported.
  pipeline_stats s;
  try {
    compute_stats(s);
  } catch (...) {
  }
  // What remains unsettled has one cause: time ran out (a caller or the background thread did
  // not finish by the deadline), or the final drain could not run (out of memory).
  const bool late = abandoned_.load(std::memory_order_acquire) || callers_stuck;
  if (late || drain_failed_.load(std::memory_order_relaxed)) {
    const auto cause = static_cast<std::size_t>(late ? drop_reason::shutdown_timeout : drop_reason::internal_error);
    std::uint64_t destination_drops = 0;
    for (const auto& e : s.exporters)
      if (e.destination) destination_drops += e.dropped_total();
    const std::uint64_t pipeline_drops = s.dropped_total() - destination_drops;
    bool any_destination = false;
    for (auto& e : s.exporters) {
      if (!e.destination) continue;
      any_destination = true;
      const std::uint64_t settled = pipeline_drops + e.exported + e.dropped_total() + e.in_spool + e.spool_taken_over;
      if (s.produced > settled) {
        e.dropped[cause] += s.produced - settled;
        s.dropped[cause] += s.produced - settled;
      }
    }
    if (!any_destination && s.produced > s.dropped_total()) s.dropped[cause] += s.produced - s.dropped_total();
  }
  closed_stats_ = std::move(s);
  closed_.store(true, std::memory_order_release);
  report_losses(true);
  pipeline_stats final_stats;
  try {
    fill_stats(final_stats);
  } catch (...) {
    return false;
  }
  return finished && exporters_ok &&
         involuntary_losses(final_stats) == involuntary_at_last_flush_.load(std::memory_order_acquire) &&
         final_stats.in_spool == 0;
}

void pipeline::compute_stats(pipeline_stats& out) const {
  out = pipeline_stats{};
  const background_state& st = *bg_;
  call_totals calls;
  thread_registry::instance().sum(control_->generation, calls);
  out.produced = calls.pushed;
  for (std::size_t i = 0; i < drop_reason_count; ++i) {
    out.produced += calls.dropped[i];
    out.dropped[i] = calls.dropped[i] + st.own_dropped[i].load(std::memory_order_relaxed);
  }
  out.events = calls.events;
  out.events[static_cast<std::size_t>(event_counter::invalid_utf8_repaired)] += st.counters.utf8_repaired.load();
  out.events[static_cast<std::size_t>(event_counter::template_errors)] += st.counters.template_errors.load();
  out.events[static_cast<std::size_t>(event_counter::attributes_truncated)] += st.counters.attributes_truncated.load();
  out.events[static_cast<std::size_t>(event_counter::span_updates_lost)] += st.updates_lost.load();
  for (const auto& s : slots_) {
    exporter_stats es;
    es.name = s->name;
    es.destination = s->destination;
    es.exported = s->exported.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < drop_reason_count; ++i)
      es.dropped[i] = s->dropped_counts[i].load(std::memory_order_relaxed);
    es.in_spool = s->in_spool();
    es.spool_taken_over = s->taken_over_count.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < event_counter_count; ++i)
      out.events[i] += s->event_counts[i].load(std::memory_order_relaxed);
    if (s->destination) {
      out.exported += es.exported;
      for (std::size_t i = 0; i < drop_reason_count; ++i) out.dropped[i] += es.dropped[i];
      out.in_spool += es.in_spool;
      out.spool_taken_over += es.spool_taken_over;
      out.replayed.exported += s->replay_exported.load(std::memory_order_relaxed);
      for (std::size_t i = 0; i < drop_reason_count; ++i)
        out.replayed.dropped[i] += s->replay_dropped_counts[i].load(std::memory_order_relaxed);
    }
    out.exporters.push_back(std::move(es));
  }
  if (const auto& scrub = control_->settings.scrub) out.scrubbed = scrub->counts();
}

void pipeline::fill_stats(pipeline_stats& out) const {
  if (closed_.load(std::memory_order_acquire))
    out = closed_stats_;
  else
    compute_stats(out);
  // Calls made while no pipeline was configured (after this one's shutdown, say) count here.
  const std::uint64_t nc = not_configured_count() - not_configured_at_start_;
  out.produced += nc;
  out.dropped[static_cast<std::size_t>(drop_reason::not_configured)] += nc;
}

// ----- fork ----------------------------------------------------------------------------

void pipeline::before_fork() noexcept {
  // The background thread is between cycles once we hold work_mutex_. An exporter stuck for
  // longer than k_fork_wait must not hold fork() hostage: the child then goes without
  // telemetry (after_fork_in_child).
  fork_waiting_.store(true, std::memory_order_release);
  fork_holds_work_ = work_mutex_.try_lock_for(k_fork_wait);
  control_->mutex.lock();
  resource_mutex_.lock();
  diag_mutex_.lock();
  for (auto& s : slots_) s->detail_mutex.lock();
  for (auto& s : slots_) s->exp->before_fork();
}

void pipeline::after_fork_in_parent() noexcept {
  for (auto& s : slots_) s->exp->after_fork_in_parent();
  for (auto& s : slots_) s->detail_mutex.unlock();
  diag_mutex_.unlock();
  resource_mutex_.unlock();
  control_->mutex.unlock();
  if (fork_holds_work_) work_mutex_.unlock();
  fork_waiting_.store(false, std::memory_order_release);
}

void pipeline::after_fork_in_child() noexcept {
  // Only the forking thread exists now. The background thread is gone: forget its handle
  // without touching it, start a new one, and let exporters restart their own threads.
  // The mutexes were locked by this thread in before_fork(): unlock them (re-creating a locked
  // mutex is undefined and confuses ThreadSanitizer). Condition variables may have recorded
  // the parent's background thread as a waiter: those are re-created.
  for (auto& s : slots_) s->exp->after_fork_in_child();
  for (auto& s : slots_) s->detail_mutex.unlock();
  diag_mutex_.unlock();
  resource_mutex_.unlock();
  control_->mutex.unlock();
  new (&control_->cv) std::condition_variable();
  new (&done_cv_) std::condition_variable();
  new (&thread_) std::thread();
  fork_waiting_.store(false, std::memory_order_relaxed);
  if (!fork_holds_work_) {
    // The parent's background thread was in the middle of a batch: its state is not fit for
    // use. The child runs without this pipeline (configure.cpp unpublishes it).
    running_ = false;
    abandoned_.store(true, std::memory_order_relaxed);
    return;
  }
  work_mutex_.unlock();
  // A new generation: records and span handles of the parent are not this child's.
  control_->generation = next_generation();
  if (g_control.load(std::memory_order_relaxed) == control_) publish_control(control_);  // its new generation
  background_state& st = *bg_;
  st.open.clear();
  st.orphans.clear();
  st.orphan_bytes = 0;
  st.ends_now.clear();
  st.ends_next.clear();
  st.ends_deferred.clear();
  st.side.clear();
  st.full.clear();
  st.current.records.clear();
  st.current.finished = 0;
  st.current.memory.reset();
  st.current.held.clear();
  if (st.tail) st.tail->forget_all();
  for (auto& d : st.own_dropped) d = 0;
  st.updates_lost = 0;
  st.counters.utf8_repaired = 0;
  st.counters.template_errors = 0;
  st.counters.attributes_truncated = 0;
  for (auto& s : slots_) {
    s->exported = 0;
    for (auto& d : s->dropped_counts) d = 0;
    for (auto& e : s->event_counts) e = 0;
    s->spooled_count = 0;
    s->unspooled_count = 0;
    s->taken_over_count = 0;
    s->replay_exported = 0;
    for (auto& d : s->replay_dropped_counts) d = 0;
    s->first = diagnostic_details{};
  }
  flush_requested_ = flush_done_ = 0;
  involuntary_at_last_flush_ = 0;
  diag_->forget_reported();  // the child's counters start from zero
  not_configured_at_start_ = not_configured_count();
  control_->wake_requested = false;
  control_->wake_pending = false;
  stop_ = false;
  finished_ = false;
  try {
    thread_ = std::thread([this] { run(); });
    running_ = true;
  } catch (...) {
    running_ = false;
    abandoned_.store(true, std::memory_order_relaxed);
  }
}

}  // namespace logfire::detail
