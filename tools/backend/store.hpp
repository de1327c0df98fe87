// The local backend's storage: one SQLite database (WAL) written by a single writer thread that
// groups the rows of concurrent requests into one transaction, and read through a pool of
// read-only connections. write() returns only after the rows are committed, so the HTTP layer
// acknowledges nothing that a crash could still lose.
//
//   std::string error;
//   auto s = store::open({.path = "/tmp/t.db"}, error);
//   auto r = s->write(std::move(rows), {});          // blocks until committed
//   s->read([](sqlite3* db) { /* SELECT ... */ });   // read-only connection
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "db.hpp"
#include "rows.hpp"

namespace logfire::backend {

struct store_options {
  std::string path;  // a file, or ":memory:" (kept in this process only)
  // synchronous=FULL: a commit also survives power loss, at the price of one fsync per
  // transaction. Default off (NORMAL): committed rows survive a crash or kill of the process.
  bool durable = false;
  // Records and metrics older than this (by start/recorded timestamp) are deleted. Default none.
  std::optional<std::chrono::seconds> retention_age{};
  // Once the data use more than this many bytes, the oldest rows are deleted. Default none.
  std::optional<std::int64_t> retention_bytes{};
  // How often retention runs (also once at startup). Default 60 s.
  std::chrono::milliseconds retention_interval{60'000};
  // Rows waiting for the writer beyond which write() refuses at once (the server answers 503
  // and the exporter retries), so a flood cannot grow memory without bound. Default 1 000 000.
  std::size_t max_queued_rows = 1'000'000;
  // Rows per transaction at most (the rows of one request are never split). Default 20 000.
  std::size_t max_batch_rows = 20'000;
  // The search index (records_fts) is filled by the writer thread behind the commits, in
  // transactions of its own, once no write has come for this long; a search reads the records
  // not indexed yet directly. Default 20 ms. None: only index_now() indexes (tests).
  std::optional<std::chrono::milliseconds> index_after_idle{std::chrono::milliseconds(20)};
  // Records beyond the index past which the writer also indexes after each commit, while
  // writes keep coming, as many as it committed: what a search reads beyond the index stays
  // bounded, and sustained ingest slows to what indexing allows. Default 100 000.
  std::int64_t max_unindexed_rows = 100'000;
};

struct write_result {
  enum class status : std::uint8_t { committed, busy, failed };
  status outcome = status::committed;
  std::string error;  // SQLite's message, or why the store is busy
  [[nodiscard]] bool ok() const { return outcome == status::committed; }
};

struct store_counters {
  std::uint64_t records_written = 0;
  std::uint64_t metrics_written = 0;
  std::uint64_t pending_replaced = 0;  // pending spans deleted because their real span arrived
  std::uint64_t pending_ignored = 0;   // pending spans that arrived after their real span
  std::uint64_t transactions = 0;
  std::uint64_t failed_transactions = 0;
  std::uint64_t retention_deleted = 0;
  std::uint64_t records_indexed = 0;  // records added to the search index
  std::uint64_t index_failures = 0;   // indexing transactions that failed (retried after a second)
};

class store {
 public:
  // Opens (creating if needed) the database and starts the writer thread.
  static std::unique_ptr<store> open(const store_options& options, std::string& error);
  ~store();  // commits everything queued, then stops the writer
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  // Any thread. Blocks until the rows are committed, the commit failed, or the queue is full.
  // `continuation`: a later chunk of a request whose first chunk was admitted; it is not refused
  // for a full queue (refusing it would store the request in part), which bounds the queue by
  // max_queued_rows plus one chunk per request in flight.
  write_result write(std::vector<record_row>&& records, std::vector<metric_row>&& metrics, bool continuation = false);

  // Any thread. Runs `fn` with a read-only connection (restricted to reading, see db.hpp).
  // Returns false with the reason when no connection could be opened. A connection goes back to
  // the pool only when it is as it came (no open transaction, no statement left); else it is
  // closed, so nothing one reader does can freeze another's view or pin the WAL.
  bool read(const std::function<void(sqlite3*)>& fn, std::string& error);

  // Runs retention now on the writer thread and waits for it.
  void run_retention();

  // Has the writer thread index every record committed so far (between the writes that come
  // meanwhile) and waits for it. False when indexing failed or the store is stopping.
  bool index_now();

  [[nodiscard]] store_counters counters() const;
  [[nodiscard]] const std::string& path() const { return options_.path; }

 private:
  struct job;
  explicit store(store_options options);
  bool start(std::string& error);
  bool open_writer(std::string& error);
  bool configure_writer(std::string& error);
  bool prepare_writes(std::string& error);
  void start_checkpointer();
  void writer_loop();
  bool commit(std::vector<job*>& batch, std::string& error);
  const char* insert_records(std::vector<job*>& batch, std::string_view created_at, std::uint64_t& replaced,
                             std::uint64_t& ignored);
  void load_pending_keys();
  void apply_retention();
  [[nodiscard]] std::int64_t unindexed() const { return last_record_id_ - indexed_to_; }
  std::int64_t index_step(std::int64_t max_rows, bool yield);
  [[nodiscard]] bool writes_waiting();
  void checkpoint_loop();
  static int on_wal_commit(void* self, sqlite3* db, const char* name, int pages);

  store_options options_;
  std::string uri_;  // the in-memory database's shared name, empty for a file
  db_handle writer_db_;
  stmt_handle insert_record_, insert_records_, insert_pending_, delete_pending_, insert_metric_;
  stmt_handle last_record_id_query_, index_bound_, index_rows_, index_mark_;
  // Writer thread only: the index's watermark (records_fts_state.indexed_to: the index holds
  // exactly the records with id <= it), the newest record's id, and, for a database whose
  // index is being built, how many records to name when it is done (-1: none).
  std::int64_t indexed_to_ = 0;
  std::int64_t last_record_id_ = 0;
  std::int64_t announce_indexed_ = -1;
  std::int64_t announce_through_ = 0;
  std::chrono::steady_clock::time_point index_retry_at_{};
  bool index_failing_ = false;
  // Writer thread only: trace_id + span_id of the pending spans stored, so that a span looks
  // for a pending span to replace only when there is one (most spans never had one). Past
  // kMaxPendingKeys, or when unsure, every span looks (pending_overflow_).
  std::unordered_set<std::string> pending_keys_;
  bool pending_overflow_ = true;

  // Queue between the HTTP threads (producers) and the writer thread (consumer).
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<job*> queue_;
  std::size_t queued_rows_ = 0;
  bool stopping_ = false;
  bool retention_requested_ = false;
  std::condition_variable retention_done_cv_;
  std::uint64_t retention_runs_ = 0;
  bool index_requested_ = false;
  std::condition_variable index_done_cv_;
  std::uint64_t index_runs_ = 0;
  bool index_caught_up_ = false;
  store_counters counters_;  // guarded by mu_
  std::thread writer_;

  // Checkpoints (copying the WAL into the database file, with its fsyncs) run on their own
  // thread and connection, so commits never wait for them. File databases only.
  db_handle checkpoint_db_;
  std::thread checkpointer_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_requested_ = false;  // guarded by mu_

  // Idle read-only connections, reused across requests.
  std::mutex readers_mu_;
  std::vector<db_handle> idle_readers_;
};

}  // namespace logfire::backend
