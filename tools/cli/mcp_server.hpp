// `logfire-cpp mcp`: a Model Context Protocol server over stdio, so a coding assistant can ask
// the local database what happened ("what failed in the last 5 minutes?"). JSON-RPC 2.0, one
// message per line: initialize, notifications/initialized, ping, tools/list, tools/call. The
// tools are the read commands: recent_traces, get_trace, search, query_sql (the same read-only
// SQL door as /api/query). Every tool answers JSON (as text content and as structuredContent) in
// the shapes of docs/local-backend.md.
//
// Input is bounded: a line longer than max_line_bytes is answered with a JSON-RPC error and
// skipped; a malformed line gets a parse error; the server goes on either way.
//
//   mcp_server mcp({.db_path = default_database_path()});
//   std::string answer = mcp.handle_line(R"({"jsonrpc":"2.0","id":1,"method":"ping"})");
//   mcp.run(stdin, stdout);   // until end of input
#pragma once

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

namespace logfire::cli {

struct mcp_options {
  std::string db_path;                    // opened read-only for each tool call (it may appear later)
  std::string server_version = "0";       // serverInfo.version
  std::size_t max_line_bytes = 1u << 20;  // longest JSON-RPC message line (--max-line), default 1 MiB
  // query_sql: rows and bytes of a result (cut beyond, "truncated": true) and its time. Defaults
  // 200 rows, 256 KiB, 10 s: an assistant's context is small.
  std::size_t query_max_rows = 200;
  std::size_t query_max_bytes = 256u << 10;
  std::chrono::milliseconds query_timeout{10'000};
};

// The protocol revision answered when the client asks for one this server does not know.
inline constexpr std::string_view kMcpLatestVersion = "2025-11-25";

class mcp_server {
 public:
  explicit mcp_server(mcp_options options) : options_(std::move(options)) {}

  // One message line (without its newline). Returns the answer line without a newline, or an
  // empty string when there is nothing to answer (notifications, empty lines). Never throws.
  [[nodiscard]] std::string handle_line(std::string_view line);
  // The answer to a line over max_line_bytes (its content is not read).
  [[nodiscard]] std::string line_too_long() const;
  // Reads lines from `in` until end of input, writing each answer and a newline to `out`.
  void run(std::FILE* in, std::FILE* out);

  [[nodiscard]] const mcp_options& options() const { return options_; }

 private:
  mcp_options options_;
  bool initialized_ = false;
};

}  // namespace logfire::cli
