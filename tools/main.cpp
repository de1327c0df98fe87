// logfire-cpp: the local OTLP backend and its command-line tools, in one program.
//   logfire-cpp serve            receive OTLP on 127.0.0.1:4318, store in SQLite, web view at /
//   logfire-cpp query "<SQL>"    read-only SQL over the `records` and `metrics` tables
//   logfire-cpp tail             follow new records live, console style
//   logfire-cpp traces           recent traces with duration, span count and errors
//   logfire-cpp search TEXT      records by text, service, time and level
//   logfire-cpp trace ID         one trace as a tree
//   logfire-cpp mcp              Model Context Protocol server (stdio) for coding assistants
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/commands.hpp"

namespace {

constexpr const char* kUsage = R"(logfire-cpp: a local backend for logfire-cpp and any OpenTelemetry SDK.

Usage: logfire-cpp <command> [options]

Commands:
  serve     receive OTLP/HTTP (traces, logs, metrics) on 127.0.0.1:4318, store it in SQLite,
            and show traces in a browser at http://127.0.0.1:4318/
  query     run one read-only SQL statement over the `records` and `metrics` tables
  tail      print new spans and logs as they arrive, indented by depth
  traces    list recent traces with their duration, span count and errors
  search    find spans and logs by text, service, time and level
  trace     print one trace as a tree, as the console prints it
  mcp       a Model Context Protocol server on stdin/stdout, for coding assistants

Run `logfire-cpp <command> --help` for a command's options. Every read command takes --json.
The database is $LOGFIRE_LOCAL_DB, else $XDG_DATA_HOME/logfire-cpp/logfire.db
(~/.local/share/logfire-cpp/logfire.db); every command takes --db PATH.
)";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    if (argc >= 3 && std::strcmp(argv[1], "help") == 0) {
      // "logfire-cpp help serve" is "logfire-cpp serve --help".
      char help_flag[] = "--help";
      char* forwarded[] = {argv[0], argv[2], help_flag, nullptr};
      std::string cmd = argv[2];
      if (cmd == "serve") return logfire::cli::serve_command(3, forwarded);
      if (cmd == "query") return logfire::cli::query_command(3, forwarded);
      if (cmd == "tail") return logfire::cli::tail_command(3, forwarded);
      if (cmd == "traces") return logfire::cli::traces_command(3, forwarded);
      if (cmd == "search") return logfire::cli::search_command(3, forwarded);
      if (cmd == "trace") return logfire::cli::trace_command(3, forwarded);
      if (cmd == "mcp") return logfire::cli::mcp_command(3, forwarded);
    }
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  if (cmd == "--version" || cmd == "version") {
    std::puts("logfire-cpp " LOGFIRE_CPP_VERSION);
    return 0;
  }
  if (cmd == "serve") return logfire::cli::serve_command(argc, argv);
  if (cmd == "query") return logfire::cli::query_command(argc, argv);
  if (cmd == "tail") return logfire::cli::tail_command(argc, argv);
  if (cmd == "traces") return logfire::cli::traces_command(argc, argv);
  if (cmd == "search") return logfire::cli::search_command(argc, argv);
  if (cmd == "trace") return logfire::cli::trace_command(argc, argv);
  if (cmd == "mcp") return logfire::cli::mcp_command(argc, argv);
  std::fprintf(stderr,
               "logfire-cpp: unknown command '%s' (commands: serve, query, tail, traces, search, trace, mcp; see "
               "--help)\n",
               cmd.c_str());
  return 2;
}
