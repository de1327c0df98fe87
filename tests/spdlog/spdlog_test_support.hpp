// Helpers for the spdlog integration tests: the SDK configured into a memory exporter, and a
// spdlog sink that records what it got and on which thread.
#pragma once

#include <gtest/gtest.h>
#include <spdlog/details/os.h>
#include <spdlog/sinks/base_sink.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "logfire/config.hpp"
#include "logfire/memory_exporter.hpp"
#include "logfire/spdlog.hpp"

namespace spdlog_test {

inline logfire::options quiet_options(std::shared_ptr<logfire::exporter> mem) {
  logfire::options o;
  o.service_name = "spdlog-test";
  o.send_to_logfire = logfire::send_to_logfire::no;
  o.console.enabled = false;
  o.exporters = {std::move(mem)};
  o.read_environment = false;
  return o;
}

// Keeps each record's payload, the thread id spdlog stamped on it and the thread it ran on.
class recording_sink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  struct entry {
    std::string payload;
    std::size_t logged_on;  // the caller's thread (spdlog's thread id)
    std::size_t ran_on;     // where this sink ran
  };
  std::vector<entry> entries() {
    std::lock_guard lock(mutex_);
    return entries_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    entries_.push_back(
        {std::string(msg.payload.data(), msg.payload.size()), msg.thread_id, spdlog::details::os::thread_id()});
  }
  void flush_() override {}

 private:
  std::vector<entry> entries_;
};

inline std::vector<logfire::stored_record> logs(const std::vector<logfire::stored_record>& recs) {
  std::vector<logfire::stored_record> out;
  for (const auto& r : recs)
    if (r.type == logfire::record_type::log) out.push_back(r);
  return out;
}

}  // namespace spdlog_test
