// The OTLP/HTTP exporter. Three roles, three threads:
//   - the pipeline's background thread calls export_batch(): it filters pending spans, encodes,
//     gzips and queues the body (never any I/O);
//   - the sender thread (one per exporter) posts bodies in order, retries, and replays the spool;
//   - the spool thread writes to disk what the sender cannot deliver now, so that a slow disk
//     never holds up sending and a slow network never holds up spooling.
// Every body is in exactly one place at a time (the memory queue, the to-spool list, the
// sender's hands, a spool file) and every record in it ends as delivered, dropped with a
// reason, or in the spool (reported as spooled before the write; then unspooled with its
// delivery or drop, or taken over by another process, or left for the next process at
// shutdown). Spool files this engine did not write (another process's, an earlier
// configure()'s) are reported in the replay ledger. Pending spans travel with the records but
// are not counted: they are previews of spans counted when they end.
// No exception leaves a thread of this file: they end as counted drops.
#include "export/otlp_exporter.hpp"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <random>
#include <thread>

#include "export/gzip.hpp"
#include "export/otlp_encoder.hpp"
#include "export/otlp_split.hpp"
#include "export/rpc_status.hpp"
#include "resource/resource_listener.hpp"

namespace logfire::detail {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

// Counter used until the pipeline calls start() (tests may drive an exporter without one).
class null_counter final : public delivery_counter {
 public:
  void delivered(std::uint64_t) noexcept override {}
  void dropped(drop_reason, std::uint64_t, std::string_view) noexcept override {}
  void count(event_counter, std::uint64_t) noexcept override {}
};
null_counter g_null_counter;

struct body_item {
  std::string bytes;  // as sent: gzip-compressed when meta.gzip
  body_meta meta;     // meta.records counts the records (not the pending spans) in the body
  std::uint32_t spans = 0;
};

enum class outcome : std::uint8_t { delivered, split, rejected, retry };

outcome classify(const http_response& r) noexcept {
  if (r.status >= 200 && r.status < 300) return outcome::delivered;
  if (r.status == 413) return outcome::split;
  if (r.status == 0 || r.status == 408 || r.status == 429 || r.status >= 500) return outcome::retry;
  return outcome::rejected;  // other 4xx (and odd 1xx/3xx answers): sending again cannot help
}

std::int64_t to_ns(clock::time_point t) noexcept {
  return std::chrono::duration_cast<nanoseconds>(t.time_since_epoch()).count();
}

// Control characters of a server's answer would garble the one-line diagnostic.
std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c);
  return out;
}

std::string human_bytes(std::uint64_t b) {
  if (b % (1ull << 30) == 0 && b > 0) return std::to_string(b >> 30) + " GiB";
  if (b % (1ull << 20) == 0 && b > 0) return std::to_string(b >> 20) + " MiB";
  return std::to_string(b) + " bytes";
}

// The delivery engine: queues, threads, transport and spool of one exporter. The exporter
// replaces it after fork() (the child must not touch the parent's threads, locks, sockets).
class engine {
 public:
  engine(const otlp_exporter_config& cfg, delivery_counter* counter) : cfg_(cfg), counter_(counter) {
    if (!cfg_.spool_directory.empty()) {
      std::string err;
      spool_ = spool::open({.directory = cfg_.spool_directory,
                            .max_bytes = cfg_.spool_max_bytes,
                            .max_file_bytes = std::max<std::uint64_t>(16ull << 20, 2ull * cfg_.max_body_bytes)},
                           err);
      if (!spool_) spool_error_ = err;
    }
    rng_.seed(std::random_device{}() ^ static_cast<std::uint64_t>(::getpid()));
  }
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  ~engine() {
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

  void set_counter(delivery_counter* c) noexcept { counter_.store(c); }
  [[nodiscard]] const std::string& spool_error() const noexcept { return spool_error_; }

  void start_threads() {
    std::lock_guard lk(mu_);
    if (started_ || stopping_) return;
    started_ = true;
    sender_ = std::thread([this] { sender_main(); });
    spooler_ = std::thread([this] { spooler_main(); });
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
  bool flush(clock::time_point deadline) {
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
  bool stop(clock::time_point deadline) {
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
  delivery_counter& counter() noexcept {
    delivery_counter* c = counter_.load();
    return c != nullptr ? *c : g_null_counter;
  }
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
                       : make_curl_transport({.connect_timeout = cfg_.connect_timeout, .user_agent = {}});
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

  // The wait a server asked for (Retry-After), if any.
  std::optional<clock::duration> server_wait(const http_response& r) const {
    if (!r.retry_after) return std::nullopt;
    auto w = parse_retry_after(*r.retry_after);
    if (!w) return std::nullopt;
    return std::min<clock::duration>(*w, cfg_.retry_after_max);
  }

  // Lock held. Also remembers a server's Retry-After as the earliest time to send anything.
  clock::duration retry_wait(const http_response& r) {
    if (auto w = server_wait(r)) {
      not_before_ = std::max(not_before_, clock::now() + *w);
      return *w;
    }
    // 1 s doubling to 128 s (by default), each wait scaled by a random factor in [0.8, 1.2] so
    // that many processes recovering from the same outage do not retry in lockstep.
    const int shift = std::clamp(streak_ - 1, 0, 30);
    auto base = cfg_.backoff_initial * (std::int64_t{1} << shift);
    if (base > cfg_.backoff_max || base.count() < 0) base = cfg_.backoff_max;
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    auto w = milliseconds(static_cast<std::int64_t>(static_cast<double>(base.count()) * jitter(rng_)));
    return std::min<clock::duration>(w, cfg_.backoff_max);
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

  // Why an attempt failed, for the line said while it lasts: the destination and the cause.
  // Empty when out of memory (the count still tells), and for a request the SDK cut itself at a
  // deadline: that says nothing about the destination, so the latest cause stays the real one.
  std::string failure_detail(const http_response& r) const noexcept {
    if (r.cut_by_deadline) return {};
    try {
      if (r.status != 0) return rejection_detail(r);
      return cfg_.url + ": " + (r.error.empty() ? std::string("no answer") : printable(r.error));
    } catch (...) {
      return {};
    }
  }

  // An answer after failed attempts: said once (the line names the destination), and the streak ends.
  void note_recovery_locked() noexcept {
    if (streak_ > 0) {
      try {
        counter().count_with_detail(event_counter::export_recovered, 1,
                                    cfg_.url + " answered again after " + std::to_string(streak_) +
                                        (streak_ == 1 ? " failed attempt" : " failed attempts"));
      } catch (...) {
        counter().count(event_counter::export_recovered, 1);
      }
    }
    streak_ = 0;
  }

  std::string rejection_detail(const http_response& r) const {
    std::string d = "HTTP " + std::to_string(r.status) + " from " + cfg_.url;
    if (r.body_prefix.empty()) return d;
    // A protobuf request gets its error as a google.rpc.Status: its message, not its bytes.
    auto status = decode_rpc_status(r.body_prefix);
    d += ": " + (status ? *status : printable(r.body_prefix));
    return d;
  }

  // Where a body's records come from: memory, a spool file this engine wrote (records of
  // this pipeline, "in the spool" until now), or a file it did not write (the replay ledger).
  enum class origin : std::uint8_t { memory, own_file, foreign_file };
  static origin origin_of(const spool_claim& c) noexcept { return c.own ? origin::own_file : origin::foreign_file; }

  void report_success(const body_meta& meta, origin from) {
    if (from == origin::foreign_file) {
      counter().replay_delivered(meta.records);
    } else {
      counter().delivered(meta.records);
      if (from == origin::own_file) counter().unspooled(meta.records);
    }
    if (from != origin::memory) counter().count(event_counter::records_replayed, meta.records);
    if (meta.maybe_duplicate) counter().count(event_counter::duplicates, meta.records);
  }

  void report_loss(drop_reason reason, std::uint32_t records, origin from, std::string_view detail) {
    if (from == origin::foreign_file) {
      counter().replay_dropped(reason, records, detail);
      return;
    }
    counter().dropped(reason, records, detail);
    if (from == origin::own_file) counter().unspooled(records);
  }

  // A spool file deleted for `reason` (corrupt, or evicted for the cap).
  void report_file_loss(drop_reason reason, const spool_loss& loss) {
    if (!loss.records_known) {  // a foreign file whose header was unreadable: a line, no count
      counter().count_with_detail(event_counter::spool_files_unreadable, 1, loss.detail);
      return;
    }
    std::string detail = loss.detail;
    if (detail.empty() && reason == drop_reason::spool_full)
      detail = "the spool " + spool_->directory() + " reached its cap of " + human_bytes(cfg_.spool_max_bytes) +
               " (LOGFIRE_SPOOL_MAX_BYTES) while " + cfg_.url + " was unreachable: its oldest batches were dropped";
    report_loss(reason, loss.records, loss.own ? origin::own_file : origin::foreign_file, detail);
  }

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
          report_success(item.meta, origin::memory);
        } else if (o == outcome::rejected) {
          settled = true;
          counter().dropped(drop_reason::rejected_by_backend, item.meta.records, rejection_detail(r));
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
        counter().count_with_detail(event_counter::batches_retried, 1, failure_detail(r));
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
      report_loss(drop_reason::rejected_by_backend, meta.records, from,
                  rejection_detail(r) + (cfg_.signal == otlp_signal::metrics
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
      for (const auto& c : corrupt) report_file_loss(drop_reason::spool_corrupt, c);
      report_taken_over();
      if (claim) {
        r = post(claim->body, claim->meta);
        o = classify(r);
        switch (*o) {
          case outcome::delivered:
            report_success(claim->meta, origin_of(*claim));
            spool_->remove(*claim);
            break;
          case outcome::rejected:
            report_loss(drop_reason::rejected_by_backend, claim->meta.records, origin_of(*claim), rejection_detail(r));
            spool_->remove(*claim);
            break;
          case outcome::split:
            split_spool_file(*claim, r);
            break;
          case outcome::retry:
            counter().count_with_detail(event_counter::batches_retried, 1, failure_detail(r));
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
    for (const auto& loss : w.evicted) report_file_loss(drop_reason::spool_full, loss);
    if (!w.ok)
      report_loss(w.too_large ? drop_reason::spool_full : drop_reason::export_failed, meta.records, origin_of(claim),
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
    for (const auto& loss : w.evicted) report_file_loss(drop_reason::spool_full, loss);
    if (w.ok) {
      counter().count(event_counter::records_spooled, b.meta.records);
      return true;
    }
    if (threw) {
      report_loss(drop_reason::export_failed, b.meta.records, origin::own_file, "out of memory while spooling");
    } else if (w.too_large) {
      report_loss(drop_reason::spool_full, b.meta.records, origin::own_file, w.error);
    } else {
      report_loss(drop_reason::export_failed, b.meta.records, origin::own_file,
                  "cannot spool undeliverable batches for " + cfg_.url + ": " + w.error +
                      "; they are dropped while this lasts (LOGFIRE_SPOOL_DIR)");
    }
    return false;
  }

  const otlp_exporter_config cfg_;
  std::atomic<delivery_counter*> counter_;
  std::unique_ptr<spool> spool_;  // null: no spool
  std::string spool_error_;
  // Requests are cut when steady_clock passes this (a flush's cutoff, or at once on stop).
  std::atomic<std::int64_t> abort_at_ns_{std::numeric_limits<std::int64_t>::max()};

  // Sender thread only.
  std::unique_ptr<http_transport> transport_;
  std::vector<http_header> headers_;
  std::mt19937_64 rng_;

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

class otlp_http_exporter final : public exporter, public resource_listener {
 public:
  otlp_http_exporter(otlp_exporter_config cfg, const resource& res)
      : cfg_(std::move(cfg)), res_(res), engine_(std::make_unique<engine>(cfg_, nullptr)) {}

  ~otlp_http_exporter() override {
    if (!shut_down_ && engine_) {
      // Not shut down by the pipeline: keep what is in memory on disk, report nothing (the
      // counter may already be gone).
      engine_->set_counter(nullptr);
      engine_->stop(clock::now());
    }
  }

  [[nodiscard]] std::string name() const override { return cfg_.name; }
  [[nodiscard]] bool wants_pending_spans() const noexcept override { return cfg_.wants_pending_spans; }

  void start(delivery_counter& counter) noexcept override {
    counter_ = &counter;
    if (engine_) engine_->set_counter(&counter);
    start_threads();
  }

  void export_batch(std::span<const span_record> records) noexcept override {
    if (records.empty()) return;
    start_threads();
    // Counted before anything can throw, so that a failure below loses no record uncounted.
    std::uint64_t counted = 0;
    for (const auto& r : records) counted += r.type == record_type::pending_span ? 0 : 1;
    if (!engine_) {  // a failed restart after fork()
      if (counter_ != nullptr) counter_->dropped(drop_reason::export_failed, counted, "the exporter could not restart");
      return;
    }
    try {
      (void)order_records(records);  // counts `counted` again, with the same filter
      if (scratch_.empty()) return;
      auto sink = [&](std::string_view body, std::size_t first, std::size_t count) {
        body_item item;
        item.meta.format = cfg_.format;
        item.meta.gzip = cfg_.gzip;
        // Records precede pending spans in scratch_, so [first, first+count) ∩ [0, counted).
        const std::size_t end = first + count;
        item.meta.records = static_cast<std::uint32_t>(end <= counted ? count : first >= counted ? 0 : counted - first);
        item.spans = static_cast<std::uint32_t>(count);
        if (cfg_.gzip) {
          if (!gzip_compress(body, item.bytes, k_default_gzip_level)) throw std::bad_alloc();
        } else {
          item.bytes.assign(body);
        }
        pending_submit_.push_back(std::move(item));
      };
      if (cfg_.format == body_format::json)
        encode_traces_json_split(scratch_, res_, cfg_.max_body_bytes, buffer_, sink);
      else
        encode_traces_protobuf_split(scratch_, res_, cfg_.max_body_bytes, buffer_, sink);
    } catch (...) {
      pending_submit_.clear();
      if (counter_ != nullptr)
        counter_->dropped(drop_reason::export_failed, counted, "out of memory while encoding a batch");
      return;
    }
    for (auto& item : pending_submit_) {
      try {
        engine_->submit(std::move(item));
      } catch (...) {
        if (counter_ != nullptr) counter_->dropped(drop_reason::export_failed, item.meta.records, "out of memory");
      }
    }
    pending_submit_.clear();
    if (buffer_.capacity() > 4 * cfg_.max_body_bytes) std::string().swap(buffer_);
  }

  bool force_flush(clock::time_point deadline) noexcept override {
    try {
      return engine_ && engine_->flush(deadline);
    } catch (...) {
      return false;
    }
  }

  bool shutdown(clock::time_point deadline) noexcept override {
    if (shut_down_) return true;
    shut_down_ = true;
    try {
      return engine_ && engine_->stop(deadline);
    } catch (...) {
      return false;
    }
  }

  void after_fork_in_child() noexcept override {
    // The parent's threads do not exist here and its lock or socket state may be mid-use:
    // abandon the engine (leaked on purpose) and start afresh; the parent still sends what it
    // had queued.
    (void)engine_.release();
    spool::close_inherited_locks();
    try {
      engine_ = std::make_unique<engine>(cfg_, counter_);
      res_.set("process.pid", static_cast<std::int64_t>(::getpid()));
    } catch (...) {
    }
    threads_started_ = false;
  }

  void add_resource_attributes(const resource& additions) noexcept override {
    try {
      for (const auto& a : additions.attributes) res_.set(a.key, a.value);
    } catch (...) {
    }
  }

  [[nodiscard]] const std::string& spool_error() const noexcept {
    static const std::string none;
    return engine_ ? engine_->spool_error() : none;
  }

 private:
  void start_threads() noexcept {
    if (threads_started_ || !engine_) return;
    try {
      engine_->start_threads();
      threads_started_ = true;
    } catch (...) {
    }
  }

  // Fills scratch_ with the records to send, counted ones first, pending spans last (dropping
  // those whose real span is in this batch, and all of them if this destination takes none).
  // Returns how many records are counted.
  std::uint64_t order_records(std::span<const span_record> records) {
    scratch_.clear();
    ended_.clear();
    bool any_pending = false;
    for (const auto& r : records) {
      if (r.type == record_type::pending_span) {
        any_pending = true;
        continue;
      }
      scratch_.push_back(r);
      ended_.push_back(r.context.span.value);
    }
    const std::uint64_t counted = scratch_.size();
    if (any_pending && cfg_.wants_pending_spans) {
      std::sort(ended_.begin(), ended_.end());
      for (const auto& r : records) {
        if (r.type != record_type::pending_span) continue;
        // A pending span's parent is its real span.
        if (std::binary_search(ended_.begin(), ended_.end(), r.parent.value)) continue;
        scratch_.push_back(r);
      }
    }
    return counted;
  }

  const otlp_exporter_config cfg_;
  resource res_;
  std::unique_ptr<engine> engine_;
  bool threads_started_ = false;
  bool shut_down_ = false;
  // Background thread only: reused across batches.
  std::vector<span_record> scratch_;
  std::vector<std::uint64_t> ended_;
  std::string buffer_;
  std::vector<body_item> pending_submit_;
};

// The engine for bodies encoded elsewhere (otlp_exporter.hpp).
class delivery_adapter final : public otlp_delivery {
 public:
  delivery_adapter(const otlp_exporter_config& cfg, delivery_counter* counter) : engine_(cfg, counter) {}
  void set_counter(delivery_counter* counter) noexcept override { engine_.set_counter(counter); }
  void start_threads() override { engine_.start_threads(); }
  void submit(std::string bytes, const body_meta& meta, std::uint32_t units) override {
    body_item item;
    item.bytes = std::move(bytes);
    item.meta = meta;
    item.spans = units;
    engine_.submit(std::move(item));
  }
  bool flush(clock::time_point deadline) override { return engine_.flush(deadline); }
  bool stop(clock::time_point deadline) override { return engine_.stop(deadline); }
  [[nodiscard]] const std::string& spool_error() const noexcept override { return engine_.spool_error(); }

 private:
  engine engine_;
};

}  // namespace

std::unique_ptr<otlp_delivery> make_otlp_delivery(const otlp_exporter_config& config, delivery_counter* counter) {
  return std::make_unique<delivery_adapter>(config, counter);
}

std::shared_ptr<exporter> make_otlp_exporter(otlp_exporter_config config, const resource& res,
                                             std::string* spool_error) {
  auto e = std::make_shared<otlp_http_exporter>(std::move(config), res);
  if (spool_error != nullptr) *spool_error = e->spool_error();
  return e;
}

}  // namespace logfire::detail
