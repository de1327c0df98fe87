// `logfire-cpp mcp`'s JSON-RPC line handling (tools/cli/mcp_server.cpp) on arbitrary lines, with
// a real (empty) database behind the tools. Properties beyond "no crash": every answer is one
// line of valid JSON carrying "jsonrpc":"2.0", and a line over the limit is never parsed.
#include <sqlite3.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "backend/db.hpp"
#include "backend/json.hpp"
#include "cli/mcp_server.hpp"

namespace {

std::string make_database() {
  std::string path = "/tmp/logfire-fuzz-mcp-" + std::to_string(getpid()) + ".db";
  sqlite3* db = nullptr;
  std::string error;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK || !logfire::backend::create_schema(db, error)) std::abort();
  sqlite3_close(db);
  return path;
}

logfire::cli::mcp_server& server() {
  static const std::string path = make_database();
  static logfire::cli::mcp_server s([] {
    logfire::cli::mcp_options o;
    o.db_path = path;
    o.max_line_bytes = 4096;
    o.query_timeout = std::chrono::milliseconds(200);
    return o;
  }());
  return s;
}

void check(const std::string& answer) {
  if (answer.empty()) return;
  if (answer.find('\n') != std::string::npos) std::abort();
  if (!logfire::backend::json::is_valid(answer)) std::abort();
  if (answer.rfind("{\"jsonrpc\":\"2.0\",", 0) != 0) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string line(reinterpret_cast<const char*>(data), size);
  auto& s = server();
  // One line as the stdio loop would hand it over: up to the first newline, bounded.
  line = line.substr(0, line.find('\n'));
  check(line.size() > s.options().max_line_bytes ? s.line_too_long() : s.handle_line(line));
  return 0;
}
