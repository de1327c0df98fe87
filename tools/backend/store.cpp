#include "store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>

namespace logfire::backend {

struct store::job {
  std::vector<record_row>* records;
  std::vector<metric_row>* metrics;
  std::promise<write_result> done;
  [[nodiscard]] std::size_t rows() const { return records->size() + metrics->size(); }
};

namespace {

constexpr const char* kRecordColumns =
    "start_timestamp, end_timestamp, duration, trace_id, span_id, parent_span_id, kind, level, span_name, "
    "message, tags, attributes, service_name, service_version, service_instance_id, deployment_environment, "
    "process_pid, otel_scope_name, otel_scope_version, otel_span_kind, otel_status_code, otel_status_message, "
    "is_exception, exception_type, exception_message, exception_stacktrace, otel_resource_attributes, "
    "otel_links, otel_events, log_body, http_method, http_route, http_response_status_code, url_path, url_full, "
    "created_at";
constexpr int kRecordColumnCount = 36;

constexpr const char* kMetricColumns =
    "recorded_timestamp, start_timestamp, metric_name, metric_type, unit, metric_description, "
    "aggregation_temporality, is_monotonic, scalar_value, histogram_count, histogram_sum, histogram_min, "
    "histogram_max, histogram_buckets, exemplars, attributes, service_name, otel_scope_name, "
    "otel_resource_attributes, created_at";
constexpr int kMetricColumnCount = 20;

// "?1, ?2, ..., ?n", numbered from first + 1.
std::string placeholders(int n, int first = 0) {
  std::string out;
  for (int i = 1; i <= n; ++i) {
    if (i > 1) out += ", ";
    out += '?' + std::to_string(first + i);
  }
  return out;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Binding helpers. Text is bound SQLITE_STATIC: every caller steps the statement while the
// bound strings are alive.
void bind_text(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}
void bind_text(sqlite3_stmt* s, int i, const std::optional<std::string>& v) {
  if (v) {
    bind_text(s, i, std::string_view(*v));
  } else {
    sqlite3_bind_null(s, i);
  }
}
void bind_int(sqlite3_stmt* s, int i, const std::optional<std::int64_t>& v) {
  if (v) {
    sqlite3_bind_int64(s, i, *v);
  } else {
    sqlite3_bind_null(s, i);
  }
}
void bind_real(sqlite3_stmt* s, int i, const std::optional<double>& v) {
  if (v) {
    sqlite3_bind_double(s, i, *v);
  } else {
    sqlite3_bind_null(s, i);
  }
}

// A resource field by reference: text is bound SQLITE_STATIC, so it must outlive the step (a
// temporary copy would not).
const std::optional<std::string>& resource_text(const std::shared_ptr<const resource_info>& r,
                                                std::optional<std::string> resource_info::*field) {
  static const std::optional<std::string> none;
  return r ? (*r).*field : none;
}

int step_and_reset(sqlite3_stmt* s) {
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc;
}

// Timestamps of one row, formatted into buffers that live as long as the statement's step.
struct row_times {
  char start[32];
  char end[32];
};

// Binds every column of `r` to parameters first+1 .. first+36 (each one, NULLs included, so the
// statement needs no clear_bindings between rows). Text is bound SQLITE_STATIC: `r`, `times` and
// `created_at` must outlive the step.
void bind_row(sqlite3_stmt* s, int first, const record_row& r, row_times& times, std::string_view created_at) {
  auto at = [first](int column) { return first + column; };
  bind_text(s, at(1), std::string_view(times.start, format_timestamp(r.start_ns, times.start)));
  if (r.end_ns) {
    bind_text(s, at(2), std::string_view(times.end, format_timestamp(*r.end_ns, times.end)));
    sqlite3_bind_double(s, at(3), static_cast<double>(*r.end_ns - r.start_ns) / 1e9);
  } else {
    sqlite3_bind_null(s, at(2));
    sqlite3_bind_null(s, at(3));
  }
  bind_text(s, at(4), std::string_view(r.trace_id));
  bind_text(s, at(5), std::string_view(r.span_id));
  bind_text(s, at(6), r.parent_span_id);
  bind_text(s, at(7), std::string_view(r.kind));
  sqlite3_bind_int(s, at(8), r.level);
  bind_text(s, at(9), std::string_view(r.span_name));
  bind_text(s, at(10), std::string_view(r.message));
  bind_text(s, at(11), std::string_view(r.tags));
  bind_text(s, at(12), std::string_view(r.attributes));
  bind_text(s, at(13), resource_text(r.resource, &resource_info::service_name));
  bind_text(s, at(14), resource_text(r.resource, &resource_info::service_version));
  bind_text(s, at(15), resource_text(r.resource, &resource_info::service_instance_id));
  bind_text(s, at(16), resource_text(r.resource, &resource_info::deployment_environment));
  bind_int(s, at(17), r.resource ? r.resource->process_pid : std::nullopt);
  if (r.scope) {
    bind_text(s, at(18), std::string_view(r.scope->name));
    bind_text(s, at(19), std::string_view(r.scope->version));
  } else {
    sqlite3_bind_null(s, at(18));
    sqlite3_bind_null(s, at(19));
  }
  bind_text(s, at(20), r.otel_span_kind);
  bind_text(s, at(21), std::string_view(r.otel_status_code));
  bind_text(s, at(22), r.otel_status_message);
  sqlite3_bind_int(s, at(23), r.is_exception ? 1 : 0);
  bind_text(s, at(24), r.exception_type);
  bind_text(s, at(25), r.exception_message);
  bind_text(s, at(26), r.exception_stacktrace);
  bind_text(s, at(27), r.resource ? std::string_view(r.resource->attributes_json) : std::string_view("{}"));
  bind_text(s, at(28), std::string_view(r.otel_links));
  bind_text(s, at(29), std::string_view(r.otel_events));
  bind_text(s, at(30), r.log_body);
  bind_text(s, at(31), r.http_method);
  bind_text(s, at(32), r.http_route);
  bind_int(s, at(33), r.http_response_status_code);
  bind_text(s, at(34), r.url_path);
  bind_text(s, at(35), r.url_full);
  bind_text(s, at(36), created_at);
}

int insert_record(sqlite3_stmt* s, const record_row& r, std::string_view created_at) {
  row_times times;
  bind_row(s, 0, r, times, created_at);
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  return rc;
}

int insert_metric(sqlite3_stmt* s, const metric_row& m, std::string_view created_at) {
  char recorded[32], start[32];
  bind_text(s, 1, std::string_view(recorded, format_timestamp(m.recorded_ns, recorded)));
  if (m.start_ns) bind_text(s, 2, std::string_view(start, format_timestamp(*m.start_ns, start)));
  bind_text(s, 3, std::string_view(m.metric_name));
  bind_text(s, 4, std::string_view(m.metric_type));
  bind_text(s, 5, std::string_view(m.unit));
  bind_text(s, 6, m.description);
  bind_text(s, 7, m.aggregation_temporality);
  bind_int(s, 8, m.is_monotonic ? std::optional<std::int64_t>(*m.is_monotonic ? 1 : 0) : std::nullopt);
  bind_real(s, 9, m.scalar_value);
  bind_int(s, 10, m.count);
  bind_real(s, 11, m.sum);
  bind_real(s, 12, m.min);
  bind_real(s, 13, m.max);
  bind_text(s, 14, m.buckets);
  bind_text(s, 15, m.exemplars);
  bind_text(s, 16, std::string_view(m.attributes));
  bind_text(s, 17, resource_text(m.resource, &resource_info::service_name));
  if (m.scope) bind_text(s, 18, std::string_view(m.scope->name));
  bind_text(s, 19, m.resource ? std::string_view(m.resource->attributes_json) : std::string_view("{}"));
  bind_text(s, 20, created_at);
  return step_and_reset(s);
}

std::atomic<int> memory_db_counter{0};

// Telemetry may hold secrets: a new database (and the folders made for it) is readable by its
// user only. SQLite gives the -wal and -shm files the database file's mode. An existing file
// keeps the mode its owner chose.
bool create_private(const std::string& path, std::string& error) {
  std::filesystem::path p(path);
  if (p.has_parent_path() && !std::filesystem::exists(p.parent_path())) {
    std::error_code ec;
    std::filesystem::create_directories(p.parent_path(), ec);
    if (!ec) std::filesystem::permissions(p.parent_path(), std::filesystem::perms::owner_all, ec);
    if (ec) {
      error = "cannot create the directory " + p.parent_path().string() + " for the database: " + ec.message();
      return false;
    }
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);  // EEXIST: a database already there
  return true;
}

// WAL pages (16 KiB each: 16 MiB) after which the checkpointer copies the WAL into the database.
constexpr int kCheckpointPages = 1000;

// Ordinary rows (spans and logs) are inserted this many per statement: per statement, SQLite
// reads and writes the AUTOINCREMENT counter and runs the statement's setup, which cost about as
// much as a row.
constexpr int kRowsPerInsert = 32;

// The indexer (store::index_step) adds records to the search index this many per statement;
// between two, it lets a waiting write go first. About 10 ms of work.
constexpr std::int64_t kIndexRun = 500;
// Records per indexing transaction at most: FTS5 writes its segments at each commit, so larger
// ones cost less per record (index_catch_up: 5 to 10% more records per CPU-second than with
// 5 000), and writes still wait for one run only.
constexpr std::int64_t kIndexChunk = 20000;
// At stop, a distance to the index up to this is indexed before the store closes (a fraction
// of a second); a longer one at the next start.
constexpr std::int64_t kIndexAtStop = 20'000;

// At most this many pending spans are remembered (see store::pending_keys_); beyond, every span
// looks for a pending span to replace.
constexpr std::size_t kMaxPendingKeys = 100'000;

}  // namespace

store::store(store_options options) : options_(std::move(options)) {}

std::unique_ptr<store> store::open(const store_options& options, std::string& error) {
  // SQLite's memory statistics take a global mutex on every allocation; nothing here reads them.
  // Only possible before the library initializes: later calls fail harmlessly.
  static const bool configured = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)configured;
  std::unique_ptr<store> s(new store(options));
  if (!s->start(error)) return nullptr;
  return s;
}

bool store::start(std::string& error) {
  if (!open_writer(error) || !configure_writer(error) || !prepare_writes(error)) return false;
  start_checkpointer();
  load_pending_keys();
  writer_ = std::thread([this] { writer_loop(); });
  return true;
}

bool store::open_writer(std::string& error) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  std::string target = options_.path;
  if (is_memory_path(options_.path)) {
    // A named in-memory database (memdb VFS) so that the reader connections see the writer's
    // data; it lives as long as the writer connection.
    uri_ = "file:/logfire-cpp-" + std::to_string(getpid()) + "-" + std::to_string(memory_db_counter++) + "?vfs=memdb";
    target = uri_;
    flags |= SQLITE_OPEN_URI;
  } else if (!create_private(options_.path, error)) {
    return false;
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(target.c_str(), &raw, flags, nullptr);
  writer_db_.reset(raw);
  if (rc != SQLITE_OK) {
    error = "cannot open the database " + options_.path + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
    return false;
  }
  sqlite3_busy_timeout(raw, 10'000);
  sqlite3_extended_result_codes(raw, 1);
  return true;
}

bool store::configure_writer(std::string& error) {
  sqlite3* db = writer_db_.get();
  // Both only take effect on a new database, before its first table. 16 KiB pages suit rows of
  // about a kilobyte (a third more rows per CPU-second than 4 KiB in bench_backend);
  // INCREMENTAL auto-vacuum lets size retention give freed pages back to the file system.
  if (!exec(db, "PRAGMA page_size = 16384", error) || !exec(db, "PRAGMA auto_vacuum = INCREMENTAL", error)) {
    error = options_.path + ": " + error;
    return false;
  }
  if (uri_.empty()) {
    // Commits only append to the WAL; the checkpointer thread moves it into the database.
    if (!exec(db, "PRAGMA journal_mode = WAL", error) || !exec(db, "PRAGMA wal_autocheckpoint = 0", error) ||
        !exec(db, "PRAGMA journal_size_limit = 67108864", error)) {
      error = "cannot use " + options_.path + " as a database: " + error;
      return false;
    }
    sqlite3_wal_hook(db, &store::on_wal_commit, this);
  }
  exec(db, "PRAGMA mmap_size = 268435456", error);  // fewer read syscalls; harmless if unsupported
  std::string sync = std::string("PRAGMA synchronous = ") + (options_.durable ? "FULL" : "NORMAL");
  // An 8 MiB page cache: inserts touch the right-hand edges of the table and its indexes, and
  // other pages come from the mapping above. With 64 MiB, bench_backend measured 1.7 times the
  // CPU per stored row (pages allocated and evicted over a larger, colder working set).
  if (!exec(db, sync.c_str(), error) || !exec(db, "PRAGMA temp_store = MEMORY", error) ||
      !exec(db, "PRAGMA cache_size = -8192", error) || !create_schema(db, error)) {
    error = "cannot use " + options_.path + " as a database: " + error;
    return false;
  }
  search_index_status index;
  if (!create_search_index(db, index, error)) {
    error = "cannot make the search index in " + options_.path + ": " + error;
    return false;
  }
  if (index.created && index.unindexed > 0) {
    announce_indexed_ = index.unindexed;
    std::fprintf(
        stderr,
        "logfire-cpp serve: indexing %lld existing records for search in the background (%s); searches "
        "read the records not indexed yet directly\n",
        static_cast<long long>(index.unindexed),
        index.replaced ? "the index of an earlier version is replaced" : "once, for a database without the index");
  }
  return true;
}

bool store::prepare_writes(std::string& error) {
  sqlite3* db = writer_db_.get();
  std::string cols = kRecordColumns;
  insert_record_ =
      prepare(db, "INSERT INTO records (" + cols + ") VALUES (" + placeholders(kRecordColumnCount) + ")", error);
  std::string many = "INSERT INTO records (" + cols + ") VALUES ";
  for (int i = 0; i < kRowsPerInsert; ++i) {
    many += (i ? ", (" : "(") + placeholders(kRecordColumnCount, i * kRecordColumnCount) + ")";
  }
  insert_records_ = prepare(db, many, error);
  insert_pending_ = prepare(db,
                            "INSERT INTO records (" + cols + ") SELECT " + placeholders(kRecordColumnCount) +
                                " WHERE NOT EXISTS (SELECT 1 FROM records WHERE trace_id = ?4 AND span_id = ?5)",
                            error);
  delete_pending_ =
      prepare(db, "DELETE FROM records WHERE trace_id = ?1 AND span_id = ?2 AND kind = 'pending_span'", error);
  insert_metric_ = prepare(
      db, std::string("INSERT INTO metrics (") + kMetricColumns + ") VALUES (" + placeholders(kMetricColumnCount) + ")",
      error);
  // The indexer's statements (index_step): the id that ends the next run of records, the run
  // into the index, the watermark moved past it.
  last_record_id_query_ = prepare(db, "SELECT coalesce(max(id), 0) FROM records", error);
  index_bound_ = prepare(db, "SELECT max(id) FROM (SELECT id FROM records WHERE id > ?1 ORDER BY id LIMIT ?2)", error);
  index_rows_ = prepare(db,
                        "INSERT INTO records_fts (rowid, span_name, message, attributes, exception_type, "
                        "exception_message) SELECT id, span_name, message, attributes, exception_type, "
                        "exception_message FROM records WHERE id > ?1 AND id <= ?2",
                        error);
  index_mark_ = prepare(db, "UPDATE records_fts_state SET indexed_to = ?1", error);
  if (!insert_record_ || !insert_records_ || !insert_pending_ || !delete_pending_ || !insert_metric_ ||
      !last_record_id_query_ || !index_bound_ || !index_rows_ || !index_mark_) {
    error = options_.path + ": " + error;
    return false;
  }
  auto watermark = prepare(db, "SELECT indexed_to FROM records_fts_state", error);
  if (!watermark || sqlite3_step(watermark.get()) != SQLITE_ROW) {
    error = options_.path + ": cannot read the search index's state: " + sqlite3_errmsg(db);
    return false;
  }
  indexed_to_ = sqlite3_column_int64(watermark.get(), 0);
  if (sqlite3_step(last_record_id_query_.get()) == SQLITE_ROW) {
    last_record_id_ = sqlite3_column_int64(last_record_id_query_.get(), 0);
  }
  sqlite3_reset(last_record_id_query_.get());
  announce_through_ = last_record_id_;
  return true;
}

// File databases: a connection and a thread of their own copy the WAL into the database, so
// commits never wait for it. Without them the WAL is checkpointed at shutdown only.
void store::start_checkpointer() {
  if (!uri_.empty()) return;
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(options_.path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    sqlite3_close_v2(raw);
    return;
  }
  checkpoint_db_.reset(raw);
  sqlite3_busy_timeout(raw, 1000);
  std::string error;
  exec(raw, options_.durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL", error);
  checkpointer_ = std::thread([this] { checkpoint_loop(); });
}

// Writer thread (or before it starts): which pending spans the database holds.
void store::load_pending_keys() {
  pending_keys_.clear();
  pending_overflow_ = false;
  std::string error;
  auto s = prepare(writer_db_.get(),
                   "SELECT trace_id || span_id FROM records WHERE kind = 'pending_span' LIMIT " +
                       std::to_string(kMaxPendingKeys + 1),
                   error);
  while (s && sqlite3_step(s.get()) == SQLITE_ROW) pending_keys_.insert(column_text(s.get(), 0));
  pending_overflow_ = !s || pending_keys_.size() > kMaxPendingKeys;
}

// Writer thread (called by SQLite after each commit): wakes the checkpointer once the WAL grew.
int store::on_wal_commit(void* self, sqlite3*, const char*, int pages) {
  if (pages >= kCheckpointPages) {
    auto* s = static_cast<store*>(self);
    {
      std::lock_guard lk(s->mu_);
      s->checkpoint_requested_ = true;
    }
    s->checkpoint_cv_.notify_one();
  }
  return SQLITE_OK;
}

// Checkpointer thread. PASSIVE never blocks the writer or readers; frames a reader still needs
// stay in the WAL until a later checkpoint.
void store::checkpoint_loop() {
  std::unique_lock lk(mu_);
  while (true) {
    checkpoint_cv_.wait(lk, [&] { return stopping_ || checkpoint_requested_; });
    if (stopping_) break;
    checkpoint_requested_ = false;
    lk.unlock();
    sqlite3_wal_checkpoint_v2(checkpoint_db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    lk.lock();
  }
}

store::~store() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  checkpoint_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (checkpointer_.joinable()) checkpointer_.join();
  checkpoint_db_.reset();
  // Statements before the connection they belong to.
  insert_record_.reset();
  insert_records_.reset();
  insert_pending_.reset();
  delete_pending_.reset();
  insert_metric_.reset();
  last_record_id_query_.reset();
  index_bound_.reset();
  index_rows_.reset();
  index_mark_.reset();
  {
    std::lock_guard lk(readers_mu_);
    idle_readers_.clear();
  }
  if (writer_db_ && uri_.empty()) {
    std::string ignored;
    exec(writer_db_.get(), "PRAGMA wal_checkpoint(TRUNCATE)", ignored);
  }
}

write_result store::write(std::vector<record_row>&& records, std::vector<metric_row>&& metrics, bool continuation) {
  job j{&records, &metrics, {}};
  auto fut = j.done.get_future();
  {
    std::lock_guard lk(mu_);
    if (stopping_) return {write_result::status::busy, "the server is shutting down"};
    if (!continuation && queued_rows_ > 0 && queued_rows_ + j.rows() > options_.max_queued_rows) {
      return {write_result::status::busy,
              "the database writer is behind (" + std::to_string(queued_rows_) + " rows queued); retry later"};
    }
    queue_.push_back(&j);
    queued_rows_ += j.rows();
  }
  cv_.notify_one();
  return fut.get();
}

bool store::read(const std::function<void(sqlite3*)>& fn, std::string& error) {
  db_handle db;
  {
    std::lock_guard lk(readers_mu_);
    if (!idle_readers_.empty()) {
      db = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    }
  }
  if (!db) {
    db = open_read_only(options_.path, error, uri_);
    if (!db) return false;
  }
  fn(db.get());
  if (!reader_is_clean(db.get())) return true;  // closed here instead of pooled
  std::lock_guard lk(readers_mu_);
  if (idle_readers_.size() < 8) idle_readers_.push_back(std::move(db));
  return true;
}

void store::run_retention() {
  std::unique_lock lk(mu_);
  std::uint64_t target = retention_runs_ + 1;
  retention_requested_ = true;
  cv_.notify_all();
  retention_done_cv_.wait(lk, [&] { return retention_runs_ >= target || stopping_; });
}

bool store::index_now() {
  std::unique_lock lk(mu_);
  std::uint64_t target = index_runs_ + 1;
  index_requested_ = true;
  cv_.notify_all();
  index_done_cv_.wait(lk, [&] { return index_runs_ >= target || stopping_; });
  return index_runs_ >= target && index_caught_up_;
}

store_counters store::counters() const {
  std::lock_guard lk(mu_);
  return counters_;
}

// Writer thread only: everything below touches writer_db_ and its statements.
void store::writer_loop() {
  using clock = std::chrono::steady_clock;
  auto next_retention = clock::now();
  auto last_write = clock::now();
  std::unique_lock lk(mu_);
  while (true) {
    bool retention_enabled = options_.retention_age || options_.retention_bytes;
    // Indexing behind the commits starts once writes pause (and not before a failed attempt's
    // retry time).
    bool indexing = options_.index_after_idle.has_value();
    auto index_at = indexing && unindexed() > 0 ? std::max(last_write + *options_.index_after_idle, index_retry_at_)
                                                : clock::time_point::max();
    auto wake = std::min(retention_enabled ? next_retention : clock::time_point::max(), index_at);
    cv_.wait_until(lk, wake, [&] { return stopping_ || !queue_.empty() || retention_requested_ || index_requested_; });
    if (!queue_.empty()) {
      std::vector<job*> batch;
      std::size_t rows = 0;
      while (!queue_.empty() && (batch.empty() || rows + queue_.front()->rows() <= options_.max_batch_rows)) {
        rows += queue_.front()->rows();
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
      queued_rows_ -= rows;
      lk.unlock();
      std::string error;
      bool ok = commit(batch, error);
      lk.lock();
      ++counters_.transactions;
      if (!ok) ++counters_.failed_transactions;
      for (job* j : batch) {
        if (ok) {
          counters_.records_written += j->records->size();
          counters_.metrics_written += j->metrics->size();
        }
        // After this the producer may destroy the job: touch nothing of it afterwards.
        j->done.set_value(ok ? write_result{} : write_result{write_result::status::failed, error});
      }
      last_write = clock::now();
      if (indexing && unindexed() > options_.max_unindexed_rows && last_write >= index_retry_at_) {
        // Writes keep coming and the index is far behind: index as many records as were just
        // committed, so the distance stops growing.
        lk.unlock();
        index_step(static_cast<std::int64_t>(rows) + kIndexRun, false);
        lk.lock();
      }
      continue;  // drain the queue before looking at retention
    }
    bool due = retention_enabled && clock::now() >= next_retention;
    if (retention_requested_ || due) {
      retention_requested_ = false;
      lk.unlock();
      apply_retention();
      lk.lock();
      ++retention_runs_;
      next_retention = clock::now() + options_.retention_interval;
      retention_done_cv_.notify_all();
      continue;
    }
    if (stopping_) {
      // A short distance is indexed now; a longer one at the next start (the watermark is in
      // the database), so that stopping stays quick.
      lk.unlock();
      while (indexing && unindexed() > 0 && unindexed() <= kIndexAtStop && index_step(kIndexAtStop, false) >= 0) {
      }
      lk.lock();
      break;
    }
    if (index_requested_) {
      lk.unlock();
      std::int64_t indexed = index_step(kIndexChunk, true);
      lk.lock();
      if (indexed < 0 || unindexed() <= 0) {
        index_requested_ = false;
        index_caught_up_ = indexed >= 0;
        ++index_runs_;
        index_done_cv_.notify_all();
      }
      continue;
    }
    if (clock::now() >= index_at) {
      lk.unlock();
      index_step(kIndexChunk, true);
      lk.lock();
    }
  }
  retention_done_cv_.notify_all();
  index_done_cv_.notify_all();
}

// Writer thread, between its other work: whether a write, retention or the stop waits for it.
bool store::writes_waiting() {
  std::lock_guard lk(mu_);
  return !queue_.empty() || retention_requested_ || stopping_;
}

// Writer thread: one indexing transaction. The records above the watermark, oldest first, at
// most `max_rows`, in runs of kIndexRun; with `yield` it ends after the run during which a
// write came, so a write waits for one run at most. The watermark moves in the same
// transaction, so a crash loses no indexing done and repeats none. Returns the records
// indexed, or -1 when it failed (rolled back; retried after a second, and meanwhile searches
// read the records above the watermark directly).
std::int64_t store::index_step(std::int64_t max_rows, bool yield) {
  sqlite3* db = writer_db_.get();
  std::string error;
  std::int64_t to = indexed_to_;
  std::int64_t rows = 0;
  bool caught_up = false;
  bool ok = exec(db, "BEGIN IMMEDIATE", error);
  while (ok && rows < max_rows) {
    sqlite3_bind_int64(index_bound_.get(), 1, to);
    sqlite3_bind_int64(index_bound_.get(), 2, std::min(kIndexRun, max_rows - rows));
    int rc = sqlite3_step(index_bound_.get());
    caught_up = rc == SQLITE_ROW && sqlite3_column_type(index_bound_.get(), 0) == SQLITE_NULL;
    std::int64_t bound = rc == SQLITE_ROW ? sqlite3_column_int64(index_bound_.get(), 0) : 0;
    sqlite3_reset(index_bound_.get());
    if (rc != SQLITE_ROW) ok = false;
    if (!ok || caught_up) break;
    sqlite3_bind_int64(index_rows_.get(), 1, to);
    sqlite3_bind_int64(index_rows_.get(), 2, bound);
    ok = sqlite3_step(index_rows_.get()) == SQLITE_DONE;
    rows += ok ? sqlite3_changes64(db) : 0;
    sqlite3_reset(index_rows_.get());
    to = bound;
    if (yield && writes_waiting()) break;
  }
  if (ok && to != indexed_to_) {
    sqlite3_bind_int64(index_mark_.get(), 1, to);
    ok = step_and_reset(index_mark_.get()) == SQLITE_DONE;
  }
  if (ok) ok = exec(db, "COMMIT", error);
  if (!ok) {
    if (error.empty()) error = sqlite3_errmsg(db);
    std::string ignored;
    exec(db, "ROLLBACK", ignored);
    index_retry_at_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    {
      std::lock_guard lk(mu_);
      ++counters_.index_failures;
    }
    if (!index_failing_) {
      std::fprintf(stderr,
                   "logfire-cpp serve: the search index cannot be updated (%s); searches read the records not "
                   "indexed yet directly; retrying every second\n",
                   error.c_str());
    }
    index_failing_ = true;
    return -1;
  }
  indexed_to_ = to;
  // Caught up: no record above the watermark (those above it that were deleted never count).
  last_record_id_ = caught_up ? to : std::max(last_record_id_, to);
  index_failing_ = false;
  {
    std::lock_guard lk(mu_);
    counters_.records_indexed += static_cast<std::uint64_t>(rows);
  }
  if (announce_indexed_ >= 0 && (caught_up || indexed_to_ >= announce_through_)) {
    std::fprintf(stderr, "logfire-cpp serve: indexed %lld existing records for search\n",
                 static_cast<long long>(announce_indexed_));
    announce_indexed_ = -1;
  }
  return rows;
}

// Writer thread: the records of a batch, inside the open transaction. Returns what failed, or
// null. Ordinary rows are inserted kRowsPerInsert per statement; a pending span is inserted alone,
// after the rows before it (its "real span already stored?" check must see them).
const char* store::insert_records(std::vector<job*>& batch, std::string_view created_at, std::uint64_t& replaced,
                                  std::uint64_t& ignored) {
  sqlite3* db = writer_db_.get();
  std::array<const record_row*, kRowsPerInsert> run{};
  std::array<row_times, kRowsPerInsert> times{};
  int in_run = 0;
  auto insert_run = [&]() {
    if (in_run == kRowsPerInsert) {
      for (std::size_t i = 0; i < run.size(); ++i) {
        bind_row(insert_records_.get(), static_cast<int>(i) * kRecordColumnCount, *run[i], times[i], created_at);
      }
      int rc = sqlite3_step(insert_records_.get());
      sqlite3_reset(insert_records_.get());
      if (rc != SQLITE_DONE) return false;
    } else {
      for (int i = 0; i < in_run; ++i) {
        if (insert_record(insert_record_.get(), *run[static_cast<std::size_t>(i)], created_at) != SQLITE_DONE) {
          return false;
        }
      }
    }
    in_run = 0;
    return true;
  };
  for (job* j : batch) {
    for (const record_row& r : *j->records) {
      if (r.kind == "pending_span") {
        if (!insert_run() || insert_record(insert_pending_.get(), r, created_at) != SQLITE_DONE) return "insert";
        if (sqlite3_changes(db) == 0) {
          ++ignored;  // its real span (or an earlier copy of it) is stored already
        } else if (!pending_overflow_) {
          pending_keys_.insert(r.trace_id + r.span_id);
          pending_overflow_ = pending_keys_.size() > kMaxPendingKeys;
        }
        continue;
      }
      if (r.kind == "span" && (pending_overflow_ || pending_keys_.erase(r.trace_id + r.span_id) > 0)) {
        bind_text(delete_pending_.get(), 1, std::string_view(r.trace_id));
        bind_text(delete_pending_.get(), 2, std::string_view(r.span_id));
        if (step_and_reset(delete_pending_.get()) != SQLITE_DONE) return "replace pending span";
        replaced += static_cast<std::uint64_t>(sqlite3_changes(db));
      }
      run[static_cast<std::size_t>(in_run++)] = &r;
      if (in_run == kRowsPerInsert && !insert_run()) return "insert";
    }
  }
  return insert_run() ? nullptr : "insert";
}

bool store::commit(std::vector<job*>& batch, std::string& error) {
  sqlite3* db = writer_db_.get();
  if (!exec(db, "BEGIN IMMEDIATE", error)) return false;
  std::string created_at = format_timestamp(now_ns());
  std::uint64_t replaced = 0, ignored = 0;
  auto roll_back = [&]() {
    std::string rollback_error;
    exec(db, "ROLLBACK", rollback_error);
    load_pending_keys();  // the set may now name rows the rollback removed, or miss restored ones
    return false;
  };
  if (const char* failed = insert_records(batch, created_at, replaced, ignored)) {
    error = std::string(failed) + ": " + sqlite3_errmsg(db);
    return roll_back();
  }
  for (job* j : batch) {
    for (const metric_row& m : *j->metrics) {
      if (insert_metric(insert_metric_.get(), m, created_at) != SQLITE_DONE) {
        error = std::string("insert metric: ") + sqlite3_errmsg(db);
        return roll_back();
      }
    }
  }
  if (!exec(db, "COMMIT", error)) return roll_back();
  if (std::any_of(batch.begin(), batch.end(), [](const job* j) { return !j->records->empty(); })) {
    if (sqlite3_step(last_record_id_query_.get()) == SQLITE_ROW) {
      last_record_id_ = sqlite3_column_int64(last_record_id_query_.get(), 0);
    }
    sqlite3_reset(last_record_id_query_.get());
  }
  std::lock_guard lk(mu_);
  counters_.pending_replaced += replaced;
  counters_.pending_ignored += ignored;
  return true;
}

namespace {
void optimize_search_index(sqlite3* db) {
  std::string error;
  exec(db, "INSERT INTO records_fts(records_fts) VALUES ('optimize')", error);
}
}  // namespace

void store::apply_retention() {
  sqlite3* db = writer_db_.get();
  std::uint64_t deleted = 0;
  std::string error;
  if (options_.retention_age) {
    std::string cutoff = format_timestamp(
        now_ns() - std::chrono::duration_cast<std::chrono::nanoseconds>(*options_.retention_age).count());
    for (const char* sql :
         {"DELETE FROM records WHERE start_timestamp < ?1", "DELETE FROM metrics WHERE recorded_timestamp < ?1"}) {
      auto s = prepare(db, sql, error);
      if (!s) continue;
      bind_text(s.get(), 1, std::string_view(cutoff));
      if (sqlite3_step(s.get()) == SQLITE_DONE) deleted += static_cast<std::uint64_t>(sqlite3_changes(db));
    }
  }
  if (options_.retention_bytes) {
    auto used_bytes = [&]() -> std::int64_t {
      auto s = prepare(db,
                       "SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM "
                       "pragma_freelist_count()), (SELECT page_size FROM pragma_page_size())",
                       error);
      if (!s || sqlite3_step(s.get()) != SQLITE_ROW) return 0;
      return sqlite3_column_int64(s.get(), 0) * sqlite3_column_int64(s.get(), 1);
    };
    // Delete the oldest tenth of each table per round until the data fit; bounded rounds.
    for (int round = 0; round < 40 && used_bytes() > *options_.retention_bytes; ++round) {
      std::uint64_t round_deleted = 0;
      for (const char* sql :
           {"DELETE FROM records WHERE id IN (SELECT id FROM records ORDER BY start_timestamp LIMIT "
            "max(1, (SELECT count(*) FROM records) / 10))",
            "DELETE FROM metrics WHERE id IN (SELECT id FROM metrics ORDER BY recorded_timestamp LIMIT "
            "max(1, (SELECT count(*) FROM metrics) / 10))"}) {
        auto s = prepare(db, sql, error);
        if (s && sqlite3_step(s.get()) == SQLITE_DONE) round_deleted += static_cast<std::uint64_t>(sqlite3_changes(db));
      }
      deleted += round_deleted;
      if (round_deleted == 0) break;
      // The search index keeps deleted rows' entries (as delete markers) until its segments are
      // merged: merge them now, or the size would not come down. Its cost grows with the index.
      optimize_search_index(db);
    }
  }
  if (deleted > 0) {
    if (!options_.retention_bytes) optimize_search_index(db);
    exec(db, "PRAGMA incremental_vacuum", error);
    if (uri_.empty()) exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", error);
  }
  std::lock_guard lk(mu_);
  counters_.retention_deleted += deleted;
}

}  // namespace logfire::backend
