// Turning ring records into span_records: the background thread's decoder. It joins a span's
// start with its updates and end, applies Logfire's attribute conventions, formats the
// message, builds `logfire.json_schema`, repairs invalid UTF-8, scrubs secrets (before the
// message is formatted, so it is formatted from the scrubbed values) and materialises everything
// into the batch's arena.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "logfire/record.hpp"
#include "logfire/stats.hpp"
#include "record/arena.hpp"

namespace logfire::detail {

class diagnostics;
class scrubber;
class scrub_session;
struct template_problem;  // message_template.hpp

// Counters the decoder bumps (background thread; read by stats() from any thread).
struct decode_counters {
  std::atomic<std::uint64_t> utf8_repaired{0};
  std::atomic<std::uint64_t> template_errors{0};
  std::atomic<std::uint64_t> attributes_truncated{0};  // records whose set_attribute calls went over the limit
};

class record_builder {
 public:
  explicit record_builder(decode_counters& counters);
  ~record_builder();
  record_builder(const record_builder&) = delete;
  record_builder& operator=(const record_builder&) = delete;

  // Scrubs every record built from now on with `s` (null: no scrubbing); the first value each
  // pattern redacts is announced through `diag`. Both outlive the builder. Called once, before
  // the background thread starts.
  void set_scrubber(const scrubber* s, diagnostics* diag);

  // Attributes a record may hold; set_attribute calls adding more are dropped and counted in
  // the record's dropped_attributes_count (the call site bounds the constructor's arguments).
  void set_max_attributes(std::size_t n) noexcept { max_attributes_ = n; }

  // Builds a finished span (type span) or log from a start/log body plus the updates
  // recorded for it (a sequence of [u8 kind][u32 size][bytes]) and the end time.
  span_record build(const std::byte* start, std::size_t start_size, bool is_log, std::string_view updates,
                    std::uint64_t end_ns, arena& out);

  // Builds the pending span for a span start.
  span_record build_pending(const std::byte* start, std::size_t start_size, arena& out);

 private:
  span_record build_impl(const std::byte* start, std::size_t start_size, bool is_log, std::string_view updates,
                         std::uint64_t end_ns, bool pending, arena& out);
  std::string_view text(std::string_view s, arena& out);
  // Scrubs the user's attributes (attrs_), the events' and the links' attributes in place, in
  // the order Logfire lists them in `logfire.scrubbed`.
  void scrub(std::span<logfire::link> links, arena& out);
  // After the message is formatted: the `logfire.scrubbed` value, or "" when nothing was scrubbed.
  std::string_view scrubbed_notes(std::string_view tmpl, arena& out);
  // One stderr line for the first template that could not be formatted, then at most one a
  // minute while more fail (like the loss diagnostics).
  void warn_template(std::string_view tmpl, const template_problem& problem);

  decode_counters& counters_;
  std::size_t max_attributes_ = 128;
  std::vector<attribute> attrs_;
  std::vector<std::string_view> schemas_;  // json_schema entry per attrs_ entry ("" = {})
  std::vector<event> events_;
  std::vector<std::string_view> null_args_;
  std::string scratch_;
  std::string json_;
  std::string schema_;
  std::string message_;
  std::unique_ptr<scrub_session> scrub_;  // null when scrubbing is off
  diagnostics* diag_ = nullptr;
  std::vector<std::string_view> fields_;
  std::string notes_;
  std::uint64_t template_warned_count_ = 0;  // template errors when the last line was printed
  std::chrono::steady_clock::time_point template_warned_at_{};
};

}  // namespace logfire::detail
