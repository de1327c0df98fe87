// Builds without OTLP/gRPC (LOGFIRE_BACKEND_GRPC=OFF, e.g. ThreadSanitizer builds): serve says
// so when asked for a gRPC port and serves OTLP/HTTP alone.
#include "grpc_receiver.hpp"

namespace logfire::backend {

namespace detail {
class grpc_receiver_impl {};
}  // namespace detail

bool grpc_available() {
  return false;
}

grpc_receiver::grpc_receiver(server&, grpc_options) {}
grpc_receiver::~grpc_receiver() = default;

bool grpc_receiver::start(std::string& error) {
  error = "this build has no OTLP/gRPC (built with LOGFIRE_BACKEND_GRPC=OFF); use OTLP/HTTP, or --no-grpc";
  return false;
}

void grpc_receiver::stop() {}

int grpc_receiver::port() const {
  return 0;
}

}  // namespace logfire::backend
