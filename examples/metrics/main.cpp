// Metrics: a counter, a histogram, an up-down counter, a gauge and a callback, collected by the
// SDK's reader into an in-memory exporter and printed. docs/metrics.md shows this code.
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "logfire/config.hpp"
#include "logfire/memory_metric_exporter.hpp"
#include "logfire/metric_callbacks.hpp"
#include "logfire/metric_stats.hpp"
#include "logfire/metrics.hpp"

namespace {

// Create instruments once (handles are cheap to copy; instruments live for the process).
auto requests = logfire::metric_counter("http.server.requests", {.unit = "{request}"});
auto latency = logfire::metric_histogram("http.server.duration", {.unit = "ms"});
auto in_flight = logfire::metric_up_down_counter("http.server.active_requests");
auto temperature = logfire::metric_gauge("room.temperature", {.unit = "Cel"});

void handle(int i) {
  in_flight.add(1);
  requests.add(1, {{"http.route", "/checkout"}, {"http.response.status_code", i % 10 ? 200 : 500}});
  latency.record(5.0 + (i % 40) * 2.5, {{"http.route", "/checkout"}});
  in_flight.add(-1);
}

}  // namespace

int main() {
  auto mem = std::make_shared<logfire::memory_metric_exporter>();
  auto lf = logfire::configure({.console = {.enabled = false}, .metrics = {.exporters = {mem}}});
  if (!lf) {
    std::fprintf(stderr, "%s\n", lf.error().c_str());
    return 1;
  }

  // Fixed attribute sets: bind once, then each add touches only this thread's cell.
  auto checkout_ok = requests.bind({{"http.route", "/checkout"}, {"http.response.status_code", 200}});
  checkout_ok.add(1);

  // A callback the reader calls at each collection, on its own thread.
  std::deque<int> queue(12);
  auto reg = logfire::metric_gauge_callback("queue.depth",
                                            [&queue](logfire::observer& o) {
                                              o.observe(static_cast<std::int64_t>(queue.size()), {{"queue", "orders"}});
                                            },
                                            {.unit = "{item}"});

  std::vector<std::thread> workers;
  for (int t = 0; t < 2; ++t)
    workers.emplace_back([] {
      for (int i = 0; i < 1000; ++i) handle(i);
    });
  for (auto& w : workers) w.join();
  temperature.set(21.5, {{"room", "a"}});

  logfire::force_flush();  // collects now (otherwise every 60 s, and at shutdown)
  const auto batches = mem->batches();
  for (const auto& m : batches.back().metrics) {
    std::printf("%s (%s, %zu point%s)\n", m.name.c_str(), std::string(logfire::to_string(m.kind)).c_str(),
                m.points.size(), m.points.size() == 1 ? "" : "s");
    for (const auto& p : m.points) {
      std::printf("  ");
      for (const auto& [k, v] : p.attributes)
        if (const std::string* s = v.string())
          std::printf("%s=%s ", k.c_str(), s->c_str());
        else if (auto i = v.int64())
          std::printf("%s=%lld ", k.c_str(), static_cast<long long>(*i));
      if (m.type == logfire::metric_data_type::exponential_histogram)
        std::printf("count %llu, sum %.1f, min %.1f, max %.1f, scale %d, %zu buckets\n",
                    static_cast<unsigned long long>(p.count), p.sum, p.min, p.max, p.scale, p.bucket_counts.size());
      else
        std::printf("%g\n", p.value());
    }
  }
  std::printf("%s\n", logfire::metrics_stats().summary().c_str());
}
