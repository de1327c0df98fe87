// Helpers for the tail sampling tests: the SDK configured to a real OTLP receiver (decoded by
// libprotobuf), trace ids of decoded spans, and the ledger by reason name.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "logfire/config.hpp"
#include "logfire/logfire.hpp"
#include "logfire/stats.hpp"
#include "support/otlp_receiver.hpp"

namespace tail_test {

using namespace std::chrono_literals;
namespace lt = logfire::test;

// Options sending to `rx` only: no console, no spool, nothing read from the environment.
inline logfire::options to_receiver(const lt::otlp_receiver& rx, logfire::sampling_options sampling) {
  logfire::options o;
  o.console.enabled = false;
  o.read_environment = false;
  o.otlp.endpoint = rx.endpoint();
  o.otlp.spool = false;
  o.batching.schedule_delay = 50ms;
  o.sampling = std::move(sampling);
  return o;
}

// The low 64 bits of an OTLP trace id (big-endian bytes 8..15): what the ratio test reads.
inline std::uint64_t trace_lo(const lt::otlp::span& s) {
  std::uint64_t v = 0;
  const std::string& b = s.trace_id();
  for (std::size_t i = 8; i < 16 && i < b.size(); ++i) v = (v << 8) | static_cast<unsigned char>(b[i]);
  return v;
}

inline std::set<std::string> trace_ids(const std::vector<lt::otlp::span>& spans) {
  std::set<std::string> out;
  for (const auto& s : spans) out.insert(lt::hex(s.trace_id()));
  return out;
}

inline std::size_t named(const std::vector<lt::otlp::span>& spans, std::string_view name) {
  std::size_t n = 0;
  for (const auto& s : spans) n += s.name() == name ? 1 : 0;
  return n;
}

inline std::uint64_t dropped(const logfire::pipeline_stats& s, logfire::drop_reason r) {
  return s.dropped_by(r);
}

// produced == exported + Σ dropped (per destination when there are several).
inline void expect_identity(const logfire::pipeline_stats& s) {
  std::size_t destinations = 0;
  for (const auto& e : s.exporters) destinations += e.destination ? 1 : 0;
  if (destinations <= 1) {
    EXPECT_EQ(s.produced, s.exported + s.dropped_total()) << s.summary();
  }
  EXPECT_TRUE(s.balanced()) << s.summary();
}

}  // namespace tail_test
