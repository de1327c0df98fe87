// The options of `logfire-cpp serve`: one table gives each option its help text (with its
// default) and the code that checks and applies its value, so --help and parsing cannot drift.
#pragma once

#include "backend/server.hpp"
#include "backend/store.hpp"

namespace logfire::cli {

struct serve_config {
  backend::store_options store;
  backend::server_options server;
};

// Parses `logfire-cpp serve [options]`. Returns -1 to go on serving; otherwise the exit code to
// return (0 after --help, 2 for bad usage, the reason printed on stderr).
int parse_serve_options(int argc, char** argv, serve_config& config);

}  // namespace logfire::cli
