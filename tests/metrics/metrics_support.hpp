// Helpers for the metrics tests: a reader exporting to memory (collected on demand), unique
// instrument names (instruments are process-wide), and the diagnostics a reader printed.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "logfire/memory_metric_exporter.hpp"
#include "logfire/metric_callbacks.hpp"
#include "logfire/metrics.hpp"
#include "metrics/reader.hpp"

namespace metrics_test {

using namespace std::chrono_literals;

// A name no other test uses: instruments live for the whole process.
inline std::string unique(std::string_view base) {
  static std::atomic<int> n{0};
  return std::string(base) + "." + std::to_string(n.fetch_add(1));
}

// A reader exporting to memory whose diagnostics go to a temporary file. collect() runs one
// collection (force_flush) and returns what it produced.
class reader_fixture {
 public:
  explicit reader_fixture(logfire::metric_temporality pref = logfire::metric_temporality::delta, bool start = true)
      : mem(std::make_shared<logfire::memory_metric_exporter>()), diag_(std::tmpfile()) {
    logfire::detail::metric_reader_settings s;
    s.preference = pref;
    s.exporters = {mem};
    s.diagnostics = diag_;
    s.interval = std::chrono::hours(1);  // collections only when asked
    s.res.set("service.name", std::string("metrics-test"));
    reader = std::make_unique<logfire::detail::metric_reader>(std::move(s));
    if (start) reader->start();
  }
  ~reader_fixture() {
    reader->shutdown(std::chrono::steady_clock::now() + 5s);
    if (diag_) std::fclose(diag_);
  }

  // One collection; the batch it produced (empty when it produced no point).
  logfire::stored_metric_batch collect() {
    const std::size_t before = mem->size();
    EXPECT_TRUE(reader->force_flush(std::chrono::steady_clock::now() + 10s));
    auto all = mem->batches();
    return all.size() > before ? all.back() : logfire::stored_metric_batch{};
  }

  // The metric `name` of one collection, or a metric without points.
  logfire::stored_metric collect_one(std::string_view name) {
    auto b = collect();
    if (const auto* m = b.find(name)) return *m;
    return {};
  }

  // Everything the reader printed so far.
  std::string diagnostics() {
    std::fflush(diag_);
    std::rewind(diag_);
    std::string out;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, diag_)) > 0) out.append(buf, n);
    std::fseek(diag_, 0, SEEK_END);
    return out;
  }

  std::shared_ptr<logfire::memory_metric_exporter> mem;
  std::unique_ptr<logfire::detail::metric_reader> reader;

 private:
  std::FILE* diag_;
};

inline std::size_t count_of(const std::string& text, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

}  // namespace metrics_test
