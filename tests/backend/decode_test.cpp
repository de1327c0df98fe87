// The request decoding path on its own (the fuzzer's target): OTLP/JSON's hex ids, the JSON
// written into the stored columns, and hostile bodies that must fail cleanly.
#include <gtest/gtest.h>

#include "backend/json.hpp"
#include "backend/otlp_decode.hpp"

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

}  // namespace
}  // namespace logfire::backend
