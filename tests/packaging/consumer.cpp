// A program outside the project that uses the installed (or vendored) library.
#include <cstdio>
#include <memory>

#include "logfire/config.hpp"
#include "logfire/logfire.hpp"
#include "logfire/memory_exporter.hpp"
#include "logfire/memory_metric_exporter.hpp"
#include "logfire/metrics.hpp"

int main() {
  auto mem = std::make_shared<logfire::memory_exporter>();
  auto metrics = std::make_shared<logfire::memory_metric_exporter>();
  auto lf = logfire::configure({.console = {.enabled = false},
                                .exporters = {mem},
                                .metrics = {.exporters = {metrics}},
                                .read_environment = false});
  logfire::shutdown_guard lf_guard(lf);
  if (!lf) return 1;
  logfire::metric_counter("consumer.runs").add(1);
  {
    logfire::span s("consumer {n}", {{"n", 1}});
    logfire::info("inside");
  }
  logfire::force_flush();
  const auto records = mem->records();
  std::printf("consumer: %zu records, first message '%s'\n", records.size(),
              records.empty() ? "" : records.front().message.c_str());
  const auto runs = metrics->last("consumer.runs");
  std::printf("consumer: metric consumer.runs = %lld\n",
              runs ? static_cast<long long>(runs->points.at(0).as_int) : -1LL);
  return records.size() == 2 && records[0].message == "inside" && runs && runs->points.at(0).as_int == 1 ? 0 : 1;
}
