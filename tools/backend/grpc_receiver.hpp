// OTLP/gRPC for `logfire-cpp serve`: TraceService, LogsService and MetricsService `Export` on
// their own port (4317 by default), beside OTLP/HTTP. It shares everything with the HTTP door:
// the token, the limits, the memory budget, the decode-and-store path (store_export in
// routes.hpp) and the stats, so a request is answered OK only after its rows are committed and a
// refusal names the option that raises the limit it hit.
//
// Threads: gRPC's own threads receive messages and run Export(), which checks the token and the
// memory budget and queues the call; `workers` threads of ours decode, wait for the commit and
// finish the call (waiting on gRPC's threads would stall its polling).
//
//   grpc_receiver grpc(http_server, {.port = 0});
//   if (!grpc.start(error)) ...;   // serving now, on grpc.port()
//   grpc.stop();                   // answers the calls in flight, then returns
#pragma once

#include <memory>
#include <string>

#include "server.hpp"

namespace logfire::backend {

struct grpc_options {
  std::string host = "127.0.0.1";  // as --host
  int port = 4317;                 // OTLP/gRPC's port; 0 picks a free one (--grpc-port)
  // Calls waiting for a worker, at most; beyond, UNAVAILABLE with RetryInfo. Default 64.
  std::size_t max_queued_calls = 64;
};

namespace detail {
class grpc_receiver_impl;
}

class grpc_receiver {
 public:
  // `http` lends its store, options (token, limits), stats and memory budget; it must outlive this.
  grpc_receiver(server& http, grpc_options options);
  ~grpc_receiver();  // stop()
  grpc_receiver(const grpc_receiver&) = delete;
  grpc_receiver& operator=(const grpc_receiver&) = delete;

  // Binds and starts serving. Fails with a message naming the address and the reason.
  bool start(std::string& error);
  // Any thread but gRPC's: refuses new calls, answers the ones in flight, stops the workers.
  void stop();
  [[nodiscard]] int port() const;

 private:
  std::unique_ptr<detail::grpc_receiver_impl> impl_;
};

// Whether this build has OTLP/gRPC (LOGFIRE_BACKEND_GRPC; off in ThreadSanitizer builds, where
// Debian's uninstrumented gRPC would report races of its own).
[[nodiscard]] bool grpc_available();

}  // namespace logfire::backend
