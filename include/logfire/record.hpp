// The records exporters receive: finished spans, logs and pending spans, as read-only views
// into memory owned by the batch (valid only during `exporter::export_batch`).
//
//   for (const logfire::span_record& r : batch)
//     if (r.type == logfire::record_type::log) std::puts(std::string(r.message).c_str());
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "logfire/context.hpp"
#include "logfire/levels.hpp"
#include "logfire/span_kind.hpp"

namespace logfire {

// `logfire.span_type`.
enum class record_type : std::uint8_t { span, log, pending_span };

[[nodiscard]] std::string_view to_string(record_type t) noexcept;

struct attribute;

// A decoded attribute value as OTLP carries it. Nested objects and heterogeneous arrays from
// the call site arrive here already as JSON strings (with a `logfire.json_schema` entry).
// `type` says which member holds the value: `b`, `i`, `d`, `s` or `items`. The numbers share
// their storage, as do the text and the array (32 bytes in all), so read only the member `type`
// names.
struct attribute_value {
  enum class kind : std::uint8_t { empty, boolean, int64, float64, string, array };
  // Empty. (Declared because a union member's own constructor would otherwise be deleted.)
  constexpr attribute_value() noexcept {}  // NOLINT(modernize-use-equals-default)
  kind type = kind::empty;
  bool b = false;
  union {
    std::int64_t i = 0;
    double d;
  };
  union {
    std::string_view s{};
    std::span<const attribute_value> items;  // kind::array: homogeneous scalars
  };
};

struct attribute {
  std::string_view key;
  attribute_value value;
};

struct event {
  std::string_view name;
  std::uint64_t time_unix_nano = 0;
  std::span<const attribute> attributes;
};

struct link {
  span_context context;
  std::string_view trace_state;
  std::span<const attribute> attributes;
};

struct span_record {
  record_type type = record_type::span;
  span_context context;  // this record's trace id, span id and W3C flags
  span_id parent;        // invalid for a root
  bool parent_is_remote = false;
  std::string_view trace_state;  // W3C tracestate carried from the remote parent
  std::string_view name;         // the unformatted message template
  std::string_view message;      // the formatted message (`logfire.msg`)
  span_kind kind = span_kind::internal;
  logfire::level level = logfire::level::info;
  std::uint64_t start_unix_nano = 0;
  std::uint64_t end_unix_nano = 0;
  // Every attribute as it goes on the wire, including the `logfire.*` and `code.*` ones.
  std::span<const attribute> attributes;
  std::span<const event> events;
  std::span<const link> links;
  status_code status = status_code::unset;
  std::string_view status_message;
  std::uint32_t dropped_attributes_count = 0;
  std::uint32_t depth = 0;  // nesting depth in this process, for console indentation
  // The first `tags_count` entries of the `logfire.tags` array, duplicated for convenience.
  std::span<const attribute_value> tags;
  // For the console: 1 when its line was printed on the calling thread at the call
  // (console_options::immediate), 2 when that write failed, 0 otherwise. Other exporters ignore it.
  std::uint8_t printed_at_call = 0;
  // Set by the SDK's record builder for its OTLP encoder: attributes[first, first + count) are
  // Logfire's attributes that every record of call-site variant `site` shares (template, span
  // type, level, tags, json_schema, null arguments, code.*), so the encoder writes their bytes
  // once per variant and copies them after. Valid only while `attributes.data()` is `of`: a
  // copy whose attributes are replaced drops it by itself. While it is valid, the encoder takes
  // the attributes' texts as the builder made them, valid UTF-8, and does not check them again.
  // Other exporters ignore it.
  struct shared_attributes {
    const attribute* of = nullptr;
    std::uint32_t first = 0;
    std::uint32_t count = 0;
    std::uint64_t site = 0;
  } shared;

  // OTLP `Span.flags`: W3C flags plus 0x100 (has is_remote) and 0x200 (parent is remote).
  [[nodiscard]] std::uint32_t otlp_flags() const noexcept {
    return static_cast<std::uint32_t>(context.flags & trace_flags::known) | 0x100u | (parent_is_remote ? 0x200u : 0u);
  }
  // Looks up an attribute by key (linear; for tests and exporters that need one or two).
  [[nodiscard]] const attribute_value* find(std::string_view key) const noexcept;
};

}  // namespace logfire
