// OTLP encoding of a metric batch: ExportMetricsServiceRequest as protobuf, written directly into
// a reused buffer like the trace encoder (no libprotobuf, no object per point). Runs on the
// metrics reader's thread (or an exporter's).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "logfire/metric_exporter.hpp"

namespace logfire::detail {

// Replaces `out` with one serialized ExportMetricsServiceRequest holding the whole batch.
void encode_metrics_protobuf(const metric_batch& batch, std::string& out);

// Receives one complete request body holding `points` data points. `body` points into the
// encoder's buffer and is valid only during the call.
using metric_body_sink = std::function<void(std::string_view body, std::size_t points)>;

// Encodes the batch as consecutive requests of at most `max_body_bytes` each (a single point
// larger than that goes alone in its body), every point exactly once and in order; a metric
// whose points span two bodies repeats its name, unit and description in both. `buffer` is
// scratch memory reused across calls. No call for a batch without points.
void encode_metrics_protobuf_split(const metric_batch& batch, std::size_t max_body_bytes, std::string& buffer,
                                   const metric_body_sink& sink);

}  // namespace logfire::detail
