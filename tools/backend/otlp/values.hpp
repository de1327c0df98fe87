// OTLP attribute values as the local backend stores them: AnyValue as JSON (strings as they
// are, arrays and maps as JSON, bytes as base64), attribute lookup by key, Logfire's tags and
// json_schema conventions, and the hex/id helpers the row builders share.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "opentelemetry/proto/common/v1/common.pb.h"

namespace logfire::backend::otlp {

namespace common = opentelemetry::proto::common::v1;
using key_values = google::protobuf::RepeatedPtrField<common::KeyValue>;

[[nodiscard]] std::string to_hex(std::string_view bytes);
[[nodiscard]] bool is_hex(std::string_view s);
// `bytes` has `size` bytes and is not all zero (a usable trace or span id).
[[nodiscard]] bool valid_id(std::string_view bytes, std::size_t size);
[[nodiscard]] bool all_zero(std::string_view bytes);
void append_base64(std::string& out, std::string_view bytes);

// Values nested deeper than this are written as null (the parser's own recursion limit, set
// from --max-nesting, refuses deeper requests before they get here).
constexpr int kMaxValueDepth = 128;

void append_any(std::string& out, const common::AnyValue& v, int depth = 0);
// How deeply values nest: 0 for scalars, 1 for an array or map of scalars, and so on; stops
// counting past `limit` (returns limit + 1).
[[nodiscard]] int value_depth(const common::AnyValue& v, int limit);
[[nodiscard]] int value_depth(const key_values& kvs, int limit);
[[nodiscard]] std::string any_to_json(const common::AnyValue& v);
// The text of a value for a text column: strings as they are, anything else as JSON.
[[nodiscard]] std::string any_to_text(const common::AnyValue& v);
[[nodiscard]] std::optional<std::int64_t> any_to_int(const common::AnyValue& v);

// Attribute lookup over a repeated KeyValue field (last occurrence wins, as in OTel SDKs).
class attribute_view {
 public:
  explicit attribute_view(const key_values& kvs) : kvs_(kvs) {}
  [[nodiscard]] const common::AnyValue* get(std::string_view key) const;
  [[nodiscard]] std::optional<std::string> text(std::string_view key) const;
  [[nodiscard]] std::optional<std::int64_t> integer(std::string_view key) const;
  [[nodiscard]] std::optional<std::string> first_text(std::initializer_list<std::string_view> keys) const;
  [[nodiscard]] std::optional<std::int64_t> first_integer(std::initializer_list<std::string_view> keys) const;

 private:
  const key_values& kvs_;
};

// Properties that logfire.json_schema marks as objects or arrays: their values travel as JSON
// strings and are stored as JSON, so `attributes->'$.cart.items'` works.
[[nodiscard]] std::vector<std::string> structured_properties(const attribute_view& attrs);
// Every attribute as one JSON object; `structured` names properties embedded as JSON.
[[nodiscard]] std::string attributes_to_json(const key_values& kvs, const std::vector<std::string>& structured = {});
// logfire.tags (an array, or a JSON array in a string) as a JSON array of strings.
[[nodiscard]] std::string tags_json(const attribute_view& attrs);

}  // namespace logfire::backend::otlp
