// The delivery engine of an OTLP/HTTP exporter (traces: otlp_trace_exporter.cpp; metrics:
// otlp_metric_exporter.cpp). Three roles, three threads:
//   - the pipeline's background thread hands encoded bodies over (submit(): never any I/O);
//   - the sender thread (one per exporter) posts bodies in order, retries (retry.hpp), splits a
//     body the server finds too large (413), and replays the spool;
//   - the spool thread writes to disk what the sender cannot deliver now, so that a slow disk
//     never holds up sending and a slow network never holds up spooling.
// What it tells the pipeline's counter and the user is delivery_report.hpp's.
// Every body is in exactly one place at a time (the memory queue, the to-spool list, the
// sender's hands, a spool file) and every record in it ends as delivered, dropped with a
// reason, or in the spool (reported as spooled before the write; then unspooled with its
// delivery or drop, or taken over by another process, or left for the next process at
// shutdown). Spool files this engine did not write (another process's, an earlier
// configure()'s) are reported in the replay ledger. Pending spans travel with the records but
// are not counted: they are previews of spans counted when they end.
// No exception leaves a thread of this file: they end as counted drops.
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <thread>

#include "export/delivery_report.hpp"
#include "export/gzip.hpp"
#include "export/otlp_exporter.hpp"
#include "export/otlp_split.hpp"
#include "export/retry.hpp"

namespace logfire::detail {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

struct body_item {
  std::string bytes;  // as sent: gzip-compressed when meta.gzip
  body_meta meta;     // meta.records counts the records (not the pending spans) in the body
  std::uint32_t spans = 0;
};

std::int64_t to_ns(clock::time_point t) noexcept {
  return std::chrono::duration_cast<nanoseconds>(t.time_since_epoch()).count();
}

// The delivery engine: queues, threads, transport and spool of one exporter. The exporter
// replaces it after fork() (the child must not touch the parent's threads, locks, sockets).
class delivery_engine final : public otlp_delivery {
 public:
  delivery_engine(const otlp_exporter_config& cfg, delivery_counter* counter)
      : cfg_(cfg), report_(cfg_, counter), backoff_(cfg_.backoff_initial, cfg_.backoff_max, cfg_.retry_after_max) {
    if (!cfg_.spool_directory.empty()) {
      std::string err;
      spool_ = spool::open({.directory = cfg_.spool_directory,
                            .max_bytes = cfg_.spool_max_bytes,
                            .max_file_bytes = std::max<std::uint64_t>(16ull << 20, 2ull * cfg_.max_body_bytes)},
                           err);
      if (!spool_) spool_error_ = err;
    }
  }
  delivery_engine(const delivery_engine&) = delete;
  delivery_engine& operator=(const delivery_engine&) = delete;

  ~delivery_engine() override {
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
    }
    abort_at_ns_.store(std::numeric_limits<std::int64_t>::min());
    sender_cv_.notify_all();
    spooler_cv_.notify_all();
    if (sender_.joinable()) sender_.join();
    if (spooler_.joinable()) spooler_.join();
  }

  void set_counter(delivery_counter* c) noexcept override { report_.set_counter(c); }
  [[nodiscard]] const std::string& spool_error() const noexcept override { return spool_error_; }

  void start_threads() override {
    std::lock_guard lk(mu_);
    if (started_ || stopping_) return;
    started_ = true;
    sender_ = std::thread([this] { sender_main(); });
    spooler_ = std::thread([this] { spooler_main(); });
  }

  void submit(std::string bytes, const body_meta& meta, std::uint32_t units) override {
    body_item item;
    item.bytes = std::move(bytes);
    item.meta = meta;
    item.spans = units;
    submit(std::move(item));
  }

  // Background thread: hands a body over. Never blocks on I/O.
  void submit(body_item&& item) {
    std::unique_lock lk(mu_);
    if (stopping_) {
      lk.unlock();
      counter().dropped(drop_reason::export_failed, item.meta.records,
                        "a batch reached the exporter for " + cfg_.url + " after its shutdown");
      return;
    }
    const std::size_t cap = cfg_.max_queue_spans;
    if (!outage_ && (queue_.empty() || queue_spans_ + item.spans <= cap)) {
      queue_spans_ += item.spans;
      queue_.push_back(std::move(item));
      lk.unlock();
      sender_cv_.notify_one();
      return;
    }
    if (spool_ && (to_spool_.empty() || to_spool_spans_ + item.spans <= cap)) {
      // Memory is full or the backend is down: the spool thread takes it to disk.
      to_spool_spans_ += item.spans;
      to_spool_.push_back(std::move(item));
      lk.unlock();
      spooler_cv_.notify_one();
      return;
    }
    if (outage_ && (queue_.empty() || queue_spans_ + item.spans <= cap)) {
      // The spool thread is behind; it also takes the memory queue to disk during an outage.
      queue_spans_ += item.spans;
      queue_.push_back(std::move(item));
      lk.unlock();
      spooler_cv_.notify_one();
      return;
    }
    lk.unlock();
    counter().dropped(
        drop_reason::export_queue_full, item.meta.records,
        "the export queue for " + cfg_.url + " is full (" + std::to_string(cap) +
            (cfg_.signal == otlp_signal::metrics ? " data points, metrics.max_queue_points"
                                                 : " spans, OTEL_BSP_MAX_QUEUE_SIZE") +
            ") while the backend is slow or down" +
            (spool_ ? " and the disk spool cannot keep up" : " and there is no disk spool (LOGFIRE_SPOOL)"));
  }

  // Delivers what was handed over (memory first, then one try of the spool) by `deadline`.
  bool flush(clock::time_point deadline) override {
    std::lock_guard flush_lock(flush_mu_);
    std::unique_lock lk(mu_);
    if (!started_) return queue_.empty() && to_spool_.empty() && own_spooled() == 0;
    const auto now = clock::now();
    // Keep a little time at the end to put what is still in memory into the spool.
    const auto budget = deadline > now ? deadline - now : clock::duration::zero();
    flush_cutoff_ = deadline - std::min<clock::duration>(milliseconds(500), budget / 5);
    const std::uint64_t gen = ++flush_gen_;
    abort_at_ns_.store(to_ns(flush_cutoff_));
    sender_cv_.notify_all();
    spooler_cv_.notify_all();
    idle_cv_.wait_until(lk, deadline, [&] {
      return stopping_ ||
             (sender_done_gen_ >= gen && to_spool_.empty() && !spooler_busy_ && (!outage_ || queue_.empty()));
    });
    const bool nothing_left = queue_.empty() && to_spool_.empty() && !sender_busy_ && !spooler_busy_;
    // The flush is over even if the sender has not noticed yet: stop cutting requests short.
    flush_cutoff_ = clock::time_point::max();
    sender_done_gen_ = flush_gen_;
    abort_at_ns_.store(std::numeric_limits<std::int64_t>::max());
    lk.unlock();
    sender_cv_.notify_all();  // a sender that stopped at the cutoff carries on
    return nothing_left && own_spooled() == 0;
  }

  // Files of this engine that another process took: they leave this pipeline's ledger.
  void report_taken_over() {
    if (!spool_) return;
    if (const std::uint64_t n = spool_->take_taken_over(); n > 0) counter().taken_over(n);
  }

  // Flush, stop the threads, keep the rest in the spool; reports every record not delivered.
  bool stop(clock::time_point deadline) override {
    bool ok = flush(deadline);
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
    }
    abort_at_ns_.store(std::numeric_limits<std::int64_t>::min());  // cut any request now
    sender_cv_.notify_all();
    spooler_cv_.notify_all();
    if (sender_.joinable()) sender_.join();
    if (spooler_.joinable()) spooler_.join();

    // The threads are gone: what is left in memory goes to the spool, or is lost.
    std::deque<body_item> left;
    std::deque<body_item> left_for_spool;
    {
      std::lock_guard lk(mu_);
      left.swap(queue_);
      left_for_spool.swap(to_spool_);
      queue_spans_ = to_spool_spans_ = 0;
    }
    std::uint64_t lost = 0;
    for (auto* q : {&left, &left_for_spool}) {
      for (auto& b : *q) {
        ok = false;
        if (spool_ && write_to_spool(b)) continue;
        lost += b.meta.records;
      }
    }
    if (lost > 0)
      counter().dropped(drop_reason::shutdown_timeout, lost,
                        "records for " + cfg_.url +
                            " were still in memory at the shutdown deadline and could not be "
                            "spooled");
    if (auto own = own_spooled(); own > 0) {
      ok = false;
      counter().count(event_counter::spool_left_at_exit, own);
    }
    return ok;
  }

 private:
  delivery_counter& counter() noexcept { return report_.counter(); }

  std::uint64_t own_spooled() {
    if (!spool_) return 0;
    const std::uint64_t n = spool_->own_records();  // rescans: notices files other processes took
    report_taken_over();
    return n;
  }

  // ---- sender thread ----------------------------------------------------------------------

  void sender_main() {
    ::pthread_setname_np(::pthread_self(), "logfire-send");
    try {
      transport_ = cfg_.make_transport
                       ? cfg_.make_transport()
                       : make_http_transport({.connect_timeout = cfg_.connect_timeout, .user_agent = {}});
    } catch (...) {  // post() without a transport fails: retried, then spooled or counted
    }
    std::unique_lock lk(mu_);
    spool_may_have_files_ = spool_ != nullptr;
    while (!stopping_) {
      const auto now = clock::now();
      const bool flushing = flush_gen_ != sender_done_gen_;
      const bool late = flushing && now >= flush_cutoff_;
      const bool spool_tried = flushing && spool_failed_gen_ == flush_gen_;
      // The server asked for time (Retry-After): nothing is sent before it, not even by a flush
      // (which then ends without sending: its bodies go to the spool or stay in memory).
      const bool held = now < not_before_;
      if (!late && !held) {
        if (!outage_ && !queue_.empty()) {
          send_from_memory(lk);
          continue;
        }
        const bool probe_due = outage_ ? (now >= next_probe_ || (flushing && !spool_tried)) : !spool_tried;
        if (probe_due && spool_ && spool_may_have_files_) {
          // It unlocks: whatever it found, look again, since a flush may have begun meanwhile
          // (an empty spool clears spool_may_have_files_, so this is not tried twice).
          send_from_spool(lk);
          continue;
        }
        if (outage_ && probe_due && !queue_.empty()) {
          // Nothing on disk to probe with (the spool cannot be written): probe with memory.
          send_from_memory(lk);
          continue;
        }
        if (outage_ && probe_due && !spool_may_have_files_ && to_spool_.empty() && !spooler_busy_) {
          // Nothing at all to probe with: assume the backend is back. The next body tells; the
          // failure streak is kept, so if it fails it goes to the spool at once.
          outage_ = false;
        }
      }
      if (flushing) {
        sender_done_gen_ = flush_gen_;
        idle_cv_.notify_all();
      }
      // Idle: wake for new work, a flush, the next probe, the end of the server's Retry-After,
      // or to look for files that other processes of this service left in the spool.
      auto wake = now + std::chrono::seconds(5);
      if (outage_ && next_probe_ > now) wake = std::min(wake, next_probe_);
      if (held) wake = std::min(wake, not_before_);
      sender_cv_.wait_until(lk, wake);
      if (spool_ && clock::now() >= wake) spool_may_have_files_ = true;
    }
    transport_.reset();
  }

  // Lock held. Also remembers a server's Retry-After as the earliest time to send anything.
  clock::duration retry_wait(const http_response& r) {
    if (auto w = backoff_.server_wait(r)) {
      not_before_ = std::max(not_before_, clock::now() + *w);
      return *w;
    }
    return backoff_.after(streak_);
  }

  http_response post(std::string_view body, const body_meta& meta) {
    if (!transport_) {
      http_response r;
      r.error = "libcurl could not be initialised";
      return r;
    }
    headers_.clear();
    headers_.push_back(
        {"Content-Type", meta.format == body_format::json ? "application/json" : "application/x-protobuf"});
    if (meta.gzip) headers_.push_back({"Content-Encoding", "gzip"});
    for (const auto& h : cfg_.headers) headers_.push_back(h);
    return transport_->post(
        {.url = cfg_.url, .headers = headers_, .body = body, .timeout = cfg_.timeout, .abort_at_ns = &abort_at_ns_});
  }

  // An answer after failed attempts: said once (the line names the destination), and the streak ends.
  void note_recovery_locked() noexcept {
    report_.recovered(streak_);
    streak_ = 0;
  }

  static origin origin_of(const spool_claim& c) noexcept { return c.own ? origin::own_file : origin::foreign_file; }

  void enter_outage_locked(clock::duration wait) {
    next_probe_ = clock::now() + wait;
    if (!outage_ && spool_) {
      outage_ = true;
      spooler_cv_.notify_one();  // it now takes the memory queue to disk
    }
  }

  // Takes the head of the memory queue and delivers it, retrying in place until the failures
  // in a row reach failures_before_spool (then it goes to the spool). `lk` is held on entry
  // and on return, released around I/O.
  void send_from_memory(std::unique_lock<std::mutex>& lk) {
    body_item item = std::move(queue_.front());
    queue_.pop_front();
    queue_spans_ -= item.spans;
    sender_busy_ = true;
    bool settled = false;  // reported, or handed to a queue: nothing more to count for it
    try {
      for (;;) {
        lk.unlock();
        http_response r = post(item.bytes, item.meta);
        const outcome o = classify(r);
        std::optional<split_halves> halves;
        if (o == outcome::delivered) {
          settled = true;
          report_.success(item.meta, origin::memory);
        } else if (o == outcome::rejected) {
          settled = true;
          counter().dropped(drop_reason::rejected_by_backend, item.meta.records, report_.rejection_detail(r));
        } else if (o == outcome::split) {
          halves = split(item, r);
          settled = !halves;  // split() reported the drop
        }
        lk.lock();
        if (o == outcome::delivered) {
          note_recovery_locked();
          outage_ = false;
          break;
        }
        if (o == outcome::rejected) break;
        if (o == outcome::split) {
          if (halves) {
            // The halves take the body's place at the head of the queue, first half first.
            settled = true;
            push_front_half(halves->second, halves->second_spans,
                            records_in_half(item.meta, halves->first_spans, false), item.meta);
            push_front_half(halves->first, halves->first_spans, records_in_half(item.meta, halves->first_spans, true),
                            item.meta);
          }
          break;
        }
        // A failure that may be temporary.
        ++streak_;
        counter().count_with_detail(event_counter::batches_retried, 1, report_.failure_detail(r));
        if (r.request_sent) item.meta.maybe_duplicate = true;
        if (stopping_) {
          requeue_front_locked(std::move(item));
          settled = true;
          break;
        }
        const auto wait = retry_wait(r);
        if (spool_ && streak_ >= cfg_.failures_before_spool) {
          enter_outage_locked(wait);
          to_spool_front_locked(std::move(item));
          settled = true;
          break;
        }
        // Retry in place after the wait, unless a flush cannot wait that long.
        const auto retry_at = clock::now() + wait;
        sender_cv_.wait_until(lk, retry_at,
                              [&] { return stopping_ || (flushing_locked() && retry_at > flush_cutoff_); });
        if (stopping_ || (flushing_locked() && retry_at > flush_cutoff_)) {
          if (spool_ && !stopping_) {
            next_probe_ = retry_at;
            to_spool_front_locked(std::move(item));
          } else {
            requeue_front_locked(std::move(item));
          }
          settled = true;
          break;
        }
      }
    } catch (...) {
      // Out of memory while handling it: the body is lost, and counted unless it already was.
      if (!lk.owns_lock()) lk.lock();
      if (!settled)
        counter().dropped(drop_reason::export_failed, item.meta.records, "out of memory while sending a batch");
    }
    sender_busy_ = false;
  }

  bool flushing_locked() const noexcept { return flush_gen_ != sender_done_gen_; }

  // Both leave `item` untouched when they throw (std::deque::push_front's strong guarantee).
  void requeue_front_locked(body_item&& item) {
    const auto spans = item.spans;
    queue_.push_front(std::move(item));
    queue_spans_ += spans;
  }
  void to_spool_front_locked(body_item&& item) {
    const auto spans = item.spans;
    to_spool_.push_front(std::move(item));
    to_spool_spans_ += spans;
    spooler_cv_.notify_one();
  }

  // 413: the body in two halves (uncompressed, then compressed like the original). Without
  // the lock. Returns nullopt (and reports the drop) when it cannot be split further.
  std::optional<split_halves> split(const body_item& item, const http_response& r) {
    return split_body(item.bytes, item.meta, r, origin::memory);
  }

  std::optional<split_halves> split_body(const std::string& bytes, const body_meta& meta, const http_response& r,
                                         origin from) {
    std::string plain;
    std::string_view body = bytes;
    split_halves h;
    bool ok = true;
    if (meta.gzip) {
      ok = gunzip(bytes, plain);
      body = plain;
    }
    ok = ok && split_request_in_halves(meta.format, body, h, cfg_.signal);
    if (ok && meta.gzip) {
      std::string gz;
      ok = gzip_compress(h.first, gz, k_default_gzip_level);
      h.first.swap(gz);
      ok = ok && gzip_compress(h.second, gz, k_default_gzip_level);
      h.second.swap(gz);
    }
    if (!ok) {
      report_.loss(drop_reason::rejected_by_backend, meta.records, from,
                   report_.rejection_detail(r) + (cfg_.signal == otlp_signal::metrics
                                                      ? " (a single data point is larger than the backend accepts)"
                                                      : " (a single span is larger than the backend accepts)"));
      return std::nullopt;
    }
    return h;
  }

  // Records are counted in the first meta.records spans of a body (pending spans come last).
  static std::uint32_t records_in_half(const body_meta& meta, std::size_t first_spans, bool first) noexcept {
    auto in_first = static_cast<std::uint32_t>(std::min<std::size_t>(meta.records, first_spans));
    return first ? in_first : meta.records - in_first;
  }

  void push_front_half(std::string& bytes, std::size_t spans, std::uint32_t records, const body_meta& meta) noexcept {
    body_item h;
    h.bytes = std::move(bytes);
    h.meta = meta;
    h.meta.records = records;
    h.spans = static_cast<std::uint32_t>(spans);
    try {
      requeue_front_locked(std::move(h));
    } catch (...) {
      counter().dropped(drop_reason::export_failed, records, "out of memory while splitting a batch");
    }
  }

  // Claims the oldest spool file and sends it once. Returns false when the spool was empty.
  bool send_from_spool(std::unique_lock<std::mutex>& lk) {
    sender_busy_ = true;
    const bool flushing = flushing_locked();
    const std::uint64_t gen = flush_gen_;
    lk.unlock();
    std::optional<spool_claim> claim;
    std::optional<outcome> o;
    http_response r;
    try {
      std::vector<spool_loss> corrupt;
      claim = spool_->claim_oldest(corrupt);
      for (const auto& c : corrupt) report_.file_loss(drop_reason::spool_corrupt, c, spool_->directory());
      report_taken_over();
      if (claim) {
        r = post(claim->body, claim->meta);
        o = classify(r);
        switch (*o) {
          case outcome::delivered:
            report_.success(claim->meta, origin_of(*claim));
            spool_->remove(*claim);
            break;
          case outcome::rejected:
            report_.loss(drop_reason::rejected_by_backend, claim->meta.records, origin_of(*claim),
                         report_.rejection_detail(r));
            spool_->remove(*claim);
            break;
          case outcome::split:
            split_spool_file(*claim, r);
            break;
          case outcome::retry:
            counter().count_with_detail(event_counter::batches_retried, 1, report_.failure_detail(r));
            spool_->release(*claim);
            break;
        }
      }
    } catch (...) {
      // Out of memory: a claimed file goes back untouched (it is sent later), nothing is lost.
      try {
        if (claim && claim->fd >= 0) spool_->release(*claim);
      } catch (...) {
      }
      o.reset();
    }
    lk.lock();
    sender_busy_ = false;
    if (!claim) {
      spool_may_have_files_ = false;
      return false;
    }
    if (!o) return true;
    if (*o == outcome::retry) {
      ++streak_;
      if (flushing && gen == flush_gen_) spool_failed_gen_ = gen;  // one try per flush
      enter_outage_locked(retry_wait(r));
      if (stopping_) return true;
    } else {
      note_recovery_locked();
      outage_ = false;
    }
    return true;
  }

  // 413 on a spool file: its halves are written as files that sort in its place, then it goes.
  // The halves belong to whoever the file belonged to (this pipeline, or the replay ledger).
  void split_spool_file(spool_claim& claim, const http_response& r) {
    auto h = split_body(claim.body, claim.meta, r, origin_of(claim));
    if (!h) {
      spool_->remove(claim);
      return;
    }
    const std::string stem(spool_stem(claim.name));
    body_meta m1 = claim.meta;
    body_meta m2 = claim.meta;
    m1.records = records_in_half(claim.meta, h->first_spans, true);
    m2.records = records_in_half(claim.meta, h->first_spans, false);
    write_half(h->first, m1, stem + "a", claim);
    write_half(h->second, m2, stem + "b", claim);
    spool_->remove(claim);
  }

  void write_half(const std::string& body, const body_meta& meta, const std::string& stem, const spool_claim& claim) {
    spool::write_result w;
    try {
      w = spool_->write(body, meta, stem, claim.own);
    } catch (...) {
      w.ok = false;
    }
    for (const auto& loss : w.evicted) report_.file_loss(drop_reason::spool_full, loss, spool_->directory());
    if (!w.ok)
      report_.loss(w.too_large ? drop_reason::spool_full : drop_reason::export_failed, meta.records, origin_of(claim),
                   "cannot write half of a split spool file to " + spool_->directory() + ": " + w.error);
  }

  // ---- spool thread -----------------------------------------------------------------------

  void spooler_main() {
    ::pthread_setname_np(::pthread_self(), "logfire-spool");
    std::unique_lock lk(mu_);
    for (;;) {
      spooler_cv_.wait(lk, [&] { return stopping_ || !to_spool_.empty() || (outage_ && !queue_.empty()); });
      if (stopping_) break;  // stop() spools what is left itself
      // Taken over whole (swaps allocate nothing): the memory queue too during an outage, since
      // memory is not a safe place then (a crash would lose it).
      std::deque<body_item> work;
      std::deque<body_item> from_memory;
      work.swap(to_spool_);
      to_spool_spans_ = 0;
      if (outage_) {
        from_memory.swap(queue_);
        queue_spans_ = 0;
      }
      spooler_busy_ = true;
      lk.unlock();
      for (auto* q : {&work, &from_memory})
        for (auto& b : *q) (void)write_to_spool(b);  // a failure is reported there
      lk.lock();
      spooler_busy_ = false;
      spool_may_have_files_ = true;
      sender_cv_.notify_one();
      idle_cv_.notify_all();
    }
  }

  // Without the lock. Returns true when the body is on disk; reports the records otherwise.
  // The records count as spooled before the write, so that the file's delivery (by the
  // sender, as soon as the file exists) can never be reported first.
  bool write_to_spool(const body_item& b) {
    counter().spooled(b.meta.records);
    spool::write_result w;
    bool threw = false;
    try {
      w = spool_->write(b.bytes, b.meta, {}, true);
    } catch (...) {
      threw = true;
    }
    for (const auto& loss : w.evicted) report_.file_loss(drop_reason::spool_full, loss, spool_->directory());
    if (w.ok) {
      counter().count(event_counter::records_spooled, b.meta.records);
      return true;
    }
    if (threw) {
      report_.loss(drop_reason::export_failed, b.meta.records, origin::own_file, "out of memory while spooling");
    } else if (w.too_large) {
      report_.loss(drop_reason::spool_full, b.meta.records, origin::own_file, w.error);
    } else {
      report_.loss(drop_reason::export_failed, b.meta.records, origin::own_file,
                   "cannot spool undeliverable batches for " + cfg_.url + ": " + w.error +
                       "; they are dropped while this lasts (LOGFIRE_SPOOL_DIR)");
    }
    return false;
  }

  const otlp_exporter_config cfg_;
  delivery_report report_;        // refers to cfg_: declared after it
  std::unique_ptr<spool> spool_;  // null: no spool
  std::string spool_error_;
  // Requests are cut when steady_clock passes this (a flush's cutoff, or at once on stop).
  std::atomic<std::int64_t> abort_at_ns_{std::numeric_limits<std::int64_t>::max()};

  // Sender thread only.
  std::unique_ptr<http_transport> transport_;
  std::vector<http_header> headers_;
  retry_backoff backoff_;

  std::mutex flush_mu_;  // one flush at a time
  std::mutex mu_;        // guards everything below
  std::condition_variable sender_cv_;
  std::condition_variable spooler_cv_;
  std::condition_variable idle_cv_;
  std::deque<body_item> queue_;  // waiting for the network, oldest first
  std::size_t queue_spans_ = 0;
  std::deque<body_item> to_spool_;  // waiting for the spool thread
  std::size_t to_spool_spans_ = 0;
  bool outage_ = false;  // the backend keeps failing: bodies go to disk, the sender probes
  int streak_ = 0;       // failed attempts in a row
  clock::time_point next_probe_{};
  // The server asked (Retry-After) for nothing before this: no request, not even a flush's.
  clock::time_point not_before_{};
  bool spool_may_have_files_ = false;
  bool sender_busy_ = false;
  bool spooler_busy_ = false;
  std::uint64_t flush_gen_ = 0;         // incremented by each flush
  std::uint64_t sender_done_gen_ = 0;   // the last flush the sender finished
  std::uint64_t spool_failed_gen_ = 0;  // the last flush in which a spool send failed
  clock::time_point flush_cutoff_ = clock::time_point::max();
  bool started_ = false;
  bool stopping_ = false;
  std::thread sender_;
  std::thread spooler_;
};

// The engine for bodies encoded elsewhere (otlp_exporter.hpp).
}  // namespace

std::unique_ptr<otlp_delivery> make_otlp_delivery(const otlp_exporter_config& config, delivery_counter* counter) {
  return std::make_unique<delivery_engine>(config, counter);
}

delivery_owner::delivery_owner(const otlp_exporter_config& cfg)
    : cfg_(cfg), delivery_(make_otlp_delivery(cfg, nullptr)) {}

delivery_owner::~delivery_owner() {
  if (shut_down_ || !delivery_) return;
  delivery_->set_counter(nullptr);
  delivery_->stop(clock::now());
}

void delivery_owner::start(delivery_counter& counter) noexcept {
  counter_ = &counter;
  if (delivery_) delivery_->set_counter(&counter);
  (void)get();
}

otlp_delivery* delivery_owner::get() noexcept {
  if (!delivery_) return nullptr;
  if (!threads_started_) {
    try {
      delivery_->start_threads();
      threads_started_ = true;
    } catch (...) {  // no thread: the bodies wait in memory, then go to the spool at shutdown
    }
  }
  return delivery_.get();
}

bool delivery_owner::flush(clock::time_point deadline) noexcept {
  try {
    return delivery_ && delivery_->flush(deadline);
  } catch (...) {
    return false;
  }
}

bool delivery_owner::shutdown(clock::time_point deadline) noexcept {
  if (shut_down_) return true;
  shut_down_ = true;
  try {
    return delivery_ && delivery_->stop(deadline);
  } catch (...) {
    return false;
  }
}

void delivery_owner::after_fork_in_child() noexcept {
  // The engine is abandoned (leaked on purpose) and replaced; the parent still sends what it
  // had queued.
  (void)delivery_.release();
  spool::close_inherited_locks();
  try {
    delivery_ = make_otlp_delivery(cfg_, counter_);
  } catch (...) {
  }
  threads_started_ = false;
}

const std::string& delivery_owner::spool_error() const noexcept {
  static const std::string none;
  return delivery_ ? delivery_->spool_error() : none;
}

}  // namespace logfire::detail
