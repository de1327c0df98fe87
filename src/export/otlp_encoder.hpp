// OTLP encoding of finished records: ExportTraceServiceRequest as protobuf (direct writer into
// a reused buffer, no per-span heap objects) and as OTLP/JSON. Runs on the background thread.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "logfire/record.hpp"
#include "resource/resource.hpp"

namespace logfire::detail {

// The instrumentation scope every record is reported under.
inline constexpr std::string_view k_scope_name = "logfire";

// The protobuf bytes of the attributes each call-site variant's records share
// (span_record::shared), written once and copied into every span of the variant: most of a
// span's Logfire attributes (template, span type, level, json_schema, code.*). One per
// exporter, used on its thread only; bounded (emptied when full, then refilled as variants come
// back).
class shared_attribute_bytes {
 public:
  // What is kept per variant: the KeyValue fields (as Span.attributes) of its shared
  // attributes, and the key field (KeyValue.key, its tag and length included) of each
  // attribute before them (the call's own and logfire.msg), with the key it was made from.
  // A variant's keys are part of what makes it (record_builder::variant_key), so its records
  // have the same keys in the same places.
  struct site {
    struct key {
      std::uint32_t key_size;  // the key's size, checked against each record's as a guard
      std::uint32_t at;        // the field's place in key_fields
      std::uint32_t size;      // the field's size (0 for an empty key: no field)
    };
    std::string bytes;
    std::string key_fields;
    std::vector<key> keys;
  };
  // r's variant's entry, or null when r has no shared attributes.
  const site* find(const span_record& r);

 private:
  static constexpr std::size_t k_max_entries = 4096;
  static constexpr std::size_t k_max_bytes = 4u << 20;
  std::unordered_map<std::uint64_t, site> bytes_;
  std::size_t total_ = 0;
  // The entry found last: consecutive records of one call site skip the hash lookup.
  std::uint64_t last_site_ = 0;
  const site* last_ = nullptr;
};

// Replaces `out` with one serialized ExportTraceServiceRequest holding `records`. With `shared`,
// the attributes records share are copied from it (the same bytes as without).
void encode_traces_protobuf(std::span<const span_record> records, const resource& res, std::string& out,
                            shared_attribute_bytes* shared = nullptr);

// Same request in OTLP/JSON (ids as hex, enums as numbers, 64-bit ints as strings).
void encode_traces_json(std::span<const span_record> records, const resource& res, std::string& out);

// Logfire asks for request bodies of at most 5 MiB before compression.
inline constexpr std::size_t k_max_request_body_bytes = 5u * 1024u * 1024u;

// Receives one complete request body holding records [first, first + count). `body` points into
// the encoder's buffer and is valid only during the call.
using body_sink = std::function<void(std::string_view body, std::size_t first, std::size_t count)>;

// Encodes `records` as consecutive requests of at most `max_body_bytes` each, in order, every
// record exactly once (a record larger than the limit on its own goes alone in its body).
// `buffer` is scratch memory reused across calls. No call for an empty `records`.
void encode_traces_protobuf_split(std::span<const span_record> records, const resource& res, std::size_t max_body_bytes,
                                  std::string& buffer, const body_sink& sink, shared_attribute_bytes* shared = nullptr);
void encode_traces_json_split(std::span<const span_record> records, const resource& res, std::size_t max_body_bytes,
                              std::string& buffer, const body_sink& sink);

}  // namespace logfire::detail
