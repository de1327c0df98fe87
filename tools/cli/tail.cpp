// `logfire-cpp tail`: follows the database and prints new spans and logs in Logfire's console
// style (local time, two spaces per depth, red errors, yellow warnings, cyan tags). What is
// printed, and when, is tailer.hpp's; this file reads the options and runs the loop.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "args.hpp"
#include "backend/db.hpp"
#include "backend/search.hpp"
#include "backend/text.hpp"
#include "commands.hpp"
#include "tailer.hpp"

namespace logfire::cli {
namespace {

struct tail_options {
  std::string db;
  std::size_t last = 20;
  bool follow = true;
  int min_level = 1;
  std::optional<std::string> service;
  tail_style style;
  std::chrono::milliseconds interval{500};
  bool json = false;
};

// Returns -1 to go on; otherwise the exit code (0 after --help, 2 for bad usage). One check per
// option, in --help order.
int parse_tail_options(int argc, char** argv, tail_options& o) {
  args a("tail", "[options]",
         "Print spans and logs as they reach the database, in Logfire's console style: local time, two\n"
         "spaces of indentation per depth, errors in red, warnings in yellow, tags in cyan. Each trace is\n"
         "printed once it has been quiet for a moment, so its records appear in start order and nested.\n"
         "Control characters in the telemetry are shown escaped (\\e, \\x07, \\u009b...), never sent to\n"
         "the terminal. Runs until interrupted (Ctrl-C), or prints what is there and exits with --no-follow.",
         {
             {"db", "PATH", "database file (default $LOGFIRE_LOCAL_DB, else $XDG_DATA_HOME/logfire-cpp/logfire.db)"},
             {"last", "N", "first print the N most recent records (default 20)"},
             {"no-follow", "", "print the recent records and exit"},
             {"min-level", "LEVEL",
              "skip records below LEVEL: trace, debug, info, notice, warn, error, fatal or a\n"
              "number (default trace: show everything)"},
             {"service", "NAME", "only records of this service.name"},
             {"color", "WHEN", "auto, always or never (default auto: a terminal and no NO_COLOR)"},
             {"interval", "DURATION", "how often to look for new records (default 500ms)"},
             {"verbose", "", "add each record's kind, duration, service and trace id"},
             {"json", "",
              "one JSON object per line and record, in arrival order, as soon as it is stored\n"
              "(the record shape of docs/local-backend.md)"},
         });
  std::string error;
  if (!a.parse(argc, argv, 2, error)) {
    std::cerr << "logfire-cpp tail: " << error << "\n";
    return 2;
  }
  if (a.help_requested()) {
    std::cout << a.help_text();
    return 0;
  }
  auto bad = [](const std::string& what) {
    std::cerr << "logfire-cpp tail: " << backend::text::for_terminal(what) << "\n";
    return 2;
  };
  if (auto l = a.get("last")) {
    auto n = parse_count(*l, 0, 1'000'000);
    if (!n) return bad("--last must be a number from 0 to 1000000, got '" + *l + "'");
    o.last = static_cast<std::size_t>(*n);
  }
  if (auto l = a.get("min-level")) {
    auto lv = parse_level(*l);
    if (!lv)
      return bad("--min-level must be trace, debug, info, notice, warn, error, fatal or a number, got '" + *l + "'");
    o.min_level = *lv;
  }
  std::string when = a.get("color").value_or("auto");
  if (when == "always") {
    o.style.color = true;
  } else if (when == "auto") {
    const char* no_color = std::getenv("NO_COLOR");
    o.style.color = isatty(STDOUT_FILENO) && !(no_color && *no_color);
  } else if (when != "never") {
    return bad("--color must be auto, always or never, got '" + when + "'");
  }
  if (auto i = a.get("interval")) {
    auto d = parse_duration(*i);
    if (!d || d->count() < 10) return bad("--interval must be a duration of at least 10ms, got '" + *i + "'");
    o.interval = *d;
  }
  o.db = a.get("db").value_or(backend::default_database_path());
  o.follow = !a.flag("no-follow");
  o.service = a.get("service");
  o.style.verbose = a.flag("verbose");
  o.json = a.flag("json");
  return -1;
}

int fail(const std::string& error) {
  std::cerr << "logfire-cpp tail: " << backend::text::for_terminal(error) << "\n";
  return 1;
}

// --json: records go out as they are stored (no grouping by trace: a program orders them by
// parent_span_id itself), one object per line, flushed per poll.
int tail_json(sqlite3* db, const tail_options& o) {
  std::string error;
  std::int64_t cursor = 0;
  {
    auto s = backend::prepare(db, "SELECT coalesce(max(id), 0) FROM records", error);
    if (!s || sqlite3_step(s.get()) != SQLITE_ROW) return fail(error);
    cursor = std::max<std::int64_t>(0, sqlite3_column_int64(s.get(), 0) - static_cast<std::int64_t>(o.last));
  }
  std::vector<backend::record_summary> batch;
  while (true) {
    do {
      if (!backend::records_after(db, cursor, 5000, o.min_level, o.service, batch, error)) return fail(error);
      std::string out;
      for (const auto& r : batch) {
        backend::append_record_json(out, r, false);
        out += '\n';
        cursor = r.id;
      }
      std::fwrite(out.data(), 1, out.size(), stdout);
    } while (batch.size() == 5000);
    std::fflush(stdout);
    if (!o.follow) return 0;
    std::this_thread::sleep_for(o.interval);
  }
}

}  // namespace

int tail_command(int argc, char** argv) {
  tail_options o;
  if (int code = parse_tail_options(argc, argv, o); code >= 0) return code;
  std::string error;
  auto db = backend::open_read_only(o.db, error);
  if (!db) return fail(error);
  if (o.json) return tail_json(db.get(), o);
  tailer t(db.get(), o.style, o.min_level, o.service);
  if (!t.prepare_statements(error) || !t.start_cursor(o.last, error) || !t.poll(error)) return fail(error);
  t.flush({}, true);
  if (!o.follow) return 0;
  auto settle = std::max<std::chrono::milliseconds>(2 * o.interval, std::chrono::milliseconds(1000));
  while (true) {
    std::this_thread::sleep_for(o.interval);
    if (!t.poll(error)) return fail(error);
    t.flush(settle, false);
  }
}

}  // namespace logfire::cli
