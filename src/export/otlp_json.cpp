// ExportTraceServiceRequest in OTLP/JSON (the `http/json` protocol), written directly into a
// reused buffer on the exporter's thread. Follows the OTLP/HTTP JSON mapping:
//  - lowerCamelCase field names; enum values as integers;
//  - trace and span ids as lowercase hex strings (not base64 as in generic proto3 JSON);
//  - 64-bit integers (intValue, *TimeUnixNano) as decimal strings; doubles as JSON numbers in
//    the shortest form that reads back exactly, NaN and infinities as "NaN", "Infinity",
//    "-Infinity";
//  - fields at their default value are left out, as in the protobuf encoding.
// Strings are escaped per RFC 8259; invalid UTF-8 is replaced byte by byte by U+FFFD.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <variant>

#include "context/ids.hpp"
#include "export/otlp_buffer.hpp"
#include "export/otlp_encoder.hpp"
#include "text/json.hpp"

#ifndef LOGFIRE_VERSION
#define LOGFIRE_VERSION "0.0.0"
#endif

namespace logfire::detail {
namespace {

class json_writer : public wire_buffer {
 public:
  using wire_buffer::wire_buffer;

  void raw(std::string_view s) {
    char* p = reserve(s.size());
    std::memcpy(p, s.data(), s.size());
    commit(p + s.size());
  }

  void ch(char c) {
    char* p = reserve(1);
    *p = c;
    commit(p + 1);
  }

  // A quoted, escaped string. Worst case 6 output bytes per input byte (\u00XX).
  void str(std::string_view s) {
    char* p = reserve(2 + 6 * s.size());
    *p++ = '"';
    p = json_write_escaped_utf8(s, p);
    *p++ = '"';
    commit(p);
  }

  void u64(std::uint64_t v) {
    char* p = reserve(20);
    commit(std::to_chars(p, p + 20, v).ptr);
  }

  void quoted_u64(std::uint64_t v) {
    char* p = reserve(22);
    *p++ = '"';
    p = std::to_chars(p, p + 20, v).ptr;
    *p++ = '"';
    commit(p);
  }

  void quoted_i64(std::int64_t v) {
    char* p = reserve(23);
    *p++ = '"';
    p = std::to_chars(p, p + 21, v).ptr;
    *p++ = '"';
    commit(p);
  }

  void f64(double v) {
    if (std::isnan(v)) return raw("\"NaN\"");
    if (std::isinf(v)) return raw(v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    char* p = reserve(32);
    commit(std::to_chars(p, p + 32, v).ptr);  // shortest round-trip form
  }

  void hex_trace_id(const trace_id& id) {
    char* p = reserve(34);
    *p++ = '"';
    write_hex_u64(id.hi, p);
    write_hex_u64(id.lo, p + 16);
    p[32] = '"';
    commit(p + 33);
  }

  void hex_span_id(span_id id) {
    char* p = reserve(18);
    *p++ = '"';
    write_hex_u64(id.value, p);
    p[16] = '"';
    commit(p + 17);
  }
};

void put_any_value(json_writer& w, const attribute_value& v) {
  switch (v.type) {
    case attribute_value::kind::boolean:
      w.raw(v.b ? "{\"boolValue\":true}" : "{\"boolValue\":false}");
      return;
    case attribute_value::kind::int64:
      w.raw("{\"intValue\":");
      w.quoted_i64(v.i);
      w.ch('}');
      return;
    case attribute_value::kind::float64:
      w.raw("{\"doubleValue\":");
      w.f64(v.d);
      w.ch('}');
      return;
    case attribute_value::kind::string:
      w.raw("{\"stringValue\":");
      w.str(v.s);
      w.ch('}');
      return;
    case attribute_value::kind::array: {
      w.raw("{\"arrayValue\":{\"values\":[");
      bool first = true;
      for (const attribute_value& item : v.items) {
        if (!first) w.ch(',');
        first = false;
        put_any_value(w, item);
      }
      w.raw("]}}");
      return;
    }
    case attribute_value::kind::empty:
      break;
  }
  w.raw("{}");
}

void put_key_value(json_writer& w, std::string_view key, const attribute_value& v) {
  w.raw("{\"key\":");
  w.str(key);
  w.raw(",\"value\":");
  put_any_value(w, v);
  w.ch('}');
}

// ,"attributes":[...] when there are any.
void put_attributes(json_writer& w, std::span<const attribute> attrs) {
  if (attrs.empty()) return;
  w.raw(",\"attributes\":[");
  bool first = true;
  for (const attribute& a : attrs) {
    if (!first) w.ch(',');
    first = false;
    put_key_value(w, a.key, a.value);
  }
  w.ch(']');
}

inline std::uint32_t link_flags(const span_context& c) noexcept {
  return static_cast<std::uint32_t>(c.flags & trace_flags::known) | 0x100u | (c.is_remote ? 0x200u : 0u);
}

// ,"events":[...] when there are any.
void put_events(json_writer& w, std::span<const event> events) {
  if (events.empty()) return;
  w.raw(",\"events\":[");
  bool first = true;
  for (const event& e : events) {
    w.raw(first ? "{" : ",{");
    first = false;
    // Every member below starts with a comma: lead with one that is always present.
    w.raw("\"timeUnixNano\":");
    w.quoted_u64(e.time_unix_nano);
    if (!e.name.empty()) {
      w.raw(",\"name\":");
      w.str(e.name);
    }
    put_attributes(w, e.attributes);
    w.ch('}');
  }
  w.ch(']');
}

// ,"links":[...] when there are any.
void put_links(json_writer& w, std::span<const link> links) {
  if (links.empty()) return;
  w.raw(",\"links\":[");
  bool first = true;
  for (const link& l : links) {
    w.raw(first ? "{" : ",{");
    first = false;
    w.raw("\"traceId\":");
    w.hex_trace_id(l.context.trace);
    w.raw(",\"spanId\":");
    w.hex_span_id(l.context.span);
    if (!l.trace_state.empty()) {
      w.raw(",\"traceState\":");
      w.str(l.trace_state);
    }
    put_attributes(w, l.attributes);
    w.raw(",\"flags\":");
    w.u64(link_flags(l.context));
    w.ch('}');
  }
  w.ch(']');
}

// ,"status":{...} unless it is unset without a message.
void put_status(json_writer& w, status_code code, std::string_view message) {
  if (code == status_code::unset && message.empty()) return;
  w.raw(",\"status\":{");
  if (!message.empty()) {
    w.raw("\"message\":");
    w.str(message);
    if (code != status_code::unset) w.ch(',');
  }
  if (code != status_code::unset) {
    w.raw("\"code\":");
    w.u64(static_cast<std::uint64_t>(code));
  }
  w.ch('}');
}

void put_span(json_writer& w, const span_record& r) {
  w.raw("{\"traceId\":");
  w.hex_trace_id(r.context.trace);
  w.raw(",\"spanId\":");
  w.hex_span_id(r.context.span);
  if (!r.trace_state.empty()) {
    w.raw(",\"traceState\":");
    w.str(r.trace_state);
  }
  if (r.parent.valid()) {
    w.raw(",\"parentSpanId\":");
    w.hex_span_id(r.parent);
  }
  w.raw(",\"flags\":");
  w.u64(r.otlp_flags());
  if (!r.name.empty()) {
    w.raw(",\"name\":");
    w.str(r.name);
  }
  if (r.kind != span_kind::unspecified) {
    w.raw(",\"kind\":");
    w.u64(static_cast<std::uint64_t>(r.kind));
  }
  if (r.start_unix_nano) {
    w.raw(",\"startTimeUnixNano\":");
    w.quoted_u64(r.start_unix_nano);
  }
  if (r.end_unix_nano) {
    w.raw(",\"endTimeUnixNano\":");
    w.quoted_u64(r.end_unix_nano);
  }
  put_attributes(w, r.attributes);
  if (r.dropped_attributes_count) {
    w.raw(",\"droppedAttributesCount\":");
    w.u64(r.dropped_attributes_count);
  }
  put_events(w, r.events);
  put_links(w, r.links);
  put_status(w, r.status, r.status_message);
  w.ch('}');
}

void put_resource_value(json_writer& w, const resource_attribute& a) {
  attribute_value v;
  std::visit(
      [&v](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          v.type = attribute_value::kind::string;
          v.s = x;
        } else if constexpr (std::is_same_v<T, bool>) {
          v.type = attribute_value::kind::boolean;
          v.b = x;
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          v.type = attribute_value::kind::int64;
          v.i = x;
        } else {
          v.type = attribute_value::kind::float64;
          v.d = x;
        }
      },
      a.value);
  put_key_value(w, a.key, v);
}

// Everything before the first span.
void begin_body(json_writer& w, const resource& res) {
  w.raw("{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
  bool first = true;
  for (const resource_attribute& a : res.attributes) {
    if (!first) w.ch(',');
    first = false;
    put_resource_value(w, a);
  }
  w.raw("]},\"scopeSpans\":[{\"scope\":{\"name\":");
  w.str(k_scope_name);
  w.raw(",\"version\":");
  w.str(LOGFIRE_VERSION);
  w.raw("},\"spans\":[");
}

constexpr std::string_view k_body_end = "]}]}]}";

}  // namespace

void encode_traces_json(std::span<const span_record> records, const resource& res, std::string& out) {
  json_writer w(out, 0);
  begin_body(w, res);
  bool first = true;
  for (const span_record& r : records) {
    if (!first) w.ch(',');
    first = false;
    put_span(w, r);
  }
  w.raw(k_body_end);
  out.resize(w.pos());
}

void encode_traces_json_split(std::span<const span_record> records, const resource& res, std::size_t max_body_bytes,
                              std::string& buffer, const body_sink& sink) {
  if (records.empty()) return;
  json_writer w(buffer, 0);
  begin_body(w, res);
  std::size_t first = 0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const std::size_t before = w.pos();  // where the body ends without record i
    if (i > first) w.ch(',');
    put_span(w, records[i]);
    if (w.pos() + k_body_end.size() > max_body_bytes && i > first) {
      w.rewind(before);
      w.raw(k_body_end);
      sink(std::string_view(w.at(0), w.pos()), first, i - first);
      w.rewind(0);
      begin_body(w, res);
      put_span(w, records[i]);
      first = i;
    }
  }
  w.raw(k_body_end);
  sink(std::string_view(w.at(0), w.pos()), first, records.size() - first);
}

}  // namespace logfire::detail
