// spdlog into Logfire: the application keeps logging through spdlog (here to the terminal as
// well); each record becomes a Logfire log under the span current where it was written, also
// through an asynchronous logger, and the LOGFIRE_SPDLOG_* macros keep templates and arguments.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <thread>
#include <vector>

#include "logfire/config.hpp"
#include "logfire/spdlog.hpp"
#include "logfire/stats.hpp"

int main() {
  // Logfire's own console is off: spdlog prints to the terminal here.
  auto lf = logfire::configure({.service_name = "spdlog-example", .console = {.enabled = false}});
  if (!lf) {
    std::fprintf(stderr, "configure failed: %s\n", lf.error().c_str());
    return 1;
  }
  auto to_logfire = std::make_shared<logfire::spdlog_sink>();
  auto terminal = std::make_shared<spdlog::sinks::stdout_color_sink_mt>();

  // Synchronous: every sink runs on the logging thread.
  auto log = std::make_shared<spdlog::logger>("checkout", spdlog::sinks_init_list{to_logfire, terminal});
  {
    logfire::span request("POST /checkout");
    SPDLOG_LOGGER_INFO(log, "cart has {} items", 3);  // message as spdlog wrote it, with code.*
    const int user_id = 42;
    const double amount = 19.99;
    LOGFIRE_SPDLOG_INFO(log, "charged {} {:.2f}", user_id, amount);  // template + user_id, amount
    LOGFIRE_SPDLOG_WARN(log, "retry {attempt}", fmt::arg("attempt", 2));
  }

  // Asynchronous: the terminal sink runs on spdlog's thread pool, the Logfire sink here.
  auto async_log = logfire::make_spdlog_async_logger("workers", {to_logfire, terminal});
  std::vector<std::thread> workers;
  for (int w = 0; w < 3; ++w) {
    workers.emplace_back([&, w] {
      logfire::span job("job {worker}", {{"worker", w}});
      LOGFIRE_SPDLOG_INFO(async_log, "worker {} done", w);  // the child of this thread's job span
    });
  }
  for (auto& t : workers) t.join();
  async_log->flush();  // spdlog's queue, and the SDK's pipeline within the sink's deadline

  std::printf("%s\n", logfire::stats().summary().c_str());
  return 0;
}
