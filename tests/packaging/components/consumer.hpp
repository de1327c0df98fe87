// What every component consumer shares: the SDK configured into a memory exporter, and a check
// of what it got.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "logfire/config.hpp"
#include "logfire/memory_exporter.hpp"

namespace consumer {

inline std::shared_ptr<logfire::memory_exporter> g_mem = std::make_shared<logfire::memory_exporter>();

inline logfire::setup configure() {
  return logfire::configure({.console = {.enabled = false}, .exporters = {g_mem}, .read_environment = false});
}

// Flushes and prints the records; returns 0 when a record of `kind` named `name` arrived.
inline int expect(const char* component, logfire::span_kind kind, const std::string& name) {
  logfire::force_flush();
  int found = 0;
  for (const auto& r : g_mem->records()) {
    std::printf("%s consumer: %s '%s'\n", component, r.type == logfire::record_type::log ? "log" : "span",
                r.message.c_str());
    if (r.kind == kind && r.name == name) ++found;
  }
  return found > 0 ? 0 : 1;
}

}  // namespace consumer
