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
// one fwrite + fflush, on the SDK's background thread. In prompt mode (console_options::immediate)
// console_prompt prints span starts and logs on the calling thread instead, through print_now(),
// and the background export only counts them (span_record::printed_at_call). One mutex guards
// the state both share (the parent chain, the spans seen, the buffer).
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "logfire/config.hpp"
#include "logfire/exporter.hpp"
#include "logfire/levels.hpp"
#include "logfire/record.hpp"
#include "record/arena.hpp"
#include "record/prompt.hpp"
#include "record/records.hpp"

namespace logfire::detail {

struct console_settings {
  bool colors = false;             // ANSI colours; see console_should_color()
  level min_level = level::info;   // records below are not printed
  bool include_timestamps = true;  // "HH:MM:SS.mmm " of the start time in UTC, as Logfire's console
  bool include_tags = true;        // " [tag1,tag2]" after the message
  bool verbose = false;            // "│ file:line level", arguments, stack traces
  std::FILE* output = nullptr;     // nullptr = stdout
  console_span_style span_style = console_span_style::show_parents;
};

// The colour decision for console_colors::automatic: `f` is a terminal, NO_COLOR is unset or
// empty (no-color.org) and TERM is not "dumb". `always` and `never` are taken as they are.
// Reads the environment: call it from setup, not from the background thread.
[[nodiscard]] bool console_should_color(console_colors mode, std::FILE* f) noexcept;
// `f` (null: stdout) is a terminal.
[[nodiscard]] bool console_is_terminal(std::FILE* f) noexcept;

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

  // Prompt mode, any thread: prints a pending span or a log now (one fwrite + fflush under the
  // mutex, so lines of several threads never mix). Returns printed, failed (the write failed), or
  // none when the console does not show it (below its level, logfire.disable_console_log).
  console_mark print_now(const span_record& r) noexcept;

  // Prompt mode: decodes a span_start or log ring record with a record builder of its own (the
  // same decoding, templates and scrubbing as the background thread's, so the line is the one the
  // batch would print; it counts and announces nothing) and prints it. Call enable_prompt() once,
  // before any caller can reach it.
  void enable_prompt(std::shared_ptr<const scrubber> scrub, std::size_t max_attributes);
  console_mark print_record(bool is_log, const std::byte* body, std::size_t size) noexcept;

  // fork(): the mutex is taken around fork() so the child never inherits it locked.
  void before_fork() noexcept override { mutex_.lock(); }
  void after_fork_in_parent() noexcept override { mutex_.unlock(); }
  void after_fork_in_child() noexcept override { mutex_.unlock(); }

 private:
  // What to print for one record of a batch.
  struct entry {
    std::uint64_t time_unix_nano;
    const span_record* record;
    bool at_end;  // a finished span whose start was printed, shown again for its exception
    bool silent;  // show_parents only: a span's end (or a hidden record), which updates the
                  // parent chain without printing
  };

  void format_record(const span_record& r, std::uint64_t time_unix_nano, bool at_end, std::string& out);
  // show_parents: prints the ancestors of the record's line that are not on the chain printed
  // last (dimmed), and keeps the chain and the span table up to date.
  void track_parents(const entry& e, bool printed, std::string& out);
  void append_time(std::uint64_t unix_nano, std::string& out);

  // Writes buffer_ (fwrite + fflush); false with errno in `error` when it fails. Under mutex_.
  bool write_buffer(int& error) noexcept;
  console_mark print_locked(const span_record& r) noexcept;

  // The record builder of prompt mode (null when off), under mutex_.
  struct prompt_state {
    std::shared_ptr<const scrubber> scrub;  // the pipeline's (null: scrubbing off)
    decode_counters counters;               // not reported: the background builder counts
    record_builder builder{counters};
    arena records{16 * 1024};
  };
  std::unique_ptr<prompt_state> prompt_;

  console_settings settings_;
  std::mutex mutex_;  // export_batch and prompt mode: the state below and the writes
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
  // show_parents: the spans whose start was seen (their parent, depth and message), and the
  // chain of span ids the last printed line sits in (outermost first). Bounded like started_.
  struct known_span {
    std::uint64_t parent = 0;
    std::uint32_t depth = 0;
    bool shown = false;  // printed (not below min level or hidden): may be reprinted as a parent
    std::string line;
  };
  std::unordered_map<std::uint64_t, known_span> spans_;
  std::vector<std::uint64_t> chain_;
  std::vector<std::pair<std::uint64_t, const known_span*>> missing_;  // reused by track_parents
  // gmtime_r is not free; consecutive records mostly fall in the same second.
  std::int64_t cached_second_ = -1;
  char cached_hms_[8] = {};
};

// The prompt_printer of console_options::immediate: forwards to the console's print_record().
// The pipeline keeps it (pipeline_settings::prompt) as long as its control block, so a late
// caller never sees it freed.
class console_prompt final : public prompt_printer {
 public:
  explicit console_prompt(std::shared_ptr<console_exporter> console) : console_(std::move(console)) {}
  console_mark print(bool is_log, const std::byte* body, std::size_t size) noexcept override {
    return console_->print_record(is_log, body, size);
  }

 private:
  std::shared_ptr<console_exporter> console_;
};

}  // namespace logfire::detail
