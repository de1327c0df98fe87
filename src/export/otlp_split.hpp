// Splitting an already encoded ExportTraceServiceRequest (or ExportMetricsServiceRequest) in two, for a backend that
// answered 413 (payload too large). The exporter keeps only encoded bodies (in memory and in the spool), never the
// records, so the split works on the bytes: it walks the protobuf or OTLP/JSON structure, keeps resource and scope as
// they are and divides the spans between two requests. Runs on an exporter's sender thread; 413 answers are rare, so
// clarity beats speed here.
//
//   split_halves h;
//   if (split_request_in_halves(body_format::protobuf, body, h)) { send(h.first); send(h.second); }
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "export/spool.hpp"

namespace logfire::detail {

// What a request carries: its unit is the span or the metric data point.
enum class otlp_signal : std::uint8_t { traces, metrics };

struct split_halves {
  std::string first;   // spans (metrics: data points) [0, first_spans)
  std::string second;  // the remaining ones
  std::size_t first_spans = 0;
  std::size_t second_spans = 0;
};

// Counts the spans of an uncompressed request; returns false when the body does not parse.
// Metrics requests (protobuf only) count their data points.
[[nodiscard]] bool count_request_spans(body_format format, std::string_view body, std::size_t& spans,
                                       otlp_signal signal = otlp_signal::traces);

// Splits an uncompressed request with at least two spans into two requests with half the
// spans each (the first half in order, then the second). Returns false when the body does not
// parse or holds fewer than two spans.
// A metrics request is split by data points, a metric whose points fall in both halves
// appearing in both.
[[nodiscard]] bool split_request_in_halves(body_format format, std::string_view body, split_halves& out,
                                           otlp_signal signal = otlp_signal::traces);

// Decompresses a gzip member, refusing to produce more than `max_out` bytes.
[[nodiscard]] bool gunzip(std::string_view in, std::string& out, std::size_t max_out = 256u << 20);

}  // namespace logfire::detail
