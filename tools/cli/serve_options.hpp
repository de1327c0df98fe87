// The options of `logfire-cpp serve`: one table gives each option its help text (with its
// default) and the code that checks and applies its value, so --help and parsing cannot drift.
#pragma once

#include "backend/grpc_receiver.hpp"
#include "backend/server.hpp"
#include "backend/store.hpp"

namespace logfire::cli {

struct serve_config {
  backend::store_options store;
  backend::server_options server;
  backend::grpc_options grpc;
  bool http_enabled = true;    // --no-http turns OTLP/HTTP, the web view and the API off
  bool grpc_enabled = true;    // --no-grpc
  bool grpc_port_set = false;  // --grpc-port given: failing to bind it is an error, not a warning
};

// Parses `logfire-cpp serve [options]`. Returns -1 to go on serving; otherwise the exit code to
// return (0 after --help, 2 for bad usage, the reason printed on stderr).
int parse_serve_options(int argc, char** argv, serve_config& config);

}  // namespace logfire::cli
