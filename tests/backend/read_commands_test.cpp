// `logfire-cpp search`, `trace`, `--json` on every read command, and `logfire-cpp mcp` driven
// over stdio with recorded JSON-RPC requests, against a database filled through `serve`. JSON
// answers are read with SQLite's own JSON functions (an independent parser).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <ctime>
#include <filesystem>

#include "backend/backend_support.hpp"

namespace logfire::backend_test {
namespace {

// "2026-12-05T09:14:03Z": `hours` before now, as --since and MCP's since take a time.
std::string rfc3339_hours_ago(int hours) {
  const std::time_t t =
      std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() - std::chrono::hours(hours));
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// json_extract(doc, path) as text ("" for SQL NULL, "<invalid>" when doc is not JSON).
std::string json_at(const std::string& doc, const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open(":memory:", &db);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "SELECT json_valid(?1), json_extract(?1, ?2)", -1, &s, nullptr);
  sqlite3_bind_text(s, 1, doc.data(), static_cast<int>(doc.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 2, path.data(), static_cast<int>(path.size()), SQLITE_TRANSIENT);
  std::string out = "<invalid>";
  if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) == 1) {
    const unsigned char* t = sqlite3_column_text(s, 1);
    out = t != nullptr ? reinterpret_cast<const char*>(t) : "";
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

constexpr const char* kTrace = "5bf92f3577b34da6a3ce929d0e0e4737";
constexpr const char* kOldTrace = "6bf92f3577b34da6a3ce929d0e0e4738";

class read_commands : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new temp_dir();
    serve_process serve(db());
    ASSERT_TRUE(serve.started()) << serve.output();
    std::uint64_t t0 = now_ns() - 60'000'000'000ULL;  // a minute ago
    span_spec root;
    root.trace_id = kTrace;
    root.span_id = "2000000000000001";
    root.name = "POST /checkout";
    root.start_ns = t0;
    root.duration_ns = 300'000'000;
    root.attributes = {kv("logfire.msg", "POST /checkout"), kv_tags({"web"}), kv("user", "ada")};
    span_spec charge = root;
    charge.span_id = "2000000000000002";
    charge.parent_span_id = root.span_id;
    charge.name = "charge {card}";
    charge.start_ns = t0 + 10'000'000;
    charge.duration_ns = 100'000'000;
    charge.attributes = {kv("logfire.msg", "charge card 4242"), kv("gateway", "stripe-eu")};
    charge.error = true;
    charge.exception = std::make_pair("PaymentDeclined", "card 4242 declined");
    span_spec log = root;
    log.span_id = "2000000000000003";
    log.parent_span_id = charge.span_id;
    log.name = "retrying";
    log.start_ns = t0 + 20'000'000;
    log.duration_ns = 0;
    log.attributes = {kv("logfire.span_type", "log"), kv("logfire.level_num", std::int64_t{13}),
                      kv("logfire.msg", "retrying payment 100%_sure")};
    auto reply = post(serve.port(), "/v1/traces", trace_request({root, charge, log}, "shop").SerializeAsString());
    ASSERT_EQ(reply.status, 200);
    span_spec old;  // two hours ago, another service
    old.trace_id = kOldTrace;
    old.span_id = "3000000000000001";
    old.name = "nightly charge report";
    old.start_ns = now_ns() - 7'200'000'000'000ULL;
    old.attributes = {kv("logfire.msg", "nightly charge report")};
    reply = post(serve.port(), "/v1/traces", trace_request({old}, "batch").SerializeAsString());
    ASSERT_EQ(reply.status, 200);
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string db() { return dir_->file("read.db"); }
  static temp_dir* dir_;
};
temp_dir* read_commands::dir_ = nullptr;

TEST_F(read_commands, search_matches_names_messages_attributes_and_exceptions) {
  auto r = run_cli({"search", "--db", db(), "--color", "never", "charge"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;  // the charge span (and its exception line), the nightly report
  EXPECT_TRUE(contains(lines[0], "charge card 4242")) << r.out;
  EXPECT_TRUE(contains(lines[0], "shop")) << "the service is shown";
  EXPECT_TRUE(contains(lines[1], "PaymentDeclined: card 4242 declined")) << r.out;
  EXPECT_TRUE(contains(lines[2], "nightly charge report")) << r.out;

  // An attribute value, case-insensitively; an exception message; LIKE's wildcards are literal.
  EXPECT_TRUE(contains(run_cli({"search", "--db", db(), "STRIPE-EU"}).out, "charge card 4242"));
  EXPECT_TRUE(contains(run_cli({"search", "--db", db(), "declined"}).out, "charge card 4242"));
  EXPECT_TRUE(contains(run_cli({"search", "--db", db(), "100%_s"}).out, "retrying payment"));
  auto none = run_cli({"search", "--db", db(), "100%%"});
  EXPECT_EQ(none.out, "") << "'%' is matched literally";
  EXPECT_TRUE(contains(none.err, "no records match"));
}

TEST_F(read_commands, search_uses_the_index_from_three_characters_and_scans_below) {
  // Two characters: the scan (the trigram index cannot answer); a quote inside the text is part
  // of the substring, as in the attributes' JSON text.
  EXPECT_TRUE(contains(run_cli({"search", "--db", db(), "ad"}).out, "POST /checkout"));
  EXPECT_TRUE(contains(run_cli({"search", "--db", db(), "\"ada\""}).out, "POST /checkout"));
  EXPECT_EQ(run_cli({"search", "--db", db(), "\"adx"}).out, "");
  // The index holds every record that `records` holds (the indexer caught up behind the
  // commits, at the latest when serve stopped).
  EXPECT_EQ(sql_count(db(), "SELECT count(*) FROM records_fts"), sql_count(db(), "SELECT count(*) FROM records"));
}

TEST_F(read_commands, a_database_without_the_index_gets_it_filled_at_open) {
  temp_dir other;
  std::string copy = other.file("old.db");
  std::filesystem::copy_file(db(), copy);
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(copy.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "DROP TRIGGER records_fts_delete; DROP TABLE records_fts; DROP TABLE records_fts_state;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  EXPECT_TRUE(contains(run_cli({"search", "--db", copy, "STRIPE-EU"}).out, "charge card 4242")) << "no index: a scan";
  {
    serve_process serve(copy);
    ASSERT_TRUE(serve.started()) << serve.output();
    serve.stop();
    EXPECT_TRUE(contains(serve.output(), "indexed 4 existing records for search")) << serve.output();
  }
  EXPECT_TRUE(contains(run_cli({"search", "--db", copy, "STRIPE-EU"}).out, "charge card 4242"));
  EXPECT_EQ(sql_count(copy, "SELECT count(*) FROM records_fts"), 4);
}

TEST_F(read_commands, the_index_of_an_earlier_version_is_replaced_and_its_triggers_go) {
  // The index as the version before kept it: external content, positions, an insert trigger
  // writing it in every ingest transaction.
  temp_dir other;
  std::string copy = other.file("v1.db");
  std::filesystem::copy_file(db(), copy);
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(copy.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, R"sql(
DROP TRIGGER records_fts_delete; DROP TABLE records_fts; DROP TABLE records_fts_state;
CREATE VIRTUAL TABLE records_fts USING fts5(span_name, message, attributes, exception_type, exception_message,
  content = 'records', content_rowid = 'id', tokenize = 'trigram');
CREATE TRIGGER records_fts_insert AFTER INSERT ON records BEGIN
  INSERT INTO records_fts(rowid, span_name, message, attributes, exception_type, exception_message)
  VALUES (new.id, new.span_name, new.message, new.attributes, new.exception_type, new.exception_message);
END;
CREATE TRIGGER records_fts_delete AFTER DELETE ON records BEGIN
  INSERT INTO records_fts(records_fts, rowid, span_name, message, attributes, exception_type, exception_message)
  VALUES ('delete', old.id, old.span_name, old.message, old.attributes, old.exception_type, old.exception_message);
END;
INSERT INTO records_fts(records_fts) VALUES ('rebuild');
)sql",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  // The CLI reads such a database by the exact match alone (no watermark to trust).
  EXPECT_TRUE(contains(run_cli({"search", "--db", copy, "STRIPE-EU"}).out, "charge card 4242"));
  {
    serve_process serve(copy);
    ASSERT_TRUE(serve.started()) << serve.output();
    span_spec late;
    late.trace_id = "7bf92f3577b34da6a3ce929d0e0e4739";
    late.span_id = "4000000000000001";
    late.name = "late arrival";
    late.attributes = {kv("logfire.msg", "late arrival")};
    ASSERT_EQ(post(serve.port(), "/v1/traces", trace_request({late}, "shop").SerializeAsString()).status, 200);
    serve.stop();
    EXPECT_TRUE(contains(serve.output(), "the index of an earlier version is replaced")) << serve.output();
  }
  EXPECT_EQ(sql_count(copy, "SELECT count(*) FROM sqlite_master WHERE name = 'records_fts_insert'"), 0);
  EXPECT_EQ(sql_count(copy, "SELECT count(*) FROM records_fts"), 5);
  EXPECT_TRUE(contains(run_cli({"search", "--db", copy, "STRIPE-EU"}).out, "charge card 4242"));
  EXPECT_TRUE(contains(run_cli({"search", "--db", copy, "LATE ARRIVAL"}).out, "late arrival"));
}

TEST_F(read_commands, search_filters_by_service_age_and_level) {
  auto by_service = run_cli({"search", "--db", db(), "--json", "--service", "batch", "charge"});
  ASSERT_EQ(by_service.exit_code, 0) << by_service.err;
  EXPECT_EQ(json_at(by_service.out, "$.records[#-1].message"), "nightly charge report");
  EXPECT_EQ(json_at(by_service.out, "$.records[1]"), "");

  auto recent = run_cli({"search", "--db", db(), "--json", "--since", "15m", "charge"});
  EXPECT_EQ(json_at(recent.out, "$.records[0].span_name"), "charge {card}");
  EXPECT_EQ(json_at(recent.out, "$.records[1]"), "") << "the two-hour-old report is older than 15m";

  auto errors = run_cli({"search", "--db", db(), "--json", "--level", "warn", ""});
  EXPECT_EQ(json_at(errors.out, "$.records[0].level_name"), "warn") << errors.out;
  EXPECT_EQ(json_at(errors.out, "$.records[1].level_name"), "error");
  EXPECT_EQ(json_at(errors.out, "$.records[2]"), "");

  auto limited = run_cli({"search", "--db", db(), "--json", "--limit", "1", ""});
  EXPECT_EQ(json_at(limited.out, "$.truncated"), "1");
  EXPECT_EQ(run_cli({"search", "--db", db(), "--since", "soon", "x"}).exit_code, 2);
  EXPECT_EQ(run_cli({"search", "--db", db(), "--since", "50131346756", "x"}).exit_code, 2)
      << "1,589 years does not fit in Unix nanoseconds; it is refused, not overflowed";
  // An RFC 3339 time instead of a duration: an hour ago.
  const std::string hour_ago = rfc3339_hours_ago(1);
  auto absolute = run_cli({"search", "--db", db(), "--json", "--since", hour_ago, "charge"});
  ASSERT_EQ(absolute.exit_code, 0) << absolute.err;
  EXPECT_EQ(json_at(absolute.out, "$.records[0].span_name"), "charge {card}");
  EXPECT_EQ(json_at(absolute.out, "$.records[1]"), "") << "the two-hour-old report is older than " << hour_ago;
  auto century = run_cli({"search", "--db", db(), "--json", "--since", "36500d", "charge"});
  EXPECT_EQ(century.exit_code, 0) << century.err;
  EXPECT_EQ(json_at(century.out, "$.records[0].span_name"), "charge {card}");
  EXPECT_EQ(run_cli({"search", "--db", db(), "--level", "loud", "x"}).exit_code, 2);
}

TEST_F(read_commands, search_json_has_the_documented_shape) {
  auto r = run_cli({"search", "--db", db(), "--json", "4242"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string rec = "$.records[0].";
  EXPECT_EQ(json_at(r.out, "$.truncated"), "0");
  EXPECT_EQ(json_at(r.out, rec + "trace_id"), kTrace);
  EXPECT_EQ(json_at(r.out, rec + "span_id"), "2000000000000002");
  EXPECT_EQ(json_at(r.out, rec + "parent_span_id"), "2000000000000001");
  EXPECT_EQ(json_at(r.out, rec + "kind"), "span");
  EXPECT_EQ(json_at(r.out, rec + "level"), "17");
  EXPECT_EQ(json_at(r.out, rec + "level_name"), "error");
  EXPECT_EQ(json_at(r.out, rec + "service_name"), "shop");
  EXPECT_EQ(json_at(r.out, rec + "span_name"), "charge {card}");
  EXPECT_EQ(json_at(r.out, rec + "message"), "charge card 4242");
  EXPECT_EQ(json_at(r.out, rec + "duration"), "0.1");
  EXPECT_EQ(json_at(r.out, rec + "tags"), "[]");
  EXPECT_EQ(json_at(r.out, rec + "attributes.gateway"), "stripe-eu");
  EXPECT_EQ(json_at(r.out, rec + "exception.type"), "PaymentDeclined");
  EXPECT_EQ(json_at(r.out, rec + "exception.message"), "card 4242 declined");
  EXPECT_FALSE(json_at(r.out, rec + "start_timestamp").empty());
}

TEST_F(read_commands, trace_prints_the_tree_as_the_console_does) {
  auto r = run_cli({"trace", "--db", db(), "--color", "never", kTrace});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  // HH:MM:SS.mmm, then two spaces per depth.
  EXPECT_EQ(lines[0].substr(12), " POST /checkout [web]") << r.out;
  EXPECT_EQ(lines[1].substr(12), "   charge card 4242") << r.out;
  EXPECT_TRUE(contains(lines[2], "       PaymentDeclined: card 4242 declined")) << r.out;
  EXPECT_EQ(lines[3].substr(12), "     retrying payment 100%_sure") << r.out;

  auto j = run_cli({"trace", "--db", db(), "--json", std::string(kTrace)});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  EXPECT_EQ(json_at(j.out, "$.trace_id"), kTrace);
  EXPECT_EQ(json_at(j.out, "$.records[0].depth"), "0");
  EXPECT_EQ(json_at(j.out, "$.records[1].depth"), "1");
  EXPECT_EQ(json_at(j.out, "$.records[2].depth"), "2");
  EXPECT_EQ(json_at(j.out, "$.records[2].kind"), "log");
  EXPECT_EQ(json_at(j.out, "$.truncated"), "0");

  auto missing = run_cli({"trace", "--db", db(), "00000000000000000000000000000001"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(contains(missing.err, "no records with trace id")) << missing.err;
  EXPECT_EQ(run_cli({"trace", "--db", db(), "xyz"}).exit_code, 2);
}

TEST_F(read_commands, every_read_command_takes_json) {
  auto q = run_cli({"query", "--db", db(), "--json", "SELECT count(*) AS n FROM records"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  EXPECT_EQ(json_at(q.out, "$[0].n"), "4");
  auto t = run_cli({"traces", "--db", db(), "--json"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_EQ(json_at(t.out, "$.traces[0].trace_id"), kTrace);
  EXPECT_EQ(json_at(t.out, "$.traces[0].error_count"), "1");
  auto tail = run_cli({"tail", "--db", db(), "--json", "--no-follow", "--last", "10"});
  ASSERT_EQ(tail.exit_code, 0) << tail.err;
  auto lines = lines_of(tail.out);
  ASSERT_EQ(lines.size(), 4u) << tail.out;
  for (const auto& l : lines) EXPECT_NE(json_at(l, "$.trace_id"), "<invalid>") << l;
  EXPECT_EQ(json_at(lines[0], "$.message"), "POST /checkout") << "arrival order";
}

// ---- MCP -----------------------------------------------------------------------------------

// Runs `logfire-cpp mcp` with the given lines on stdin; its answer lines.
std::vector<std::string> mcp(const std::string& db, const std::vector<std::string>& requests,
                             const std::vector<std::string>& extra = {}) {
  std::string input;
  for (const auto& r : requests) input += r + "\n";
  std::vector<std::string> args = {"mcp", "--db", db};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = run_cli(args, input, std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return lines_of(r.out);
}

std::string tool_call(int id, const std::string& tool, const std::string& arguments) {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":"tools/call","params":{"name":")" + tool +
         R"(","arguments":)" + arguments + "}}";
}

TEST_F(read_commands, mcp_handshake_and_tool_list) {
  auto answers = mcp(
      db(),
      {
          R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"1"}}})",
          R"({"jsonrpc":"2.0","method":"notifications/initialized"})",
          R"({"jsonrpc":"2.0","id":"two","method":"tools/list"})",
          R"({"jsonrpc":"2.0","id":3,"method":"ping"})",
          R"({"jsonrpc":"2.0","id":4,"method":"initialize","params":{"protocolVersion":"1999-01-01"}})",
      });
  ASSERT_EQ(answers.size(), 4u) << "the notification is not answered";
  EXPECT_EQ(json_at(answers[0], "$.jsonrpc"), "2.0");
  EXPECT_EQ(json_at(answers[0], "$.id"), "1");
  EXPECT_EQ(json_at(answers[0], "$.result.protocolVersion"), "2025-06-18") << "a known version is echoed";
  EXPECT_EQ(json_at(answers[0], "$.result.serverInfo.name"), "logfire-cpp");
  EXPECT_NE(json_at(answers[0], "$.result.capabilities.tools"), "");
  EXPECT_EQ(json_at(answers[1], "$.id"), "two");
  EXPECT_EQ(json_at(answers[1], "$.result.tools[0].name"), "recent_traces");
  EXPECT_EQ(json_at(answers[1], "$.result.tools[1].name"), "get_trace");
  EXPECT_EQ(json_at(answers[1], "$.result.tools[2].name"), "search");
  EXPECT_EQ(json_at(answers[1], "$.result.tools[3].name"), "query_sql");
  EXPECT_EQ(json_at(answers[1], "$.result.tools[3].inputSchema.required[0]"), "sql");
  EXPECT_EQ(json_at(answers[2], "$.result"), "{}");
  EXPECT_EQ(json_at(answers[3], "$.result.protocolVersion"), "2025-11-25") << "an unknown version gets the latest";
}

TEST_F(read_commands, mcp_answers_what_failed_in_the_last_five_minutes) {
  auto answers =
      mcp(db(), {
                    tool_call(1, "search", R"({"since":"5m","level":"error"})"),
                    tool_call(2, "recent_traces", R"({"errors_only":true})"),
                    tool_call(3, "get_trace", std::string(R"({"trace_id":")") + kTrace + "\"}"),
                    tool_call(4, "query_sql", R"({"sql":"SELECT count(*) AS n FROM records WHERE level >= 17"})"),
                });
  ASSERT_EQ(answers.size(), 4u);
  EXPECT_EQ(json_at(answers[0], "$.result.isError"), "0") << answers[0];
  EXPECT_EQ(json_at(answers[0], "$.result.structuredContent.records[0].message"), "charge card 4242");
  EXPECT_EQ(json_at(answers[0], "$.result.structuredContent.records[1]"), "");
  std::string text = json_at(answers[0], "$.result.content[0].text");
  EXPECT_EQ(json_at(text, "$.records[0].exception.type"), "PaymentDeclined") << "the text content is the same JSON";
  EXPECT_EQ(json_at(answers[1], "$.result.structuredContent.traces[0].trace_id"), kTrace);
  EXPECT_EQ(json_at(answers[1], "$.result.structuredContent.traces[1]"), "");
  EXPECT_EQ(json_at(answers[2], "$.result.structuredContent.records[2].depth"), "2");
  EXPECT_EQ(json_at(answers[3], "$.result.structuredContent.rows[0][0]"), "1");
}

TEST_F(read_commands, mcp_search_since_takes_an_rfc3339_time) {
  auto answers = mcp(db(), {tool_call(1, "search", R"({"text":"charge","since":")" + rfc3339_hours_ago(1) + "\"}"),
                            tool_call(2, "search", R"({"text":"charge","since":"yesterday"})")});
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(json_at(answers[0], "$.result.structuredContent.records[0].span_name"), "charge {card}") << answers[0];
  EXPECT_EQ(json_at(answers[0], "$.result.structuredContent.records[1]"), "") << answers[0];
  EXPECT_EQ(json_at(answers[1], "$.result.isError"), "1") << answers[1];
}

TEST_F(read_commands, mcp_refuses_a_duration_too_long_for_nanoseconds) {
  // Found by the mcp_line fuzzer: 50,131,346,756 seconds overflowed int64 nanoseconds.
  auto answers = mcp(db(), {tool_call(1, "search", R"({"text":"x","since":"000000000050131346756"})")});
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(json_at(answers[0], "$.result.isError"), "1") << answers[0];
}

TEST_F(read_commands, mcp_errors_follow_json_rpc_and_the_server_goes_on) {
  std::string long_line =
      R"({"jsonrpc":"2.0","id":9,"method":"ping","params":{"pad":")" + std::string(5000, 'x') + "\"}}";
  auto answers = mcp(db(),
                     {
                         "{not json",
                         R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])",
                         R"({"jsonrpc":"1.0","id":2,"method":"ping"})",
                         R"({"jsonrpc":"2.0","id":3,"method":"resources/list"})",
                         tool_call(4, "drop_tables", "{}"),
                         tool_call(5, "query_sql", R"({"sql":"DELETE FROM records"})"),
                         tool_call(6, "search", R"({"limit":"many"})"),
                         long_line,
                         R"({"jsonrpc":"2.0","id":7,"method":"ping"})",
                     },
                     {"--max-line", "4KiB"});
  ASSERT_EQ(answers.size(), 9u);
  EXPECT_EQ(json_at(answers[0], "$.error.code"), "-32700");
  EXPECT_EQ(json_at(answers[0], "$.id"), "");
  EXPECT_EQ(json_at(answers[1], "$.error.code"), "-32600") << "batches are not part of MCP";
  EXPECT_EQ(json_at(answers[2], "$.error.code"), "-32600");
  EXPECT_EQ(json_at(answers[2], "$.id"), "2");
  EXPECT_EQ(json_at(answers[3], "$.error.code"), "-32601");
  EXPECT_EQ(json_at(answers[4], "$.error.code"), "-32602") << "an unknown tool is a protocol error";
  EXPECT_EQ(json_at(answers[5], "$.result.isError"), "1") << "writing SQL is a tool error the model can read";
  EXPECT_TRUE(contains(json_at(answers[5], "$.result.content[0].text"), "readonly")) << answers[5];
  EXPECT_EQ(json_at(answers[6], "$.result.isError"), "1");
  EXPECT_TRUE(contains(answers[7], "longer than 4096 bytes")) << answers[7];
  EXPECT_EQ(json_at(answers[7], "$.error.code"), "-32600");
  EXPECT_EQ(json_at(answers[8], "$.id"), "7") << "the server went on";
  EXPECT_EQ(sql_count(db(), "SELECT count(*) FROM records"), 4);
}

TEST_F(read_commands, mcp_without_a_database_says_where_it_looked) {
  temp_dir empty;
  auto answers = mcp(empty.file("none.db"), {tool_call(1, "recent_traces", "{}")});
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(json_at(answers[0], "$.result.isError"), "1");
  EXPECT_TRUE(contains(json_at(answers[0], "$.result.content[0].text"), "no database at")) << answers[0];
}

}  // namespace
}  // namespace logfire::backend_test
