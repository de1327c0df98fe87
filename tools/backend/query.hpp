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
  bool truncated = false;      // the result was cut: more rows, or more bytes, than allowed
  std::string truncated_note;  // why, e.g. "stopped at 1000 rows (--query-max-rows)"
};

struct query_limits {
  std::optional<std::size_t> max_rows{};  // none = all rows
  // Bytes of the result's cells (text as is, blobs as hex); also the largest string or blob the
  // statement may compute (so zeroblob(1e9) fails at once instead of allocating).
  std::optional<std::size_t> max_bytes{};
  // The whole run: stepping, computing and collecting rows. Checked every 1000 virtual machine
  // steps and every row.
  std::optional<std::chrono::milliseconds> timeout{};
  // The options that raise each limit, for messages (e.g. "--query-max-rows"); empty: unnamed.
  std::string rows_option, bytes_option, timeout_option;
};

// Runs exactly one statement (a trailing ';' is fine) on a connection set up by
// restrict_to_reading() (db.hpp). Fails with SQLite's message for bad SQL, "attempt to write a
// readonly database" for anything that would write, a message naming the rule for anything else
// the door refuses (transactions, ATTACH, pragmas), "interrupted" past the timeout, or a message
// of ours when the text holds several statements.
bool run_query(sqlite3* db, std::string_view sql, const query_limits& limits, query_result& out, std::string& error);

// The text a cell shows (NULL as empty, blobs as hex, reals in shortest form).
[[nodiscard]] std::string cell_text(const cell& c);

// An aligned text table for a terminal; cells longer than `max_cell_width` are cut with "…", and
// control characters in them are shown escaped (text::for_terminal), never sent raw.
void write_table(std::ostream& out, const query_result& r, std::size_t max_cell_width = 80);
// A JSON array with one object per row.
void write_json(std::ostream& out, const query_result& r);
// RFC 4180 CSV with a header line. `for_terminal` (stdout is a terminal): control characters
// other than newline and tab are shown escaped instead of raw.
void write_csv(std::ostream& out, const query_result& r, bool for_terminal = false);

// {"columns":[...],"rows":[[...],...],"truncated":false}: the web API's shape; a truncated
// result also has "truncated_note".
[[nodiscard]] std::string result_to_api_json(const query_result& r);

}  // namespace logfire::backend
