// Fuzzes the local backend's request decoding path (tools/backend/otlp_decode.cpp): the bytes of
// an OTLP/HTTP body as `logfire-cpp serve` receives them. The first input byte picks the signal
// (traces, logs, metrics) and the format (protobuf, JSON); the rest is the body.
// Properties beyond "no crash":
//   - every row of a decoded request has well-formed ids (32/16 lowercase hex digits) and a kind
//     the `records` table knows, and every JSON column is valid JSON (SQLite's json functions
//     and the web view parse them);
//   - rewriting OTLP/JSON's hex ids keeps a valid JSON document valid;
//   - a failed decode always says why;
//   - decoding in chunks of a few rows (the path of requests larger than one chunk) delivers the
//     same rows in the same order, in chunks no larger than asked, succeeds exactly when the
//     request decodes in one piece, and delivers nothing when the request is refused.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backend/json.hpp"
#include "backend/otlp_decode.hpp"

namespace {

using namespace logfire::backend;

// Names the broken property before aborting, so a crash report says which one it was.
#define CHECK(cond)                                           \
  do {                                                        \
    if (!(cond)) {                                            \
      std::fprintf(stderr, "property violated: %s\n", #cond); \
      std::abort();                                           \
    }                                                         \
  } while (false)

bool is_hex_id(std::string_view s, std::size_t digits) {
  if (s.size() != digits) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

void check_json(const std::string& text) {
  CHECK(json::is_valid(text, 512));
}
void check_json(const std::optional<std::string>& text) {
  if (text) check_json(*text);
}

// Keeps every chunk, as the store would commit them.
struct chunk_sink : row_sink {
  std::vector<record_row> records;
  std::vector<metric_row> metrics;
  std::vector<std::size_t> chunk_sizes;
  bool reserve(std::size_t /*bytes*/) override { return true; }
  bool flush(std::vector<record_row>& r, std::vector<metric_row>& m, bool /*last*/) override {
    if (!r.empty() || !m.empty()) chunk_sizes.push_back(r.size() + m.size());
    for (auto& row : r) records.push_back(std::move(row));
    for (auto& row : m) metrics.push_back(std::move(row));
    return true;
  }
};

// One piece against chunks of `chunk_rows`, on the same clock (the future-skew check reads it).
void check_chunked_decode_matches(signal sig, body_format format, std::string_view body, std::size_t chunk_rows) {
  decode_options whole;
  whole.now_ns = 1'800'000'000'000'000'000;
  whole.chunk_rows = std::numeric_limits<std::size_t>::max();
  whole.chunk_bytes = std::numeric_limits<std::size_t>::max();
  decode_options chunked = whole;
  chunked.chunk_rows = chunk_rows;
  chunked.chunk_bytes = 4096;
  chunk_sink one;
  chunk_sink many;
  decode_result a = decode_request(sig, format, body, whole, one);
  decode_result b = decode_request(sig, format, body, chunked, many);
  CHECK(a.outcome == b.outcome);
  if (!b.ok()) {
    CHECK(many.records.empty() && many.metrics.empty());  // refused whole, before anything was stored
    return;
  }
  CHECK(a.rejected == b.rejected);  // (a refused request's count stops where it was refused)
  CHECK(a.rejected_message == b.rejected_message);
  for (std::size_t n : many.chunk_sizes) CHECK(n <= chunk_rows);
  CHECK(one.records.size() == many.records.size());
  CHECK(one.metrics.size() == many.metrics.size());
  for (std::size_t i = 0; i < one.records.size(); ++i) {
    CHECK(one.records[i].span_id == many.records[i].span_id);
    CHECK(one.records[i].attributes == many.records[i].attributes);
  }
  for (std::size_t i = 0; i < one.metrics.size(); ++i) CHECK(one.metrics[i].attributes == many.metrics[i].attributes);
}

bool once = [] {
  silence_protobuf_logging();
  return true;
}();

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)once;
  if (size == 0) return 0;
  auto sig = static_cast<signal>(data[0] % 3);
  auto format = (data[0] / 3) % 2 == 0 ? body_format::protobuf : body_format::json;
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);

  check_chunked_decode_matches(sig, format, body, 1 + data[0] / 6 % 4);

  decoded_request out;
  std::string error;
  if (!decode_request(sig, format, body, out, error)) {
    CHECK(!error.empty());
    return 0;
  }
  for (const auto& r : out.records) {
    CHECK(is_hex_id(r.trace_id, 32));
    CHECK(is_hex_id(r.span_id, 16));
    CHECK(!r.parent_span_id || is_hex_id(*r.parent_span_id, 16));
    CHECK(r.kind == "span" || r.kind == "log" || r.kind == "pending_span");
    CHECK(r.level >= 0 && r.level <= 255);
    check_json(r.tags);
    check_json(r.attributes);
    check_json(r.otel_events);
    check_json(r.otel_links);
    check_json(r.log_body);
    if (r.resource) check_json(r.resource->attributes_json);
  }
  for (const auto& m : out.metrics) {
    check_json(m.attributes);
    check_json(m.buckets);
    check_json(m.exemplars);
  }
  CHECK(out.rejected == 0 || !out.rejected_message.empty());
  if (format == body_format::json && json::is_valid(body, 512)) CHECK(json::is_valid(rewrite_hex_ids(body), 512));
  (void)encode_export_response(sig, format, out.rejected, out.rejected_message);
  return 0;
}
