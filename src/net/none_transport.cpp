// LOGFIRE_HTTP_TRANSPORT=none: a library built without any HTTP client. Every POST fails with
// the reason (the exporter retries, spools and counts as for any unreachable backend, and its
// line says why), and the GCP metadata client finds nothing.
#include "net/http_transport.hpp"

namespace logfire::detail {
namespace {

class no_transport final : public http_transport {
 public:
  http_response post(const http_request&) noexcept override {
    http_response r;
    r.error = "logfire-cpp was built without an HTTP transport (LOGFIRE_HTTP_TRANSPORT=none)";
    return r;
  }
};

}  // namespace

std::unique_ptr<http_transport> make_http_transport(const http_transport_options&) {
  return std::make_unique<no_transport>();
}

void http_get_canceller::cancel() noexcept {
  cancelled_.store(true, std::memory_order_relaxed);
}

void http_get_all(std::span<http_get> gets, std::span<const http_header>, std::chrono::milliseconds, std::size_t,
                  http_get_canceller&) noexcept {
  for (auto& g : gets) g.status = 0;
}

}  // namespace logfire::detail
