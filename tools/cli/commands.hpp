// The logfire-cpp subcommands. Each parses argv from index 2 (after "logfire-cpp <command>") and
// returns the process exit code: 0 success, 1 failure (named on stderr), 2 bad usage.
#pragma once

namespace logfire::cli {

int serve_command(int argc, char** argv);
int query_command(int argc, char** argv);
int tail_command(int argc, char** argv);
int traces_command(int argc, char** argv);
int search_command(int argc, char** argv);
int trace_command(int argc, char** argv);
int mcp_command(int argc, char** argv);

}  // namespace logfire::cli
