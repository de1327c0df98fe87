// The Logfire-style console: one line per span start and per log, indented by nesting depth,
// coloured by level, optionally with source location, arguments and exceptions (verbose).
//
//   12:34:56.789 checkout [shop]
//   12:34:56.790   charged 42
//   12:34:56.791   payment failed            <- red at error and above, yellow at warn
//                  │ ValueError: card declined
//
// It receives pending spans (span starts) and logs, prints those at or above its min level in
// time order within each batch (the pipeline drains thread by thread), and writes each batch with
// one fwrite + fflush. Everything runs on the SDK's background thread.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "logfire/config.hpp"
#include "logfire/exporter.hpp"
#include "logfire/levels.hpp"
#include "logfire/record.hpp"

namespace logfire::detail {

struct console_settings {
  bool colors = false;             // ANSI colours; see console_should_color()
  level min_level = level::info;   // records below are not printed
  bool include_timestamps = true;  // "HH:MM:SS.mmm " in local time
  bool include_tags = true;        // " [tag1,tag2]" after the message
  bool verbose = false;            // "│ file:line level", arguments, stack traces
  std::FILE* output = nullptr;     // nullptr = stdout
};

// The colour decision for console_colors::automatic: `f` is a terminal, NO_COLOR is unset or
// empty (no-color.org) and TERM is not "dumb". `always` and `never` are taken as they are.
// Reads the environment: call it from setup, not from the background thread.
[[nodiscard]] bool console_should_color(console_colors mode, std::FILE* f) noexcept;

class console_exporter final : public exporter {
 public:
  explicit console_exporter(console_settings settings = {});

  [[nodiscard]] std::string name() const override { return "console"; }
  void export_batch(std::span<const span_record> records) noexcept override;
  bool force_flush(clock::time_point deadline) noexcept override;
  [[nodiscard]] bool wants_pending_spans() const noexcept override { return true; }
  [[nodiscard]] bool is_destination() const noexcept override { return false; }

  // Appends what export_batch would print for `records` (for tests and benchmarks). Updates
  // the set of span starts seen, exactly like export_batch.
  void format_batch(std::span<const span_record> records, std::string& out);

 private:
  // What to print for one record of a batch.
  struct entry {
    std::uint64_t time_unix_nano;
    const span_record* record;
    bool at_end;  // a finished span whose start was printed, shown again for its exception
  };

  void format_record(const span_record& r, std::uint64_t time_unix_nano, bool at_end, std::string& out);
  void append_time(std::uint64_t unix_nano, std::string& out);

  console_settings settings_;
  std::FILE* out_;
  std::string buffer_;          // reused for every batch
  std::string scratch_;         // one argument's value text
  std::vector<entry> entries_;  // reused for every batch
  // Real span ids whose pending span (start) this console has received. A finished span not
  // in here never had its start shown (the pipeline dropped the pending record, or the span
  // began before this exporter existed) and is printed once, at its start time. Bounded: it is
  // cleared when it reaches k_max_open_spans (spans that never end must not grow it forever).
  std::unordered_set<std::uint64_t> started_;
  static constexpr std::size_t k_max_open_spans = 1u << 16;
  // localtime_r is slow; consecutive records mostly fall in the same second.
  std::int64_t cached_second_ = -1;
  char cached_hms_[8] = {};
};

}  // namespace logfire::detail
