// `logfire-cpp tail`: follows the database and prints new spans and logs in Logfire's console
// style (local time, two spaces per depth, red errors, yellow warnings, cyan tags).
//
// Spans reach the database when they end, after their children, so a record cannot be printed
// the moment it arrives with the right indentation. Records are therefore grouped by trace and a
// group is printed, in start order, once no new record of that trace arrived for a short settle
// time; depths come from the group, from traces printed earlier, or from the database.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "args.hpp"
#include "backend/db.hpp"
#include "backend/json.hpp"
#include "backend/traces.hpp"
#include "commands.hpp"

namespace logfire::cli {
namespace {

struct tail_row {
  std::int64_t id = 0;
  std::int64_t start_ns = 0;
  std::optional<double> duration;
  std::string trace_id, span_id, parent_span_id;  // parent empty for a root
  std::string kind;
  int level = 9;
  std::string message, tags, service;
  bool is_exception = false;
  std::string exception_type, exception_message;
};

struct group {
  std::vector<tail_row> rows;
  std::chrono::steady_clock::time_point last_seen;
};

struct style {
  bool color = false;
  [[nodiscard]] std::string wrap(const char* code, const std::string& text) const {
    return color ? std::string("\033[") + code + "m" + text + "\033[0m" : text;
  }
};

class tailer {
 public:
  tailer(sqlite3* db, style st, int min_level, std::optional<std::string> service, bool verbose)
      : db_(db), style_(st), min_level_(min_level), service_(std::move(service)), verbose_(verbose) {}

  bool prepare_statements(std::string& error) {
    fetch_ = backend::prepare(db_,
                              "SELECT id, start_timestamp, duration, trace_id, span_id, coalesce(parent_span_id, ''), "
                              "kind, level, message, tags, coalesce(service_name, ''), is_exception, "
                              "coalesce(exception_type, ''), coalesce(exception_message, '') FROM records "
                              "WHERE id > ?1 ORDER BY id LIMIT 5000",
                              error);
    parent_ = backend::prepare(db_,
                               "SELECT coalesce(parent_span_id, '') FROM records WHERE trace_id = ?1 AND span_id = ?2 "
                               "LIMIT 1",
                               error);
    return fetch_ && parent_;
  }

  // Starts after the newest record, or `last` records before it.
  bool start_cursor(std::size_t last, std::string& error) {
    auto s = backend::prepare(db_, "SELECT coalesce(max(id), 0) FROM records", error);
    if (!s || sqlite3_step(s.get()) != SQLITE_ROW) return false;
    std::int64_t max_id = sqlite3_column_int64(s.get(), 0);
    cursor_ = max_id;
    if (last > 0) {
      auto back = backend::prepare(db_, "SELECT id FROM records ORDER BY id DESC LIMIT 1 OFFSET ?1", error);
      if (!back) return false;
      sqlite3_bind_int64(back.get(), 1, static_cast<std::int64_t>(last - 1));
      cursor_ = sqlite3_step(back.get()) == SQLITE_ROW ? sqlite3_column_int64(back.get(), 0) - 1 : 0;
    }
    return true;
  }

  // Reads every record newer than the cursor into the pending groups.
  bool poll(std::string& error) {
    auto now = std::chrono::steady_clock::now();
    while (true) {
      sqlite3_bind_int64(fetch_.get(), 1, cursor_);
      std::size_t n = 0;
      int rc;
      while ((rc = sqlite3_step(fetch_.get())) == SQLITE_ROW) {
        sqlite3_stmt* s = fetch_.get();
        tail_row r;
        r.id = sqlite3_column_int64(s, 0);
        r.start_ns = backend::parse_timestamp(backend::column_text(s, 1)).value_or(0);
        if (sqlite3_column_type(s, 2) != SQLITE_NULL) r.duration = sqlite3_column_double(s, 2);
        r.trace_id = backend::column_text(s, 3);
        r.span_id = backend::column_text(s, 4);
        r.parent_span_id = backend::column_text(s, 5);
        r.kind = backend::column_text(s, 6);
        r.level = sqlite3_column_int(s, 7);
        r.message = backend::column_text(s, 8);
        r.tags = backend::column_text(s, 9);
        r.service = backend::column_text(s, 10);
        r.is_exception = sqlite3_column_int(s, 11) != 0;
        r.exception_type = backend::column_text(s, 12);
        r.exception_message = backend::column_text(s, 13);
        cursor_ = r.id;
        auto& g = groups_[r.trace_id];
        g.last_seen = now;
        g.rows.push_back(std::move(r));
        ++n;
      }
      sqlite3_reset(fetch_.get());
      if (rc != SQLITE_DONE) {
        error = sqlite3_errmsg(db_);
        return false;
      }
      if (n < 5000) return true;
    }
  }

  // Prints the groups that have been quiet for `settle` (all of them when `everything`).
  void flush(std::chrono::milliseconds settle, bool everything) {
    auto now = std::chrono::steady_clock::now();
    // Print older traces first: order the ready groups by their first record's arrival.
    std::vector<std::pair<std::int64_t, std::string>> ready;
    for (auto& [trace, g] : groups_) {
      if (everything || now - g.last_seen >= settle) ready.emplace_back(g.rows.front().id, trace);
    }
    std::sort(ready.begin(), ready.end());
    for (auto& [first_id, trace] : ready) {
      print_group(groups_[trace]);
      groups_.erase(trace);
    }
    std::fflush(stdout);
  }

 private:
  static std::string key(const std::string& trace, const std::string& span) { return trace + span; }

  void remember_depth(const std::string& k, int depth) {
    if (depths_.emplace(k, depth).second) {
      order_.push_back(k);
      if (order_.size() > 200'000) {  // bounded memory on endless tails
        depths_.erase(order_.front());
        printed_pending_.erase(order_.front());
        order_.pop_front();
      }
    } else {
      depths_[k] = depth;
    }
  }

  // Ancestors of `span` found in the database (the trace's earlier records), at most 64 hops.
  int depth_from_db(const std::string& trace, std::string parent) {
    int depth = 0;
    for (int hop = 0; hop < 64 && !parent.empty(); ++hop) {
      if (auto it = depths_.find(key(trace, parent)); it != depths_.end()) return depth + it->second + 1;
      sqlite3_bind_text(parent_.get(), 1, trace.data(), static_cast<int>(trace.size()), SQLITE_TRANSIENT);
      sqlite3_bind_text(parent_.get(), 2, parent.data(), static_cast<int>(parent.size()), SQLITE_TRANSIENT);
      bool found = sqlite3_step(parent_.get()) == SQLITE_ROW;
      std::string next = found ? backend::column_text(parent_.get(), 0) : std::string();
      sqlite3_reset(parent_.get());
      if (!found) break;
      ++depth;
      parent = next;
    }
    return depth;
  }

  void print_group(group& g) {
    std::stable_sort(g.rows.begin(), g.rows.end(), [](const tail_row& a, const tail_row& b) {
      if (a.start_ns != b.start_ns) return a.start_ns < b.start_ns;
      return (a.kind == "log") < (b.kind == "log");  // a span before the logs it opens with
    });
    std::unordered_map<std::string, const tail_row*> by_span;
    for (const auto& r : g.rows) {
      if (r.kind != "log") by_span[r.span_id] = &r;
    }
    std::unordered_map<const tail_row*, int> memo;
    std::function<int(const tail_row&, int)> depth_of = [&](const tail_row& r, int guard) -> int {
      if (auto it = memo.find(&r); it != memo.end()) return it->second;
      int d = 0;
      if (!r.parent_span_id.empty()) {
        auto p = by_span.find(r.parent_span_id);
        if (p != by_span.end() && p->second != &r && guard < 64) {
          d = depth_of(*p->second, guard + 1) + 1;
        } else {
          d = depth_from_db(r.trace_id, r.parent_span_id);
        }
      }
      memo[&r] = d;
      return d;
    };
    for (const auto& r : g.rows) {
      int depth = depth_of(r, 0);
      std::string k = key(r.trace_id, r.span_id);
      if (r.kind != "log") remember_depth(k, depth);
      if (r.kind == "span" && printed_pending_.erase(k) > 0) continue;  // shown when it started
      if (r.kind == "pending_span") printed_pending_.insert(k);
      if (r.level < min_level_) continue;
      if (service_ && r.service != *service_) continue;
      print_row(r, depth);
    }
  }

  void print_row(const tail_row& r, int depth) {
    std::time_t secs = static_cast<std::time_t>(r.start_ns / 1'000'000'000);
    std::tm tm{};
    localtime_r(&secs, &tm);
    char time_buf[32];
    std::snprintf(time_buf, sizeof time_buf, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>((r.start_ns / 1'000'000) % 1000));
    std::string indent(static_cast<std::size_t>(std::min(depth, 40)) * 2, ' ');
    const char* level_color = r.level >= 17 ? "31" : r.level >= 13 ? "33" : nullptr;
    std::string line = style_.wrap("2", time_buf) + " " + indent;
    line += level_color ? style_.wrap(level_color, r.message) : r.message;
    if (auto tags = backend::json::parse(r.tags, 4); tags && !tags->items.empty()) {
      std::string list;
      for (const auto& t : tags->items) list += (list.empty() ? "" : ",") + t.text;
      line += style_.wrap("36", " [" + list + "]");
    }
    if (verbose_) {
      std::string extra = r.kind == "pending_span" ? "started" : r.kind;
      if (r.kind == "span" && r.duration) extra += " " + backend::format_duration(*r.duration);
      extra += " · " + (r.service.empty() ? std::string("?") : r.service) + " · trace " + r.trace_id.substr(0, 8);
      line += style_.wrap("2", "  (" + extra + ")");
    }
    std::puts(line.c_str());
    if (r.is_exception) {
      std::string exc = r.exception_type + (r.exception_message.empty() ? "" : ": " + r.exception_message);
      std::puts((std::string(13, ' ') + indent + "  " + style_.wrap("31", exc)).c_str());
    }
  }

  sqlite3* db_;
  style style_;
  int min_level_;
  std::optional<std::string> service_;
  bool verbose_;
  backend::stmt_handle fetch_, parent_;
  std::int64_t cursor_ = 0;
  std::map<std::string, group> groups_;
  std::unordered_map<std::string, int> depths_;
  std::unordered_set<std::string> printed_pending_;
  std::deque<std::string> order_;
};

}  // namespace

int tail_command(int argc, char** argv) {
  args a("tail", "[options]",
         "Print spans and logs as they reach the database, in Logfire's console style: local time, two\n"
         "spaces of indentation per depth, errors in red, warnings in yellow, tags in cyan. Each trace is\n"
         "printed once it has been quiet for a moment, so its records appear in start order and nested.\n"
         "Runs until interrupted (Ctrl-C), or prints what is there and exits with --no-follow.",
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
  std::size_t last = 20;
  if (auto l = a.get("last")) {
    int n = std::atoi(l->c_str());
    if (n < 0 || (n == 0 && *l != "0")) {
      std::cerr << "logfire-cpp tail: --last must be a number, got '" << *l << "'\n";
      return 2;
    }
    last = static_cast<std::size_t>(n);
  }
  int min_level = 1;
  if (auto l = a.get("min-level")) {
    auto lv = parse_level(*l);
    if (!lv) {
      std::cerr << "logfire-cpp tail: --min-level must be trace, debug, info, notice, warn, error, fatal or a "
                   "number, got '"
                << *l << "'\n";
      return 2;
    }
    min_level = *lv;
  }
  std::string when = a.get("color").value_or("auto");
  style st;
  if (when == "always") {
    st.color = true;
  } else if (when == "auto") {
    const char* no_color = std::getenv("NO_COLOR");
    st.color = isatty(STDOUT_FILENO) && !(no_color && *no_color);
  } else if (when != "never") {
    std::cerr << "logfire-cpp tail: --color must be auto, always or never, got '" << when << "'\n";
    return 2;
  }
  auto interval = std::chrono::milliseconds(500);
  if (auto i = a.get("interval")) {
    auto d = parse_duration(*i);
    if (!d || d->count() < 10) {
      std::cerr << "logfire-cpp tail: --interval must be a duration of at least 10ms, got '" << *i << "'\n";
      return 2;
    }
    interval = *d;
  }
  std::string path = a.get("db").value_or(backend::default_database_path());
  auto db = backend::open_read_only(path, error);
  if (!db) {
    std::cerr << "logfire-cpp tail: " << error << "\n";
    return 1;
  }
  tailer t(db.get(), st, min_level, a.get("service"), a.flag("verbose"));
  if (!t.prepare_statements(error) || !t.start_cursor(last, error)) {
    std::cerr << "logfire-cpp tail: " << error << "\n";
    return 1;
  }
  if (!t.poll(error)) {
    std::cerr << "logfire-cpp tail: " << error << "\n";
    return 1;
  }
  t.flush({}, true);
  if (a.flag("no-follow")) return 0;
  auto settle = std::max<std::chrono::milliseconds>(2 * interval, std::chrono::milliseconds(1000));
  while (true) {
    std::this_thread::sleep_for(interval);
    if (!t.poll(error)) {
      std::cerr << "logfire-cpp tail: " << error << "\n";
      return 1;
    }
    t.flush(settle, false);
  }
}

}  // namespace logfire::cli
