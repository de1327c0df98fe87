// The search index is filled behind the commits (store.hpp, index_after_idle): a record is
// found by search the moment its write returns, before the indexer reaches it, by the same
// rule as once it is indexed; the indexer catches up in the background and resumes after a
// restart from the watermark kept in the database; deletions (retention, a pending span
// replaced by its span) leave the index as exact as the records. In process, on a real file.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <set>
#include <thread>

#include "backend/backend_support.hpp"
#include "backend/search.hpp"
#include "backend/server.hpp"
#include "backend/store.hpp"
#include "backend/traces.hpp"

namespace logfire::backend_test {
namespace {

using backend::record_row;
using backend::store;
using backend::store_options;

constexpr std::int64_t kHourNs = 3'600'000'000'000;

record_row row(const std::string& name, const std::string& message, const std::string& attributes = "{}",
               std::int64_t start_ns = static_cast<std::int64_t>(now_ns())) {
  record_row r;
  r.start_ns = start_ns;
  r.end_ns = start_ns + 1000;
  r.trace_id = random_hex(16);
  r.span_id = random_hex(8);
  r.span_name = name;
  r.message = message;
  r.attributes = attributes;
  return r;
}

void write(store& s, std::vector<record_row> rows) {
  auto r = s.write(std::move(rows), {});
  ASSERT_TRUE(r.ok()) << r.error;
}

// The messages of the records a search finds, sorted.
std::vector<std::string> found(store& s, const std::string& text, std::size_t limit = 10'000) {
  std::vector<std::string> out;
  std::string error;
  bool ok = false;
  s.read(
      [&](sqlite3* db) {
        std::vector<backend::record_summary> records;
        bool truncated = false;
        backend::search_query q;
        q.text = text;
        q.limit = limit;
        ok = backend::search_records(db, q, records, truncated, error);
        for (const auto& r : records) out.push_back(r.message);
      },
      error);
  EXPECT_TRUE(ok) << text << ": " << error;
  std::sort(out.begin(), out.end());
  return out;
}

std::int64_t count(store& s, const std::string& sql) {
  std::int64_t n = -1;
  std::string error;
  s.read(
      [&](sqlite3* db) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
          n = sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
      },
      error);
  return n;
}

std::int64_t indexed_to(store& s) {
  return count(s, "SELECT indexed_to FROM records_fts_state");
}

std::unique_ptr<store> open_store(const std::string& path, bool background_indexing = false) {
  std::string error;
  store_options options;
  options.path = path;
  if (!background_indexing) options.index_after_idle = std::nullopt;
  auto s = store::open(options, error);
  EXPECT_TRUE(s) << error;
  return s;
}

// Polls `done` every 50 ms for at most 20 s.
template <typename F>
bool eventually(F done) {
  for (int i = 0; i < 400; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

using list = std::vector<std::string>;

TEST(search_index, a_record_is_found_the_moment_its_write_returns_before_it_is_indexed) {
  temp_dir dir;
  auto s = open_store(dir.file("now.db"));
  ASSERT_TRUE(s);
  write(*s, {row("charge {card}", "charge card 4242", R"({"gateway":"stripe-eu"})"), row("complaint", "ÄRGER im Büro"),
             row("retry", "retrying payment 100%_sure")});
  // The indexer has not run: the records are all beyond the index.
  ASSERT_EQ(indexed_to(*s), 0);
  ASSERT_EQ(count(*s, "SELECT count(*) FROM records_fts"), 0);
  auto searches = [&] {
    EXPECT_EQ(found(*s, "STRIPE-EU"), list{"charge card 4242"}) << "attribute JSON, any case";
    EXPECT_EQ(found(*s, "\"gateway\":\"str"), list{"charge card 4242"}) << "the JSON text itself";
    EXPECT_EQ(found(*s, "ärger"), list{"ÄRGER im Büro"}) << "non-ASCII letters fold as in the index";
    EXPECT_EQ(found(*s, "BÜRO"), list{"ÄRGER im Büro"});
    EXPECT_EQ(found(*s, "100%_s"), list{"retrying payment 100%_sure"}) << "% and _ are literal";
    EXPECT_EQ(found(*s, "100%%"), list{});
    EXPECT_EQ(found(*s, "declined"), list{});
  };
  searches();
  ASSERT_TRUE(s->index_now());
  EXPECT_EQ(count(*s, "SELECT count(*) FROM records_fts"), 3);
  EXPECT_EQ(indexed_to(*s), count(*s, "SELECT max(id) FROM records"));
  EXPECT_EQ(s->counters().records_indexed, 3u);
  searches();  // the same answers through the index
}

// The trace list filtered by a service reads that service's records only: a service with no
// records costs a few steps of SQLite's machine, however many records the others have. Counted
// with a progress handler (every 1,000 instructions), not timed.
TEST(search_index, the_trace_list_of_a_service_reads_only_that_services_records) {
  temp_dir dir;
  auto s = open_store(dir.file("services.db"));
  ASSERT_TRUE(s);
  auto busy = std::make_shared<backend::resource_info>();
  busy->service_name = "checkout";
  auto quiet = std::make_shared<backend::resource_info>();
  quiet->service_name = "nightly-report";
  std::vector<record_row> rows;
  for (int i = 0; i < 20'000; ++i) {
    rows.push_back(row("charge", "charge " + std::to_string(i)));
    rows.back().resource = busy;
  }
  rows.push_back(row("report", "report"));
  rows.back().resource = quiet;
  write(*s, std::move(rows));

  const auto list_for = [&](const std::string& service, std::uint64_t& thousands) {
    std::vector<backend::trace_summary> traces;
    std::string error;
    s->read(
        [&](sqlite3* db) {
          thousands = 0;
          sqlite3_progress_handler(
              db, 1000, [](void* n) { return ++*static_cast<std::uint64_t*>(n), 0; }, &thousands);
          backend::trace_query q;
          q.service = service;
          EXPECT_TRUE(backend::recent_traces(db, q, traces, error)) << error;
          sqlite3_progress_handler(db, 0, nullptr, nullptr);
        },
        error);
    return traces.size();
  };
  std::uint64_t none = 0;
  std::uint64_t one = 0;
  std::uint64_t busy_steps = 0;
  EXPECT_EQ(list_for("no-such-service", none), 0u);
  EXPECT_EQ(list_for("nightly-report", one), 1u);
  EXPECT_EQ(list_for("checkout", busy_steps), 20u);
  // Through the time index alone, both read all 20,000 records: about 80,000 instructions.
  EXPECT_LT(none, 5u) << busy_steps;
  EXPECT_LT(one, 5u) << busy_steps;
}

TEST(search_index, searches_find_the_same_records_before_and_after_indexing) {
  temp_dir dir;
  auto s = open_store(dir.file("same.db"));
  ASSERT_TRUE(s);
  std::vector<record_row> rows = {
      row("GET /users/{id}", "GET /users/42", R"({"http.route":"/users/{id}","user":"Ada"})"),
      row("query", "SELECT * FROM t WHERE a LIKE '%_x'", R"({"db.system":"sqlite"})"),
      row("straße", "Straße und STRASSE", R"({"city":"München"})"),
      row("Σίσυφος", "ΣΊΣΥΦΟΣ rolls", R"({"greek":"σίσυφος"})"),
      row("istanbul", "İstanbul and ISTANBUL", "{}"),
      row("kelvin", "300 \u212A is 300 k", "{}"),
      row("kelvin", "temp 5\u212A", "{}"),
      row("emoji", "deploy 🚀 done", R"({"e":"🚀🚀🚀"})"),
      row("bytes", std::string("raw \xff\xfe bytes \xc3"), "{}"),
      row("back\\slash", "path C:\\temp\\x", R"({"quote":"say \"hi\""})"),
  };
  auto failed = row("charge", "charge failed");
  failed.exception_type = "PaymentDeclined";
  failed.exception_message = "card 4242 declined";
  failed.is_exception = true;
  rows.push_back(failed);
  write(*s, rows);
  const std::vector<std::string> texts = {"users",         "USERS/4",
                                          "{id}",          "\"user\":\"ada\"",
                                          "like '%",       "%_x",
                                          "sqlite",        "straße",
                                          "STRASSE",       "strasse",
                                          "münchen",       "MÜNCHEN",
                                          "σίσυφος",       "ΣΊΣΥΦΟΣ",
                                          "ίσυ",           "istanbul",
                                          "İstanbul",      "300 k",
                                          "\u212A i",      "🚀🚀",
                                          "y 🚀 d",         "\xff\xfe b",
                                          "s \xc3",        "C:\\temp",
                                          "\\\"hi\\\"",    "paymentdeclined",
                                          "4242 DECLINED", "absent",
                                          "rolls",         "nothing here",
                                          "P 5K"};
  std::vector<list> before;
  for (const auto& t : texts) before.push_back(found(*s, t));
  ASSERT_TRUE(s->index_now());
  for (std::size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(found(*s, texts[i]), before[i]) << texts[i];
  // For ASCII text the rule is a case-insensitive substring of one column.
  EXPECT_EQ(found(*s, "users"), list{"GET /users/42"});
  EXPECT_EQ(found(*s, "\"user\":\"ada\""), list{"GET /users/42"});
  EXPECT_EQ(found(*s, "%_x"), list{"SELECT * FROM t WHERE a LIKE '%_x'"});
  EXPECT_EQ(found(*s, "4242 DECLINED"), list{"charge failed"});
  EXPECT_EQ(found(*s, "C:\\temp"), list{"path C:\\temp\\x"});
  EXPECT_EQ(found(*s, "rolls"), list{"ΣΊΣΥΦΟΣ rolls"});
  // The Kelvin sign folds to k in the index: an ASCII search text finds it too.
  EXPECT_EQ(found(*s, "P 5K"), list{"temp 5\u212A"});
  EXPECT_EQ(found(*s, "nothing here"), list{});
  // A text across two columns is not in either.
  EXPECT_EQ(found(*s, "charge failed card"), list{});

  // A text in thousands of records is read newest first instead of through the index; the
  // records beyond the index and the indexed ones answer alike there too.
  std::vector<record_row> bulk;
  for (int i = 0; i < 5100; ++i) bulk.push_back(row("bulk", "bulk row " + std::to_string(i)));
  write(*s, std::move(bulk));
  EXPECT_EQ(found(*s, "BULK ROW 4999"), list{"bulk row 4999"});
  EXPECT_EQ(found(*s, "bulk row 42").size(), 111u) << "42, 420-429, 4200-4299";
  EXPECT_EQ(found(*s, "bulk row", 10).size(), 10u);
  ASSERT_TRUE(s->index_now());
  EXPECT_EQ(found(*s, "BULK ROW 4999"), list{"bulk row 4999"});
  EXPECT_EQ(found(*s, "bulk row 42").size(), 111u);
  EXPECT_EQ(found(*s, "bulk row", 10).size(), 10u);
  EXPECT_EQ(found(*s, "w 4999"), list{"bulk row 4999"});
}

TEST(search_index, the_index_catches_up_in_the_background_and_resumes_after_a_restart) {
  temp_dir dir;
  std::string path = dir.file("restart.db");
  {
    auto s = open_store(path);
    ASSERT_TRUE(s);
    write(*s, {row("a", "alpha one"), row("b", "beta one"), row("c", "gamma one")});
  }
  {
    // Closed before the indexer ran: the records are still beyond the index, and found.
    auto s = open_store(path);
    ASSERT_TRUE(s);
    EXPECT_EQ(indexed_to(*s), 0);
    EXPECT_EQ(found(*s, "ONE"), (list{"alpha one", "beta one", "gamma one"}));
    ASSERT_TRUE(s->index_now());
    EXPECT_EQ(indexed_to(*s), 3);
  }
  {
    // The watermark was kept; with indexing in the background, new records are found at once
    // and indexed once writes pause.
    auto s = open_store(path, true);
    ASSERT_TRUE(s);
    EXPECT_EQ(indexed_to(*s), 3);
    write(*s, {row("d", "delta one"), row("e", "epsilon two")});
    EXPECT_EQ(found(*s, "one"), (list{"alpha one", "beta one", "delta one", "gamma one"}));
    EXPECT_TRUE(eventually([&] { return count(*s, "SELECT count(*) FROM records_fts") == 5; }));
    EXPECT_TRUE(eventually([&] { return indexed_to(*s) == 5; }));
  }
  {
    auto s = open_store(path);
    ASSERT_TRUE(s);
    EXPECT_EQ(indexed_to(*s), 5);
    EXPECT_EQ(count(*s, "SELECT count(*) FROM records_fts"), 5);
    EXPECT_EQ(found(*s, "two"), list{"epsilon two"});
  }
}

TEST(search_index, deleted_records_leave_the_index) {
  temp_dir dir;
  std::string error;
  store_options options;
  options.path = dir.file("delete.db");
  options.retention_age = std::chrono::hours(1);
  options.retention_interval = std::chrono::hours(24);
  options.index_after_idle = std::nullopt;
  auto s = store::open(options, error);
  ASSERT_TRUE(s) << error;
  s->run_retention();  // the one at startup, before the old records come
  auto old = static_cast<std::int64_t>(now_ns()) - 2 * kHourNs;
  auto pending = row("job {n}", "job 7 running");
  pending.kind = "pending_span";
  pending.end_ns.reset();
  write(*s, {row("invoice", "old invoice 1", "{}", old), row("invoice", "old invoice 2", "{}", old),
             row("invoice", "new invoice 3"), pending});
  ASSERT_TRUE(s->index_now());
  ASSERT_EQ(count(*s, "SELECT count(*) FROM records_fts"), 4);
  // One more old record, beyond the index; then the pending span's real span replaces it.
  write(*s, {row("receipt", "old receipt", "{}", old)});
  auto done = pending;
  done.kind = "span";
  done.end_ns = done.start_ns + 1000;
  done.message = "job 7 done";
  write(*s, {done});
  EXPECT_EQ(s->counters().pending_replaced, 1u);
  s->run_retention();
  EXPECT_EQ(s->counters().retention_deleted, 3u);

  EXPECT_EQ(found(*s, "invoice"), list{"new invoice 3"});
  EXPECT_EQ(found(*s, "job 7"), list{"job 7 done"});
  EXPECT_EQ(found(*s, "receipt"), list{});
  // The index itself: exactly the records at or below the watermark that still exist.
  EXPECT_EQ(count(*s, "SELECT count(*) FROM records_fts"),
            count(*s, "SELECT count(*) FROM records WHERE id <= (SELECT indexed_to FROM records_fts_state)"));
  EXPECT_EQ(count(*s, "SELECT count(*) FROM records_fts WHERE records_fts MATCH '\"old\"'"), 0);
  EXPECT_EQ(count(*s, "SELECT count(*) FROM records_fts WHERE records_fts MATCH '\"run\"'"), 0);
  ASSERT_TRUE(s->index_now());
  EXPECT_EQ(count(*s, "SELECT count(*) FROM records_fts"), count(*s, "SELECT count(*) FROM records"));
  EXPECT_EQ(found(*s, "job 7"), list{"job 7 done"});
  EXPECT_EQ(found(*s, "invoice"), list{"new invoice 3"});
}

// Records whose every three-character piece is common, as in the benchmark's worst case: each
// of the 6 000 records holds "alpha beta, beta alpha", so the index finds them all for "alpha
// alpha" or "beta beta" (and the search reads newest first, window by window), but only every
// 700th holds "alpha alpha", and none "beta beta". Their starts are shuffled against their ids;
// 40 traces each hold records from all over the time range, 8 of them the matches.
struct common_pieces {
  std::vector<record_row> rows;
  // The records holding "alpha alpha", newest first (by start, then arrival).
  std::vector<std::string> matching;
  std::vector<std::string> matching_traces;  // their traces, by their newest matching record
};

common_pieces make_common_pieces() {
  common_pieces c;
  const auto base = static_cast<std::int64_t>(now_ns()) - kHourNs;
  constexpr int kRecords = 6000;
  for (int i = 0; i < kRecords; ++i) {
    const int slot = (i * 2'903) % kRecords;  // 2 903 is prime to 6 000: every slot once
    auto r = row("step {n}", "alpha beta, beta alpha " + std::to_string(i),
                 i % 700 == 3 ? R"({"note":"alpha alpha )" + std::to_string(i) + R"("})" : "{}",
                 base + static_cast<std::int64_t>(slot) * 1'000'000);
    const int trace = i % 700 == 3 ? (i / 700) % 8 : i % 40;  // trace 0 holds two matches
    r.trace_id = std::string(28, '0') + (trace < 10 ? "000" : "00") + std::to_string(trace);
    c.rows.push_back(std::move(r));
  }
  std::vector<const record_row*> hits;
  for (std::size_t i = 0; i < c.rows.size(); ++i) {
    if (c.rows[i].attributes.find("alpha alpha") != std::string::npos) hits.push_back(&c.rows[i]);
  }
  std::sort(hits.begin(), hits.end(),
            [](const record_row* a, const record_row* b) { return a->start_ns > b->start_ns; });
  for (const auto* r : hits) {
    c.matching.push_back(r->message);
    if (std::find(c.matching_traces.begin(), c.matching_traces.end(), r->trace_id) == c.matching_traces.end()) {
      c.matching_traces.push_back(r->trace_id);
    }
  }
  return c;
}

// One answer of a search, in its order, and where it says to go on.
struct answer {
  list messages;
  bool truncated = false;
  std::optional<backend::search_cursor> next;
};

answer search_once(store& s, backend::search_query q) {
  answer a;
  std::string error;
  bool ok = false;
  s.read(
      [&](sqlite3* db) {
        std::vector<backend::record_summary> records;
        ok = backend::search_records(db, q, records, a.truncated, a.next, error);
        for (const auto& r : records) a.messages.push_back(r.message);
      },
      error);
  EXPECT_TRUE(ok) << q.text << ": " << error;
  return a;
}

TEST(search_index, a_text_of_common_pieces_is_read_window_by_window_newest_first) {
  temp_dir dir;
  auto s = open_store(dir.file("windows.db"));
  ASSERT_TRUE(s);
  const auto c = make_common_pieces();
  ASSERT_EQ(c.matching.size(), 9u);
  write(*s, c.rows);
  ASSERT_TRUE(s->index_now());
  ASSERT_EQ(count(*s, "SELECT count(*) FROM records_fts WHERE records_fts MATCH '\"a a\" \"alp\" \"pha\"'"), 6000)
      << "the index cannot narrow the search";

  // Read to the end (the CLI's search): the newest page, in order.
  backend::search_query q;
  q.text = "ALPHA alpha";
  q.limit = 4;
  auto page = search_once(*s, q);
  EXPECT_EQ(page.messages, list(c.matching.begin(), c.matching.begin() + 4));
  EXPECT_TRUE(page.truncated);
  EXPECT_FALSE(page.next);
  q.limit = 100;
  EXPECT_EQ(search_once(*s, q).messages, c.matching);

  // One window per answer (the web view's): each answer holds the matches among the 250 records
  // before the last one's "next", and the answers together are the whole answer.
  q.one_window = true;
  q.window = 250;
  list together;
  int answers = 0;
  for (std::optional<backend::search_cursor> before;; ++answers) {
    q.before = before;
    auto a = search_once(*s, q);
    EXPECT_LE(a.messages.size(), 1u) << "250 of 6 000 records hold one match at most";
    together.insert(together.end(), a.messages.begin(), a.messages.end());
    if (!a.next) break;
    auto text = backend::cursor_text(*a.next);
    ASSERT_EQ(backend::parse_cursor(text)->id, a.next->id) << text;
    before = a.next;
    ASSERT_LT(answers, 100);
  }
  EXPECT_EQ(answers + 1, 6000 / 250);
  EXPECT_EQ(together, c.matching);
  // Windows larger than the first step (1 000 records) are read in two steps, answered as one.
  q.window = 2500;
  together.clear();
  answers = 0;
  for (std::optional<backend::search_cursor> before;; ++answers) {
    q.before = before;
    auto a = search_once(*s, q);
    together.insert(together.end(), a.messages.begin(), a.messages.end());
    if (!a.next) break;
    before = a.next;
    ASSERT_LT(answers, 100);
  }
  EXPECT_EQ(answers + 1, 3) << "2 500, 2 500 and the last 1 000 records";
  EXPECT_EQ(together, c.matching);

  // A frequent text fills its page inside the first window: no "next".
  backend::search_query frequent;
  frequent.text = "beta alpha";
  frequent.limit = 10;
  frequent.one_window = true;
  frequent.window = 250;
  auto first = search_once(*s, frequent);
  EXPECT_EQ(first.messages.size(), 10u);
  EXPECT_TRUE(first.truncated);
  EXPECT_FALSE(first.next);

  // A text none holds: an empty answer that says where to go on, until the oldest record.
  backend::search_query absent = frequent;
  absent.text = "beta beta";
  answers = 0;
  for (std::optional<backend::search_cursor> before;; ++answers) {
    absent.before = before;
    auto a = search_once(*s, absent);
    EXPECT_TRUE(a.messages.empty());
    if (!a.next) break;
    before = a.next;
    ASSERT_LT(answers, 100);
  }
  EXPECT_EQ(answers + 1, 6000 / 250);
}

// The trace list over the same records: one window per answer, each trace listed once, by its
// newest matching record, though the traces hold matches in many windows.
TEST(search_index, the_trace_list_goes_on_from_where_a_window_stopped) {
  temp_dir dir;
  auto s = open_store(dir.file("trace_windows.db"));
  ASSERT_TRUE(s);
  const auto c = make_common_pieces();
  write(*s, c.rows);
  ASSERT_TRUE(s->index_now());
  ASSERT_EQ(c.matching_traces.size(), 8u) << "a trace holds two of the nine matches";

  auto list_traces = [&](backend::trace_query q, std::optional<backend::search_cursor>& next) {
    list out;
    std::string error;
    bool ok = false;
    s->read(
        [&](sqlite3* db) {
          std::vector<backend::trace_summary> traces;
          ok = backend::recent_traces(db, q, traces, next, error);
          for (const auto& t : traces) out.push_back(t.trace_id);
        },
        error);
    EXPECT_TRUE(ok) << error;
    return out;
  };
  backend::trace_query q;
  q.text = "alpha alpha";
  q.limit = 100;
  std::optional<backend::search_cursor> next;
  auto whole = list_traces(q, next);
  EXPECT_FALSE(next);
  EXPECT_EQ(std::set<std::string>(whole.begin(), whole.end()),
            std::set<std::string>(c.matching_traces.begin(), c.matching_traces.end()));

  q.one_window = true;
  q.window = 250;
  list together;
  for (int answers = 0;; ++answers) {
    auto part = list_traces(q, next);
    together.insert(together.end(), part.begin(), part.end());
    if (!next) break;
    q.before = next;
    ASSERT_LT(answers, 100);
  }
  EXPECT_EQ(together, c.matching_traces) << "in the order of their newest match, each once";

  // A list that fills up stops: the first 3 traces, no "next".
  q.before.reset();
  q.limit = 3;
  q.window = 6000;
  auto three = list_traces(q, next);
  EXPECT_EQ(std::set<std::string>(three.begin(), three.end()),
            std::set<std::string>(c.matching_traces.begin(), c.matching_traces.begin() + 3));
  EXPECT_FALSE(next);
}

// The trace list's search (GET /api/traces?q=, over real HTTP to a server in this process, whose
// store has no background indexer): a trace whose record was committed just now, beyond the
// index, is found exactly as one the index holds.
TEST(search_index, the_trace_list_finds_a_trace_committed_just_now) {
  temp_dir dir;
  auto s = open_store(dir.file("traces.db"));
  ASSERT_TRUE(s);
  auto indexed = row("charge {card}", "charge card 4242", R"({"gateway":"stripe-eu"})");
  auto other = row("refund", "refund card 1111", R"({"gateway":"adyen"})");
  write(*s, {indexed, other});
  ASSERT_TRUE(s->index_now());
  ASSERT_EQ(indexed_to(*s), 2);

  backend::server srv(*s, {.port = 0});
  std::string error;
  ASSERT_TRUE(srv.bind(error)) << error;
  std::thread io([&] { srv.run(); });
  const std::string fresh_trace = "0123456789abcdef0123456789abcdef";
  span_spec fresh;
  fresh.trace_id = fresh_trace;
  fresh.span_id = "1111111111111111";
  fresh.name = "checkout";
  fresh.attributes = {kv("gateway", "Stripe-EU"), kv("order", "ORD-77-fresh")};
  ASSERT_EQ(post(srv.port(), "/v1/traces", trace_request({fresh}, "shop").SerializeAsString()).status, 200);
  EXPECT_EQ(indexed_to(*s), 2) << "the new record is beyond the index";

  // The trace ids a search lists, in order.
  auto traces = [&](const std::string& query) {
    auto reply = get(srv.port(), "/api/traces?" + query);
    EXPECT_EQ(reply.status, 200) << query << ": " << reply.body;
    list out;
    const std::string key = R"("trace_id":")";
    for (auto at = reply.body.find(key); at != std::string::npos; at = reply.body.find(key, at + 1)) {
      out.push_back(reply.body.substr(at + key.size(), 32));
    }
    return out;
  };
  auto searches = [&] {
    EXPECT_EQ(traces("q=ord-77-FRESH"), list{fresh_trace}) << "only the new record holds it";
    EXPECT_EQ(traces("q=stripe-eu"), (list{fresh_trace, indexed.trace_id})) << "one indexed, one not";
    EXPECT_EQ(traces("q=adyen"), list{other.trace_id});
    EXPECT_EQ(traces("q=stripe-eu&service=shop"), list{fresh_trace});
    EXPECT_EQ(traces("q=stripe-eu&since=1h"), (list{fresh_trace, indexed.trace_id}));
    EXPECT_EQ(traces("q=stripe-eu&until=1h"), list{});
  };
  searches();
  ASSERT_TRUE(s->index_now());
  EXPECT_EQ(indexed_to(*s), 3);
  searches();  // the same answers through the index
  srv.stop();
  io.join();
}

}  // namespace
}  // namespace logfire::backend_test
