// The web view's server side: the page and its assets are served from the binary, and the JSON
// API returns recent traces, one trace's records and read-only SQL results. (The browser test in
// tests/browser/ checks what the page renders.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

#include "backend/backend_support.hpp"

namespace logfire::backend_test {
namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

constexpr const char* kTrace = "5a1b2c3d4e5f60718293a4b5c6d7e8f9";

void send_trace(int port) {
  span_spec root;
  root.trace_id = kTrace;
  root.span_id = "aaaaaaaaaaaaaaa1";
  root.name = "handle {route}";
  root.attributes = {kv("logfire.msg", "handle /pay"), kv("route", "/pay")};
  span_spec failing = root;
  failing.span_id = "aaaaaaaaaaaaaaa2";
  failing.parent_span_id = root.span_id;
  failing.name = "charge";
  failing.attributes = {kv("amount", std::int64_t{1200})};
  failing.error = true;
  failing.exception = std::make_pair("CardDeclined", "insufficient funds");
  failing.stacktrace = "at charge()";
  ASSERT_EQ(post(port, "/v1/traces", trace_request({root, failing}, "web-svc").SerializeAsString()).status, 200);
}

TEST(web_api, page_assets_and_api_answer) {
  temp_dir dir;
  serve_process serve(dir.file("web.db"));
  ASSERT_TRUE(serve.started()) << serve.output();
  send_trace(serve.port());

  auto page = get(serve.port(), "/");
  ASSERT_EQ(page.status, 200);
  EXPECT_TRUE(contains(page.content_type, "text/html"));
  EXPECT_TRUE(contains(page.body, "<script src=\"assets/app.js\">")) << page.body;
  auto js = get(serve.port(), "/assets/app.js");
  ASSERT_EQ(js.status, 200);
  EXPECT_TRUE(contains(js.content_type, "javascript"));
  EXPECT_TRUE(contains(js.body, "renderWaterfall"));
  EXPECT_EQ(get(serve.port(), "/assets/style.css").status, 200);
  EXPECT_EQ(get(serve.port(), "/assets/missing.js").status, 404);

  auto traces = get(serve.port(), "/api/traces");
  ASSERT_EQ(traces.status, 200);
  EXPECT_TRUE(contains(traces.body, std::string(R"("trace_id":")") + kTrace)) << traces.body;
  EXPECT_TRUE(contains(traces.body, R"("span_count":2,"log_count":0,"error_count":1)")) << traces.body;
  EXPECT_TRUE(contains(traces.body, R"("root_message":"handle /pay","service_name":"web-svc")")) << traces.body;

  auto trace = get(serve.port(), std::string("/api/trace/") + kTrace);
  ASSERT_EQ(trace.status, 200);
  EXPECT_TRUE(contains(trace.body, R"("attributes":{"amount":1200})")) << trace.body;
  EXPECT_TRUE(contains(trace.body, R"("exception_type":"CardDeclined","exception_message":"insufficient funds")"))
      << trace.body;
  EXPECT_TRUE(contains(trace.body, R"("parent_span_id":"aaaaaaaaaaaaaaa1")")) << trace.body;
  auto unknown = get(serve.port(), "/api/trace/00000000000000000000000000000001");
  EXPECT_EQ(unknown.status, 200);
  EXPECT_TRUE(contains(unknown.body, R"("records":[])")) << unknown.body;

  auto q = post(serve.port(), "/api/query", "SELECT span_name, level FROM records ORDER BY level", "text/plain");
  ASSERT_EQ(q.status, 200) << q.body;
  EXPECT_EQ(q.body,
            R"({"columns":["span_name","level"],"rows":[["handle {route}",9],["charge",17]],"truncated":false})");
  auto q_json = post(serve.port(), "/api/query", R"({"sql":"SELECT count(*) AS n FROM records"})", "application/json");
  EXPECT_EQ(q_json.body, R"({"columns":["n"],"rows":[[2]],"truncated":false})");
  auto write = post(serve.port(), "/api/query", "DROP TABLE records", "text/plain");
  EXPECT_EQ(write.status, 400);
  EXPECT_EQ(write.body, R"({"error":"attempt to write a readonly database"})");
  auto bad = post(serve.port(), "/api/query", "SELEC 1", "text/plain");
  EXPECT_EQ(bad.status, 400);
  EXPECT_TRUE(contains(bad.body, "syntax error")) << bad.body;
  EXPECT_EQ(sql_count(dir.file("web.db"), "SELECT count(*) FROM records"), 2);
}

TEST(web_api, pages_refuse_foreign_host_names) {
  temp_dir dir;
  serve_process serve(dir.file("host.db"));
  ASSERT_TRUE(serve.started()) << serve.output();
  // A page on another site that rebinds its DNS name to 127.0.0.1 must not read the data.
  EXPECT_EQ(get(serve.port(), "/api/traces", {{"Host", "attacker.example:4318"}}).status, 403);
  EXPECT_EQ(get(serve.port(), "/api/traces", {{"Host", "localhost:4318"}}).status, 200);
}

TEST(web_api, an_in_memory_database_serves_its_own_data) {
  serve_process serve(":memory:");
  ASSERT_TRUE(serve.started()) << serve.output();
  send_trace(serve.port());
  auto q = post(serve.port(), "/api/query", "SELECT count(*) FROM records", "text/plain");
  EXPECT_EQ(q.body, R"J({"columns":["count(*)"],"rows":[[2]],"truncated":false})J");
  auto traces = get(serve.port(), "/api/traces");
  EXPECT_TRUE(contains(traces.body, kTrace)) << traces.body;
}

}  // namespace
}  // namespace logfire::backend_test

namespace logfire::backend_test {
namespace {

TEST(web_api, records_are_searched_and_filtered_newest_first) {
  temp_dir dir;
  serve_process serve(dir.file("records.db"));
  ASSERT_TRUE(serve.started()) << serve.output();
  send_trace(serve.port());
  span_spec other;
  other.trace_id = "00000000000000000000000000000abc";
  other.span_id = "ccccccccccccccc1";
  other.name = "other work";
  other.attributes = {kv("note", "nested {\"deep\": \"PAYLOAD-7\"}")};
  ASSERT_EQ(post(serve.port(), "/v1/traces", trace_request({other}, "other-svc").SerializeAsString()).status, 200);

  auto all = get(serve.port(), "/api/records");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_TRUE(contains(all.body, "\"span_name\":\"charge\"") && contains(all.body, "\"span_name\":\"other work\""))
      << all.body;
  // Text over attribute values (case-insensitive), percent-encoded as a browser sends it.
  auto by_text = get(serve.port(), "/api/records?q=payload%2D7");
  ASSERT_EQ(by_text.status, 200);
  EXPECT_TRUE(contains(by_text.body, "other work")) << by_text.body;
  EXPECT_FALSE(contains(by_text.body, "charge")) << by_text.body;
  // Span names and messages.
  EXPECT_TRUE(contains(get(serve.port(), "/api/records?q=handle%20%2Fpay").body, R"("message":"handle /pay")"));
  // Service, and errors only (level >= 17).
  auto by_service = get(serve.port(), "/api/records?service=other-svc").body;
  EXPECT_TRUE(contains(by_service, "other work") && !contains(by_service, "charge")) << by_service;
  auto errors = get(serve.port(), "/api/records?level=17").body;
  EXPECT_TRUE(contains(errors, "\"span_name\":\"charge\"")) << errors;
  EXPECT_FALSE(contains(errors, "other work") || contains(errors, "handle {route}")) << errors;
  // A time range: the spans were sent now, so the last hour holds them; a limit cuts and says so.
  EXPECT_TRUE(contains(get(serve.port(), "/api/records?since=3600").body, "other work"));
  EXPECT_TRUE(contains(get(serve.port(), "/api/records?limit=1").body, "\"truncated\":true"));
  EXPECT_EQ(get(serve.port(), "/api/records?q=" + std::string(500, 'x')).status, 400);
  EXPECT_EQ(get(serve.port(), "/api/records?q=%zz").status, 400);
}

}  // namespace
}  // namespace logfire::backend_test

namespace logfire::backend_test {
namespace {

TEST(web_api, the_trace_list_filters_by_service_and_duration) {
  temp_dir dir;
  serve_process serve(dir.file("filters.db"));
  ASSERT_TRUE(serve.started()) << serve.output();
  send_trace(serve.port());  // web-svc, 1 ms spans
  span_spec slow;
  slow.trace_id = "00000000000000000000000000000def";
  slow.span_id = "ddddddddddddddd1";
  slow.name = "slow batch";
  slow.duration_ns = 2'500'000'000;
  ASSERT_EQ(post(serve.port(), "/v1/traces", trace_request({slow}, "batch-svc").SerializeAsString()).status, 200);

  auto by_service = get(serve.port(), "/api/traces?service=batch%2Dsvc").body;
  EXPECT_TRUE(contains(by_service, slow.trace_id) && !contains(by_service, kTrace)) << by_service;
  auto slow_only = get(serve.port(), "/api/traces?min_duration_ms=1000").body;
  EXPECT_TRUE(contains(slow_only, slow.trace_id) && !contains(slow_only, kTrace)) << slow_only;
  auto both = get(serve.port(), "/api/traces?min_duration_ms=0.5").body;
  EXPECT_TRUE(contains(both, slow.trace_id) && contains(both, kTrace)) << both;
  EXPECT_EQ(get(serve.port(), "/api/traces?service=%zz").status, 400);
}

}  // namespace
}  // namespace logfire::backend_test

namespace logfire::backend_test {
namespace {

// The trace ids of a /api/traces answer, in its order.
std::vector<std::string> listed(const http_reply& reply) {
  std::vector<std::string> ids;
  const std::string key = R"("trace_id":")";
  for (auto at = reply.body.find(key); at != std::string::npos; at = reply.body.find(key, at + 1)) {
    ids.push_back(reply.body.substr(at + key.size(), 32));
  }
  return ids;
}

using ids = std::vector<std::string>;

// "2026-12-05T10:00:00Z" for Unix nanoseconds.
std::string rfc3339(std::uint64_t ns) {
  std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

TEST(web_api, the_trace_list_searches_text_and_a_time_range) {
  temp_dir dir;
  serve_process serve(dir.file("trace_search.db"));
  ASSERT_TRUE(serve.started()) << serve.output();
  const int port = serve.port();
  send_trace(port);  // kTrace: "handle /pay" and the failing "charge" (CardDeclined), now
  span_spec other;
  other.trace_id = "00000000000000000000000000000abc";
  other.span_id = "ccccccccccccccc1";
  other.name = "other work";
  other.attributes = {kv("note", "PAYLOAD-7 queued")};
  ASSERT_EQ(post(port, "/v1/traces", trace_request({other}, "other-svc").SerializeAsString()).status, 200);
  const std::uint64_t three_hours_ago = now_ns() - 3 * 3'600'000'000'000ULL;
  span_spec old;
  old.trace_id = "00000000000000000000000000000001";
  old.span_id = "eeeeeeeeeeeeeee1";
  old.name = "nightly report";
  old.start_ns = three_hours_ago;
  old.attributes = {kv("note", "payload-7 archived")};
  span_spec old_child = old;
  old_child.span_id = "eeeeeeeeeeeeeee2";
  old_child.parent_span_id = old.span_id;
  old_child.name = "render";
  old_child.start_ns = three_hours_ago + 60'000'000'000ULL;  // a minute into the trace
  old_child.attributes = {};
  ASSERT_EQ(post(port, "/v1/traces", trace_request({old, old_child}, "batch-svc").SerializeAsString()).status, 200);

  // A text only one trace holds (in a child span's exception type, any case): that trace alone.
  EXPECT_EQ(listed(get(port, "/api/traces?q=carddeclined")), ids{kTrace});
  // In attribute values: two traces, newest first; a short text (a LIKE scan) alike.
  EXPECT_EQ(listed(get(port, "/api/traces?q=payload%2D7")), (ids{other.trace_id, old.trace_id}));
  EXPECT_EQ(listed(get(port, "/api/traces?q=%2Fp")), ids{kTrace});
  EXPECT_EQ(listed(get(port, "/api/traces?q=no+such+text")), ids{});
  // Errors only and service select the same record as the text (as in the Records view).
  EXPECT_EQ(listed(get(port, "/api/traces?q=charge&errors=1")), ids{kTrace});
  EXPECT_EQ(listed(get(port, "/api/traces?q=handle&errors=1")), ids{});
  EXPECT_EQ(listed(get(port, "/api/traces?q=payload-7&service=batch-svc")), ids{old.trace_id});

  // A time range on the trace's start: durations before now, and RFC 3339 times.
  auto recent = listed(get(port, "/api/traces?since=1h"));
  EXPECT_EQ(recent.size(), 2u);
  EXPECT_TRUE(std::find(recent.begin(), recent.end(), old.trace_id) == recent.end());
  EXPECT_EQ(listed(get(port, "/api/traces?q=payload-7&since=15m")), ids{other.trace_id});
  EXPECT_EQ(listed(get(port, "/api/traces?until=1h")), ids{old.trace_id});
  EXPECT_EQ(listed(get(port, "/api/traces?q=payload-7&since=4h&until=2h")), ids{old.trace_id});
  EXPECT_EQ(listed(get(port, "/api/traces?since=" + rfc3339(three_hours_ago - 60'000'000'000ULL) +
                                 "&until=" + rfc3339(three_hours_ago + 60'000'000'000ULL))),
            ids{old.trace_id});
  // The trace started before `since` (its child after it): not listed, though a record is in range.
  EXPECT_EQ(listed(get(port, "/api/traces?since=" + rfc3339(three_hours_ago + 30'000'000'000ULL) +
                                 "&until=" + rfc3339(three_hours_ago + 7'200'000'000'000ULL))),
            ids{});
  // A text matching only a record after `until` still lists a trace that started before it.
  EXPECT_EQ(listed(get(port, "/api/traces?q=render&until=" + rfc3339(three_hours_ago + 30'000'000'000ULL))),
            ids{old.trace_id});

  // Bounded inputs: 400 with the reason.
  EXPECT_EQ(get(port, "/api/traces?q=" + std::string(400, 'x')).status, 200);
  auto long_text = get(port, "/api/traces?q=" + std::string(401, 'x'));
  EXPECT_EQ(long_text.status, 400);
  EXPECT_TRUE(contains(long_text.body, "longer than 400 bytes")) << long_text.body;
  EXPECT_EQ(get(port, "/api/traces?q=%zz").status, 400);
  for (const char* bad : {"since=soon", "since=-5m", "since=1e99", "until=5x", "since=2026-13-01T00:00:00Z",
                          "until=2026-12-05T10:00:00+0100", "since=2026-12-05T10:00:00.1234567890Z"}) {
    auto r = get(port, std::string("/api/traces?") + bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_TRUE(contains(r.body, "RFC 3339")) << bad << ": " << r.body;
  }
  // /api/records reads `since` with the same parser.
  EXPECT_EQ(get(port, "/api/records?since=soon").status, 400);
  EXPECT_TRUE(contains(get(port, "/api/records?since=15m").body, "other work"));
}

// The "next" of an answer: its cursor percent-encoded for a `before=`, or "" for null.
std::string next_of(const http_reply& reply) {
  const std::string key = R"("next":")";
  auto at = reply.body.find(key);
  if (at == std::string::npos) {
    EXPECT_TRUE(contains(reply.body, R"("next":null)")) << reply.body;
    return "";
  }
  std::string encoded;
  for (auto i = at + key.size(); i < reply.body.size() && reply.body[i] != '"'; ++i) {
    char c = reply.body[i];
    if (std::isalnum(static_cast<unsigned char>(c))) {
      encoded += c;
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(c));
      encoded += hex;
    }
  }
  return encoded;
}

// A trace larger than one answer (here --query-max-bytes of 64 KiB: about 100 records) is read
// in pages: each answer says where the next starts ("next", with "truncated"), and the pages
// together hold every record once, by start.
TEST(web_api, a_large_trace_is_read_in_pages) {
  temp_dir dir;
  serve_process serve(dir.file("pages.db"), {"--query-max-bytes", "64KiB"});
  ASSERT_TRUE(serve.started()) << serve.output();
  const int port = serve.port();
  const std::uint64_t t0 = now_ns() - 60'000'000'000ULL;
  std::vector<span_spec> spans;
  for (int i = 0; i < 500; ++i) {
    span_spec s;
    s.trace_id = kTrace;
    s.span_id = "bbbbbbbbbbbb" + std::to_string(1000 + i);
    s.parent_span_id = i == 0 ? "" : "bbbbbbbbbbbb1000";
    s.name = "step " + std::to_string(i);
    s.start_ns = t0 + static_cast<std::uint64_t>((i * 7) % 500) * 1'000'000;  // starts out of arrival order
    s.attributes = {kv("payload", std::string(300, 'x'))};
    spans.push_back(s);
  }
  ASSERT_EQ(post(port, "/v1/traces", trace_request(spans, "web-svc").SerializeAsString()).status, 200);

  std::vector<std::string> names;
  std::string after;
  int pages = 0;
  do {
    auto page = get(port, std::string("/api/trace/") + kTrace + (after.empty() ? "" : "?after=" + after));
    ASSERT_EQ(page.status, 200) << page.body;
    ++pages;
    const std::string key = R"("span_name":")";
    for (auto at = page.body.find(key); at != std::string::npos; at = page.body.find(key, at + 1)) {
      names.push_back(page.body.substr(at + key.size(), page.body.find('"', at + key.size()) - at - key.size()));
    }
    after = next_of(page);
    EXPECT_EQ(contains(page.body, R"("truncated":true)"), !after.empty()) << page.body.substr(page.body.size() - 200);
    ASSERT_LT(pages, 50);
  } while (!after.empty());
  EXPECT_GE(pages, 3);
  ASSERT_EQ(names.size(), 500u);
  // By start: step i starts at (7 i mod 500) ms, so the k-th record is the step with 7 i = k.
  for (int k = 0; k < 500; ++k) {
    int i = 0;
    while ((i * 7) % 500 != k) ++i;
    ASSERT_EQ(names[static_cast<std::size_t>(k)], "step " + std::to_string(i)) << k;
  }
  EXPECT_EQ(get(port, std::string("/api/trace/") + kTrace + "?after=nonsense").status, 400);
}

// A search that has to read records one by one (here a two-character text, and a service
// filter) reads --search-window records per answer at most; an answer that stopped there says
// where to go on, and the answers that follow find the rest.
TEST(web_api, a_search_answers_after_one_window_and_says_where_to_go_on) {
  temp_dir dir;
  serve_process serve(dir.file("windows.db"), {"--search-window", "20"});
  ASSERT_TRUE(serve.started()) << serve.output();
  const int port = serve.port();
  span_spec old;
  old.trace_id = "00000000000000000000000000000001";
  old.span_id = "eeeeeeeeeeeeeee1";
  old.name = "nightly report";
  old.start_ns = now_ns() - 3 * 3'600'000'000'000ULL;
  old.attributes = {kv("note", "ZQ archive")};
  ASSERT_EQ(post(port, "/v1/traces", trace_request({old}, "batch-svc").SerializeAsString()).status, 200);
  std::vector<span_spec> newer;
  for (int i = 0; i < 45; ++i) {
    span_spec s;
    s.trace_id = "000000000000000000000000000000a" + std::to_string(i % 3);
    s.span_id = "aaaaaaaaaaaaa" + std::to_string(100 + i);
    s.name = "tick " + std::to_string(i);
    newer.push_back(s);
  }
  ASSERT_EQ(post(port, "/v1/traces", trace_request(newer, "web-svc").SerializeAsString()).status, 200);

  // The first answer read the newest 20 records: no match there, and where to go on.
  auto first = get(port, "/api/traces?q=zq");
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(listed(first), ids{});
  std::string next = next_of(first);
  ASSERT_FALSE(next.empty()) << first.body;
  ids found;
  int answers = 1;
  while (!next.empty() && answers < 10) {
    auto more = get(port, "/api/traces?q=zq&before=" + next);
    ASSERT_EQ(more.status, 200) << more.body;
    auto part = listed(more);
    found.insert(found.end(), part.begin(), part.end());
    next = next_of(more);
    ++answers;
  }
  EXPECT_EQ(found, ids{old.trace_id});
  EXPECT_EQ(answers, 3) << "46 records, 20 per answer";
  // A text the newest records hold fills the list at once; one through the index answers whole.
  EXPECT_EQ(listed(get(port, "/api/traces?q=ti&limit=3")).size(), 3u);
  EXPECT_EQ(next_of(get(port, "/api/traces?q=ti&limit=3")), "");
  EXPECT_EQ(next_of(get(port, "/api/traces?q=archive")), "");
  EXPECT_EQ(listed(get(port, "/api/traces?q=archive")), ids{old.trace_id});

  // The Records view alike, for a text and for a service.
  auto records = get(port, "/api/records?q=zq");
  EXPECT_FALSE(contains(records.body, "nightly report")) << records.body;
  next = next_of(records);
  ASSERT_FALSE(next.empty());
  std::string rest;
  for (int i = 0; i < 10 && !next.empty(); ++i) {
    auto more = get(port, "/api/records?q=zq&before=" + next);
    ASSERT_EQ(more.status, 200) << more.body;
    rest += more.body;
    next = next_of(more);
  }
  EXPECT_TRUE(contains(rest, R"("span_name":"nightly report")")) << rest;
  auto by_service = get(port, "/api/records?service=batch-svc");
  EXPECT_FALSE(contains(by_service.body, "nightly report"));
  EXPECT_FALSE(next_of(by_service).empty());

  // A cursor is only what an answer gave; the trace list takes one with a text only.
  EXPECT_EQ(get(port, "/api/traces?q=zq&before=yesterday").status, 400);
  EXPECT_EQ(get(port, "/api/records?before=2026-12-05%2010%3A00%3A00.000000%2Fx").status, 400);
  EXPECT_EQ(get(port, "/api/traces?before=2026-12-05%2010%3A00%3A00.000000%2F7").status, 400);
  EXPECT_EQ(get(port, "/api/records?before=2026-12-05%2010%3A00%3A00.000000%2F7").status, 200);
}

}  // namespace
}  // namespace logfire::backend_test
