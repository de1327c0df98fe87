// The console's prompt mode (console_options::immediate): the line of a span start or a log is
// written on the calling thread, at the call, so it lands in order with the program's own output.
// The pipeline only knows this interface; the console implements it (src/export/console_exporter).
#pragma once

#include <cstddef>
#include <cstdint>

namespace logfire::detail {

// What the call did with the record's console line, carried in record_fixed::console_mark and
// span_record::printed_at_call so the console's background export neither prints it again nor
// counts it twice.
enum class console_mark : std::uint8_t {
  none = 0,     // not printed at the call: the background console handles it as usual
  printed = 1,  // written (and flushed) at the call
  failed = 2,   // the write failed at the call: counted as console_write_failed
};

class prompt_printer {
 public:
  virtual ~prompt_printer() = default;
  // Caller's thread, from push(), after the span_start or log record `body` is written into the
  // ring and before it is committed (so the mark travels with it). Never throws; bounded by the
  // record's own bounds. Returns console_mark::none when it did not print (below the console's
  // level, hidden, a nested call, out of memory).
  virtual console_mark print(bool is_log, const std::byte* body, std::size_t size) noexcept = 0;
};

}  // namespace logfire::detail
