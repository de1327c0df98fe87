// Turning ring records into span_records: the background thread's decoder. It joins a span's
// start with its updates and end, applies Logfire's attribute conventions, formats the
// message, builds `logfire.json_schema`, repairs invalid UTF-8 and materialises everything
// into the batch's arena.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "logfire/record.hpp"
#include "logfire/stats.hpp"
#include "pipeline/arena.hpp"

namespace logfire::detail {

// Counters the decoder bumps (background thread; read by stats() from any thread).
struct decode_counters {
  std::atomic<std::uint64_t> utf8_repaired{0};
  std::atomic<std::uint64_t> template_errors{0};
  std::atomic<std::uint64_t> attributes_truncated{0};  // records whose set_attribute calls went over the limit
};

class record_builder {
 public:
  explicit record_builder(decode_counters& counters) : counters_(counters) {}

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
};

}  // namespace logfire::detail
