// What `logfire-cpp tail` prints, and when. Spans reach the database when they end, after their
// children, so a record cannot be printed the moment it arrives with the right indentation.
// Records are therefore grouped by trace and a group is printed, in start order, once no new
// record of that trace arrived for a short settle time; depths come from the group, from traces
// printed earlier, or from the database. Everything from the telemetry is shown escaped for the
// terminal (backend/text.hpp), so a span name cannot move the cursor or retitle the window.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "backend/db.hpp"

namespace logfire::cli {

struct tail_style {
  bool color = false;
  bool verbose = false;  // kind, duration, service and trace id after each record
  [[nodiscard]] std::string wrap(const char* code, const std::string& text) const {
    return color ? std::string("\033[") + code + "m" + text + "\033[0m" : text;
  }
};

// One record as Logfire's console prints it: local time, two spaces per depth, the message (red
// at error and above, yellow for warnings), tags in cyan, the exception on its own line below.
// Shared by `tail` and `trace`.
struct console_record {
  std::int64_t start_ns = 0;
  std::optional<double> duration;
  std::string kind;
  int level = 9;
  std::string message, tags, service, trace_id;
  bool is_exception = false;
  std::string exception_type, exception_message;
};
void print_console_record(const console_record& r, int depth, const tail_style& style);

class tailer {
 public:
  tailer(sqlite3* db, tail_style style, int min_level, std::optional<std::string> service)
      : db_(db), style_(style), min_level_(min_level), service_(std::move(service)) {}

  bool prepare_statements(std::string& error);
  // Starts after the newest record, or `last` records before it.
  bool start_cursor(std::size_t last, std::string& error);
  // Reads every record newer than the cursor into the pending groups.
  bool poll(std::string& error);
  // Prints the groups that have been quiet for `settle` (all of them when `everything`).
  void flush(std::chrono::milliseconds settle, bool everything);

 private:
  struct row {
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
    std::vector<row> rows;
    std::chrono::steady_clock::time_point last_seen;
  };

  static std::string key(const std::string& trace, const std::string& span) { return trace + span; }
  void remember_depth(const std::string& k, int depth);
  int depth_from_db(const std::string& trace, std::string parent);
  std::unordered_map<const row*, int> depths(const group& g);
  void print_group(group& g);
  void print_row(const row& r, int depth) const;

  sqlite3* db_;
  tail_style style_;
  int min_level_;
  std::optional<std::string> service_;
  backend::stmt_handle fetch_, parent_;
  std::int64_t cursor_ = 0;
  std::map<std::string, group> groups_;
  std::unordered_map<std::string, int> depths_;
  std::unordered_set<std::string> printed_pending_;
  std::deque<std::string> order_;
};

}  // namespace logfire::cli
