#include "rows.hpp"

#include <algorithm>
#include <limits>

#include "backend/json.hpp"
#include "backend/text.hpp"
#include "values.hpp"

namespace logfire::backend::otlp {
namespace {

constexpr int kInfo = 9;
constexpr int kError = 17;

// A name from the request for a message: printable and short (messages never echo raw bytes).
std::string quoted(std::string_view name) {
  return "'" + text::printable(name, 64) + "'";
}

// FNV-1a, for the ids the backend must invent (a log record without trace context still needs
// a trace id and a span id to be a row of `records`). Deterministic, so the same request always
// produces the same rows.
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

std::size_t text_bytes(const std::string& s) {
  return s.capacity() > 15 ? s.capacity() + 1 : 0;  // beyond the small-string buffer
}
std::size_t text_bytes(const std::optional<std::string>& s) {
  return s ? text_bytes(*s) : 0;
}

// Why an item dated `ns` is refused, or empty. `what` names the item (only called when refused:
// building the name costs an allocation per item).
template <typename What>
std::string future_problem(std::int64_t ns, const time_rules& rules, What what) {
  if (ns <= rules.now_ns || ns - rules.now_ns <= rules.max_future_ns) return {};
  return what() + " is dated " + format_timestamp(ns) + " UTC, more than " +
         std::to_string(rules.max_future_ns / 60'000'000'000) +
         " min ahead of this server's clock (raise --max-future-skew to accept it)";
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
  if (auto n = attrs.integer("logfire.level_num")) return static_cast<int>(std::clamp<std::int64_t>(*n, 0, 255));
  return fallback;
}

std::string_view span_kind_name(pb_trace::Span::SpanKind k) {
  switch (k) {
    case pb_trace::Span::SPAN_KIND_INTERNAL:
      return "internal";
    case pb_trace::Span::SPAN_KIND_SERVER:
      return "server";
    case pb_trace::Span::SPAN_KIND_CLIENT:
      return "client";
    case pb_trace::Span::SPAN_KIND_PRODUCER:
      return "producer";
    case pb_trace::Span::SPAN_KIND_CONSUMER:
      return "consumer";
    default:
      return "unspecified";
  }
}

// ---- spans, one concern each -------------------------------------------------------------------

std::string span_ids(const pb_trace::Span& span, record_row& row) {
  if (!valid_id(span.trace_id(), 16)) {
    return "span " + quoted(span.name()) + " has an invalid trace_id (" + std::to_string(span.trace_id().size()) +
           " bytes; 16 non-zero bytes required)";
  }
  if (!valid_id(span.span_id(), 8)) {
    return "span " + quoted(span.name()) + " has an invalid span_id (" + std::to_string(span.span_id().size()) +
           " bytes; 8 non-zero bytes required)";
  }
  if (!span.parent_span_id().empty() && span.parent_span_id().size() != 8) {
    return "span " + quoted(span.name()) + " has an invalid parent_span_id (" +
           std::to_string(span.parent_span_id().size()) + " bytes; 8 or none required)";
  }
  row.trace_id = to_hex(span.trace_id());
  row.span_id = to_hex(span.span_id());
  if (!span.parent_span_id().empty() && !all_zero(span.parent_span_id())) {
    row.parent_span_id = to_hex(span.parent_span_id());
  }
  return {};
}

std::string span_times(const pb_trace::Span& span, const time_rules& rules, record_row& row) {
  row.start_ns = clamp_ns(span.start_time_unix_nano());
  // An end of 0 means "not set": a zero-length span (as logs are).
  std::int64_t end = span.end_time_unix_nano() == 0 ? row.start_ns : clamp_ns(span.end_time_unix_nano());
  if (auto why = future_problem(row.start_ns, rules, [&] { return "span " + quoted(span.name()); }); !why.empty()) {
    return why;
  }
  if (end < row.start_ns) {
    return "span " + quoted(span.name()) + " ends before it starts (" + format_timestamp(end) + " < " +
           format_timestamp(row.start_ns) + ")";
  }
  row.end_ns = end;
  return {};
}

void span_status(const pb_trace::Span& span, const attribute_view& attrs, record_row& row) {
  const auto& status = span.status();
  switch (status.code()) {
    case pb_trace::Status::STATUS_CODE_OK:
      row.otel_status_code = "OK";
      break;
    case pb_trace::Status::STATUS_CODE_ERROR:
      row.otel_status_code = "ERROR";
      break;
    default:
      row.otel_status_code = "UNSET";
      break;
  }
  if (!status.message().empty()) row.otel_status_message = status.message();
  row.level = level_from(attrs, status.code() == pb_trace::Status::STATUS_CODE_ERROR ? kError : kInfo);
}

// Events as JSON; the last `exception` event fills the exception columns.
void span_events(const pb_trace::Span& span, record_row& row) {
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
}

void span_links(const pb_trace::Span& span, record_row& row) {
  std::string links = "[";
  bool first = true;
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
}

// A pending span stands in for its real span (its OTLP parent) until that one ends. It is stored
// under the real span's id and parent, so the tree nests correctly while the span runs and the
// real span's arrival can replace it (see store.cpp).
void as_pending_span(const attribute_view& attrs, record_row& row) {
  if (row.parent_span_id) {
    row.span_id = *row.parent_span_id;
    row.parent_span_id.reset();
    // An attribute, so anything may be in it: only 16 hex digits (not all zero) name a parent.
    if (auto pending_parent = attrs.text("logfire.pending_parent_id")) {
      std::string id = *pending_parent;
      std::transform(id.begin(), id.end(), id.begin(),
                     [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
      if (id.size() == 16 && is_hex(id) && id != "0000000000000000") row.parent_span_id = std::move(id);
    }
  }
  row.end_ns.reset();
}

// ---- metric points -----------------------------------------------------------------------------

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
    if (e.value_case() == pb_metrics::Exemplar::kAsInt) {
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

std::string_view kind_name(metric_kind k) {
  switch (k) {
    case metric_kind::gauge:
      return "gauge";
    case metric_kind::sum:
      return "sum";
    case metric_kind::histogram:
      return "histogram";
    case metric_kind::exponential_histogram:
      return "exponential_histogram";
    case metric_kind::summary:
      return "summary";
  }
  return "gauge";
}

template <typename Point>
std::string point_base(const metric_header& h, const Point& p, const time_rules& rules, metric_row& row) {
  const pb_metrics::Metric& m = *h.metric;
  row.recorded_ns = clamp_ns(p.time_unix_nano());
  if (auto why = future_problem(row.recorded_ns, rules, [&] { return "a point of metric " + quoted(m.name()); });
      !why.empty()) {
    return why;
  }
  row.metric_name = m.name();
  row.metric_type = std::string(kind_name(h.kind));
  row.unit = m.unit();
  if (!m.description().empty()) row.description = m.description();
  if (p.start_time_unix_nano() != 0) row.start_ns = clamp_ns(p.start_time_unix_nano());
  row.attributes = attributes_to_json(p.attributes());
  row.aggregation_temporality = h.temporality;
  return {};
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

}  // namespace

std::int64_t clamp_ns(std::uint64_t ns) {
  constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(std::min(ns, max));
}

std::shared_ptr<const resource_info> make_resource(const pb_resource::Resource& r) {
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

std::shared_ptr<const scope_info> make_scope(const pb_common::InstrumentationScope& s) {
  auto info = std::make_shared<scope_info>();
  info->name = s.name();
  info->version = s.version();
  return info;
}

std::string span_to_row(const pb_trace::Span& span, const time_rules& rules, record_row& row) {
  if (auto why = span_ids(span, row); !why.empty()) return why;
  if (auto why = span_times(span, rules, row); !why.empty()) return why;
  attribute_view attrs(span.attributes());
  auto span_type = attrs.text("logfire.span_type");
  if (span_type == "log" || span_type == "pending_span") row.kind = *span_type;
  span_status(span, attrs, row);
  row.span_name = span.name();
  row.message = attrs.text("logfire.msg").value_or(span.name());
  row.tags = tags_json(attrs);
  row.attributes = attributes_to_json(span.attributes(), structured_properties(attrs));
  row.otel_span_kind = std::string(span_kind_name(span.kind()));
  fill_http_columns(row, attrs);
  span_events(span, row);
  span_links(span, row);
  if (row.kind == "pending_span") as_pending_span(attrs, row);
  return {};
}

namespace {

// A log record becomes a row of its own: its span id is derived from its content (and its
// trace id too when it has none), and the span that was active when it was emitted (the record's
// span_id) is its parent.
void set_log_ids(const pb_logs::LogRecord& log, std::size_t index, const std::string& body_text, record_row& row) {
  std::string seed = log.trace_id() + log.span_id() + std::to_string(row.start_ns) + '/' + std::to_string(index) + '/' +
                     body_text.substr(0, 256);
  if (valid_id(log.trace_id(), 16)) {
    row.trace_id = to_hex(log.trace_id());
  } else {
    row.trace_id = hex64(fnv1a(seed, 1)) + hex64(fnv1a(seed, 2));
  }
  row.span_id = hex64(fnv1a(seed, 3));
  if (valid_id(log.span_id(), 8)) row.parent_span_id = to_hex(log.span_id());
}

}  // namespace

std::string log_to_row(const pb_logs::LogRecord& log, std::size_t index, const time_rules& rules, record_row& row) {
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
  if (t == 0) t = rules.now_ns;
  if (auto why = future_problem(t, rules, [] { return std::string("a log record"); }); !why.empty()) return why;
  row.start_ns = t;
  row.end_ns = t;
  row.kind = "log";

  std::string body_text = log.has_body() ? any_to_text(log.body()) : std::string();
  if (log.has_body()) row.log_body = any_to_json(log.body());

  set_log_ids(log, index, body_text, row);
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

std::optional<std::string> temporality_name(pb_metrics::AggregationTemporality t) {
  switch (t) {
    case pb_metrics::AGGREGATION_TEMPORALITY_DELTA:
      return "delta";
    case pb_metrics::AGGREGATION_TEMPORALITY_CUMULATIVE:
      return "cumulative";
    default:
      return std::nullopt;
  }
}

std::string point_to_row(const metric_header& h, const pb_metrics::NumberDataPoint& p, const time_rules& rules,
                         metric_row& row) {
  if (auto why = point_base(h, p, rules, row); !why.empty()) return why;
  row.is_monotonic = h.monotonic;
  if (p.value_case() == pb_metrics::NumberDataPoint::kAsInt) {
    row.scalar_value = static_cast<double>(p.as_int());
  } else if (p.value_case() == pb_metrics::NumberDataPoint::kAsDouble) {
    row.scalar_value = p.as_double();
  }
  row.exemplars = exemplars_json(p.exemplars());
  return {};
}

std::string point_to_row(const metric_header& h, const pb_metrics::HistogramDataPoint& p, const time_rules& rules,
                         metric_row& row) {
  if (auto why = point_base(h, p, rules, row); !why.empty()) return why;
  row.count = clamp_ns(p.count());
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
  return {};
}

std::string point_to_row(const metric_header& h, const pb_metrics::ExponentialHistogramDataPoint& p,
                         const time_rules& rules, metric_row& row) {
  if (auto why = point_base(h, p, rules, row); !why.empty()) return why;
  row.count = clamp_ns(p.count());
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
  return {};
}

std::string point_to_row(const metric_header& h, const pb_metrics::SummaryDataPoint& p, const time_rules& rules,
                         metric_row& row) {
  if (auto why = point_base(h, p, rules, row); !why.empty()) return why;
  row.aggregation_temporality.reset();  // summaries have none
  row.count = clamp_ns(p.count());
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
  return {};
}

std::size_t approx_bytes(const record_row& r) {
  return sizeof(record_row) + text_bytes(r.trace_id) + text_bytes(r.span_id) + text_bytes(r.parent_span_id) +
         text_bytes(r.kind) + text_bytes(r.span_name) + text_bytes(r.message) + text_bytes(r.tags) +
         text_bytes(r.attributes) + text_bytes(r.otel_span_kind) + text_bytes(r.otel_status_message) +
         text_bytes(r.exception_type) + text_bytes(r.exception_message) + text_bytes(r.exception_stacktrace) +
         text_bytes(r.otel_links) + text_bytes(r.otel_events) + text_bytes(r.log_body) + text_bytes(r.http_method) +
         text_bytes(r.http_route) + text_bytes(r.url_path) + text_bytes(r.url_full);
}

std::size_t approx_bytes(const metric_row& m) {
  return sizeof(metric_row) + text_bytes(m.metric_name) + text_bytes(m.metric_type) + text_bytes(m.unit) +
         text_bytes(m.description) + text_bytes(m.buckets) + text_bytes(m.exemplars) + text_bytes(m.attributes);
}

}  // namespace logfire::backend::otlp
