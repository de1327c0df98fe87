// A program outside the project that uses the installed (or vendored) library.
#include <cstdio>
#include <memory>

#include "logfire/config.hpp"
#include "logfire/logfire.hpp"
#include "logfire/memory_exporter.hpp"

int main() {
  auto mem = std::make_shared<logfire::memory_exporter>();
  auto lf = logfire::configure({.console = {.enabled = false}, .exporters = {mem}, .read_environment = false});
  if (!lf) return 1;
  {
    logfire::span s("consumer {n}", {{"n", 1}});
    logfire::info("inside");
  }
  logfire::force_flush();
  const auto records = mem->records();
  std::printf("consumer: %zu records, first message '%s'\n", records.size(),
              records.empty() ? "" : records.front().message.c_str());
  return records.size() == 2 && records[0].message == "inside" ? 0 : 1;
}
