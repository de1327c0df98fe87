// `logfire-cpp query "<SQL>"` and `logfire-cpp traces`: read-only views of the database that
// print once and exit. Both open the file read-only, so they run beside a live `serve`.
#include "backend/query.hpp"

#include <unistd.h>

#include <iostream>
#include <iterator>
#include <string>

#include "args.hpp"
#include "backend/db.hpp"
#include "backend/text.hpp"
#include "backend/traces.hpp"
#include "commands.hpp"

namespace logfire::cli {
namespace {

// Errors may quote SQL or data: escaped like everything else printed to a terminal.
int fail(const char* command, const std::string& error) {
  std::cerr << "logfire-cpp " << command << ": " << backend::text::for_terminal(error) << "\n";
  return 1;
}

std::string local_time(std::int64_t unix_ns) {
  std::time_t secs = static_cast<std::time_t>(unix_ns / 1'000'000'000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

// The trace list as rows for write_table / write_csv.
backend::query_result traces_table(const std::vector<backend::trace_summary>& list) {
  auto text = [](std::string s) {
    backend::cell c;
    c.kind = backend::cell::type::text;
    c.text = std::move(s);
    return c;
  };
  auto num = [](std::int64_t v) {
    backend::cell c;
    c.kind = backend::cell::type::integer;
    c.i = v;
    return c;
  };
  backend::query_result r;
  r.columns = {"start", "duration", "spans", "logs", "errors", "service", "trace_id", "root"};
  for (const auto& t : list) {
    std::string root = t.root_message.empty() ? t.root_span_name : t.root_message;
    if (t.pending_count > 0) root += " (running)";
    r.rows.push_back({text(local_time(t.start_ns)), text(backend::format_duration(t.duration_s)), num(t.span_count),
                      num(t.log_count), num(t.error_count), text(t.service_name), text(t.trace_id), text(root)});
  }
  return r;
}

bool valid_format(const std::string& f) {
  return f == "table" || f == "json" || f == "csv";
}

// Parses the command line; -1 to go on, else the exit code (0 after --help, 2 for bad usage).
int parse_command(args& a, int argc, char** argv, std::string& format) {
  std::string error;
  if (!a.parse(argc, argv, 2, error)) {
    std::cerr << "logfire-cpp " << a.command() << ": " << error << "\n";
    return 2;
  }
  if (a.help_requested()) {
    std::cout << a.help_text();
    return 0;
  }
  format = a.flag("json") ? "json" : a.get("format").value_or("table");
  if (!valid_format(format)) {
    std::cerr << "logfire-cpp " << a.command() << ": --format must be table, json or csv, got '"
              << backend::text::for_terminal(format) << "'\n";
    return 2;
  }
  return -1;
}

// The statement: the argument, else standard input when it is not a terminal.
bool read_sql(const args& a, std::string& sql) {
  if (!a.positionals().empty() && a.positionals()[0] != "-") {
    sql = a.positionals()[0];
    return true;
  }
  if (isatty(STDIN_FILENO)) return false;
  sql.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  return true;
}

void print(const backend::query_result& r, const std::string& format, std::size_t max_width) {
  if (format == "json") {
    backend::write_json(std::cout, r);
  } else if (format == "csv") {
    backend::write_csv(std::cout, r, isatty(STDOUT_FILENO) != 0);
  } else {
    backend::write_table(std::cout, r, max_width);
  }
}

}  // namespace

int query_command(int argc, char** argv) {
  args a("query", "[options] \"<SQL>\"",
         "Run one read-only SQL statement (SQLite dialect) over the local database and print the result.\n"
         "Tables: `records` (spans, logs, pending spans; Logfire's columns) and `metrics` (data points).\n"
         "Statements that would write are refused with SQLite's message. Without SQL on the command line,\n"
         "the statement is read from standard input.\n\n"
         "Examples:\n"
         "  logfire-cpp query \"SELECT level, message FROM records WHERE level >= 17 ORDER BY start_timestamp DESC\"\n"
         "  logfire-cpp query --format json \"SELECT trace_id, count(*) AS spans FROM records GROUP BY 1\"\n"
         "  logfire-cpp query \"SELECT attributes->>'$.user_id' AS user FROM records WHERE span_name = 'charge'\"",
         {
             {"db", "PATH", "database file (default $LOGFIRE_LOCAL_DB, else $XDG_DATA_HOME/logfire-cpp/logfire.db)"},
             {"format", "FORMAT", "table, json or csv (default table)"},
             {"json", "", "the same as --format json: an array of one object per row"},
             {"max-width", "N", "table format: cut cells longer than N characters (default 80; 0 = never)"},
         },
         1);
  std::string format;
  if (int code = parse_command(a, argc, argv, format); code >= 0) return code;
  std::size_t max_width = 80;
  if (auto w = a.get("max-width")) {
    auto n = parse_count(*w, 0, 1'000'000);
    if (!n) {
      std::cerr << "logfire-cpp query: --max-width must be a number from 0 to 1000000, got '"
                << backend::text::for_terminal(*w) << "'\n";
      return 2;
    }
    max_width = *n == 0 ? static_cast<std::size_t>(-1) : static_cast<std::size_t>(*n);
  }
  std::string sql;
  if (!read_sql(a, sql)) {
    std::cerr << "logfire-cpp query: give a SQL statement, e.g. logfire-cpp query \"SELECT count(*) FROM records\"\n";
    return 2;
  }
  std::string error;
  auto db = backend::open_read_only(a.get("db").value_or(backend::default_database_path()), error);
  if (!db) return fail("query", error);
  backend::query_result result;
  if (!backend::run_query(db.get(), sql, {}, result, error)) return fail("query", error);
  print(result, format, max_width);
  return 0;
}

int traces_command(int argc, char** argv) {
  args a("traces", "[options]",
         "List the most recent traces, newest first: when each started (local time), how long it lasted,\n"
         "how many spans and logs it has, how many records are errors (level >= error), and its root's\n"
         "message. Pass a trace id to `logfire-cpp query` for details, or open it in the web view.",
         {
             {"db", "PATH", "database file (default $LOGFIRE_LOCAL_DB, else $XDG_DATA_HOME/logfire-cpp/logfire.db)"},
             {"limit", "N", "how many traces (default 20)"},
             {"errors", "", "only traces with an error"},
             {"format", "FORMAT", "table, json or csv (default table)"},
             {"json", "", "the same as --format json: {\"traces\": [...]} (docs/local-backend.md)"},
         });
  std::string format;
  if (int code = parse_command(a, argc, argv, format); code >= 0) return code;
  backend::trace_query q;
  if (auto l = a.get("limit")) {
    auto n = parse_count(*l, 1, 1'000'000);
    if (!n) {
      std::cerr << "logfire-cpp traces: --limit must be a number from 1 to 1000000, got '"
                << backend::text::for_terminal(*l) << "'\n";
      return 2;
    }
    q.limit = static_cast<std::size_t>(*n);
  }
  q.errors_only = a.flag("errors");
  std::string error;
  auto db = backend::open_read_only(a.get("db").value_or(backend::default_database_path()), error);
  if (!db) return fail("traces", error);
  std::vector<backend::trace_summary> list;
  if (!backend::recent_traces(db.get(), q, list, error)) return fail("traces", error);
  if (format == "json") {
    std::cout << backend::traces_to_json(list) << "\n";
    return 0;
  }
  print(traces_table(list), format, 60);
  return 0;
}

}  // namespace logfire::cli
