#include "query.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "db.hpp"
#include "json.hpp"
#include "text.hpp"

namespace logfire::backend {
namespace {

struct deadline_state {
  std::chrono::steady_clock::time_point until;
  bool passed = false;
};

// SQLite's progress handler (the querying thread, every 1000 steps): non-zero interrupts.
int check_deadline(void* p) {
  auto* st = static_cast<deadline_state*>(p);
  st->passed = st->passed || std::chrono::steady_clock::now() > st->until;
  return st->passed ? 1 : 0;
}

std::string human_bytes(std::size_t n) {
  if (n >= (1u << 20) && n % (1u << 20) == 0) return std::to_string(n >> 20) + " MiB";
  if (n >= 1024 && n % 1024 == 0) return std::to_string(n >> 10) + " KiB";
  return std::to_string(n) + " bytes";
}

std::string with_option(std::string text, const std::string& option) {
  return option.empty() ? text : text + " (" + option + ")";
}

// Whether only whitespace, ';' and comments remain.
bool only_trivia(std::string_view rest) {
  std::size_t i = 0;
  while (i < rest.size()) {
    char c = rest[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ';') {
      ++i;
    } else if (rest.substr(i, 2) == "--") {
      while (i < rest.size() && rest[i] != '\n') ++i;
    } else if (rest.substr(i, 2) == "/*") {
      auto end = rest.find("*/", i + 2);
      if (end == std::string_view::npos) return true;  // an unterminated comment is still only a comment
      i = end + 2;
    } else {
      return false;
    }
  }
  return true;
}

std::size_t display_width(std::string_view s) {
  std::size_t w = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++w;  // count code points, not bytes
  }
  return w;
}

// Text for one table cell: control characters and other things a terminal would act on made
// visible (text::for_terminal), newlines and tabs as spaces so the cell stays on its line, then
// cut to `width` code points with "…".
std::string fit(std::string_view raw, std::size_t width) {
  std::string flat(raw);
  for (auto& c : flat) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  std::string s = text::for_terminal(flat);
  bool cut = display_width(s) > width;
  std::size_t keep = cut ? (width > 0 ? width - 1 : 0) : s.size();
  std::string out;
  std::size_t w = 0;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c & 0xC0) != 0x80 && w++ == keep) break;
    out += ch;
  }
  if (cut) out += "…";
  return out;
}

}  // namespace

namespace {

// The one statement in `sql`, or null with the reason.
stmt_handle prepare_one(sqlite3* db, std::string_view sql, std::string& error) {
  // Skip leading trivia so an empty query is named as such.
  if (only_trivia(sql)) {
    error = "empty query: give one SQL statement, e.g. SELECT count(*) FROM records";
    return nullptr;
  }
  if (sql.size() > 1'000'000) {
    error = "query text too long (over 1 MB)";
    return nullptr;
  }
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  (void)take_denial();
  int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, &tail);
  stmt_handle stmt(raw);
  if (rc != SQLITE_OK) {
    std::string denied = take_denial();
    error = (rc & 0xFF) == SQLITE_AUTH && !denied.empty() ? denied : std::string(sqlite3_errmsg(db));
    return nullptr;
  }
  if (!stmt) {
    error = "empty query: give one SQL statement, e.g. SELECT count(*) FROM records";
    return nullptr;
  }
  std::string_view rest = tail ? sql.substr(static_cast<std::size_t>(tail - sql.data())) : std::string_view();
  if (!only_trivia(rest)) {
    error = "one SQL statement at a time, please (more text follows the first ';')";
    return nullptr;
  }
  // Transactions are refused by the authorizer; this catches any other statement that would
  // write, whatever the authorizer allows.
  if (!sqlite3_stmt_readonly(stmt.get())) {
    error = sqlite3_errstr(SQLITE_READONLY);  // "attempt to write a readonly database"
    return nullptr;
  }
  return stmt;
}

// The current row's cells; returns their size as counted against max_bytes.
std::size_t read_row(sqlite3_stmt* stmt, int n, std::vector<cell>& row) {
  std::size_t bytes = 0;
  row.assign(static_cast<std::size_t>(n), cell{});
  for (int i = 0; i < n; ++i) {
    cell& c = row[static_cast<std::size_t>(i)];
    switch (sqlite3_column_type(stmt, i)) {
      case SQLITE_INTEGER:
        c.kind = cell::type::integer;
        c.i = sqlite3_column_int64(stmt, i);
        bytes += 8;
        break;
      case SQLITE_FLOAT:
        c.kind = cell::type::real;
        c.d = sqlite3_column_double(stmt, i);
        bytes += 8;
        break;
      case SQLITE_TEXT:
        c.kind = cell::type::text;
        c.text = column_text(stmt, i);
        bytes += c.text.size();
        break;
      case SQLITE_BLOB: {
        c.kind = cell::type::blob;
        const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt, i));
        c.text.assign(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(stmt, i)));
        bytes += 2 * c.text.size();  // shown as hex
        break;
      }
      default:
        bytes += 4;
        break;
    }
  }
  return bytes;
}

// Restores what run_query changed on the connection, whatever way it returns.
struct connection_guard {
  sqlite3* db;
  int old_length;
  bool progress;
  ~connection_guard() {
    if (progress) sqlite3_progress_handler(db, 0, nullptr, nullptr);
    if (old_length >= 0) sqlite3_limit(db, SQLITE_LIMIT_LENGTH, old_length);
  }
};

// Why a step failed; the two limits a query can hit name their option.
std::string step_error(sqlite3* db, int rc, const query_limits& limits, const deadline_state& deadline) {
  if ((rc & 0xFF) == SQLITE_INTERRUPT && deadline.passed) {
    return with_option("interrupted: the query ran longer than " + std::to_string(limits.timeout->count()) + " ms",
                       limits.timeout_option);
  }
  if ((rc & 0xFF) == SQLITE_TOOBIG && limits.max_bytes) {
    return with_option("string or blob too big: values are limited to " + human_bytes(*limits.max_bytes) + " here",
                       limits.bytes_option);
  }
  return sqlite3_errmsg(db);
}

}  // namespace

bool run_query(sqlite3* db, std::string_view sql, const query_limits& limits, query_result& out, std::string& error) {
  out = {};
  deadline_state deadline{};
  if (limits.timeout) deadline.until = std::chrono::steady_clock::now() + *limits.timeout;
  int length_limit = limits.max_bytes ? static_cast<int>(std::min<std::size_t>(*limits.max_bytes, 1u << 30)) : -1;
  connection_guard guard{db, length_limit >= 0 ? sqlite3_limit(db, SQLITE_LIMIT_LENGTH, length_limit) : -1,
                         limits.timeout.has_value()};
  if (limits.timeout) sqlite3_progress_handler(db, 1000, check_deadline, &deadline);
  stmt_handle stmt = prepare_one(db, sql, error);
  if (!stmt) return false;
  int n = sqlite3_column_count(stmt.get());
  for (int i = 0; i < n; ++i) {
    const char* name = sqlite3_column_name(stmt.get(), i);
    out.columns.emplace_back(name ? name : "");
  }
  std::size_t bytes = 0;
  std::vector<cell> row;
  while (true) {
    int rc = sqlite3_step(stmt.get());
    if (rc == SQLITE_DONE) return true;
    if (rc == SQLITE_ROW && limits.timeout && check_deadline(&deadline)) rc = SQLITE_INTERRUPT;
    if (rc != SQLITE_ROW) {
      error = step_error(db, rc, limits, deadline);
      return false;
    }
    if (limits.max_rows && out.rows.size() >= *limits.max_rows) {
      out.truncated = true;
      out.truncated_note = with_option("stopped at " + std::to_string(*limits.max_rows) + " rows", limits.rows_option);
      return true;
    }
    std::size_t row_bytes = read_row(stmt.get(), n, row);
    if (limits.max_bytes && bytes + row_bytes > *limits.max_bytes) {
      out.truncated = true;
      out.truncated_note =
          with_option("stopped after " + std::to_string(out.rows.size()) + " rows at " + human_bytes(*limits.max_bytes),
                      limits.bytes_option);
      return true;
    }
    bytes += row_bytes;
    out.rows.push_back(std::move(row));
  }
}

std::string cell_text(const cell& c) {
  switch (c.kind) {
    case cell::type::null:
      return {};
    case cell::type::integer:
      return std::to_string(c.i);
    case cell::type::real: {
      std::string s;
      json::append_double(s, c.d);
      if (!s.empty() && s.front() == '"') s = s.substr(1, s.size() - 2);  // NaN/Infinity unquoted
      return s;
    }
    case cell::type::text:
      return c.text;
    case cell::type::blob: {
      static constexpr char digits[] = "0123456789abcdef";
      std::string s = "x'";
      for (char ch : c.text) {
        s += digits[static_cast<unsigned char>(ch) >> 4];
        s += digits[static_cast<unsigned char>(ch) & 0xF];
      }
      return s + "'";
    }
  }
  return {};
}

void write_table(std::ostream& out, const query_result& r, std::size_t max_cell_width) {
  std::size_t n = r.columns.size();
  std::vector<std::vector<std::string>> cells;
  cells.reserve(r.rows.size());
  std::vector<std::size_t> widths(n);
  for (std::size_t i = 0; i < n; ++i) widths[i] = display_width(fit(r.columns[i], max_cell_width));
  for (const auto& row : r.rows) {
    std::vector<std::string> texts;
    texts.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      texts.push_back(row[i].kind == cell::type::null ? "NULL" : fit(cell_text(row[i]), max_cell_width));
      widths[i] = std::max(widths[i], display_width(texts.back()));
    }
    cells.push_back(std::move(texts));
  }
  auto line = [&](const std::vector<std::string>& texts, const std::vector<bool>& right) {
    for (std::size_t i = 0; i < n; ++i) {
      if (i > 0) out << " │ ";
      std::size_t pad = widths[i] - display_width(texts[i]);
      if (right[i]) out << std::string(pad, ' ');
      out << texts[i];
      if (!right[i] && i + 1 < n) out << std::string(pad, ' ');
    }
    out << '\n';
  };
  std::vector<std::string> header;
  for (const auto& c : r.columns) header.push_back(fit(c, max_cell_width));
  line(header, std::vector<bool>(n, false));
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0) out << "─┼─";
    for (std::size_t k = 0; k < widths[i]; ++k) out << "─";
  }
  out << '\n';
  for (std::size_t ri = 0; ri < cells.size(); ++ri) {
    std::vector<bool> right(n);
    for (std::size_t i = 0; i < n; ++i) {
      auto k = r.rows[ri][i].kind;
      right[i] = k == cell::type::integer || k == cell::type::real;
    }
    line(cells[ri], right);
  }
  out << "(" << r.rows.size() << (r.rows.size() == 1 ? " row" : " rows")
      << (r.truncated ? ", more not shown: " + r.truncated_note : std::string()) << ")\n";
}

namespace {

void append_cell_json(std::string& s, const cell& c) {
  switch (c.kind) {
    case cell::type::null:
      s += "null";
      break;
    case cell::type::integer:
      json::append_int(s, c.i);
      break;
    case cell::type::real:
      json::append_double(s, c.d);
      break;
    case cell::type::text:
      json::append_string(s, c.text);
      break;
    case cell::type::blob:
      json::append_string(s, cell_text(c));
      break;
  }
}

}  // namespace

void write_json(std::ostream& out, const query_result& r) {
  std::string s = "[";
  for (std::size_t ri = 0; ri < r.rows.size(); ++ri) {
    s += ri == 0 ? "\n  {" : ",\n  {";
    for (std::size_t i = 0; i < r.columns.size(); ++i) {
      if (i > 0) s += ", ";
      json::append_string(s, r.columns[i]);
      s += ": ";
      append_cell_json(s, r.rows[ri][i]);
    }
    s += '}';
  }
  s += r.rows.empty() ? "]\n" : "\n]\n";
  out << s;
}

void write_csv(std::ostream& out, const query_result& r, bool for_terminal) {
  auto field = [&](std::string_view raw) {
    std::string escaped = for_terminal ? text::for_terminal(raw, true) : std::string();
    std::string_view v = for_terminal ? std::string_view(escaped) : raw;
    if (v.find_first_of(",\"\n\r") == std::string_view::npos) {
      out << v;
      return;
    }
    out << '"';
    for (char c : v) {
      if (c == '"') out << '"';
      out << c;
    }
    out << '"';
  };
  for (std::size_t i = 0; i < r.columns.size(); ++i) {
    if (i > 0) out << ',';
    field(r.columns[i]);
  }
  out << "\r\n";
  for (const auto& row : r.rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i > 0) out << ',';
      field(cell_text(row[i]));
    }
    out << "\r\n";
  }
}

std::string result_to_api_json(const query_result& r) {
  std::string s = "{\"columns\":[";
  for (std::size_t i = 0; i < r.columns.size(); ++i) {
    if (i > 0) s += ',';
    json::append_string(s, r.columns[i]);
  }
  s += "],\"rows\":[";
  for (std::size_t ri = 0; ri < r.rows.size(); ++ri) {
    if (ri > 0) s += ',';
    s += '[';
    for (std::size_t i = 0; i < r.rows[ri].size(); ++i) {
      if (i > 0) s += ',';
      append_cell_json(s, r.rows[ri][i]);
    }
    s += ']';
  }
  s += "],\"truncated\":";
  s += r.truncated ? "true" : "false";
  if (r.truncated && !r.truncated_note.empty()) {
    s += ",\"truncated_note\":";
    json::append_string(s, r.truncated_note);
  }
  s += '}';
  return s;
}

}  // namespace logfire::backend
