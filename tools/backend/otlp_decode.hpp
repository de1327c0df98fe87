// Decoding of OTLP/HTTP request bodies (protobuf or JSON) into the backend's rows, and encoding
// of the OTLP responses. Pure functions, safe on any thread, never throw on hostile input: this
// is the path the fuzzer (fuzz/fuzz_otlp_request.cpp) drives.
//
//   decoded_request out;
//   std::string error;
//   if (!decode_request(signal::traces, body_format::protobuf, body, out, error)) reply_400(error);
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rows.hpp"

namespace logfire::backend {

enum class signal : std::uint8_t { traces, logs, metrics };
enum class body_format : std::uint8_t { protobuf, json };

[[nodiscard]] std::string_view signal_name(signal s);  // "traces" | "logs" | "metrics"

struct decoded_request {
  std::vector<record_row> records;
  std::vector<metric_row> metrics;
  // Items (spans, log records, data points) that were well-formed protobuf but unusable, e.g. a
  // span without a valid trace id. Reported to the client as OTLP partial success.
  std::int64_t rejected = 0;
  std::string rejected_message;  // why the first one was rejected
};

// Decodes one export request. Returns false with a message naming what is wrong when the body
// is not a valid Export<Signal>ServiceRequest in the given format.
bool decode_request(signal sig, body_format format, std::string_view body, decoded_request& out, std::string& error);

// The Export<Signal>ServiceResponse for a request, in the request's format, carrying
// partial_success when `rejected` > 0.
[[nodiscard]] std::string encode_export_response(signal sig, body_format format, std::int64_t rejected,
                                                 std::string_view message);

// A google.rpc.Status (code + message) in the request's format: the body OTLP/HTTP asks for
// on 4xx and 5xx responses.
[[nodiscard]] std::string encode_status(body_format format, int grpc_code, std::string_view message);

// OTLP/JSON writes trace and span ids as hex, where the protobuf JSON mapping expects base64.
// Rewrites the values of traceId/spanId/parentSpanId keys (and their snake_case forms) from hex
// to base64, copying everything else byte for byte. Exposed for the tests.
[[nodiscard]] std::string rewrite_hex_ids(std::string_view json);

// Suppresses libprotobuf's own logging (it prints to stderr on invalid UTF-8 in a string field);
// the server reports those requests as 400s instead. Call once at startup.
void silence_protobuf_logging();

}  // namespace logfire::backend
