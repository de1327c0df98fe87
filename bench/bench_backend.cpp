// Benchmarks of the local backend (tools/backend):
//   store_ingest/<batch>           rows committed into SQLite per second, by rows per write()
//   decode_only/<batch>            an OTLP protobuf request decoded into rows, CPU time per span
//   decode_and_store/<batch>       an OTLP protobuf request decoded and committed (no HTTP)
//   http_ingest/<batch>            the same through `serve`'s HTTP receiver on 127.0.0.1, two
//                                  exporters sending back to back
//   trace_lookup_1M                one trace's rows by id (the web view's query), 1 M records
//   count_errors_1M                SELECT count(*) FROM records WHERE level >= 17, 1 M records
//   recent_traces_1M               the trace list (`traces`, the web view, MCP), 1 M records
//   recent_traces_q_1M/<case>      the trace list with a search text (the web view's q=): one
//                                  answer of GET /api/traces, which reads one window at most
//   recent_traces_q_1M_all/3       the same followed through every "next" to the oldest record
//   search_1M/<case>               `search` (CLI and MCP): frequent text, absent text, errors
//   search_1M_window/<case>        one answer of GET /api/records (one window at most)
//   search_unindexed_100k/<case>   the same over 100 k records the indexer has not reached
//                                  (the most a search reads beyond the index while writes go on)
//   index_catch_up/<batch>         records the indexer adds to the search index per second
//   ingest_and_index/<batch>       rows committed and indexed per second: what sustained ingest
//                                  gets once the index is max_unindexed_rows behind
//   trace_tree_1M                  `trace ID`: one trace as a tree, 1 M records
// Targets: ingest over HTTP >= 150 k spans/s, trace lookup < 50 ms, trace list and search < 200 ms.
#include <benchmark/benchmark.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <thread>

#include "backend/otlp_decode.hpp"
#include "backend/query.hpp"
#include "backend/search.hpp"
#include "backend/server.hpp"
#include "backend/store.hpp"
#include "backend/traces.hpp"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace {

using namespace logfire::backend;
namespace otlp = opentelemetry::proto;

// CPU time of the whole process (all threads: the writer does the work). The machine running
// the benchmarks is shared, so wall time alone understates what one free core sustains;
// rows per CPU-second is reported beside it.
double cpu_seconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Every thread of this process, background threads included.
double process_cpu_seconds() {
  return cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
}

std::string temp_path(const std::string& name) {
  static const std::string dir = [] {
    std::string d =
        std::filesystem::temp_directory_path().string() + "/logfire-bench-backend-" + std::to_string(getpid());
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir + "/" + name;
}

void remove_db(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
}

std::string raw_id(std::mt19937_64& rng, int bytes) {
  std::string out(static_cast<std::size_t>(bytes), '\0');
  for (auto& c : out) c = static_cast<char>(rng() | 1);
  return out;
}

// Trace ids as the SDK makes them (logfire-wire.md): 48 bits of milliseconds, then random bits,
// so ids of consecutive traces sort together.
std::string ulid_trace_id(std::mt19937_64& rng, std::uint64_t unix_ms) {
  std::string out = raw_id(rng, 16);
  for (int i = 0; i < 6; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>(unix_ms >> (40 - 8 * i));
  return out;
}

void set_kv(otlp::common::v1::KeyValue* kv, const std::string& key, const std::string& value) {
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}

// A request shaped like the SDK's: traces of 10 spans with Logfire's attributes, 2% errors.
// Successive requests move forward in time, as a running service's do.
std::string make_request(std::size_t spans, std::mt19937_64& rng) {
  static std::uint64_t clock = 1'700'000'000'000'000'000ULL;
  otlp::collector::trace::v1::ExportTraceServiceRequest req;
  auto* rs = req.add_resource_spans();
  set_kv(rs->mutable_resource()->add_attributes(), "service.name", "bench");
  set_kv(rs->mutable_resource()->add_attributes(), "telemetry.sdk.name", "logfire-cpp");
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("logfire");
  std::string trace;
  std::string root;
  std::uint64_t t0 = clock;
  clock += spans * 1000 + 1'000'000;
  for (std::size_t i = 0; i < spans; ++i) {
    auto* s = ss->add_spans();
    if (i % 10 == 0) {
      trace = ulid_trace_id(rng, (t0 + i * 1000) / 1'000'000);
      root = raw_id(rng, 8);
      s->set_span_id(root);
    } else {
      s->set_span_id(raw_id(rng, 8));
      s->set_parent_span_id(root);
    }
    s->set_trace_id(trace);
    s->set_name("charged {user_id} for {amount}");
    s->set_start_time_unix_nano(t0 + i * 1000);
    s->set_end_time_unix_nano(t0 + i * 1000 + 500'000);
    set_kv(s->add_attributes(), "logfire.msg_template", "charged {user_id} for {amount}");
    set_kv(s->add_attributes(), "logfire.msg", "charged 42 for 9.99");
    set_kv(s->add_attributes(), "logfire.span_type", "span");
    set_kv(s->add_attributes(), "logfire.json_schema", R"({"type":"object","properties":{"user_id":{},"amount":{}}})");
    set_kv(s->add_attributes(), "code.filepath", "src/checkout.cpp");
    auto* user = s->add_attributes();
    user->set_key("user_id");
    user->mutable_value()->set_int_value(42);
    auto* amount = s->add_attributes();
    amount->set_key("amount");
    amount->mutable_value()->set_double_value(9.99);
    if (rng() % 50 == 0) s->mutable_status()->set_code(otlp::trace::v1::Status::STATUS_CODE_ERROR);
  }
  return req.SerializeAsString();
}

std::vector<record_row> make_rows(std::size_t n, std::mt19937_64& rng) {
  decoded_request out;
  std::string error;
  decode_request(signal::traces, body_format::protobuf, make_request(n, rng), out, error);
  return std::move(out.records);
}

void store_ingest(benchmark::State& state) {
  auto batch = static_cast<std::size_t>(state.range(0));
  std::string path = temp_path("ingest.db");
  remove_db(path);
  std::string error;
  auto db = store::open({.path = path}, error);
  if (!db) {
    state.SkipWithError(error.c_str());
    return;
  }
  std::mt19937_64 rng(1);
  double cpu = 0;
  for (auto _ : state) {
    // Fresh rows each time, later than the last ones, as a running service sends them.
    state.PauseTiming();
    auto copy = make_rows(batch, rng);
    state.ResumeTiming();
    double before = process_cpu_seconds();
    auto r = db->write(std::move(copy), {});
    cpu += process_cpu_seconds() - before;
    if (!r.ok()) state.SkipWithError(r.error.c_str());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
  state.counters["batch"] = static_cast<double>(batch);
  state.counters["spans_per_cpu_s"] = static_cast<double>(state.iterations() * batch) / cpu;
  db.reset();
  remove_db(path);
}
BENCHMARK(store_ingest)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->UseRealTime();

// The indexer alone: `batch` rows written with indexing off (not timed), then indexed.
void index_catch_up(benchmark::State& state) {
  auto batch = static_cast<std::size_t>(state.range(0));
  std::string path = temp_path("index.db");
  remove_db(path);
  std::string error;
  auto db = store::open({.path = path, .index_after_idle = std::nullopt}, error);
  if (!db) {
    state.SkipWithError(error.c_str());
    return;
  }
  std::mt19937_64 rng(7);
  double cpu = 0;
  for (auto _ : state) {
    state.PauseTiming();
    if (!db->write(make_rows(batch, rng), {}).ok()) state.SkipWithError("write failed");
    state.ResumeTiming();
    double before = process_cpu_seconds();
    if (!db->index_now()) state.SkipWithError("indexing failed");
    cpu += process_cpu_seconds() - before;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
  state.counters["records_per_cpu_s"] = static_cast<double>(state.iterations() * batch) / cpu;
  db.reset();
  remove_db(path);
}
BENCHMARK(index_catch_up)->Arg(20000)->Unit(benchmark::kMillisecond)->UseRealTime();

// Rows committed and then indexed, back to back: the rate sustained ingest settles at once the
// index is max_unindexed_rows behind (the writer then indexes as many rows as it commits).
void ingest_and_index(benchmark::State& state) {
  auto batch = static_cast<std::size_t>(state.range(0));
  std::string path = temp_path("ingest_index.db");
  remove_db(path);
  std::string error;
  auto db = store::open({.path = path, .index_after_idle = std::nullopt}, error);
  if (!db) {
    state.SkipWithError(error.c_str());
    return;
  }
  std::mt19937_64 rng(8);
  double cpu = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto copy = make_rows(batch, rng);
    state.ResumeTiming();
    double before = process_cpu_seconds();
    if (!db->write(std::move(copy), {}).ok() || !db->index_now()) state.SkipWithError("write or index failed");
    cpu += process_cpu_seconds() - before;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
  state.counters["spans_per_cpu_s"] = static_cast<double>(state.iterations() * batch) / cpu;
  db.reset();
  remove_db(path);
}
BENCHMARK(ingest_and_index)->Arg(10000)->Unit(benchmark::kMillisecond)->UseRealTime();

// Decoding alone: an OTLP protobuf request of `batch` spans into rows (a worker thread's share).
void decode_only(benchmark::State& state) {
  auto batch = static_cast<std::size_t>(state.range(0));
  std::mt19937_64 rng(6);
  std::string body = make_request(batch, rng);
  std::string error;
  for (auto _ : state) {
    decoded_request out;
    if (!decode_request(signal::traces, body_format::protobuf, body, out, error)) state.SkipWithError(error.c_str());
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(decode_only)->Arg(1000)->Unit(benchmark::kMillisecond);

void decode_and_store(benchmark::State& state) {
  auto batch = static_cast<std::size_t>(state.range(0));
  std::string path = temp_path("decode.db");
  remove_db(path);
  std::string error;
  auto db = store::open({.path = path}, error);
  std::mt19937_64 rng(2);
  std::string body;
  double cpu = 0;
  std::size_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    body = make_request(batch, rng);  // fresh ids and times each time
    bytes += body.size();
    state.ResumeTiming();
    double before = process_cpu_seconds();
    decoded_request out;
    if (!decode_request(signal::traces, body_format::protobuf, body, out, error)) state.SkipWithError(error.c_str());
    auto r = db->write(std::move(out.records), std::move(out.metrics));
    if (!r.ok()) state.SkipWithError(r.error.c_str());
    cpu += process_cpu_seconds() - before;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
  state.counters["spans_per_cpu_s"] = static_cast<double>(state.iterations() * batch) / cpu;
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.counters["batch"] = static_cast<double>(batch);
  db.reset();
  remove_db(path);
}
BENCHMARK(decode_and_store)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->UseRealTime();

// Two exporters sending back to back on their own keep-alive connections, as two services
// would: while the writer commits one request, the server decodes the other. Each iteration is
// 20 requests per client; the bodies are built before the clock starts (manual time).
void http_ingest(benchmark::State& state) {
  constexpr int kClients = 2;
  constexpr int kRequestsPerClient = 20;
  auto batch = static_cast<std::size_t>(state.range(0));
  std::string path = temp_path("http.db");
  remove_db(path);
  std::string error;
  auto db = store::open({.path = path}, error);
  server srv(*db, {.port = 0});
  if (!srv.bind(error)) {
    state.SkipWithError(error.c_str());
    return;
  }
  std::thread runner([&] { srv.run(); });
  std::mt19937_64 rng(3);
  std::atomic<bool> failed{false};
  double cpu = 0;
  std::atomic<std::int64_t> client_cpu_ns{0};  // the clients' own threads, to tell the server's CPU apart
  for (auto _ : state) {
    std::vector<std::vector<std::string>> bodies(kClients);
    for (auto& list : bodies) {
      for (int i = 0; i < kRequestsPerClient; ++i) list.push_back(make_request(batch, rng));
    }
    double cpu_before = process_cpu_seconds();
    auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> clients;
    for (auto& list : bodies) {
      clients.emplace_back([&, &list = list] {
        double thread_before = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
        httplib::Client c("127.0.0.1", srv.port());
        c.set_keep_alive(true);
        for (const auto& body : list) {
          if (auto r = c.Post("/v1/traces", body, "application/x-protobuf"); !r || r->status != 200) failed = true;
        }
        client_cpu_ns += static_cast<std::int64_t>((cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - thread_before) * 1e9);
      });
    }
    for (auto& t : clients) t.join();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    cpu += process_cpu_seconds() - cpu_before;
  }
  if (failed) state.SkipWithError("a request was not acknowledged");
  auto spans = static_cast<double>(state.iterations() * batch * kClients * kRequestsPerClient);
  state.SetItemsProcessed(static_cast<std::int64_t>(spans));
  // Includes the clients' CPU (they run in this process too): a lower bound for the server.
  state.counters["spans_per_cpu_s"] = spans / cpu;
  // The server's threads alone (I/O, workers, writer): the process's CPU less the clients'.
  state.counters["server_spans_per_cpu_s"] = spans / (cpu - static_cast<double>(client_cpu_ns.load()) / 1e9);
  state.counters["batch"] = static_cast<double>(batch);
  srv.stop();
  runner.join();
  db.reset();
  remove_db(path);
}
BENCHMARK(http_ingest)->Arg(1000)->Arg(5000)->Unit(benchmark::kMillisecond)->UseManualTime();

// One database of 1 M records (100 k traces of 10 spans), built once per process.
struct million {
  std::string path = temp_path("million.db");
  std::vector<std::string> trace_ids;
  std::unique_ptr<store> db;
  million() {
    remove_db(path);
    std::string error;
    db = store::open({.path = path}, error);
    std::mt19937_64 rng(4);
    for (int b = 0; b < 50; ++b) {
      auto rows = make_rows(20'000, rng);
      for (std::size_t i = 0; i < rows.size(); i += 10) trace_ids.push_back(rows[i].trace_id);
      db->write(std::move(rows), {});
    }
    db->index_now();  // the searches below measure the index, not the records beyond it
  }
  ~million() {
    db.reset();
    remove_db(path);
  }
};

million& one_million() {
  static million m;
  return m;
}

void trace_lookup_1M(benchmark::State& state) {
  auto& m = one_million();
  std::mt19937_64 rng(5);
  std::string error;
  std::size_t bytes = 0;
  for (auto _ : state) {
    const auto& id = m.trace_ids[rng() % m.trace_ids.size()];
    std::string json;
    m.db->read([&](sqlite3* db) { trace_to_json(db, id, json, error); }, error);
    bytes += json.size();
    benchmark::DoNotOptimize(json);
  }
  state.counters["records"] = 1e6;
  state.counters["json_bytes"] = static_cast<double>(bytes) / static_cast<double>(state.iterations());
}
BENCHMARK(trace_lookup_1M)->Unit(benchmark::kMillisecond);

void count_errors_1M(benchmark::State& state) {
  auto& m = one_million();
  std::string error;
  std::int64_t errors = 0;
  for (auto _ : state) {
    query_result r;
    m.db->read([&](sqlite3* db) { run_query(db, "SELECT count(*) FROM records WHERE level >= 17", {}, r, error); },
               error);
    errors = r.rows.empty() ? -1 : r.rows[0][0].i;
  }
  state.counters["records"] = 1e6;
  state.counters["errors"] = static_cast<double>(errors);
}
BENCHMARK(count_errors_1M)->Unit(benchmark::kMillisecond);

void recent_traces_1M(benchmark::State& state) {
  auto& m = one_million();
  std::string error;
  for (auto _ : state) {
    std::vector<trace_summary> list;
    m.db->read([&](sqlite3* db) { recent_traces(db, {.limit = 50}, list, error); }, error);
    benchmark::DoNotOptimize(list);
  }
}
BENCHMARK(recent_traces_1M)->Unit(benchmark::kMillisecond);

// The trace list with a search text as GET /api/traces?q= answers it (one window of at most
// kScanWindow records read one by one), 50 traces over 1 M records:
//   /0 text that most records contain ("charged"): the newest-first scan, stopping after 50 traces
//   /1 text that no record contains ("declined"): the index rules every record out
//   /2 frequent text, errors only
//   /3 text that no record contains, of pieces every record contains: the index rules nothing
//      out, and the answer is "none in the newest window" with where to go on
trace_query trace_search_case(std::int64_t n) {
  static const char* const texts[] = {"charged", "declined", "charged", "charged 42 for {amount}"};
  trace_query q{.limit = 50, .errors_only = n == 2};
  q.text = texts[n];
  q.one_window = true;
  return q;
}

void recent_traces_q_1M(benchmark::State& state) {
  auto& m = one_million();
  const trace_query q = trace_search_case(state.range(0));
  std::string error;
  std::size_t found = 0;
  for (auto _ : state) {
    std::vector<trace_summary> list;
    std::optional<search_cursor> next;
    bool ok = false;
    if (!m.db->read([&](sqlite3* db) { ok = recent_traces(db, q, list, next, error); }, error) || !ok) {
      state.SkipWithError(error.c_str());
    }
    found = list.size();
  }
  state.counters["records"] = 1e6;
  state.counters["traces"] = static_cast<double>(found);
}
BENCHMARK(recent_traces_q_1M)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);

// The same answers followed through every "next" until the list is full or the oldest record
// was read, as the page does: for /3, every record (ten answers over 1 M records).
void recent_traces_q_1M_all(benchmark::State& state) {
  auto& m = one_million();
  std::string error;
  std::size_t answers = 0;
  for (auto _ : state) {
    trace_query q = trace_search_case(state.range(0));
    answers = 0;
    bool more = true;
    while (more) {
      std::vector<trace_summary> list;
      std::optional<search_cursor> next;
      bool ok = false;
      if (!m.db->read([&](sqlite3* db) { ok = recent_traces(db, q, list, next, error); }, error) || !ok) {
        state.SkipWithError(error.c_str());
        break;
      }
      ++answers;
      more = next.has_value();
      q.before = next;
    }
  }
  state.counters["records"] = 1e6;
  state.counters["answers"] = static_cast<double>(answers);
}
BENCHMARK(recent_traces_q_1M_all)->Arg(3)->Unit(benchmark::kMillisecond);

// `logfire-cpp search` / MCP's search over 1 M records, newest first, 50 results:
//   /0 text that most records contain ("charged"): stops after 50 matches
//   /1 text that no record contains ("declined"): reads every record
//   /2 errors only (level >= error), no text: the partial index of errors
//   /3 absent text, errors only
//   /4 text that no record contains, made of pieces every record contains (its three-character
//      pieces are all in the span name and the message): the index cannot rule any record out
search_query search_case(std::int64_t n) {
  search_query q;
  switch (n) {
    case 0:
      q.text = "charged";
      break;
    case 1:
      q.text = "declined";
      break;
    case 2:
      q.min_level = 17;
      break;
    case 3:
      q.text = "declined";
      q.min_level = 17;
      break;
    default:
      q.text = "charged 42 for {amount}";
      break;
  }
  return q;
}

void run_search(benchmark::State& state, store& db, const search_query& q, double records) {
  std::string error;
  std::size_t found = 0;
  for (auto _ : state) {
    std::vector<record_summary> out;
    bool truncated = false;
    std::optional<search_cursor> next;
    bool ok = false;
    if (!db.read([&](sqlite3* c) { ok = search_records(c, q, out, truncated, next, error); }, error) || !ok) {
      state.SkipWithError(error.c_str());
    }
    found = out.size();
  }
  state.counters["records"] = records;
  state.counters["found"] = static_cast<double>(found);
}

void search_1M(benchmark::State& state) {
  run_search(state, *one_million().db, search_case(state.range(0)), 1e6);
}
BENCHMARK(search_1M)->DenseRange(0, 4)->Unit(benchmark::kMillisecond);

// One answer of GET /api/records (the Records view): one window at most, then "next".
void search_1M_window(benchmark::State& state) {
  search_query q = search_case(state.range(0));
  q.one_window = true;
  run_search(state, *one_million().db, q, 1e6);
}
BENCHMARK(search_1M_window)->DenseRange(0, 4)->Unit(benchmark::kMillisecond);

// The same searches over 100 k records that the indexer has not reached (indexing off): all of
// them are read with the exact match, as the records beyond the index are.
void search_unindexed_100k(benchmark::State& state) {
  static const auto db = [] {
    std::string path = temp_path("unindexed.db");
    remove_db(path);
    std::string error;
    auto s = store::open({.path = path, .index_after_idle = std::nullopt}, error);
    std::mt19937_64 rng(9);
    for (int b = 0; b < 5; ++b) s->write(make_rows(20'000, rng), {});
    return std::shared_ptr<store>(s.release(), [path](store* p) {
      delete p;
      remove_db(path);
    });
  }();
  run_search(state, *db, search_case(state.range(0)), 1e5);
}
BENCHMARK(search_unindexed_100k)->DenseRange(0, 4)->Unit(benchmark::kMillisecond);

// `logfire-cpp trace ID`: one trace of 10 spans as a tree, 1 M records.
void trace_tree_1M(benchmark::State& state) {
  auto& m = one_million();
  std::mt19937_64 rng(6);
  std::string error;
  for (auto _ : state) {
    const auto& hex = m.trace_ids[rng() % m.trace_ids.size()];
    std::vector<record_summary> out;
    bool truncated = false;
    m.db->read([&](sqlite3* db) { trace_tree(db, hex, 20'000, out, truncated, error); }, error);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(trace_tree_1M)->Unit(benchmark::kMillisecond);

}  // namespace
BENCHMARK_MAIN();
