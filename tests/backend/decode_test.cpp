// The request decoding path on its own (the fuzzer's target): OTLP/JSON's hex ids, the JSON
// written into the stored columns, and hostile bodies that must fail cleanly.
#include <gtest/gtest.h>

#include "backend/json.hpp"
#include "backend/otlp_decode.hpp"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace logfire::backend {
namespace {

TEST(decode, otlp_json_hex_ids_become_base64_and_nothing_else_changes) {
  std::string in =
      R"({"traceId": "0102030405060708090a0b0c0d0e0f10", "name": "traceId", "x": {"spanId":"0102030405060708"},)"
      R"( "s": "\"spanId\": \"0102030405060708\"", "parentSpanId": "", "other": "0102030405060708"})";
  std::string out = rewrite_hex_ids(in);
  EXPECT_EQ(out, R"({"traceId": "AQIDBAUGBwgJCgsMDQ4PEA==", "name": "traceId", "x": {"spanId":"AQIDBAUGBwg="},)"
                 R"( "s": "\"spanId\": \"0102030405060708\"", "parentSpanId": "", "other": "0102030405060708"})");
}

TEST(decode, json_writer_always_produces_valid_json) {
  std::string s;
  json::append_string(s, "ok \"q\" \\ \n \x01 caf\xc3\xa9 bad\xff\xfe end");
  EXPECT_EQ(s, "\"ok \\\"q\\\" \\\\ \\n \\u0001 caf\xc3\xa9 bad\xef\xbf\xbd\xef\xbf\xbd end\"");
  EXPECT_TRUE(json::is_valid(s));
  std::string n;
  json::append_double(n, 0.1);
  EXPECT_EQ(n, "0.1");
  std::string nan;
  json::append_double(nan, std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(nan, "\"NaN\"");
}

TEST(decode, json_parser_is_strict_and_bounded) {
  EXPECT_TRUE(json::is_valid(R"({"a":[1,2.5e3,-0,"x",true,null,{}]})"));
  EXPECT_FALSE(json::is_valid("{\"a\":1,}"));
  EXPECT_FALSE(json::is_valid("[01]"));
  EXPECT_FALSE(json::is_valid("\"\xff\""));
  EXPECT_FALSE(json::is_valid("[1] 2"));
  EXPECT_FALSE(json::is_valid(std::string(10000, '[') + std::string(10000, ']')));  // too deep: refused, no crash
  auto v = json::parse(R"({"k":"\u00e9\ud83d\ude00"})");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->find("k")->text, "\xc3\xa9\xf0\x9f\x98\x80");
}

TEST(decode, hostile_bodies_fail_with_a_message) {
  for (signal sig : {signal::traces, signal::logs, signal::metrics}) {
    for (body_format f : {body_format::protobuf, body_format::json}) {
      decoded_request out;
      std::string error;
      EXPECT_FALSE(decode_request(sig, f, "\x0a\xff\xff\xff\xff\x0f", out, error));
      EXPECT_FALSE(error.empty());
    }
  }
  // Deep nesting of attribute values is refused by the parser's own limit, not by a crash.
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += R"({"arrayValue":{"values":[)";
  deep += "{}";
  for (int i = 0; i < 5000; ++i) deep += "]}}";
  std::string body = R"({"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":)" + deep + "}]}}]}";
  decoded_request out;
  std::string error;
  EXPECT_FALSE(decode_request(signal::traces, body_format::json, body, out, error));
}

// Found by fuzz_otlp_request: logfire.pending_parent_id is an attribute, so it may hold anything.
TEST(decode, a_pending_span_parent_must_be_a_hex_id) {
  std::string body = R"({"resourceSpans":[{"scopeSpans":[{"spans":[
    {"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0a0b0c0d0e0f0102","parentSpanId":"0102030405060708",
     "name":"p","attributes":[{"key":"logfire.span_type","value":{"stringValue":"pending_span"}},
                              {"key":"logfire.pending_parent_id","value":{"stringValue":"zz\"}{,0123456"}}]},
    {"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0a0b0c0d0e0f0103","parentSpanId":"0102030405060709",
     "name":"q","attributes":[{"key":"logfire.span_type","value":{"stringValue":"pending_span"}},
                              {"key":"logfire.pending_parent_id","value":{"stringValue":"ABCDEF0123456789"}}]}]}]}]})";
  decoded_request out;
  std::string error;
  ASSERT_TRUE(decode_request(signal::traces, body_format::json, body, out, error)) << error;
  ASSERT_EQ(out.records.size(), 2u);
  EXPECT_EQ(out.records[0].span_id, "0102030405060708");
  EXPECT_FALSE(out.records[0].parent_span_id.has_value());
  EXPECT_EQ(out.records[1].parent_span_id.value_or(""), "abcdef0123456789");
}

TEST(decode, an_empty_request_is_valid_and_empty) {
  decoded_request out;
  std::string error;
  EXPECT_TRUE(decode_request(signal::traces, body_format::protobuf, "", out, error));
  EXPECT_TRUE(out.records.empty());
  EXPECT_TRUE(decode_request(signal::metrics, body_format::json, "{}", out, error));
  EXPECT_EQ(encode_export_response(signal::logs, body_format::json, 2, "two bad"),
            R"({"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"two bad"}})");
}

// ---- streaming: chunks, validation first, nesting, times -------------------------------------

namespace otlp_pb = opentelemetry::proto;

// Records what a sink sees: the rows of each chunk, and whether `begin` said "chunked".
struct recording_sink : row_sink {
  std::vector<std::size_t> chunks;
  bool chunked = false;
  std::size_t reserved = 0;
  std::size_t budget = static_cast<std::size_t>(-1);
  bool begin(bool c) override {
    chunked = c;
    return true;
  }
  bool reserve(std::size_t bytes) override {
    reserved += bytes;
    return reserved <= budget;
  }
  bool flush(std::vector<record_row>& records, std::vector<metric_row>& metrics, bool) override {
    if (!records.empty() || !metrics.empty()) chunks.push_back(records.size() + metrics.size());
    reserved = 0;
    return true;
  }
};

otlp_pb::collector::trace::v1::ExportTraceServiceRequest spans(int n, std::uint64_t start = 1'700'000'000'000'000'000) {
  otlp_pb::collector::trace::v1::ExportTraceServiceRequest req;
  auto* ss = req.add_resource_spans()->add_scope_spans();
  for (int i = 0; i < n; ++i) {
    auto* s = ss->add_spans();
    s->set_trace_id(std::string(15, '\x01') + static_cast<char>(i + 1));
    s->set_span_id(std::string(7, '\x02') + static_cast<char>(i + 1));
    s->set_name("s" + std::to_string(i));
    s->set_start_time_unix_nano(start);
    s->set_end_time_unix_nano(start + 1);
  }
  return req;
}

TEST(decode_streaming, a_request_that_fits_one_chunk_arrives_in_one_piece) {
  recording_sink sink;
  decode_options options;
  options.chunk_rows = 10;
  auto r = decode_request(signal::traces, body_format::protobuf, spans(10).SerializeAsString(), options, sink);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_FALSE(sink.chunked);
  EXPECT_EQ(sink.chunks, std::vector<std::size_t>{10});
}

TEST(decode_streaming, a_larger_request_arrives_in_chunks_after_it_was_checked_whole) {
  decode_options options;
  options.chunk_rows = 10;
  recording_sink sink;
  auto r = decode_request(signal::traces, body_format::protobuf, spans(25).SerializeAsString(), options, sink);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_TRUE(sink.chunked);
  EXPECT_EQ(sink.chunks, (std::vector<std::size_t>{10, 10, 5}));
  EXPECT_EQ(r.records, 25u);
  // The last span broken: nothing at all is delivered.
  std::string body = spans(25).SerializeAsString();
  body += "\x0a\x05\x12\x03\x12\x01\xff";  // a resource group whose span is cut short
  recording_sink none;
  auto bad = decode_request(signal::traces, body_format::protobuf, body, options, none);
  EXPECT_EQ(bad.outcome, decode_result::status::malformed);
  EXPECT_TRUE(none.chunks.empty());
}

TEST(decode_streaming, the_sink_can_refuse_memory) {
  recording_sink sink;
  sink.budget = 3000;
  auto r = decode_request(signal::traces, body_format::protobuf, spans(50).SerializeAsString(), {}, sink);
  EXPECT_EQ(r.outcome, decode_result::status::no_memory);
  EXPECT_TRUE(sink.chunks.empty());
}

TEST(decode_streaming, nesting_beyond_the_limit_is_named) {
  auto req = spans(1);
  auto* value = req.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0)->add_attributes();
  value->set_key("deep");
  auto* v = value->mutable_value();
  for (int i = 0; i < 40; ++i) v = v->mutable_array_value()->add_values();
  v->set_string_value("bottom");
  std::string body = req.SerializeAsString();
  recording_sink sink;
  decode_options options;
  options.max_nesting = 32;
  auto r = decode_request(signal::traces, body_format::protobuf, body, options, sink);
  EXPECT_EQ(r.outcome, decode_result::status::too_deep);
  EXPECT_NE(r.error.find("nested deeper than 32 levels"), std::string::npos) << r.error;
  options.max_nesting = 64;
  recording_sink deeper;
  EXPECT_TRUE(decode_request(signal::traces, body_format::protobuf, body, options, deeper).ok());
}

TEST(decode_streaming, more_rows_than_the_limit_refuse_the_request_before_anything_is_delivered) {
  decode_options options;
  options.max_rows = 5;
  options.chunk_rows = 2;  // several chunks: the limit must hold before the first is stored
  recording_sink over;
  auto r = decode_request(signal::traces, body_format::protobuf, spans(6).SerializeAsString(), options, over);
  EXPECT_EQ(r.outcome, decode_result::status::too_many);
  EXPECT_EQ(r.error,
            "request holds 6 spans, more than the limit of 5 per request; split the export or raise "
            "--max-request-rows");
  EXPECT_TRUE(over.chunks.empty());
  recording_sink at;
  EXPECT_TRUE(decode_request(signal::traces, body_format::protobuf, spans(5).SerializeAsString(), options, at).ok());
}

TEST(decode_streaming, fields_in_any_order_and_both_json_spellings) {
  // The resource after its scopes, snake_case keys: what protobuf's own parser accepts.
  std::string body = R"({"resource_spans":[{"scope_spans":[{"spans":[{"trace_id":"0102030405060708090a0b0c0d0e0f10",
    "span_id":"0102030405060708","name":"x","start_time_unix_nano":"1700000000000000000"}],"scope":{"name":"sc"}}],
    "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"late"}}]}}]})";
  decoded_request out;
  std::string error;
  ASSERT_TRUE(decode_request(signal::traces, body_format::json, body, out, error)) << error;
  ASSERT_EQ(out.records.size(), 1u);
  EXPECT_EQ(out.records[0].resource->service_name.value_or(""), "late");
  EXPECT_EQ(out.records[0].scope->name, "sc");

  // A sum whose temporality follows its points on the wire.
  otlp_pb::collector::metrics::v1::ExportMetricsServiceRequest m;
  auto* metric = m.add_resource_metrics()->add_scope_metrics()->add_metrics();
  metric->set_name("requests");
  metric->mutable_sum()->add_data_points()->set_as_int(3);
  metric->mutable_sum()->mutable_data_points(0)->set_time_unix_nano(1'700'000'000'000'000'000);
  std::string sum_points = metric->sum().SerializeAsString();
  std::string reordered = sum_points + "\x10\x01\x18\x01";  // aggregation_temporality = DELTA, is_monotonic
  std::string metric_bytes = std::string("\x0a\x08requests") + "\x3a" + static_cast<char>(reordered.size()) + reordered;
  std::string scope = "\x12" + std::string(1, static_cast<char>(metric_bytes.size())) + metric_bytes;
  std::string rm = "\x12" + std::string(1, static_cast<char>(scope.size())) + scope;
  std::string req_bytes = "\x0a" + std::string(1, static_cast<char>(rm.size())) + rm;
  decoded_request points;
  ASSERT_TRUE(decode_request(signal::metrics, body_format::protobuf, req_bytes, points, error)) << error;
  ASSERT_EQ(points.metrics.size(), 1u);
  EXPECT_EQ(points.metrics[0].aggregation_temporality.value_or(""), "delta");
  EXPECT_EQ(points.metrics[0].is_monotonic.value_or(false), true);
  EXPECT_EQ(points.metrics[0].scalar_value.value_or(0), 3);
}

TEST(decode_streaming, times_far_ahead_or_backwards_are_rejected_items) {
  auto req = spans(3, 1'700'000'000'000'000'000);
  auto* list = req.mutable_resource_spans(0)->mutable_scope_spans(0);
  list->mutable_spans(0)->set_start_time_unix_nano(UINT64_MAX);
  list->mutable_spans(1)->set_end_time_unix_nano(5);
  recording_sink sink;
  decode_options options;
  options.now_ns = 1'700'000'000'000'000'000;
  auto r = decode_request(signal::traces, body_format::protobuf, req.SerializeAsString(), options, sink);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.rejected, 2);
  EXPECT_EQ(r.records, 1u);
  EXPECT_NE(r.rejected_message.find("span 's0' is dated 2262-04-11"), std::string::npos) << r.rejected_message;
}

TEST(decode_streaming, c1_controls_and_bidi_overrides_are_escaped_in_stored_json) {
  std::string s;
  json::append_string(s,
                      "a\xc2\x9b"
                      "b\xe2\x80\xae"
                      "c\x7f");
  EXPECT_EQ(s, "\"a\\u009bb\\u202ec\\u007f\"");
  EXPECT_TRUE(json::is_valid(s));
}

}  // namespace
}  // namespace logfire::backend
