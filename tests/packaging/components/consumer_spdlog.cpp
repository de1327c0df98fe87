// Uses logfire::spdlog from the installed package: a log through a spdlog logger.
#include <spdlog/spdlog.h>

#include "consumer.hpp"
#include "logfire/spdlog.hpp"

int main() {
  auto lf = consumer::configure();
  auto log = std::make_shared<spdlog::logger>("consumer", std::make_shared<logfire::spdlog_sink>());
  LOGFIRE_SPDLOG_INFO(log, "hello {}", 42);
  return consumer::expect("spdlog", logfire::span_kind::internal, "hello {arg0}");
}
