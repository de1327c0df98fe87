#include "mcp_server.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <utility>
#include <vector>

#include "args.hpp"
#include "backend/db.hpp"
#include "backend/json.hpp"
#include "backend/query.hpp"
#include "backend/search.hpp"
#include "backend/text.hpp"
#include "backend/time_bound.hpp"
#include "backend/traces.hpp"
#include "commands.hpp"

namespace logfire::cli {
namespace {

namespace json = backend::json;

// JSON-RPC 2.0's error codes.
constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;

// Revisions this server speaks; a client asking for one of them gets it back.
constexpr std::array<std::string_view, 4> kVersions = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};

// The request's id as it goes back: a number as written, a string re-encoded, else null.
std::string id_text(const json::value* id) {
  if (id == nullptr) return "null";
  if (id->kind == json::value::type::number) return id->text;
  if (id->kind == json::value::type::string) {
    std::string s;
    json::append_string(s, id->text);
    return s;
  }
  return "null";
}

std::string error_answer(const std::string& id, int code, std::string_view message) {
  std::string out = "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"error\":{\"code\":";
  json::append_int(out, code);
  out += ",\"message\":";
  json::append_string(out, message);
  out += "}}";
  return out;
}

std::string result_answer(const std::string& id, std::string_view result_json) {
  std::string out = "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"result\":";
  out += result_json;
  out += '}';
  return out;
}

// A tool's answer: the JSON as text (what every client shows the model) and as
// structuredContent (what newer clients read as data).
std::string tool_result(const std::string& object_json) {
  std::string out = "{\"content\":[{\"type\":\"text\",\"text\":";
  json::append_string(out, object_json);
  out += "}],\"structuredContent\":";
  out += object_json;
  out += ",\"isError\":false}";
  return out;
}

// A failure of the tool itself (bad arguments, no database, bad SQL): reported in the result so
// the model reads it and can correct itself, as MCP asks.
std::string tool_error(std::string_view message) {
  std::string out = "{\"content\":[{\"type\":\"text\",\"text\":";
  json::append_string(out, message);
  out += "}],\"isError\":true}";
  return out;
}

constexpr std::string_view kTools = R"json([
{"name":"recent_traces","title":"Recent traces",
 "description":"The most recent traces in the local logfire-cpp database, newest first: start time, duration, span, log and error counts, service and root span message. Use errors_only to see what failed.",
 "inputSchema":{"type":"object","properties":{
   "limit":{"type":"integer","minimum":1,"maximum":200,"description":"how many traces (default 20)"},
   "errors_only":{"type":"boolean","description":"only traces with a record at level error or above"}},
  "additionalProperties":false}},
{"name":"get_trace","title":"One trace as a tree",
 "description":"Every span and log of one trace in tree order (parents before children, by start time) with its depth, level, message, attributes and exception.",
 "inputSchema":{"type":"object","properties":{
   "trace_id":{"type":"string","description":"32 hex digits"},
   "limit":{"type":"integer","minimum":1,"maximum":20000,"description":"at most this many records (default 2000)"}},
  "required":["trace_id"],"additionalProperties":false}},
{"name":"search","title":"Search spans and logs",
 "description":"Spans and logs whose name, message, attributes or exception contain text (case-insensitive), newest first, filtered by service, age and level. For 'what failed in the last 5 minutes': {\"since\":\"5m\",\"level\":\"error\"}.",
 "inputSchema":{"type":"object","properties":{
   "text":{"type":"string","description":"substring to find; empty or absent matches everything"},
   "service":{"type":"string","description":"only this service.name"},
   "since":{"type":"string","description":"only records since then: a duration before now (30s, 5m, 2h, 7d) or an RFC 3339 time (2026-12-05T10:00:00Z)"},
   "level":{"type":"string","description":"minimum level: trace, debug, info, notice, warn, error, fatal"},
   "limit":{"type":"integer","minimum":1,"maximum":1000,"description":"at most this many records (default 50)"}},
  "additionalProperties":false}},
{"name":"query_sql","title":"Read-only SQL",
 "description":"One read-only SQLite statement over the tables records (spans and logs, Logfire's columns: start_timestamp, duration, trace_id, span_id, parent_span_id, kind, level, span_name, message, attributes (JSON), service_name, is_exception, exception_type, exception_message, ...) and metrics. Timestamps are UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'; use attributes->>'$.key' for JSON.",
 "inputSchema":{"type":"object","properties":{
   "sql":{"type":"string","description":"e.g. SELECT span_name, count(*) FROM records WHERE level >= 17 GROUP BY 1"}},
  "required":["sql"],"additionalProperties":false}}
])json";

// Arguments of a tool call, read with their types checked.
class arguments {
 public:
  explicit arguments(const json::value* args) : args_(args) {}

  // Absent: nullopt. Present with the wrong type: nullopt and error() says so.
  std::optional<std::string> string(const char* name) {
    const json::value* v = find(name);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) return fail(name, "a string"), std::nullopt;
    return v->text;
  }
  std::optional<long long> integer(const char* name, long long min, long long max) {
    const json::value* v = find(name);
    if (v == nullptr) return std::nullopt;
    if (v->kind != json::value::type::number || std::floor(v->number) != v->number || v->number < min ||
        v->number > max) {
      return fail(name, "an integer from " + std::to_string(min) + " to " + std::to_string(max)), std::nullopt;
    }
    return static_cast<long long>(v->number);
  }
  std::optional<bool> boolean(const char* name) {
    const json::value* v = find(name);
    if (v == nullptr) return std::nullopt;
    if (v->kind != json::value::type::boolean) return fail(name, "true or false"), std::nullopt;
    return v->b;
  }
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  const json::value* find(const char* name) const { return args_ == nullptr ? nullptr : args_->find(name); }
  void fail(const char* name, const std::string& what) {
    if (error_.empty()) error_ = std::string("argument '") + name + "' must be " + what;
  }
  const json::value* args_;
  std::string error_;
};

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string mcp_server::line_too_long() const {
  return error_answer("null", kInvalidRequest,
                      "message line longer than " + std::to_string(options_.max_line_bytes) +
                          " bytes, skipped (raise logfire-cpp mcp --max-line)");
}

// Longer than a screen: one branch per method, and one per tool; each is a few lines.
namespace {

// The "initialize" result: the protocol version the client asked for when this server speaks
// it, else the latest; the server's tools capability and a short note for the assistant.
std::string initialize_result(const mcp_options& options, const json::value* params) {
  const json::value* asked = params ? params->find("protocolVersion") : nullptr;
  std::string_view version = kMcpLatestVersion;
  for (auto v : kVersions) {
    if (asked != nullptr && asked->is_string() && asked->text == v) version = v;
  }
  std::string r = "{\"protocolVersion\":";
  json::append_string(r, version);
  r += ",\"capabilities\":{\"tools\":{\"listChanged\":false}},\"serverInfo\":{\"name\":\"logfire-cpp\",\"version\":";
  json::append_string(r, options.server_version);
  r += "},\"instructions\":";
  json::append_string(r,
                      "Telemetry (spans, logs, metrics) that local programs sent to `logfire-cpp serve`. Start "
                      "with search (e.g. level error, since 5m) or recent_traces, then get_trace for one trace; "
                      "query_sql for anything else.");
  r += '}';
  return r;
}

// Each tool takes its arguments and answers the content of a tools/call result (tool_result,
// or tool_error for a bad argument or a database error). The database may be created after
// this server started: it is opened for each call.
std::string recent_traces_tool(const mcp_options& options, arguments& args) {
  backend::trace_query q;
  q.limit = static_cast<std::size_t>(args.integer("limit", 1, 200).value_or(20));
  q.errors_only = args.boolean("errors_only").value_or(false);
  if (!args.error().empty()) return tool_error(args.error());
  std::string error;
  auto db = backend::open_read_only(options.db_path, error);
  std::vector<backend::trace_summary> list;
  if (!db || !backend::recent_traces(db.get(), q, list, error)) return tool_error(error);
  return tool_result(backend::traces_to_json(list));
}

std::string get_trace_tool(const mcp_options& options, arguments& args) {
  auto trace_id = args.string("trace_id");
  auto limit = args.integer("limit", 1, 20'000).value_or(2000);
  if (!args.error().empty()) return tool_error(args.error());
  if (!trace_id || !backend::is_trace_id(*trace_id)) return tool_error("argument 'trace_id' must be 32 hex digits");
  std::string error;
  auto db = backend::open_read_only(options.db_path, error);
  std::vector<backend::record_summary> rows;
  bool truncated = false;
  if (!db || !backend::trace_tree(db.get(), *trace_id, static_cast<std::size_t>(limit), rows, truncated, error)) {
    return tool_error(error);
  }
  if (rows.empty()) return tool_error("no records with trace id " + *trace_id);
  std::string out = "{\"trace_id\":";
  json::append_string(out, backend::text::lower(*trace_id));
  out += ',' + backend::records_to_json(rows, truncated, true).substr(1);
  return tool_result(out);
}

std::string search_tool(const mcp_options& options, arguments& args) {
  backend::search_query q;
  q.text = args.string("text").value_or("");
  q.service = args.string("service");
  q.limit = static_cast<std::size_t>(args.integer("limit", 1, 1000).value_or(50));
  auto since = args.string("since");
  auto level = args.string("level");
  if (!args.error().empty()) return tool_error(args.error());
  if (since) {
    auto t = backend::parse_time_bound(*since, now_ns());
    if (!t)
      return tool_error(
          "argument 'since' must be a duration such as 30s, 5m, 2h or 7d, or an RFC 3339 time such as "
          "2026-12-05T10:00:00Z");
    q.since_ns = *t;
  }
  if (level) {
    auto lv = parse_level(*level);
    if (!lv) return tool_error("argument 'level' must be trace, debug, info, notice, warn, error, fatal or a number");
    q.min_level = *lv;
  }
  std::string error;
  auto db = backend::open_read_only(options.db_path, error);
  std::vector<backend::record_summary> found;
  bool truncated = false;
  if (!db || !backend::search_records(db.get(), q, found, truncated, error)) return tool_error(error);
  return tool_result(backend::records_to_json(found, truncated));
}

// The read-only door of /api/query and `logfire-cpp query`, with smaller limits.
std::string query_sql_tool(const mcp_options& options, arguments& args) {
  auto sql = args.string("sql");
  if (!args.error().empty()) return tool_error(args.error());
  if (!sql || sql->empty()) return tool_error("argument 'sql' must be a SQL statement");
  std::string error;
  auto db = backend::open_read_only(options.db_path, error);
  if (!db) return tool_error(error);
  backend::query_limits limits;
  limits.max_rows = options.query_max_rows;
  limits.max_bytes = options.query_max_bytes;
  limits.timeout = options.query_timeout;
  limits.rows_option = limits.bytes_option = limits.timeout_option =
      "logfire-cpp mcp --query-max-rows/--query-max-bytes/--query-timeout";
  backend::query_result result;
  if (!backend::run_query(db.get(), *sql, limits, result, error)) return tool_error(error);
  return tool_result(backend::result_to_api_json(result));
}

using tool_fn = std::string (*)(const mcp_options&, arguments&);
constexpr std::pair<std::string_view, tool_fn> k_tool_fns[] = {
    {"recent_traces", recent_traces_tool},
    {"get_trace", get_trace_tool},
    {"search", search_tool},
    {"query_sql", query_sql_tool},
};

}  // namespace

// One JSON-RPC message in, its answer out ("" for notifications and responses): the envelope
// is checked here, each method and tool has its own function above.
std::string mcp_server::handle_line(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  if (line.find_first_not_of(" \t") == std::string_view::npos) return {};
  auto msg = json::parse(line, 32);
  if (!msg) return error_answer("null", kParseError, "parse error: the line is not one JSON value");
  if (msg->kind == json::value::type::array) {
    return error_answer("null", kInvalidRequest, "batches are not supported: send one message per line");
  }
  if (msg->kind != json::value::type::object) {
    return error_answer("null", kInvalidRequest, "invalid request: a message is a JSON object");
  }
  const json::value* id = msg->find("id");
  bool valid_id = id == nullptr || id->kind == json::value::type::number || id->is_string();
  std::string rid = valid_id ? id_text(id) : "null";
  const json::value* version = msg->find("jsonrpc");
  const json::value* method = msg->find("method");
  if (version == nullptr || !version->is_string() || version->text != "2.0" || !valid_id) {
    return error_answer(rid, kInvalidRequest, "invalid request: needs \"jsonrpc\": \"2.0\" and a string or number id");
  }
  if (method == nullptr || !method->is_string()) {
    // A response from the client (to a request this server never sends), or garbage.
    if (msg->find("result") != nullptr || msg->find("error") != nullptr) return {};
    return error_answer(rid, kInvalidRequest, "invalid request: needs a \"method\" string");
  }
  const bool notification = id == nullptr;
  const std::string& m = method->text;
  const json::value* params = msg->find("params");
  if (params != nullptr && params->kind != json::value::type::object) {
    return notification ? std::string() : error_answer(rid, kInvalidParams, "\"params\" must be an object");
  }

  if (notification) {
    if (m == "notifications/initialized") initialized_ = true;
    return {};  // notifications/cancelled and others: nothing to answer
  }
  if (m == "initialize") return result_answer(rid, initialize_result(options_, params));
  if (m == "ping") return result_answer(rid, "{}");
  if (m == "tools/list") {
    // kTools is written across lines for reading; a message must be one line.
    std::string tools(kTools);
    tools.erase(std::remove(tools.begin(), tools.end(), '\n'), tools.end());
    return result_answer(rid, "{\"tools\":" + tools + "}");
  }
  if (m != "tools/call") return error_answer(rid, kMethodNotFound, "method not found: " + m);

  const json::value* name = params ? params->find("name") : nullptr;
  const json::value* args_value = params ? params->find("arguments") : nullptr;
  if (name == nullptr || !name->is_string()) return error_answer(rid, kInvalidParams, "tools/call needs a tool name");
  if (args_value != nullptr && args_value->kind != json::value::type::object) {
    return error_answer(rid, kInvalidParams, "tools/call arguments must be an object");
  }
  for (const auto& [tool, fn] : k_tool_fns) {
    if (name->text != tool) continue;
    arguments args(args_value);
    return result_answer(rid, fn(options_, args));
  }
  return error_answer(rid, kInvalidParams,
                      "unknown tool: " + name->text + " (tools: recent_traces, get_trace, search, query_sql)");
}

void mcp_server::run(std::FILE* in, std::FILE* out) {
  std::string line;
  bool too_long = false;
  auto answer = [&](const std::string& a) {
    if (a.empty()) return;
    std::fwrite(a.data(), 1, a.size(), out);
    std::fputc('\n', out);
    std::fflush(out);
  };
  int c;
  while ((c = std::getc(in)) != EOF) {
    if (c == '\n') {
      answer(too_long ? line_too_long() : handle_line(line));
      line.clear();
      too_long = false;
    } else if (too_long) {
      continue;
    } else if (line.size() < options_.max_line_bytes) {
      line += static_cast<char>(c);
    } else {
      too_long = true;  // the rest of the line is read and dropped, never stored
      line.clear();
    }
  }
  if (too_long) {
    answer(line_too_long());
  } else if (!line.empty()) {
    answer(handle_line(line));
  }
}

int mcp_command(int argc, char** argv) {
  args a("mcp", "[options]",
         "A Model Context Protocol server on standard input and output (JSON-RPC 2.0, one message per line),\n"
         "for coding assistants: tools recent_traces, get_trace, search and query_sql read the local\n"
         "database (read-only, as `logfire-cpp query`). Configure your assistant to run\n"
         "`logfire-cpp mcp` (see docs/local-backend.md); it runs until its input ends.",
         {
             {"db", "PATH", "database file (default $LOGFIRE_LOCAL_DB, else $XDG_DATA_HOME/logfire-cpp/logfire.db)"},
             {"max-line", "SIZE", "longest message line (default 1MiB); longer ones get an error and are skipped"},
             {"query-max-rows", "N", "rows of a query_sql result (default 200; more are cut, \"truncated\")"},
             {"query-max-bytes", "SIZE", "bytes of a query_sql result (default 256KiB)"},
             {"query-timeout", "DURATION", "a query_sql runs at most this long (default 10s)"},
         });
  std::string error;
  if (!a.parse(argc, argv, 2, error)) {
    std::fprintf(stderr, "logfire-cpp mcp: %s\n", backend::text::for_terminal(error).c_str());
    return 2;
  }
  if (a.help_requested()) {
    std::fputs(a.help_text().c_str(), stdout);
    return 0;
  }
  mcp_options o;
  o.db_path = a.get("db").value_or(backend::default_database_path());
#ifdef LOGFIRE_CPP_VERSION
  o.server_version = LOGFIRE_CPP_VERSION;
#endif
  auto bad = [](const std::string& what) {
    std::fprintf(stderr, "logfire-cpp mcp: %s\n", backend::text::for_terminal(what).c_str());
    return 2;
  };
  if (auto v = a.get("max-line")) {
    auto n = parse_size(*v);
    if (!n || *n < 1024 || *n > (64 << 20))
      return bad("--max-line must be a size from 1KiB to 64MiB, got '" + *v + "'");
    o.max_line_bytes = static_cast<std::size_t>(*n);
  }
  if (auto v = a.get("query-max-rows")) {
    auto n = parse_count(*v, 1, 1'000'000);
    if (!n) return bad("--query-max-rows must be a number from 1 to 1000000, got '" + *v + "'");
    o.query_max_rows = static_cast<std::size_t>(*n);
  }
  if (auto v = a.get("query-max-bytes")) {
    auto n = parse_size(*v);
    if (!n || *n < 1024 || *n > (1LL << 30))
      return bad("--query-max-bytes must be a size from 1KiB to 1GiB, got '" + *v + "'");
    o.query_max_bytes = static_cast<std::size_t>(*n);
  }
  if (auto v = a.get("query-timeout")) {
    auto d = parse_duration(*v);
    if (!d || d->count() < 10) return bad("--query-timeout must be a duration of at least 10ms, got '" + *v + "'");
    o.query_timeout = *d;
  }
  mcp_server server(std::move(o));
  server.run(stdin, stdout);
  return 0;
}

}  // namespace logfire::cli
