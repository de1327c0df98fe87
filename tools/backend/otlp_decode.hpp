// Decoding of OTLP/HTTP request bodies (protobuf or JSON) into the backend's rows, and encoding
// of the OTLP responses. Safe on any thread, never throws on hostile input: this is the path the
// fuzzer (fuzz/fuzz_otlp_request.cpp) drives.
//
// A request is never parsed as one message tree: its outer layers (resource -> scope -> item)
// are walked, and each span, log record or metric data point is parsed on its own and turned
// into a row. Rows reach a sink in chunks, so memory per request is bounded by the body and one
// chunk, whatever the body holds (2 million minimal spans in 64 MiB would otherwise take
// gigabytes). A request that fits in one chunk is delivered in one piece, i.e. one commit; a
// larger one is checked whole first (a malformed item anywhere refuses it before anything is
// stored) and then delivered chunk by chunk.
//
//   struct my_sink : row_sink { ... };
//   auto r = decode_request(signal::traces, body_format::protobuf, body, {}, sink);
//   if (r.outcome == decode_result::status::malformed) reply_400(r.error);
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

struct decode_options {
  // Attribute values nested deeper than this (an array or map inside a value is one level) make
  // the request malformed. Default 32, which is protobuf's own limit of 100 message levels.
  int max_nesting = 32;
  // Spans, log records or metric data points in one request, at most: more refuse the request
  // before anything is stored. Bounds how long one request holds the writer, and how much a
  // retry after a failure between chunks stores twice. Default 1 000 000 (--max-request-rows).
  std::size_t max_rows = 1'000'000;
  // Rows per chunk handed to the sink, at most; and about this many bytes of rows.
  std::size_t chunk_rows = 10'000;
  std::size_t chunk_bytes = 16u << 20;
  // Items dated further ahead of the server's clock are rejected (partial success). Default 1 h.
  std::int64_t max_future_ns = 3'600'000'000'000;
  std::int64_t now_ns = 0;  // the server's clock; 0 reads it
};

// Where decoded rows go (e.g. the store, one commit per chunk).
class row_sink {
 public:
  virtual ~row_sink() = default;
  // Once, before the first row: whether the request comes in several chunks. False: no memory
  // for it; decoding stops before anything is delivered.
  virtual bool begin(bool /*chunked*/) { return true; }
  // Called before a row of about `bytes` is kept. False: no memory for it; decoding stops.
  virtual bool reserve(std::size_t bytes) = 0;
  // A chunk of rows (the sink takes them; the vectors are cleared afterwards). `last` is true for
  // the request's final chunk, which may be empty. False: stop; the sink keeps its reason.
  virtual bool flush(std::vector<record_row>& records, std::vector<metric_row>& metrics, bool last) = 0;
};

struct decode_result {
  enum class status : std::uint8_t {
    ok,
    malformed,  // not a valid Export<Signal>ServiceRequest; nothing was delivered
    too_deep,   // attribute values nested deeper than max_nesting; nothing was delivered
    too_many,   // more rows than max_rows; nothing was delivered
    no_memory,  // the sink refused a reservation; chunks before it may have been delivered
    stopped,    // the sink refused a chunk; chunks before it may have been delivered
  };
  status outcome = status::ok;
  std::string error;             // malformed / too_deep / too_many: what is wrong (never raw body bytes)
  std::int64_t rejected = 0;     // well-formed but unusable items (OTLP partial success)
  std::string rejected_message;  // why the first one was rejected
  std::size_t items = 0;         // spans, log records or metrics in the request
  std::size_t records = 0;       // rows delivered to the sink
  std::size_t metric_points = 0;
  std::size_t chunks = 0;  // flush() calls that delivered rows
  [[nodiscard]] bool ok() const { return outcome == status::ok; }
};

[[nodiscard]] decode_result decode_request(signal sig, body_format format, std::string_view body,
                                           const decode_options& options, row_sink& sink);

// Everything in memory at once (tests, the fuzzer, benchmarks).
struct decoded_request {
  std::vector<record_row> records;
  std::vector<metric_row> metrics;
  std::int64_t rejected = 0;
  std::string rejected_message;
};
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
