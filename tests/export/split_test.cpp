// Splitting encoded requests in halves (for 413 answers), checked with libprotobuf and the
// receiver's OTLP/JSON parser, which know nothing of the splitter.
#include <gtest/gtest.h>

#include "export/gzip.hpp"
#include "export/otlp_encoder.hpp"
#include "export/otlp_split.hpp"
#include "export_test_util.hpp"

namespace logfire::test {
namespace {

using detail::body_format;

std::vector<std::string> names_and_ids(const otlp::export_request& req, std::vector<std::string>& ids) {
  std::vector<std::string> out;
  for (const auto& rs : req.resource_spans()) {
    EXPECT_FALSE(rs.resource().attributes().empty());  // the resource travels with each half
    for (const auto& ss : rs.scope_spans()) {
      EXPECT_EQ(ss.scope().name(), "logfire");
      for (const auto& s : ss.spans()) {
        out.push_back(s.name());
        ids.push_back(s.span_id());
      }
    }
  }
  return out;
}

TEST(Split, ProtobufHalvesHoldEverySpanOnceInOrder) {
  record_factory f;
  auto records = f.spans(7);
  std::string body;
  detail::encode_traces_protobuf(records, test_resource(), body);
  std::size_t n = 0;
  ASSERT_TRUE(detail::count_request_spans(body_format::protobuf, body, n));
  EXPECT_EQ(n, 7u);

  detail::split_halves h;
  ASSERT_TRUE(detail::split_request_in_halves(body_format::protobuf, body, h));
  EXPECT_EQ(h.first_spans, 3u);
  EXPECT_EQ(h.second_spans, 4u);
  otlp::export_request a;
  otlp::export_request b;
  ASSERT_TRUE(a.ParseFromString(h.first));
  ASSERT_TRUE(b.ParseFromString(h.second));
  std::vector<std::string> ids;
  names_and_ids(a, ids);
  names_and_ids(b, ids);
  ASSERT_EQ(ids.size(), 7u);
  for (std::size_t i = 0; i < 7; ++i) EXPECT_EQ(ids[i], span_id_bytes(records[i].context.span.value)) << i;

  // Recursively down to single spans, then no further.
  detail::split_halves q;
  ASSERT_TRUE(detail::split_request_in_halves(body_format::protobuf, h.first, q));
  detail::split_halves single;
  ASSERT_TRUE(detail::split_request_in_halves(body_format::protobuf, q.second, single));
  EXPECT_FALSE(detail::split_request_in_halves(body_format::protobuf, single.first, q));
}

TEST(Split, JsonHalvesHoldEverySpanOnceInOrder) {
  record_factory f;
  auto records = f.spans(5);
  std::string body;
  detail::encode_traces_json(records, test_resource(), body);
  detail::split_halves h;
  ASSERT_TRUE(detail::split_request_in_halves(body_format::json, body, h));
  otlp::export_request a;
  otlp::export_request b;
  ASSERT_EQ(parse_otlp_json(h.first, a), "") << h.first;
  ASSERT_EQ(parse_otlp_json(h.second, b), "") << h.second;
  std::vector<std::string> ids;
  names_and_ids(a, ids);
  names_and_ids(b, ids);
  ASSERT_EQ(ids.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(ids[i], span_id_bytes(records[i].context.span.value)) << i;
}

TEST(Split, GarbageIsRefusedNotCrashedOn) {
  detail::split_halves h;
  std::size_t n = 0;
  EXPECT_FALSE(detail::split_request_in_halves(body_format::protobuf, "\x0a\xff\xff\xff\xff\x0f", h));
  EXPECT_FALSE(detail::count_request_spans(body_format::protobuf, "\x0a\x05\x01", n));
  // A ScopeSpans whose own fields are truncated, inside a well-formed ResourceSpans: the error
  // two levels down is not lost on the way up.
  EXPECT_FALSE(
      detail::count_request_spans(body_format::protobuf, std::string_view("\x0a\x05\x12\x03\x0a\x05\x01", 7), n));
  EXPECT_FALSE(detail::count_request_spans(body_format::protobuf, std::string_view("\x0a\x05\x12\x03\x0a\x05\x01", 7),
                                           n, detail::otlp_signal::metrics));
  EXPECT_FALSE(
      detail::split_request_in_halves(body_format::json, R"({"resourceSpans":[{"scopeSpans":[{"spans":[{}, )", h));
  EXPECT_FALSE(detail::split_request_in_halves(body_format::json, "[[[[[[", h));
  std::string deep(10000, '[');
  EXPECT_FALSE(detail::count_request_spans(body_format::json, deep, n));
}

TEST(Split, GunzipUndoesGzip) {
  std::string plain(100000, 'z');
  for (std::size_t i = 0; i < plain.size(); i += 7) plain[i] = static_cast<char>('a' + i % 13);
  std::string gz;
  ASSERT_TRUE(detail::gzip_compress(plain, gz, 1));
  std::string back;
  ASSERT_TRUE(detail::gunzip(gz, back));
  EXPECT_EQ(back, plain);
  EXPECT_FALSE(detail::gunzip(gz.substr(0, gz.size() / 2), back));  // truncated
  EXPECT_FALSE(detail::gunzip(gz, back, 1000));                     // over the limit
  EXPECT_FALSE(detail::gunzip("not gzip at all", back));
}

}  // namespace
}  // namespace logfire::test
