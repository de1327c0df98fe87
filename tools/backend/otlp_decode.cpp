#include "otlp_decode.hpp"

#include <google/protobuf/arena.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <ctime>
#include <limits>

#include "json.hpp"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace logfire::backend {
namespace {

namespace common = opentelemetry::proto::common::v1;
namespace trace = opentelemetry::proto::trace::v1;
namespace logs = opentelemetry::proto::logs::v1;
namespace metrics = opentelemetry::proto::metrics::v1;
namespace resource_pb = opentelemetry::proto::resource::v1;
namespace collector_trace = opentelemetry::proto::collector::trace::v1;
namespace collector_logs = opentelemetry::proto::collector::logs::v1;
namespace collector_metrics = opentelemetry::proto::collector::metrics::v1;

constexpr int kInfo = 9;
constexpr int kError = 17;

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    auto b = static_cast<unsigned char>(bytes[i]);
    out[2 * i] = digits[b >> 4];
    out[2 * i + 1] = digits[b & 0xF];
  }
  return out;
}

bool is_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); });
}

bool all_zero(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

bool valid_id(std::string_view bytes, std::size_t size) {
  return bytes.size() == size && !all_zero(bytes);
}

// fixed64 nanoseconds from the wire, clamped into the signed range SQLite stores.
std::int64_t clamp_ns(std::uint64_t ns) {
  constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(std::min(ns, max));
}

std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// FNV-1a, for the ids the backend must invent (a log record without trace context still
// needs a trace id and a span id to be a row of `records`). Deterministic, so the same
// request always produces the same rows.
std::uint64_t fnv1a(std::string_view data, std::uint64_t seed) {
  std::uint64_t h = 1469598103934665603ULL ^ seed;
  for (char c : data) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  // Finalizer (splitmix64) so similar inputs differ in every digit.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

std::string hex64(std::uint64_t v) {
  std::string bytes(8, '\0');
  for (int i = 7; i >= 0; --i) {
    bytes[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xFF);
    v >>= 8;
  }
  return to_hex(bytes);
}

void append_base64(std::string& out, std::string_view bytes) {
  static constexpr char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
    out += table[v & 63];
  }
  std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    unsigned v = byte(i) << 16;
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8);
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
    out += '=';
  }
}

// ---- attribute values -> JSON ---------------------------------------------------------------

void append_any(std::string& out, const common::AnyValue& v, int depth);

void append_kvlist(std::string& out, const google::protobuf::RepeatedPtrField<common::KeyValue>& kvs, int depth) {
  out += '{';
  bool first = true;
  for (const auto& kv : kvs) {
    if (!first) out += ',';
    first = false;
    json::append_string(out, kv.key());
    out += ':';
    append_any(out, kv.value(), depth + 1);
  }
  out += '}';
}

void append_any(std::string& out, const common::AnyValue& v, int depth) {
  // The protobuf parser already bounds nesting (100 levels); this guard keeps the JSON writer's
  // own recursion bounded whatever the parser allows.
  if (depth > 128) {
    out += "null";
    return;
  }
  switch (v.value_case()) {
    case common::AnyValue::kStringValue:
      json::append_string(out, v.string_value());
      break;
    case common::AnyValue::kBoolValue:
      out += v.bool_value() ? "true" : "false";
      break;
    case common::AnyValue::kIntValue:
      json::append_int(out, v.int_value());
      break;
    case common::AnyValue::kDoubleValue:
      json::append_double(out, v.double_value());
      break;
    case common::AnyValue::kArrayValue: {
      out += '[';
      bool first = true;
      for (const auto& item : v.array_value().values()) {
        if (!first) out += ',';
        first = false;
        append_any(out, item, depth + 1);
      }
      out += ']';
      break;
    }
    case common::AnyValue::kKvlistValue:
      append_kvlist(out, v.kvlist_value().values(), depth);
      break;
    case common::AnyValue::kBytesValue: {
      out += '"';
      append_base64(out, v.bytes_value());
      out += '"';
      break;
    }
    default:
      out += "null";
      break;
  }
}

std::string any_to_json(const common::AnyValue& v) {
  std::string out;
  append_any(out, v, 0);
  return out;
}

// The text of a value for a text column: strings as they are, anything else as JSON.
std::string any_to_text(const common::AnyValue& v) {
  if (v.value_case() == common::AnyValue::kStringValue) return v.string_value();
  return any_to_json(v);
}

std::optional<std::int64_t> any_to_int(const common::AnyValue& v) {
  switch (v.value_case()) {
    case common::AnyValue::kIntValue:
      return v.int_value();
    case common::AnyValue::kDoubleValue: {
      double d = v.double_value();
      if (d >= -9.2e18 && d <= 9.2e18) return static_cast<std::int64_t>(d);
      return std::nullopt;
    }
    case common::AnyValue::kStringValue: {
      const std::string& s = v.string_value();
      if (s.empty() || s.size() > 19) return std::nullopt;
      std::int64_t r = 0;
      bool neg = s[0] == '-';
      for (std::size_t i = neg ? 1 : 0; i < s.size(); ++i) {
        if (s[i] < '0' || s[i] > '9') return std::nullopt;
        r = r * 10 + (s[i] - '0');
      }
      return neg ? -r : r;
    }
    default:
      return std::nullopt;
  }
}

// Attribute lookup over a repeated KeyValue field (last occurrence wins, as in OTel SDKs).
class attribute_view {
 public:
  explicit attribute_view(const google::protobuf::RepeatedPtrField<common::KeyValue>& kvs) : kvs_(kvs) {}

  [[nodiscard]] const common::AnyValue* get(std::string_view key) const {
    const common::AnyValue* found = nullptr;
    for (const auto& kv : kvs_) {
      if (kv.key() == key) found = &kv.value();
    }
    return found;
  }
  [[nodiscard]] std::optional<std::string> text(std::string_view key) const {
    const auto* v = get(key);
    if (v == nullptr || v->value_case() == common::AnyValue::VALUE_NOT_SET) return std::nullopt;
    return any_to_text(*v);
  }
  [[nodiscard]] std::optional<std::int64_t> integer(std::string_view key) const {
    const auto* v = get(key);
    return v ? any_to_int(*v) : std::nullopt;
  }
  [[nodiscard]] std::optional<std::string> first_text(std::initializer_list<std::string_view> keys) const {
    for (auto k : keys) {
      if (auto t = text(k)) return t;
    }
    return std::nullopt;
  }
  [[nodiscard]] std::optional<std::int64_t> first_integer(std::initializer_list<std::string_view> keys) const {
    for (auto k : keys) {
      if (auto t = integer(k)) return t;
    }
    return std::nullopt;
  }

 private:
  const google::protobuf::RepeatedPtrField<common::KeyValue>& kvs_;
};

// Properties that logfire.json_schema marks as structured (object or array): their values
// travel as JSON strings and are stored as JSON, so `attributes->'$.cart.items'` works.
std::vector<std::string> structured_properties(const attribute_view& attrs) {
  std::vector<std::string> names;
  const auto* schema_value = attrs.get("logfire.json_schema");
  if (schema_value == nullptr || schema_value->value_case() != common::AnyValue::kStringValue) return names;
  // Spans from one call site repeat one schema: remember the last one parsed on this thread.
  thread_local std::string last_schema;
  thread_local std::vector<std::string> last_names;
  const std::string& text = schema_value->string_value();
  if (text == last_schema) return last_names;
  auto schema = json::parse(text, 16);
  last_schema = text;
  last_names.clear();
  if (!schema) return names;
  const json::value* props = schema->find("properties");
  if (props == nullptr || props->kind != json::value::type::object) return names;
  for (const auto& [name, prop] : props->members) {
    const json::value* type = prop.find("type");
    if (type != nullptr && type->is_string() && (type->text == "object" || type->text == "array")) {
      names.push_back(name);
    }
  }
  last_names = names;
  return names;
}

std::string attributes_to_json(const google::protobuf::RepeatedPtrField<common::KeyValue>& kvs,
                               const std::vector<std::string>& structured = {}) {
  std::string out;
  out.reserve(static_cast<std::size_t>(kvs.size()) * 48 + 2);
  out += '{';
  bool first = true;
  for (const auto& kv : kvs) {
    if (!first) out += ',';
    first = false;
    json::append_string(out, kv.key());
    out += ':';
    const auto& v = kv.value();
    if (v.value_case() == common::AnyValue::kStringValue && !structured.empty() &&
        std::find(structured.begin(), structured.end(), kv.key()) != structured.end() &&
        json::is_valid(v.string_value())) {
      out += v.string_value();  // validated above: embedding it keeps the object valid JSON
    } else {
      append_any(out, v, 0);
    }
  }
  out += '}';
  return out;
}

std::string tags_json(const attribute_view& attrs) {
  const auto* v = attrs.get("logfire.tags");
  if (v == nullptr) return "[]";
  std::string out = "[";
  if (v->value_case() == common::AnyValue::kArrayValue) {
    bool first = true;
    for (const auto& item : v->array_value().values()) {
      if (!first) out += ',';
      first = false;
      json::append_string(out, any_to_text(item));
    }
  } else if (v->value_case() == common::AnyValue::kStringValue) {
    const std::string& s = v->string_value();
    auto parsed = json::parse(s, 4);
    if (parsed && parsed->kind == json::value::type::array) {
      bool first = true;
      for (const auto& item : parsed->items) {
        if (!first) out += ',';
        first = false;
        json::append_string(out, item.text);
      }
    } else if (!s.empty()) {
      json::append_string(out, s);
    }
  }
  out += ']';
  return out;
}

std::shared_ptr<const resource_info> make_resource(const resource_pb::Resource& r) {
  auto info = std::make_shared<resource_info>();
  info->attributes_json = attributes_to_json(r.attributes());
  attribute_view attrs(r.attributes());
  info->service_name = attrs.text("service.name");
  info->service_version = attrs.text("service.version");
  info->service_instance_id = attrs.text("service.instance.id");
  info->deployment_environment = attrs.first_text({"deployment.environment.name", "deployment.environment"});
  info->process_pid = attrs.integer("process.pid");
  return info;
}

std::shared_ptr<const scope_info> make_scope(const common::InstrumentationScope& s) {
  auto info = std::make_shared<scope_info>();
  info->name = s.name();
  info->version = s.version();
  return info;
}

// Columns Logfire lifts out of well-known semantic-convention attributes.
void fill_http_columns(record_row& row, const attribute_view& attrs) {
  row.http_method = attrs.first_text({"http.request.method", "http.method"});
  row.http_route = attrs.text("http.route");
  row.http_response_status_code = attrs.first_integer({"http.response.status_code", "http.status_code"});
  row.url_path = attrs.first_text({"url.path", "http.target"});
  row.url_full = attrs.first_text({"url.full", "http.url"});
}

// The Logfire level of a record: logfire.level_num when present, else `fallback`.
int level_from(const attribute_view& attrs, int fallback) {
  if (auto n = attrs.integer("logfire.level_num")) {
    return static_cast<int>(std::clamp<std::int64_t>(*n, 0, 255));
  }
  return fallback;
}

std::string_view span_kind_name(trace::Span::SpanKind k) {
  switch (k) {
    case trace::Span::SPAN_KIND_INTERNAL:
      return "internal";
    case trace::Span::SPAN_KIND_SERVER:
      return "server";
    case trace::Span::SPAN_KIND_CLIENT:
      return "client";
    case trace::Span::SPAN_KIND_PRODUCER:
      return "producer";
    case trace::Span::SPAN_KIND_CONSUMER:
      return "consumer";
    default:
      return "unspecified";
  }
}

// ---- spans -----------------------------------------------------------------------------------

// Returns an empty string when the span is usable, else why it was rejected.
std::string span_to_row(const trace::Span& span, record_row& row) {
  if (!valid_id(span.trace_id(), 16)) {
    return "span '" + span.name().substr(0, 64) + "' has an invalid trace_id (" +
           std::to_string(span.trace_id().size()) + " bytes; 16 non-zero bytes required)";
  }
  if (!valid_id(span.span_id(), 8)) {
    return "span '" + span.name().substr(0, 64) + "' has an invalid span_id (" + std::to_string(span.span_id().size()) +
           " bytes; 8 non-zero bytes required)";
  }
  if (!span.parent_span_id().empty() && span.parent_span_id().size() != 8) {
    return "span '" + span.name().substr(0, 64) + "' has an invalid parent_span_id (" +
           std::to_string(span.parent_span_id().size()) + " bytes; 8 or none required)";
  }
  attribute_view attrs(span.attributes());
  row.trace_id = to_hex(span.trace_id());
  row.span_id = to_hex(span.span_id());
  if (!span.parent_span_id().empty() && !all_zero(span.parent_span_id())) {
    row.parent_span_id = to_hex(span.parent_span_id());
  }
  row.start_ns = clamp_ns(span.start_time_unix_nano());
  std::int64_t end = span.end_time_unix_nano() == 0 ? row.start_ns : clamp_ns(span.end_time_unix_nano());
  row.end_ns = end;

  auto span_type = attrs.text("logfire.span_type");
  if (span_type == "log" || span_type == "pending_span") row.kind = *span_type;

  const auto& status = span.status();
  switch (status.code()) {
    case trace::Status::STATUS_CODE_OK:
      row.otel_status_code = "OK";
      break;
    case trace::Status::STATUS_CODE_ERROR:
      row.otel_status_code = "ERROR";
      break;
    default:
      row.otel_status_code = "UNSET";
      break;
  }
  if (!status.message().empty()) row.otel_status_message = status.message();
  row.level = level_from(attrs, status.code() == trace::Status::STATUS_CODE_ERROR ? kError : kInfo);

  row.span_name = span.name();
  row.message = attrs.text("logfire.msg").value_or(span.name());
  row.tags = tags_json(attrs);
  row.attributes = attributes_to_json(span.attributes(), structured_properties(attrs));
  row.otel_span_kind = std::string(span_kind_name(span.kind()));
  fill_http_columns(row, attrs);

  std::string events = "[";
  bool first = true;
  for (const auto& ev : span.events()) {
    if (!first) events += ',';
    first = false;
    events += "{\"name\":";
    json::append_string(events, ev.name());
    events += ",\"timestamp\":";
    json::append_string(events, format_timestamp(clamp_ns(ev.time_unix_nano())));
    events += ",\"attributes\":";
    events += attributes_to_json(ev.attributes());
    events += '}';
    if (ev.name() == "exception") {
      attribute_view ev_attrs(ev.attributes());
      row.is_exception = true;
      row.exception_type = ev_attrs.text("exception.type");
      row.exception_message = ev_attrs.text("exception.message");
      row.exception_stacktrace = ev_attrs.text("exception.stacktrace");
    }
  }
  events += ']';
  row.otel_events = std::move(events);

  std::string links = "[";
  first = true;
  for (const auto& link : span.links()) {
    if (!first) links += ',';
    first = false;
    links += "{\"trace_id\":";
    json::append_string(links, to_hex(link.trace_id()));
    links += ",\"span_id\":";
    json::append_string(links, to_hex(link.span_id()));
    links += ",\"attributes\":";
    links += attributes_to_json(link.attributes());
    links += '}';
  }
  links += ']';
  row.otel_links = std::move(links);

  if (row.kind == "pending_span") {
    // A pending span stands in for its real span (its OTLP parent) until that one ends. It is
    // stored under the real span's id and parent, so the tree nests correctly while the span
    // runs and the real span's arrival can replace it (see store.cpp).
    if (row.parent_span_id) {
      row.span_id = *row.parent_span_id;
      row.parent_span_id.reset();
      // An attribute, so anything may be in it: only 16 hex digits (not all zero) name a parent.
      if (auto pending_parent = attrs.text("logfire.pending_parent_id")) {
        std::string id = *pending_parent;
        std::transform(id.begin(), id.end(), id.begin(), [](unsigned char c) { return std::tolower(c); });
        if (id.size() == 16 && is_hex(id) && id != "0000000000000000") row.parent_span_id = std::move(id);
      }
    }
    row.end_ns.reset();
  }
  return {};
}

void decode_traces(const collector_trace::ExportTraceServiceRequest& req, decoded_request& out) {
  std::size_t total = 0;
  for (const auto& rs : req.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) total += static_cast<std::size_t>(ss.spans_size());
  }
  out.records.reserve(total);
  for (const auto& rs : req.resource_spans()) {
    auto res = make_resource(rs.resource());
    for (const auto& ss : rs.scope_spans()) {
      auto scope = make_scope(ss.scope());
      for (const auto& span : ss.spans()) {
        record_row row;
        std::string why = span_to_row(span, row);
        if (!why.empty()) {
          if (out.rejected++ == 0) out.rejected_message = std::move(why);
          continue;
        }
        row.resource = res;
        row.scope = scope;
        out.records.push_back(std::move(row));
      }
    }
  }
}

// ---- log records -----------------------------------------------------------------------------

std::string log_to_row(const logs::LogRecord& log, std::size_t index, record_row& row) {
  if (!log.trace_id().empty() && log.trace_id().size() != 16) {
    return "log record has an invalid trace_id (" + std::to_string(log.trace_id().size()) +
           " bytes; 16 or none required)";
  }
  if (!log.span_id().empty() && log.span_id().size() != 8) {
    return "log record has an invalid span_id (" + std::to_string(log.span_id().size()) + " bytes; 8 or none required)";
  }
  attribute_view attrs(log.attributes());
  std::int64_t t = clamp_ns(log.time_unix_nano());
  if (t == 0) t = clamp_ns(log.observed_time_unix_nano());
  if (t == 0) t = now_ns();
  row.start_ns = t;
  row.end_ns = t;
  row.kind = "log";

  std::string body_text = log.has_body() ? any_to_text(log.body()) : std::string();
  if (log.has_body()) row.log_body = any_to_json(log.body());

  // A log record becomes a row of its own: its span id is derived from its content, and the
  // span that was active when it was emitted (the record's span_id) is its parent.
  std::string seed =
      log.trace_id() + log.span_id() + std::to_string(t) + '/' + std::to_string(index) + '/' + body_text.substr(0, 256);
  if (valid_id(log.trace_id(), 16)) {
    row.trace_id = to_hex(log.trace_id());
  } else {
    row.trace_id = hex64(fnv1a(seed, 1)) + hex64(fnv1a(seed, 2));
  }
  row.span_id = hex64(fnv1a(seed, 3));
  if (valid_id(log.span_id(), 8)) row.parent_span_id = to_hex(log.span_id());

  int severity = static_cast<int>(log.severity_number());
  row.level = severity >= 1 && severity <= 24 ? severity : level_from(attrs, kInfo);
  row.message = attrs.text("logfire.msg").value_or(body_text);
  if (auto tmpl = attrs.text("logfire.msg_template")) {
    row.span_name = *tmpl;
  } else if (!log.event_name().empty()) {
    row.span_name = log.event_name();
  } else {
    row.span_name = row.message.substr(0, 256);
  }
  if (row.message.empty()) row.message = row.span_name;
  if (row.level >= kError) row.otel_status_code = "ERROR";
  row.tags = tags_json(attrs);
  row.attributes = attributes_to_json(log.attributes(), structured_properties(attrs));
  fill_http_columns(row, attrs);
  if (auto type = attrs.text("exception.type")) {
    row.is_exception = true;
    row.exception_type = std::move(type);
    row.exception_message = attrs.text("exception.message");
    row.exception_stacktrace = attrs.text("exception.stacktrace");
  }
  return {};
}

void decode_logs(const collector_logs::ExportLogsServiceRequest& req, decoded_request& out) {
  std::size_t index = 0;
  for (const auto& rl : req.resource_logs()) {
    auto res = make_resource(rl.resource());
    for (const auto& sl : rl.scope_logs()) {
      auto scope = make_scope(sl.scope());
      for (const auto& log : sl.log_records()) {
        record_row row;
        std::string why = log_to_row(log, index++, row);
        if (!why.empty()) {
          if (out.rejected++ == 0) out.rejected_message = std::move(why);
          continue;
        }
        row.resource = res;
        row.scope = scope;
        out.records.push_back(std::move(row));
      }
    }
  }
}

// ---- metrics ---------------------------------------------------------------------------------

std::optional<std::string> temporality_name(metrics::AggregationTemporality t) {
  switch (t) {
    case metrics::AGGREGATION_TEMPORALITY_DELTA:
      return "delta";
    case metrics::AGGREGATION_TEMPORALITY_CUMULATIVE:
      return "cumulative";
    default:
      return std::nullopt;
  }
}

template <typename Exemplars>
std::optional<std::string> exemplars_json(const Exemplars& list) {
  if (list.empty()) return std::nullopt;
  std::string out = "[";
  bool first = true;
  for (const auto& e : list) {
    if (!first) out += ',';
    first = false;
    out += "{\"timestamp\":";
    json::append_string(out, format_timestamp(clamp_ns(e.time_unix_nano())));
    out += ",\"value\":";
    if (e.value_case() == metrics::Exemplar::kAsInt) {
      json::append_int(out, e.as_int());
    } else {
      json::append_double(out, e.as_double());
    }
    if (!e.trace_id().empty()) {
      out += ",\"trace_id\":";
      json::append_string(out, to_hex(e.trace_id()));
    }
    if (!e.span_id().empty()) {
      out += ",\"span_id\":";
      json::append_string(out, to_hex(e.span_id()));
    }
    out += ",\"attributes\":";
    out += attributes_to_json(e.filtered_attributes());
    out += '}';
  }
  out += ']';
  return out;
}

template <typename Point>
metric_row point_base(const metrics::Metric& m, const Point& p, std::string_view type) {
  metric_row row;
  row.metric_name = m.name();
  row.metric_type = std::string(type);
  row.unit = m.unit();
  if (!m.description().empty()) row.description = m.description();
  row.recorded_ns = clamp_ns(p.time_unix_nano());
  if (p.start_time_unix_nano() != 0) row.start_ns = clamp_ns(p.start_time_unix_nano());
  row.attributes = attributes_to_json(p.attributes());
  return row;
}

void number_points(const metrics::Metric& m, const google::protobuf::RepeatedPtrField<metrics::NumberDataPoint>& pts,
                   std::string_view type, std::optional<std::string> temporality, std::optional<bool> monotonic,
                   decoded_request& out) {
  for (const auto& p : pts) {
    metric_row row = point_base(m, p, type);
    row.aggregation_temporality = temporality;
    row.is_monotonic = monotonic;
    if (p.value_case() == metrics::NumberDataPoint::kAsInt) {
      row.scalar_value = static_cast<double>(p.as_int());
    } else if (p.value_case() == metrics::NumberDataPoint::kAsDouble) {
      row.scalar_value = p.as_double();
    }
    row.exemplars = exemplars_json(p.exemplars());
    out.metrics.push_back(std::move(row));
  }
}

std::string bucket_counts_json(const google::protobuf::RepeatedField<std::uint64_t>& counts) {
  std::string out = "[";
  bool first = true;
  for (auto c : counts) {
    if (!first) out += ',';
    first = false;
    json::append_uint(out, c);
  }
  out += ']';
  return out;
}

std::int64_t clamp_count(std::uint64_t c) {
  return clamp_ns(c);
}

void decode_metric(const metrics::Metric& m, decoded_request& out) {
  switch (m.data_case()) {
    case metrics::Metric::kGauge:
      number_points(m, m.gauge().data_points(), "gauge", std::nullopt, std::nullopt, out);
      break;
    case metrics::Metric::kSum:
      number_points(m, m.sum().data_points(), "sum", temporality_name(m.sum().aggregation_temporality()),
                    m.sum().is_monotonic(), out);
      break;
    case metrics::Metric::kHistogram:
      for (const auto& p : m.histogram().data_points()) {
        metric_row row = point_base(m, p, "histogram");
        row.aggregation_temporality = temporality_name(m.histogram().aggregation_temporality());
        row.count = clamp_count(p.count());
        if (p.has_sum()) row.sum = p.sum();
        if (p.has_min()) row.min = p.min();
        if (p.has_max()) row.max = p.max();
        std::string b = "{\"explicit_bounds\":[";
        bool first = true;
        for (double bound : p.explicit_bounds()) {
          if (!first) b += ',';
          first = false;
          json::append_double(b, bound);
        }
        b += "],\"bucket_counts\":";
        b += bucket_counts_json(p.bucket_counts());
        b += '}';
        row.buckets = std::move(b);
        row.exemplars = exemplars_json(p.exemplars());
        out.metrics.push_back(std::move(row));
      }
      break;
    case metrics::Metric::kExponentialHistogram:
      for (const auto& p : m.exponential_histogram().data_points()) {
        metric_row row = point_base(m, p, "exponential_histogram");
        row.aggregation_temporality = temporality_name(m.exponential_histogram().aggregation_temporality());
        row.count = clamp_count(p.count());
        if (p.has_sum()) row.sum = p.sum();
        if (p.has_min()) row.min = p.min();
        if (p.has_max()) row.max = p.max();
        std::string b = "{\"scale\":";
        json::append_int(b, p.scale());
        b += ",\"zero_count\":";
        json::append_uint(b, p.zero_count());
        b += ",\"zero_threshold\":";
        json::append_double(b, p.zero_threshold());
        b += ",\"positive\":{\"offset\":";
        json::append_int(b, p.positive().offset());
        b += ",\"bucket_counts\":";
        b += bucket_counts_json(p.positive().bucket_counts());
        b += "},\"negative\":{\"offset\":";
        json::append_int(b, p.negative().offset());
        b += ",\"bucket_counts\":";
        b += bucket_counts_json(p.negative().bucket_counts());
        b += "}}";
        row.buckets = std::move(b);
        row.exemplars = exemplars_json(p.exemplars());
        out.metrics.push_back(std::move(row));
      }
      break;
    case metrics::Metric::kSummary:
      for (const auto& p : m.summary().data_points()) {
        metric_row row = point_base(m, p, "summary");
        row.count = clamp_count(p.count());
        row.sum = p.sum();
        std::string b = "{\"quantiles\":[";
        bool first = true;
        for (const auto& q : p.quantile_values()) {
          if (!first) b += ',';
          first = false;
          b += "{\"quantile\":";
          json::append_double(b, q.quantile());
          b += ",\"value\":";
          json::append_double(b, q.value());
          b += '}';
        }
        b += "]}";
        row.buckets = std::move(b);
        out.metrics.push_back(std::move(row));
      }
      break;
    default:
      if (out.rejected++ == 0) out.rejected_message = "metric '" + m.name().substr(0, 64) + "' has no data";
      break;
  }
}

void decode_metrics(const collector_metrics::ExportMetricsServiceRequest& req, decoded_request& out) {
  for (const auto& rm : req.resource_metrics()) {
    auto res = make_resource(rm.resource());
    for (const auto& sm : rm.scope_metrics()) {
      auto scope = make_scope(sm.scope());
      for (const auto& m : sm.metrics()) {
        std::size_t before = out.metrics.size();
        decode_metric(m, out);
        for (std::size_t i = before; i < out.metrics.size(); ++i) {
          out.metrics[i].resource = res;
          out.metrics[i].scope = scope;
        }
      }
    }
  }
}

// ---- parsing -----------------------------------------------------------------------------------

template <typename Message>
bool parse_body(body_format format, std::string_view body, Message& msg, std::string& error) {
  if (format == body_format::protobuf) {
    if (body.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()) ||
        !msg.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
      error = "malformed protobuf body: not a valid " + std::string(Message::descriptor()->name()) + " (" +
              std::to_string(body.size()) + " bytes)";
      return false;
    }
    return true;
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // OTLP/JSON receivers must accept newer fields
  std::string rewritten = rewrite_hex_ids(body);
  auto status = google::protobuf::util::JsonStringToMessage(rewritten, &msg, options);
  if (!status.ok()) {
    std::string why(status.message());
    if (why.size() > 300) why = why.substr(0, 300) + "...";
    error = "malformed JSON body: not a valid " + std::string(Message::descriptor()->name()) + ": " + why;
    return false;
  }
  return true;
}

template <typename Message, typename Decode>
bool decode_with_arena(body_format format, std::string_view body, decoded_request& out, std::string& error,
                       Decode decode) {
  google::protobuf::Arena arena;
  auto* msg = google::protobuf::Arena::CreateMessage<Message>(&arena);
  if (!parse_body(format, body, *msg, error)) return false;
  decode(*msg, out);
  return true;
}

std::string hex_to_bytes(std::string_view hex) {
  std::string out;
  out.reserve(hex.size() / 2);
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return c - 'A' + 10;
  };
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>((nibble(hex[i]) << 4) | nibble(hex[i + 1]));
  }
  return out;
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

}  // namespace

std::size_t format_timestamp(std::int64_t unix_ns, char (&out)[32]) {
  if (unix_ns < 0) unix_ns = 0;
  std::int64_t secs = unix_ns / 1'000'000'000;
  auto micros = static_cast<int>((unix_ns % 1'000'000'000) / 1000);
  auto days = secs / 86'400;
  auto rem = static_cast<int>(secs % 86'400);
  // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm): no gmtime, no locale.
  std::int64_t z = days + 719'468;
  std::int64_t era = z / 146'097;
  auto doe = static_cast<unsigned>(z - era * 146'097);
  unsigned yoe = (doe - doe / 1460 + doe / 36'524 - doe / 146'096) / 365;
  std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  unsigned d = doy - (153 * mp + 2) / 5 + 1;
  unsigned m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  auto put = [&](std::size_t pos, std::int64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) {
      out[pos + static_cast<std::size_t>(i)] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
  };
  put(0, y, 4);
  out[4] = '-';
  put(5, m, 2);
  out[7] = '-';
  put(8, d, 2);
  out[10] = ' ';
  put(11, rem / 3600, 2);
  out[13] = ':';
  put(14, (rem / 60) % 60, 2);
  out[16] = ':';
  put(17, rem % 60, 2);
  out[19] = '.';
  put(20, micros, 6);
  out[26] = '\0';
  return 26;
}

std::string format_timestamp(std::int64_t unix_ns) {
  char buf[32];
  return std::string(buf, format_timestamp(unix_ns, buf));
}

std::string_view signal_name(signal s) {
  switch (s) {
    case signal::traces:
      return "traces";
    case signal::logs:
      return "logs";
    case signal::metrics:
      return "metrics";
  }
  return "traces";
}

bool decode_request(signal sig, body_format format, std::string_view body, decoded_request& out, std::string& error) {
  switch (sig) {
    case signal::traces:
      return decode_with_arena<collector_trace::ExportTraceServiceRequest>(format, body, out, error, decode_traces);
    case signal::logs:
      return decode_with_arena<collector_logs::ExportLogsServiceRequest>(format, body, out, error, decode_logs);
    case signal::metrics:
      return decode_with_arena<collector_metrics::ExportMetricsServiceRequest>(format, body, out, error,
                                                                               decode_metrics);
  }
  error = "unknown signal";
  return false;
}

std::string encode_export_response(signal sig, body_format format, std::int64_t rejected, std::string_view message) {
  static constexpr std::array<std::string_view, 3> json_count_field = {"rejectedSpans", "rejectedLogRecords",
                                                                       "rejectedDataPoints"};
  if (format == body_format::json) {
    if (rejected == 0) return "{}";
    std::string out = "{\"partialSuccess\":{\"";
    out += json_count_field[static_cast<std::size_t>(sig)];
    out += "\":\"";
    json::append_int(out, rejected);
    out += "\",\"errorMessage\":";
    json::append_string(out, message);
    out += "}}";
    return out;
  }
  if (rejected == 0) return {};
  // Every Export<Signal>PartialSuccess has the same layout: 1 = int64 count, 2 = message.
  std::string partial;
  partial += '\x08';
  put_varint(partial, static_cast<std::uint64_t>(rejected));
  partial += '\x12';
  put_varint(partial, message.size());
  partial.append(message);
  std::string out;
  out += '\x0a';  // field 1 (partial_success), length-delimited
  put_varint(out, partial.size());
  out += partial;
  return out;
}

std::string encode_status(body_format format, int grpc_code, std::string_view message) {
  if (format == body_format::json) {
    std::string out = "{\"code\":";
    json::append_int(out, grpc_code);
    out += ",\"message\":";
    json::append_string(out, message);
    out += '}';
    return out;
  }
  std::string out;
  out += '\x08';  // google.rpc.Status: 1 = int32 code, 2 = string message
  put_varint(out, static_cast<std::uint64_t>(grpc_code));
  out += '\x12';
  put_varint(out, message.size());
  out.append(message);
  return out;
}

std::string rewrite_hex_ids(std::string_view in) {
  static constexpr std::array<std::string_view, 6> id_keys = {"traceId",  "spanId",  "parentSpanId",
                                                              "trace_id", "span_id", "parent_span_id"};
  std::string out;
  out.reserve(in.size() + 16);
  std::size_t i = 0;
  // The last string seen and whether it is followed by ':' decides whether the next string is
  // an id value. Strings are skipped as units, so braces or keys inside values never confuse it.
  bool next_is_id_value = false;
  while (i < in.size()) {
    char c = in[i];
    if (c != '"') {
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ':') next_is_id_value = false;
      out += c;
      ++i;
      continue;
    }
    std::size_t end = i + 1;
    bool escaped = false;
    while (end < in.size() && in[end] != '"') {
      if (in[end] == '\\') {
        escaped = true;
        ++end;
      }
      ++end;
    }
    if (end >= in.size()) {  // unterminated: leave the rest for the JSON parser to reject
      out.append(in.substr(i));
      break;
    }
    std::string_view content = in.substr(i + 1, end - i - 1);
    std::size_t after = end + 1;
    std::size_t k = after;
    while (k < in.size() && (in[k] == ' ' || in[k] == '\t' || in[k] == '\n' || in[k] == '\r')) ++k;
    bool is_key = k < in.size() && in[k] == ':';
    if (next_is_id_value && !is_key && !escaped && (content.size() == 32 || content.size() == 16) && is_hex(content)) {
      out += '"';
      append_base64(out, hex_to_bytes(content));
      out += '"';
    } else {
      out.append(in.substr(i, after - i));
    }
    next_is_id_value = is_key && !escaped && std::find(id_keys.begin(), id_keys.end(), content) != id_keys.end();
    i = after;
  }
  return out;
}

void silence_protobuf_logging() {
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int, const std::string&) {});
}

}  // namespace logfire::backend
