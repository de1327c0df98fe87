// Hand-built span_records covering every field the SDK emits, and an independent mapping of
// them to libprotobuf messages (written from the OTLP specification, not from the encoder) so
// tests can compare what the encoder produced with what it should have produced.
#pragma once

#include <google/protobuf/util/field_comparator.h>
#include <google/protobuf/util/message_differencer.h>

#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <string>
#include <vector>

#include "export/otlp_encoder.hpp"
#include "logfire/record.hpp"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "resource/resource.hpp"

namespace logfire::test {

namespace pb {
using namespace opentelemetry::proto::collector::trace::v1;
using namespace opentelemetry::proto::trace::v1;
using namespace opentelemetry::proto::common::v1;
using namespace opentelemetry::proto::resource::v1;
}  // namespace pb

// Owns the memory the records' views point into. Deques keep element addresses stable.
struct record_set {
  std::deque<std::string> text;
  std::deque<std::vector<attribute_value>> arrays;
  std::deque<std::vector<attribute>> attribute_lists;
  std::deque<std::vector<event>> event_lists;
  std::deque<std::vector<link>> link_lists;
  std::vector<span_record> records;

  std::string_view keep(std::string s) { return text.emplace_back(std::move(s)); }

  static attribute_value str(std::string_view s) {
    attribute_value v;
    v.type = attribute_value::kind::string;
    v.s = s;
    return v;
  }
  static attribute_value i64(std::int64_t i) {
    attribute_value v;
    v.type = attribute_value::kind::int64;
    v.i = i;
    return v;
  }
  static attribute_value f64(double d) {
    attribute_value v;
    v.type = attribute_value::kind::float64;
    v.d = d;
    return v;
  }
  static attribute_value boolean(bool b) {
    attribute_value v;
    v.type = attribute_value::kind::boolean;
    v.b = b;
    return v;
  }
  attribute_value array(std::vector<attribute_value> items) {
    attribute_value v;
    v.type = attribute_value::kind::array;
    v.items = arrays.emplace_back(std::move(items));
    return v;
  }
  std::span<const attribute> attrs(std::vector<attribute> list) {
    return attribute_lists.emplace_back(std::move(list));
  }
};

inline trace_id make_trace_id(std::uint64_t hi, std::uint64_t lo) {
  trace_id t;
  t.hi = hi;
  t.lo = lo;
  return t;
}
inline span_id make_span_id(std::uint64_t v) {
  span_id s;
  s.value = v;
  return s;
}

// A resource with string, int, bool and double attributes.
inline detail::resource sample_resource() {
  detail::resource r;
  r.set("service.name", std::string("checkout"));
  r.set("service.version", std::string("1.4.2"));
  r.set("telemetry.sdk.name", std::string("logfire-cpp"));
  r.set("telemetry.sdk.language", std::string("cpp"));
  r.set("process.pid", std::int64_t{4242});
  r.set("deployment.is_canary", true);
  r.set("host.load", 0.75);
  r.set("service.instance.id", std::string("0af7651916cd43dd8448eb211c80319c"));
  return r;
}

// Every kind of record and field: a server span continuing a remote trace with every attribute
// type, events and links; a log; a pending span; spans of each remaining kind and status.
inline void fill_sample_records(record_set& rs) {
  const trace_id trace = make_trace_id(0x0123456789abcdefULL, 0xfedcba9876543210ULL);

  // 1. SERVER span, remote parent, tracestate, all attribute types, events, links, ERROR.
  {
    span_record r;
    r.type = record_type::span;
    r.context = {trace, make_span_id(0x1111111111111111ULL), trace_flags::sampled, false};
    r.parent = make_span_id(0x00f067aa0ba902b7ULL);
    r.parent_is_remote = true;  // flags 0x301
    r.trace_state = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
    r.name = "GET /orders/{id}";
    r.message = "GET /orders/42";
    r.kind = span_kind::server;
    r.level = level::error;
    r.start_unix_nano = 1'700'000'000'123'456'789ULL;
    r.end_unix_nano = 1'700'000'001'987'654'321ULL;
    r.attributes = rs.attrs({
        {"logfire.msg_template", rs.str("GET /orders/{id}")},
        {"logfire.msg", rs.str("GET /orders/42")},
        {"logfire.span_type", rs.str("span")},
        {"logfire.level_num", rs.i64(17)},
        {"logfire.tags", rs.array({rs.str("http"), rs.str("orders")})},
        {"logfire.json_schema", rs.str(R"({"type":"object","properties":{"id":{},"items":{"type":"array"}}})")},
        {"code.filepath", rs.str("src/orders.cpp")},
        {"code.lineno", rs.i64(118)},
        {"code.function", rs.str("handle_get_order")},
        {"id", rs.i64(42)},
        {"negative", rs.i64(-7)},
        {"int64.max", rs.i64(std::numeric_limits<std::int64_t>::max())},
        {"int64.min", rs.i64(std::numeric_limits<std::int64_t>::min())},
        {"zero", rs.i64(0)},
        {"ratio", rs.f64(0.1)},
        {"tiny", rs.f64(-5e-324)},
        {"huge", rs.f64(1.7976931348623157e308)},
        {"inf", rs.f64(std::numeric_limits<double>::infinity())},
        {"nan", rs.f64(std::numeric_limits<double>::quiet_NaN())},
        {"ok", rs.boolean(true)},
        {"cached", rs.boolean(false)},
        {"empty.string", rs.str("")},
        {"empty.value", attribute_value{}},
        {"unicode", rs.str("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80 \xe4\xb8\xad")},
        {"escapes", rs.str("quote \" backslash \\ newline \n tab \t nul-free \x01 \x1f del \x7f")},
        {"items", rs.array({rs.i64(1), rs.i64(-2), rs.i64(300)})},
        {"weights", rs.array({rs.f64(0.5), rs.f64(2.25)})},
        {"flags", rs.array({rs.boolean(true), rs.boolean(false)})},
        {"none", rs.array({})},
        {"long", rs.str(rs.keep(std::string(300, 'x')))},
    });
    r.dropped_attributes_count = 3;
    auto& events = rs.event_lists.emplace_back();
    events.push_back({"exception", 1'700'000'001'000'000'000ULL,
                      rs.attrs({{"exception.type", rs.str("std::runtime_error")},
                                {"exception.message", rs.str("order 42 not found")},
                                {"exception.stacktrace", rs.str(rs.keep(std::string(200, 's')))},
                                {"exception.escaped", rs.boolean(true)}})});
    events.push_back({"cache miss", 1'700'000'000'500'000'000ULL, {}});
    r.events = events;
    auto& links = rs.link_lists.emplace_back();
    links.push_back({span_context{make_trace_id(0xaaaaaaaaaaaaaaaaULL, 0xbbbbbbbbbbbbbbbbULL),
                                  make_span_id(0xccccccccccccccccULL), trace_flags::sampled, true},
                     "vendor=value", rs.attrs({{"link.reason", rs.str("batch")}, {"link.index", rs.i64(1)}})});
    links.push_back({span_context{trace, make_span_id(0x2222222222222222ULL), 0, false}, "", {}});
    r.links = links;
    r.status = status_code::error;
    r.status_message = "std::runtime_error: order 42 not found";
    rs.records.push_back(r);
  }
  // 2. A log: zero duration, local parent (flags 0x101), random-trace-id flag carried.
  {
    span_record r;
    r.type = record_type::log;
    r.context = {trace, make_span_id(0x3333333333333333ULL), trace_flags::sampled | trace_flags::random, false};
    r.parent = make_span_id(0x1111111111111111ULL);
    r.name = "charged {user_id}";
    r.message = "charged 7";
    r.kind = span_kind::internal;
    r.level = level::info;
    r.start_unix_nano = r.end_unix_nano = 1'700'000'000'900'000'000ULL;
    r.attributes = rs.attrs({{"logfire.span_type", rs.str("log")},
                             {"logfire.level_num", rs.i64(9)},
                             {"logfire.msg_template", rs.str("charged {user_id}")},
                             {"logfire.msg", rs.str("charged 7")},
                             {"user_id", rs.i64(7)}});
    rs.records.push_back(r);
  }
  // 3. A pending span of a root span: parent = the real span, status OK without message.
  {
    span_record r;
    r.type = record_type::pending_span;
    r.context = {make_trace_id(0x0000018b0000abcdULL, 0x1234000000000001ULL), make_span_id(0x4444444444444444ULL),
                 trace_flags::sampled, false};
    r.parent = make_span_id(0x5555555555555555ULL);
    r.name = "pending work";
    r.kind = span_kind::internal;
    r.start_unix_nano = r.end_unix_nano = 1'700'000'002'000'000'000ULL;
    r.attributes = rs.attrs(
        {{"logfire.span_type", rs.str("pending_span")}, {"logfire.pending_parent_id", rs.str("0000000000000000")}});
    r.status = status_code::ok;
    rs.records.push_back(r);
  }
  // 4..7. Root spans of the remaining kinds, not sampled flags, unset status with a message.
  const span_kind kinds[] = {span_kind::client, span_kind::producer, span_kind::consumer, span_kind::unspecified};
  std::uint64_t n = 0;
  for (span_kind k : kinds) {
    ++n;
    span_record r;
    r.context = {make_trace_id(0x9000 + n, 0x7000 + n), make_span_id(0x6000 + n), 0, false};
    r.name = rs.keep("kind " + std::to_string(static_cast<int>(k)));
    r.kind = k;
    r.start_unix_nano = 1'700'000'003'000'000'000ULL + n;
    r.end_unix_nano = 1'700'000'004'000'000'000ULL + n;
    if (k == span_kind::consumer) r.status_message = "message without a code";
    rs.records.push_back(r);
  }
}

// ---- the expected messages, mapped independently from the OTLP specification ----

inline std::string be_bytes(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i) {
    s[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xFF);
    v >>= 8;
  }
  return s;
}

inline void to_proto(const attribute_value& v, pb::AnyValue& out) {
  switch (v.type) {
    case attribute_value::kind::empty:
      break;
    case attribute_value::kind::boolean:
      out.set_bool_value(v.b);
      break;
    case attribute_value::kind::int64:
      out.set_int_value(v.i);
      break;
    case attribute_value::kind::float64:
      out.set_double_value(v.d);
      break;
    case attribute_value::kind::string:
      out.set_string_value(std::string(v.s));
      break;
    case attribute_value::kind::array: {
      auto* arr = out.mutable_array_value();
      for (const auto& item : v.items) to_proto(item, *arr->add_values());
      break;
    }
  }
}

inline void to_proto(std::span<const attribute> attrs, google::protobuf::RepeatedPtrField<pb::KeyValue>& out) {
  for (const auto& a : attrs) {
    auto* kv = out.Add();
    kv->set_key(std::string(a.key));
    to_proto(a.value, *kv->mutable_value());
  }
}

inline std::uint32_t expected_flags(const span_context& c, bool parent_remote) {
  return (c.flags & 0x03u) | 0x100u | (parent_remote ? 0x200u : 0u);
}

inline pb::Span to_proto(const span_record& r) {
  pb::Span s;
  s.set_trace_id(be_bytes(r.context.trace.hi) + be_bytes(r.context.trace.lo));
  s.set_span_id(be_bytes(r.context.span.value));
  s.set_trace_state(std::string(r.trace_state));
  if (r.parent.valid()) s.set_parent_span_id(be_bytes(r.parent.value));
  s.set_flags(expected_flags(r.context, r.parent_is_remote));
  s.set_name(std::string(r.name));
  s.set_kind(static_cast<pb::Span::SpanKind>(r.kind));
  s.set_start_time_unix_nano(r.start_unix_nano);
  s.set_end_time_unix_nano(r.end_unix_nano);
  to_proto(r.attributes, *s.mutable_attributes());
  s.set_dropped_attributes_count(r.dropped_attributes_count);
  for (const auto& e : r.events) {
    auto* pe = s.add_events();
    pe->set_time_unix_nano(e.time_unix_nano);
    pe->set_name(std::string(e.name));
    to_proto(e.attributes, *pe->mutable_attributes());
  }
  for (const auto& l : r.links) {
    auto* pl = s.add_links();
    pl->set_trace_id(be_bytes(l.context.trace.hi) + be_bytes(l.context.trace.lo));
    pl->set_span_id(be_bytes(l.context.span.value));
    pl->set_trace_state(std::string(l.trace_state));
    to_proto(l.attributes, *pl->mutable_attributes());
    pl->set_flags(expected_flags(l.context, l.context.is_remote));
  }
  if (r.status != status_code::unset || !r.status_message.empty()) {
    s.mutable_status()->set_code(static_cast<pb::Status::StatusCode>(r.status));
    s.mutable_status()->set_message(std::string(r.status_message));
  }
  return s;
}

inline pb::ExportTraceServiceRequest to_proto(std::span<const span_record> records, const detail::resource& res,
                                              std::string_view version) {
  pb::ExportTraceServiceRequest req;
  if (records.empty()) return req;
  auto* rs = req.add_resource_spans();
  for (const auto& a : res.attributes) {
    auto* kv = rs->mutable_resource()->add_attributes();
    kv->set_key(a.key);
    auto* v = kv->mutable_value();
    if (auto* s = std::get_if<std::string>(&a.value)) v->set_string_value(*s);
    if (auto* i = std::get_if<std::int64_t>(&a.value)) v->set_int_value(*i);
    if (auto* b = std::get_if<bool>(&a.value)) v->set_bool_value(*b);
    if (auto* d = std::get_if<double>(&a.value)) v->set_double_value(*d);
  }
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("logfire");
  ss->mutable_scope()->set_version(std::string(version));
  for (const auto& r : records) *ss->add_spans() = to_proto(r);
  return req;
}

// Field-by-field equality (NaN equal to NaN); `diff` explains the first differences.
inline bool same_message(const google::protobuf::Message& expected, const google::protobuf::Message& actual,
                         std::string* diff) {
  google::protobuf::util::DefaultFieldComparator cmp;
  cmp.set_treat_nan_as_equal(true);
  google::protobuf::util::MessageDifferencer d;
  d.set_field_comparator(&cmp);
  d.ReportDifferencesToString(diff);
  return d.Compare(expected, actual);
}

}  // namespace logfire::test
