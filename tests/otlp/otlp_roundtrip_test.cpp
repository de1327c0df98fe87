// Every field the SDK emits survives encode -> real HTTP on loopback -> independent decode
// (libprotobuf, and libprotobuf's JSON parser for OTLP/JSON) unchanged.
#include <gtest/gtest.h>
#include <httplib.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "otlp/otlp_test_data.hpp"
#include "support/otlp_receiver.hpp"
#include "text/utf8.hpp"

namespace logfire::test {
namespace {

using namespace std::chrono_literals;

class otlp_roundtrip : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(rx_.start());
    fill_sample_records(set_);
    res_ = sample_resource();
  }

  // POSTs `body` to the receiver and returns the one request it recorded.
  received_request post(const std::string& body, const std::string& content_type) {
    httplib::Client cli("127.0.0.1", rx_.port());
    auto result = cli.Post("/v1/traces", body, content_type);
    EXPECT_TRUE(result) << "HTTP error " << static_cast<int>(result.error());
    if (result) {
      EXPECT_EQ(result->status, 200) << result->body;
    }
    EXPECT_TRUE(rx_.wait_for_requests(1, 10s));
    auto requests = rx_.requests();
    EXPECT_EQ(requests.size(), 1u);
    return requests.empty() ? received_request{} : requests.front();
  }

  otlp_receiver rx_;
  record_set set_;
  detail::resource res_;
};

TEST_F(otlp_roundtrip, protobuf_every_field_is_identical_after_http_and_libprotobuf_decode) {
  std::string body;
  detail::encode_traces_protobuf(set_.records, res_, body);
  const received_request got = post(body, "application/x-protobuf");
  ASSERT_TRUE(got.info.decoded) << got.info.decode_error;
  EXPECT_EQ(got.info.span_count, set_.records.size());

  const auto expected = to_proto(set_.records, res_, LOGFIRE_VERSION);
  std::string diff;
  EXPECT_TRUE(same_message(expected, got.message, &diff)) << diff;

  // The facts that are easiest to get wrong, spelled out.
  ASSERT_EQ(got.message.resource_spans_size(), 1);
  const auto& ss = got.message.resource_spans(0).scope_spans(0);
  EXPECT_EQ(ss.scope().name(), "logfire");
  EXPECT_EQ(ss.scope().version(), LOGFIRE_VERSION);
  const auto& server = ss.spans(0);
  EXPECT_EQ(server.flags(), 0x301u);       // sampled, has-is-remote, remote parent
  EXPECT_EQ(ss.spans(1).flags(), 0x103u);  // sampled + random, local parent
  EXPECT_EQ(ss.spans(3).flags(), 0x100u);  // not sampled root
  EXPECT_EQ(server.kind(), pb::Span::SPAN_KIND_SERVER);
  EXPECT_EQ(server.trace_id(), std::string("\x01\x23\x45\x67\x89\xab\xcd\xef\xfe\xdc\xba\x98\x76\x54\x32\x10", 16));
  EXPECT_EQ(server.parent_span_id(), std::string("\x00\xf0\x67\xaa\x0b\xa9\x02\xb7", 8));
  EXPECT_EQ(server.start_time_unix_nano(), 1'700'000'000'123'456'789ULL);
  EXPECT_EQ(server.status().code(), pb::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(server.links(0).flags(), 0x301u);  // remote linked context, sampled
  EXPECT_EQ(server.links(0).trace_state(), "vendor=value");
  EXPECT_EQ(server.links(1).flags(), 0x100u);
  EXPECT_EQ(find_attribute(server, "int64.min")->int_value(), std::numeric_limits<std::int64_t>::min());
  EXPECT_TRUE(std::isnan(find_attribute(server, "nan")->double_value()));
  EXPECT_EQ(find_attribute(server, "empty.value")->value_case(), pb::AnyValue::VALUE_NOT_SET);
  EXPECT_EQ(find_attribute(server, "empty.string")->value_case(), pb::AnyValue::kStringValue);
  EXPECT_EQ(find_attribute(server, "logfire.tags")->array_value().values(1).string_value(), "orders");
  EXPECT_EQ(ss.spans(2).parent_span_id().size(), 8u);
  EXPECT_TRUE(ss.spans(3).parent_span_id().empty());  // root
}

TEST_F(otlp_roundtrip, protobuf_bytes_equal_libprotobuf_serialization) {
  // Same field order and canonical varints as libprotobuf: any OTLP decoder reads them alike.
  std::string body;
  detail::encode_traces_protobuf(set_.records, res_, body);
  std::string reference;
  ASSERT_TRUE(to_proto(set_.records, res_, LOGFIRE_VERSION).SerializeToString(&reference));
  EXPECT_EQ(body.size(), reference.size());
  EXPECT_TRUE(body == reference);
}

TEST_F(otlp_roundtrip, short_keys_and_values_around_the_one_pass_limits_equal_libprotobuf_serialization) {
  // The encoder writes a KeyValue whose key and value are ASCII texts of at most 16 bytes, or
  // whose value is a number or a boolean, in one pass (otlp_wire.hpp). Lengths around 3, 4, 8
  // and 16, non-ASCII bytes at the start, the middle and the end, empty keys and values, and
  // numbers of every varint width go both ways.
  record_set set;
  std::vector<attribute> attrs;
  const std::string accent = "\xC3\xA9";
  std::vector<std::string> texts;
  for (std::size_t n = 0; n <= 18; ++n) texts.push_back(std::string(n, 'k'));
  for (std::size_t n : {1u, 3u, 4u, 7u, 8u, 15u, 16u}) {
    std::string t(n, 'v');
    texts.push_back(accent + t);
    texts.push_back(t + accent);
    texts.push_back(t.substr(0, n / 2) + accent + t.substr(n / 2));
  }
  int i = 0;
  for (const std::string& key : texts)
    attrs.push_back({set.keep(key + std::to_string(i++ % 3)), record_set::str(set.keep(key))});
  for (const std::string& value : texts)
    attrs.push_back({set.keep("k" + std::to_string(i++)), record_set::str(set.keep(value))});
  for (std::int64_t v : {std::int64_t{0}, std::int64_t{1}, std::int64_t{127}, std::int64_t{128}, std::int64_t{-1},
                         std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()})
    attrs.push_back({set.keep("sixteen.bytes.k" + std::to_string(i++ % 10)), record_set::i64(v)});
  attrs.push_back({"f", record_set::f64(-0.5)});
  attrs.push_back({"b", record_set::boolean(false)});
  attrs.push_back({"", record_set::str("empty key")});
  attrs.push_back({"", record_set::i64(7)});
  attrs.push_back({set.keep(std::string(17, 'n')), record_set::i64(7)});
  span_record r;
  r.context = {make_trace_id(1, 2), make_span_id(3), trace_flags::sampled, false};
  r.name = "short";
  r.start_unix_nano = 1;
  r.end_unix_nano = 2;
  r.attributes = set.attrs(attrs);
  set.records.push_back(r);

  std::string body;
  detail::encode_traces_protobuf(set.records, res_, body);
  std::string reference;
  ASSERT_TRUE(to_proto(set.records, res_, LOGFIRE_VERSION).SerializeToString(&reference));
  EXPECT_EQ(body.size(), reference.size());
  EXPECT_TRUE(body == reference);

  // Short texts with an invalid byte at the start, the middle or the end are repaired as any
  // other: the same bytes as the repaired texts give.
  record_set bad;
  record_set repaired;
  std::vector<attribute> bad_attrs;
  std::vector<attribute> repaired_attrs;
  for (std::size_t n = 1; n <= 16; ++n) {
    for (std::size_t at : {std::size_t{0}, n / 2, n - 1}) {
      std::string t(n, 'x');
      t[at] = '\xFF';
      std::string fixed;
      detail::append_repaired_utf8(fixed, t);
      bad_attrs.push_back({bad.keep(t), record_set::str(bad.keep(t))});
      repaired_attrs.push_back({repaired.keep(fixed), record_set::str(repaired.keep(fixed))});
    }
  }
  r.attributes = bad.attrs(bad_attrs);
  bad.records.push_back(r);
  r.attributes = repaired.attrs(repaired_attrs);
  repaired.records.push_back(r);
  std::string bad_body;
  std::string repaired_body;
  detail::encode_traces_protobuf(bad.records, res_, bad_body);
  detail::encode_traces_protobuf(repaired.records, res_, repaired_body);
  EXPECT_TRUE(bad_body == repaired_body);
}

TEST_F(otlp_roundtrip, json_every_field_is_identical_after_http_and_json_decode) {
  std::string body;
  detail::encode_traces_json(set_.records, res_, body);
  const received_request got = post(body, "application/json");
  ASSERT_TRUE(got.info.decoded) << got.info.decode_error << "\n" << body;
  const auto expected = to_proto(set_.records, res_, LOGFIRE_VERSION);
  std::string diff;
  EXPECT_TRUE(same_message(expected, got.message, &diff)) << diff;
}

TEST_F(otlp_roundtrip, json_uses_otlp_conventions) {
  std::string body;
  detail::encode_traces_json(set_.records, res_, body);
  // Ids as lowercase hex, enums as integers, 64-bit integers as strings, camelCase names.
  EXPECT_NE(body.find(R"("traceId":"0123456789abcdeffedcba9876543210")"), std::string::npos);
  EXPECT_NE(body.find(R"("parentSpanId":"00f067aa0ba902b7")"), std::string::npos);
  EXPECT_NE(body.find(R"("kind":2)"), std::string::npos);
  EXPECT_NE(body.find(R"("flags":769)"), std::string::npos);
  EXPECT_NE(body.find(R"("startTimeUnixNano":"1700000000123456789")"), std::string::npos);
  EXPECT_NE(body.find(R"({"key":"id","value":{"intValue":"42"}})"), std::string::npos);
  EXPECT_NE(body.find(R"("code":2)"), std::string::npos);
  EXPECT_NE(body.find(R"("doubleValue":"NaN")"), std::string::npos);
  EXPECT_NE(body.find(R"(\n tab \t nul-free \u0001 \u001f)"), std::string::npos);
}

TEST_F(otlp_roundtrip, empty_batch_is_an_empty_request) {
  std::string body = "stale bytes";
  detail::encode_traces_protobuf({}, res_, body);
  EXPECT_TRUE(body.empty());
  const received_request got = post(body, "application/x-protobuf");
  EXPECT_TRUE(got.info.decoded);
  EXPECT_EQ(got.info.span_count, 0u);
}

TEST_F(otlp_roundtrip, reused_buffer_gives_the_same_bytes) {
  // The encoder treats the buffer's old contents as scratch; nothing of them may leak through.
  std::string first;
  detail::encode_traces_protobuf(set_.records, res_, first);
  std::string reused(first.size() * 3, '\xAB');
  detail::encode_traces_protobuf(set_.records, res_, reused);
  EXPECT_TRUE(first == reused);
  detail::encode_traces_protobuf(std::span(set_.records).first(1), res_, reused);
  pb::ExportTraceServiceRequest one;
  ASSERT_TRUE(one.ParseFromString(reused));
  EXPECT_EQ(one.resource_spans(0).scope_spans(0).spans_size(), 1);
  // Small size, large capacity: growing again within the capacity.
  detail::encode_traces_protobuf(set_.records, res_, reused);
  EXPECT_TRUE(first == reused);

  std::string json_first;
  detail::encode_traces_json(set_.records, res_, json_first);
  std::string json_reused(json_first.size() * 2, '\xCD');
  detail::encode_traces_json(set_.records, res_, json_reused);
  EXPECT_TRUE(json_first == json_reused);
}

TEST_F(otlp_roundtrip, big_attributes_and_many_events_keep_lengths_right) {
  // Lengths that need 1, 2, 3 and 4 varint bytes at every nesting level.
  record_set big;
  std::vector<attribute> attrs;
  for (std::size_t len : {0u, 1u, 127u, 128u, 16'383u, 16'384u, 2'097'152u}) {
    attrs.push_back({big.keep("len." + std::to_string(len)), record_set::str(big.keep(std::string(len, 'y')))});
  }
  span_record r;
  r.context = {make_trace_id(1, 2), make_span_id(3), trace_flags::sampled, false};
  r.name = "big";
  r.start_unix_nano = 1;
  r.end_unix_nano = 2;
  r.attributes = big.attrs(attrs);
  auto& events = big.event_lists.emplace_back();
  for (int i = 0; i < 200; ++i) events.push_back({"e", static_cast<std::uint64_t>(i + 1), big.attrs({attrs[3]})});
  r.events = events;
  auto& links = big.link_lists.emplace_back();
  links.push_back({r.context, big.keep(std::string(200, 't')), big.attrs({attrs[4]})});
  r.links = links;
  big.records.push_back(r);
  big.records.push_back(set_.records[0]);

  std::string body;
  detail::encode_traces_protobuf(big.records, res_, body);
  const received_request got = post(body, "application/x-protobuf");
  ASSERT_TRUE(got.info.decoded) << got.info.decode_error;
  std::string diff;
  EXPECT_TRUE(same_message(to_proto(big.records, res_, LOGFIRE_VERSION), got.message, &diff)) << diff;
}

}  // namespace
}  // namespace logfire::test
