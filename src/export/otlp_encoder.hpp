// OTLP encoding of finished records: ExportTraceServiceRequest as protobuf (direct writer into
// a reused buffer, no per-span heap objects) and as OTLP/JSON. Runs on the background thread.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "logfire/record.hpp"
#include "resource/resource.hpp"

namespace logfire::detail {

// The instrumentation scope every record is reported under.
inline constexpr std::string_view k_scope_name = "logfire";

// Replaces `out` with one serialized ExportTraceServiceRequest holding `records`.
void encode_traces_protobuf(std::span<const span_record> records, const resource& res, std::string& out);

// Same request in OTLP/JSON (ids as hex, enums as numbers, 64-bit ints as strings).
void encode_traces_json(std::span<const span_record> records, const resource& res, std::string& out);

}  // namespace logfire::detail
