// `logfire-cpp search TEXT` and `logfire-cpp trace ID`: find records and show one trace as a
// tree, for people (Logfire's console style, as `tail` prints) and for programs (`--json`, the
// shape documented in docs/local-backend.md). Both open the database read-only.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "args.hpp"
#include "backend/db.hpp"
#include "backend/rows.hpp"
#include "backend/search.hpp"
#include "backend/text.hpp"
#include "backend/time_bound.hpp"
#include "commands.hpp"
#include "tailer.hpp"

namespace logfire::cli {
namespace {

const option_spec kDbOption{"db", "PATH",
                            "database file (default $LOGFIRE_LOCAL_DB, else $XDG_DATA_HOME/logfire-cpp/logfire.db)"};
const option_spec kColorOption{"color", "WHEN", "auto, always or never (default auto: a terminal and no NO_COLOR)"};

int usage_error(const char* command, const std::string& what) {
  std::cerr << "logfire-cpp " << command << ": " << backend::text::for_terminal(what) << "\n";
  return 2;
}

int fail(const char* command, const std::string& error) {
  std::cerr << "logfire-cpp " << command << ": " << backend::text::for_terminal(error) << "\n";
  return 1;
}

// Parses and handles --help; -1 to go on, else the exit code.
int parse(args& a, int argc, char** argv) {
  std::string error;
  if (!a.parse(argc, argv, 2, error)) return usage_error(a.command().c_str(), error);
  if (a.help_requested()) {
    std::cout << a.help_text();
    return 0;
  }
  return -1;
}

std::optional<bool> color_of(const args& a) {
  std::string when = a.get("color").value_or("auto");
  if (when == "always") return true;
  if (when == "never") return false;
  if (when != "auto") return std::nullopt;
  const char* no_color = std::getenv("NO_COLOR");
  return isatty(STDOUT_FILENO) != 0 && !(no_color && *no_color);
}

console_record console_of(const backend::record_summary& r) {
  return {backend::parse_timestamp(r.start_timestamp).value_or(0),
          r.duration,
          r.kind,
          r.level,
          r.message,
          r.tags,
          r.service_name,
          r.trace_id,
          r.is_exception,
          r.exception_type,
          r.exception_message};
}

}  // namespace

int search_command(int argc, char** argv) {
  args a("search", "[options] TEXT",
         "Find spans and logs whose span name, message, attributes (keys and values) or exception contain\n"
         "TEXT (case-insensitive for ASCII; \"\" finds everything), newest first, printed as the console\n"
         "prints them with their kind, duration, service and trace id.\n\n"
         "Examples:\n"
         "  logfire-cpp search timeout --since 15m --level error\n"
         "  logfire-cpp search --service checkout --json \"card declined\"",
         {
             kDbOption,
             {"service", "NAME", "only records of this service.name"},
             {"since", "WHEN",
              "only records that started since then: a duration before now (15m, 2h, 7d) or an RFC 3339 time "
              "(2026-12-05T10:00:00Z)"},
             {"level", "LEVEL",
              "only records at LEVEL or above: trace, debug, info, notice, warn, error, fatal or a\n"
              "number (default: every level)"},
             {"limit", "N", "at most N records (default 50)"},
             {"json", "", "print {\"records\": [...], \"truncated\": ...} (docs/local-backend.md)"},
             kColorOption,
         },
         1);
  if (int code = parse(a, argc, argv); code >= 0) return code;
  if (a.positionals().empty())
    return usage_error("search", "give the text to look for, e.g. logfire-cpp search timeout");
  backend::search_query q;
  q.text = a.positionals()[0];
  q.service = a.get("service");
  if (auto s = a.get("since")) {
    auto t = backend::parse_time_bound(*s, backend::unix_now_ns());
    if (!t)
      return usage_error("search",
                         "--since must be a duration such as 15m, 2h or 7d, or a time such as "
                         "2026-12-05T10:00:00Z, got '" +
                             *s + "'");
    q.since_ns = *t;
  }
  if (auto l = a.get("level")) {
    auto lv = parse_level(*l);
    if (!lv)
      return usage_error(
          "search", "--level must be trace, debug, info, notice, warn, error, fatal or a number, got '" + *l + "'");
    q.min_level = *lv;
  }
  if (auto l = a.get("limit")) {
    auto n = parse_count(*l, 1, 100'000);
    if (!n) return usage_error("search", "--limit must be a number from 1 to 100000, got '" + *l + "'");
    q.limit = static_cast<std::size_t>(*n);
  }
  auto color = color_of(a);
  if (!color) return usage_error("search", "--color must be auto, always or never");
  std::string error;
  auto db = backend::open_read_only(a.get("db").value_or(backend::default_database_path()), error);
  if (!db) return fail("search", error);
  std::vector<backend::record_summary> found;
  bool truncated = false;
  if (!backend::search_records(db.get(), q, found, truncated, error)) return fail("search", error);
  if (a.flag("json")) {
    std::cout << backend::records_to_json(found, truncated) << "\n";
    return 0;
  }
  tail_style style{*color, /*verbose=*/true};
  for (const auto& r : found) print_console_record(console_of(r), 0, style);
  std::fflush(stdout);
  if (truncated) std::cerr << "(more records match: raise --limit, or narrow with --since, --level or --service)\n";
  if (found.empty()) std::cerr << "no records match\n";
  return 0;
}

int trace_command(int argc, char** argv) {
  args a("trace", "[options] TRACE_ID",
         "Print one trace as a tree, as the console prints it: each span with its children and logs under\n"
         "it, indented by depth, in start order; errors in red, exceptions below the record. TRACE_ID is\n"
         "the 32-digit hex id (`logfire-cpp traces` lists recent ones).",
         {
             kDbOption,
             {"limit", "N", "at most N records (default 20000)"},
             {"json", "",
              "print {\"trace_id\", \"records\": [... with \"depth\"], \"truncated\"} (docs/local-backend.md)"},
             {"verbose", "", "add each record's kind, duration and service"},
             kColorOption,
         },
         1);
  if (int code = parse(a, argc, argv); code >= 0) return code;
  if (a.positionals().empty() || !backend::is_trace_id(a.positionals()[0])) {
    return usage_error("trace",
                       "give a 32-digit hex trace id, e.g. logfire-cpp trace 0af7651916cd43dd8448eb211c80319c");
  }
  std::string trace_id = backend::text::lower(a.positionals()[0]);
  std::size_t limit = 20'000;
  if (auto l = a.get("limit")) {
    auto n = parse_count(*l, 1, 1'000'000);
    if (!n) return usage_error("trace", "--limit must be a number from 1 to 1000000, got '" + *l + "'");
    limit = static_cast<std::size_t>(*n);
  }
  auto color = color_of(a);
  if (!color) return usage_error("trace", "--color must be auto, always or never");
  std::string error;
  auto db = backend::open_read_only(a.get("db").value_or(backend::default_database_path()), error);
  if (!db) return fail("trace", error);
  std::vector<backend::record_summary> rows;
  bool truncated = false;
  if (!backend::trace_tree(db.get(), trace_id, limit, rows, truncated, error)) return fail("trace", error);
  if (rows.empty()) return fail("trace", "no records with trace id " + trace_id);
  if (a.flag("json")) {
    std::string out = "{\"trace_id\":\"" + trace_id + "\",";
    out += backend::records_to_json(rows, truncated, /*with_depth=*/true).substr(1);
    std::cout << out << "\n";
    return 0;
  }
  tail_style style{*color, a.flag("verbose")};
  for (const auto& r : rows) print_console_record(console_of(r), r.depth, style);
  std::fflush(stdout);
  if (truncated) std::cerr << "(the trace has more records: raise --limit)\n";
  return 0;
}

}  // namespace logfire::cli
