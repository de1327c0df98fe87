// Read-only SQL for the CLI (`logfire-cpp query`) and the web view's SQL box: run one statement,
// refuse writes with SQLite's message, bound the time and the rows, format as a table, JSON or CSV.
//
//   query_result r;
//   std::string error;
//   if (!run_query(db, "SELECT count(*) FROM records", {}, r, error)) std::cerr << error;
//   write_table(std::cout, r);
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace logfire::backend {

struct cell {
  enum class type : std::uint8_t { null, integer, real, text, blob };
  type kind = type::null;
  std::int64_t i = 0;
  double d = 0;
  std::string text;  // text, or blob bytes
};

struct query_result {
  std::vector<std::string> columns;
  std::vector<std::vector<cell>> rows;
  bool truncated = false;  // more rows existed than max_rows
};

struct query_limits {
  std::optional<std::size_t> max_rows{};               // none = all rows
  std::optional<std::chrono::milliseconds> timeout{};  // none = no limit
};

// Runs exactly one statement (a trailing ';' is fine). Fails with SQLite's message for bad SQL,
// "attempt to write a readonly database" for anything that would write, "interrupted" past the
// timeout, or a message of ours when the text holds several statements.
bool run_query(sqlite3* db, std::string_view sql, const query_limits& limits, query_result& out, std::string& error);

// The text a cell shows (NULL as empty, blobs as hex, reals in shortest form).
[[nodiscard]] std::string cell_text(const cell& c);

// An aligned text table; cells longer than `max_cell_width` are cut with "…".
void write_table(std::ostream& out, const query_result& r, std::size_t max_cell_width = 80);
// A JSON array with one object per row.
void write_json(std::ostream& out, const query_result& r);
// RFC 4180 CSV with a header line.
void write_csv(std::ostream& out, const query_result& r);

// {"columns":[...],"rows":[[...],...],"truncated":false}: the web API's shape.
[[nodiscard]] std::string result_to_api_json(const query_result& r);

}  // namespace logfire::backend
