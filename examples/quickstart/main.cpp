// Quickstart: nested spans, logs at several levels, an exception, and the loss accounting.
// Prints a Logfire-style tree on the console and exports wherever the environment says
// (LOGFIRE_TOKEN for Logfire, OTEL_EXPORTER_OTLP_ENDPOINT for any OTLP backend).
#include <cstdio>
#include <stdexcept>
#include <thread>
#include <vector>

#include "logfire/config.hpp"
#include "logfire/logfire.hpp"

namespace {

struct card_declined : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void charge(int user_id, double amount) {
  logfire::span s("charge {user_id} {amount:.2f}", {{"user_id", user_id}, {"amount", amount}}, {.tags = {"payments"}});
  logfire::debug("looking up card", {{"user_id", user_id}});
  if (user_id % 3 == 0) {
    try {
      throw card_declined("card declined by issuer");
    } catch (const std::exception& e) {
      s.record_exception(e, /*escaped=*/true);
      logfire::warn("charge for {user_id} failed, will retry tomorrow", {{"user_id", user_id}});
      return;
    }
  }
  logfire::info("charged {user_id}", {{"user_id", user_id}, {"card", logfire::object{{"last4", "4242"}}}});
}

}  // namespace

int main() {
  auto lf = logfire::configure({.service_name = "quickstart", .service_version = "1.0"});
  if (!lf) {
    std::fprintf(stderr, "configure failed: %s\n", lf.error().c_str());
    return 1;
  }
  {
    logfire::span batch("nightly billing run", {{"users", 4}});
    std::vector<std::thread> workers;
    const auto ctx = logfire::capture_context();
    for (int user = 1; user <= 4; ++user) {
      workers.emplace_back([ctx, user] {
        logfire::context_scope on_this_thread(ctx);  // the worker's spans nest under the batch span
        charge(user, 10.5 * user);
      });
    }
    for (auto& w : workers) w.join();
    logfire::notice("billing run finished");
  }
  logfire::force_flush();
  const auto s = logfire::stats();
  std::printf("\n%s\n", s.summary().c_str());
  return s.dropped_total() == 0 ? 0 : 2;
}
