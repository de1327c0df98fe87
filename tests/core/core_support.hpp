// Helpers shared by the core test suite: configure the SDK with an in-memory exporter only
// (no console, no environment), find records, and check the loss accounting identity.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "logfire/config.hpp"
#include "logfire/logfire.hpp"
#include "logfire/memory_exporter.hpp"
#include "logfire/stats.hpp"
#include "support/sanitizers.hpp"

namespace core_test {

using logfire::record_type;
using logfire::stored_record;

// Options with the given exporters only: no console, nothing read from the environment.
inline logfire::options quiet_options(std::vector<std::shared_ptr<logfire::exporter>> exporters) {
  logfire::options o;
  o.console.enabled = false;
  o.exporters = std::move(exporters);
  o.read_environment = false;
  return o;
}

// A test with the SDK configured to a memory exporter; the guard shuts it down at the end.
class memory_sdk : public testing::Test {
 protected:
  // Override to change the options (the memory exporter is already in them).
  virtual void adjust(logfire::options&) {}
  virtual bool with_pending() const { return false; }

  void SetUp() override {
    mem = std::make_shared<logfire::memory_exporter>(with_pending());
    logfire::options o = quiet_options({mem});
    adjust(o);
    sdk_guard = logfire::configure(std::move(o));
    ASSERT_TRUE(sdk_guard) << sdk_guard.error();
  }

  // Everything exported so far, after a flush.
  std::vector<stored_record> flushed() {
    EXPECT_TRUE(logfire::force_flush());
    return mem->records();
  }

  std::shared_ptr<logfire::memory_exporter> mem;
  logfire::setup sdk_guard;
};

// The first record named `name` of type `type`, or nullptr.
inline const stored_record* find(const std::vector<stored_record>& recs, std::string_view name,
                                 record_type type = record_type::span) {
  for (const auto& r : recs)
    if (r.name == name && r.type == type) return &r;
  return nullptr;
}
inline const stored_record* find_log(const std::vector<stored_record>& recs, std::string_view name) {
  return find(recs, name, record_type::log);
}

inline std::size_t count_type(const std::vector<stored_record>& recs, record_type type) {
  std::size_t n = 0;
  for (const auto& r : recs) n += r.type == type ? 1 : 0;
  return n;
}

// The int64 attribute `key`, or -1 when missing.
inline std::int64_t int_attr(const stored_record& r, std::string_view key) {
  const logfire::stored_value* v = r.find(key);
  return v && v->int64() ? *v->int64() : -1;
}

// The string items of an array attribute.
inline std::vector<std::string> string_array(const stored_record& r, std::string_view key) {
  std::vector<std::string> out;
  const logfire::stored_value* v = r.find(key);
  if (!v || !v->array()) return out;
  for (const auto& item : *v->array()) out.push_back(item.string() ? *item.string() : std::string("<not a string>"));
  return out;
}

// Every record produced is exported or dropped under a reason.
inline void expect_accounted(const logfire::pipeline_stats& s) {
  EXPECT_EQ(s.produced, s.exported + s.dropped_total()) << s.summary();
}

// Captures what is written to stderr (file descriptor 2) while it lives; released even when
// an assertion returns early, so the next capture can start.
class stderr_capture {
 public:
  stderr_capture() { testing::internal::CaptureStderr(); }
  ~stderr_capture() {
    if (active_) (void)testing::internal::GetCapturedStderr();
  }
  stderr_capture(const stderr_capture&) = delete;
  stderr_capture& operator=(const stderr_capture&) = delete;
  // Stops capturing and returns the text.
  std::string take() {
    active_ = false;
    return testing::internal::GetCapturedStderr();
  }

 private:
  bool active_ = true;
};

// Counts the non-overlapping occurrences of `needle` in `text`.
inline std::size_t occurrences(std::string_view text, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t p = text.find(needle); p != std::string_view::npos; p = text.find(needle, p + needle.size())) ++n;
  return n;
}

// An exporter that counts deliveries like a real destination, optionally slowly.
class counting_exporter final : public logfire::exporter {
 public:
  explicit counting_exporter(std::chrono::microseconds delay_per_batch = {}) : delay_(delay_per_batch) {}
  std::string name() const override { return "counting"; }
  void export_batch(std::span<const logfire::span_record> records) noexcept override {
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    batches.fetch_add(1);
    received.fetch_add(records.size());
    if (counter_) counter_->delivered(records.size());
  }
  std::atomic<std::uint64_t> batches{0};
  std::atomic<std::uint64_t> received{0};

 private:
  std::chrono::microseconds delay_;
};

}  // namespace core_test
