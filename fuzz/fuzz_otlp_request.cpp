// Fuzzes the local backend's request decoding path (tools/backend/otlp_decode.cpp): the bytes of
// an OTLP/HTTP body as `logfire-cpp serve` receives them. The first input byte picks the signal
// (traces, logs, metrics) and the format (protobuf, JSON); the rest is the body.
// Properties beyond "no crash":
//   - every row of a decoded request has well-formed ids (32/16 lowercase hex digits) and a kind
//     the `records` table knows, and every JSON column is valid JSON (SQLite's json functions
//     and the web view parse them);
//   - rewriting OTLP/JSON's hex ids keeps a valid JSON document valid;
//   - a failed decode always says why.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

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
