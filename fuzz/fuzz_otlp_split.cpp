// Fuzzes splitting an encoded OTLP request in two (src/export/otlp_split.cpp), which the exporter
// does on a 413 answer to a body it holds in memory or read back from the spool (whose bytes are
// untrusted). The first input byte picks the signal and format; the rest is the body.
// Properties: counting and splitting never crash; a split succeeds only for two units or more,
// its halves hold every unit exactly once (first + second == the count), each half parses again
// and counts what the split said, and splitting is deterministic.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "export/otlp_split.hpp"

using logfire::detail::body_format;
using logfire::detail::otlp_signal;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const otlp_signal signal = (data[0] & 1) != 0 ? otlp_signal::metrics : otlp_signal::traces;
  const body_format format = (data[0] & 2) != 0 ? body_format::json : body_format::protobuf;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);

  std::size_t count = 0;
  const bool counted = logfire::detail::count_request_spans(format, body, count, signal);
  logfire::detail::split_halves h;
  if (!logfire::detail::split_request_in_halves(format, body, h, signal)) return 0;

  if (!counted || count < 2) std::abort();
  if (h.first_spans == 0 || h.second_spans == 0 || h.first_spans + h.second_spans != count) std::abort();
  std::size_t first = 0;
  std::size_t second = 0;
  if (!logfire::detail::count_request_spans(format, h.first, first, signal) || first != h.first_spans) std::abort();
  if (!logfire::detail::count_request_spans(format, h.second, second, signal) || second != h.second_spans) std::abort();

  logfire::detail::split_halves again;
  if (!logfire::detail::split_request_in_halves(format, body, again, signal) || again.first != h.first ||
      again.second != h.second)
    std::abort();
  return 0;
}
