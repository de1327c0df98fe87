// Request bodies as an exporter uses them: split under a size limit (every record exactly once),
// gzip-compressed (decoded by zlib and by the receiver), chunked, and always valid UTF-8.
#include <gtest/gtest.h>
#include <httplib.h>
#include <zlib.h>

#include <set>

#include "export/gzip.hpp"
#include "otlp/otlp_test_data.hpp"
#include "support/otlp_receiver.hpp"

namespace logfire::test {
namespace {

using namespace std::chrono_literals;

// Independent gunzip with zlib's inflate (gzip wrapper only).
std::string gunzip(std::string_view in) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
  std::string out;
  char buf[16384];
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
  }
  EXPECT_EQ(rc, Z_STREAM_END);
  inflateEnd(&zs);
  return out;
}

// `n` log-like records with distinct span ids 1..n.
void fill_many(record_set& rs, std::size_t n) {
  for (std::size_t i = 1; i <= n; ++i) {
    span_record r;
    r.context = {make_trace_id(0x42, i), make_span_id(i), trace_flags::sampled, false};
    r.name = "item {i}";
    r.start_unix_nano = r.end_unix_nano = 1'700'000'000'000'000'000ULL + i;
    r.attributes = rs.attrs({{"logfire.msg", record_set::str(rs.keep("item " + std::to_string(i)))},
                             {"i", record_set::i64(static_cast<std::int64_t>(i))},
                             {"padding", record_set::str(rs.keep(std::string(i % 300, 'p')))}});
    rs.records.push_back(r);
  }
}

struct split_result {
  std::vector<pb::ExportTraceServiceRequest> bodies;
  std::vector<std::size_t> sizes;
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
};

template <typename Encode>
split_result split_and_decode(Encode&& encode, bool json) {
  split_result out;
  encode([&](std::string_view body, std::size_t first, std::size_t count) {
    pb::ExportTraceServiceRequest m;
    if (json) {
      EXPECT_EQ(parse_otlp_json(body, m), "");
    } else {
      EXPECT_TRUE(m.ParseFromArray(body.data(), static_cast<int>(body.size())));
    }
    out.bodies.push_back(std::move(m));
    out.sizes.push_back(body.size());
    out.ranges.emplace_back(first, count);
  });
  return out;
}

void expect_each_record_once(const split_result& s, const record_set& rs, std::size_t max_body) {
  ASSERT_GT(s.bodies.size(), 1u);
  std::size_t next = 0;
  for (std::size_t b = 0; b < s.bodies.size(); ++b) {
    EXPECT_LE(s.sizes[b], max_body) << "body " << b;
    EXPECT_EQ(s.ranges[b].first, next) << "bodies cover the batch in order";
    const auto& spans = s.bodies[b].resource_spans(0).scope_spans(0).spans();
    ASSERT_EQ(static_cast<std::size_t>(spans.size()), s.ranges[b].second);
    EXPECT_EQ(s.bodies[b].resource_spans(0).resource().attributes_size(), 8) << "every body has the resource";
    EXPECT_EQ(s.bodies[b].resource_spans(0).scope_spans(0).scope().name(), "logfire");
    for (const auto& sp : spans) {
      EXPECT_EQ(sp.span_id(), be_bytes(rs.records[next].context.span.value)) << "record " << next;
      ++next;
    }
  }
  EXPECT_EQ(next, rs.records.size());
}

TEST(otlp_split, protobuf_bodies_stay_under_the_limit_and_hold_every_record_once) {
  record_set rs;
  fill_many(rs, 1000);
  const auto res = sample_resource();
  constexpr std::size_t max_body = 16 * 1024;
  std::string buffer;
  const auto s = split_and_decode(
      [&](auto sink) { detail::encode_traces_protobuf_split(rs.records, res, max_body, buffer, sink); }, false);
  expect_each_record_once(s, rs, max_body);

  // Compared with the unsplit encoding: same spans, field for field.
  std::string whole;
  detail::encode_traces_protobuf(rs.records, res, whole);
  pb::ExportTraceServiceRequest all;
  ASSERT_TRUE(all.ParseFromString(whole));
  int k = 0;
  for (const auto& b : s.bodies)
    for (const auto& sp : b.resource_spans(0).scope_spans(0).spans()) {
      std::string diff;
      EXPECT_TRUE(same_message(all.resource_spans(0).scope_spans(0).spans(k++), sp, &diff)) << diff;
    }
}

TEST(otlp_split, json_bodies_stay_under_the_limit_and_hold_every_record_once) {
  record_set rs;
  fill_many(rs, 500);
  const auto res = sample_resource();
  constexpr std::size_t max_body = 32 * 1024;
  std::string buffer;
  const auto s = split_and_decode(
      [&](auto sink) { detail::encode_traces_json_split(rs.records, res, max_body, buffer, sink); }, true);
  expect_each_record_once(s, rs, max_body);
}

TEST(otlp_split, one_body_when_everything_fits) {
  record_set rs;
  fill_many(rs, 50);
  const auto res = sample_resource();
  std::string buffer;
  std::string whole;
  detail::encode_traces_protobuf(rs.records, res, whole);
  int calls = 0;
  detail::encode_traces_protobuf_split(rs.records, res, detail::k_max_request_body_bytes, buffer,
                                       [&](std::string_view body, std::size_t first, std::size_t count) {
                                         ++calls;
                                         EXPECT_EQ(first, 0u);
                                         EXPECT_EQ(count, 50u);
                                         EXPECT_TRUE(body == whole);
                                       });
  EXPECT_EQ(calls, 1);
  detail::encode_traces_protobuf_split({}, res, 1000, buffer, [&](auto, auto, auto) { ++calls; });
  EXPECT_EQ(calls, 1) << "no body for an empty batch";
}

TEST(otlp_split, a_record_larger_than_the_limit_travels_alone) {
  record_set rs;
  fill_many(rs, 3);
  span_record big = rs.records[1];
  big.attributes = rs.attrs({{"blob", record_set::str(rs.keep(std::string(5000, 'b')))}});
  rs.records[1] = big;
  const auto res = sample_resource();
  std::string buffer;
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  detail::encode_traces_protobuf_split(rs.records, res, 2000, buffer,
                                       [&](std::string_view body, std::size_t first, std::size_t count) {
                                         pb::ExportTraceServiceRequest m;
                                         EXPECT_TRUE(m.ParseFromArray(body.data(), static_cast<int>(body.size())));
                                         ranges.emplace_back(first, count);
                                       });
  const std::vector<std::pair<std::size_t, std::size_t>> expected{{0, 1}, {1, 1}, {2, 1}};
  EXPECT_EQ(ranges, expected);
}

TEST(otlp_gzip, zlib_inflate_gives_back_the_body) {
  record_set rs;
  fill_sample_records(rs);
  fill_many(rs, 200);
  std::string body;
  detail::encode_traces_protobuf(rs.records, sample_resource(), body);
  for (int level : {1, 6, 9, -1}) {
    std::string gz = "old contents";
    ASSERT_TRUE(detail::gzip_compress(body, gz, level));
    EXPECT_LT(gz.size(), body.size());
    ASSERT_GE(gz.size(), 18u);
    EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);  // gzip magic
    EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
    EXPECT_TRUE(gunzip(gz) == body) << "level " << level;
  }
  std::string gz;
  ASSERT_TRUE(detail::gzip_compress("", gz, 1));
  EXPECT_EQ(gunzip(gz), "");
  EXPECT_FALSE(detail::gzip_compress(body, gz, 42));
  EXPECT_TRUE(gz.empty());
}

TEST(otlp_gzip, receiver_decodes_gzip_and_chunked_bodies) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  record_set rs;
  fill_sample_records(rs);
  const auto res = sample_resource();
  std::string body;
  detail::encode_traces_protobuf(rs.records, res, body);
  std::string gz;
  ASSERT_TRUE(detail::gzip_compress(body, gz, detail::k_default_gzip_level));

  httplib::Client cli("127.0.0.1", rx.port());
  auto r1 = cli.Post("/v1/traces", {{"Content-Encoding", "gzip"}}, gz, "application/x-protobuf");
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 200);

  // Chunked and gzip together: the body is streamed without a Content-Length.
  auto r2 = cli.Post(
      "/v1/traces", {{"Content-Encoding", "gzip"}},
      [&gz](std::size_t offset, httplib::DataSink& sink) {
        if (offset < gz.size()) {
          sink.write(gz.data() + offset, std::min<std::size_t>(100, gz.size() - offset));
        } else {
          sink.done();
        }
        return true;
      },
      "application/x-protobuf");
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 200);

  ASSERT_TRUE(rx.wait_for_spans(2 * rs.records.size(), 10s));
  const auto requests = rx.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].info.content_encoding, "gzip");
  EXPECT_EQ(requests[0].info.wire_bytes, gz.size());
  EXPECT_EQ(requests[0].info.body_bytes, body.size());
  EXPECT_FALSE(requests[0].info.chunked);
  EXPECT_TRUE(requests[1].info.chunked);
  const auto expected = to_proto(rs.records, res, LOGFIRE_VERSION);
  for (const auto& r : requests) {
    std::string diff;
    EXPECT_TRUE(same_message(expected, r.message, &diff)) << diff;
  }
}

// Documented choice: the encoders repair invalid UTF-8 with the library's one policy
// (src/text/utf8.hpp: each maximal invalid subpart becomes U+FFFD) rather than send it (the
// request would otherwise be rejected whole), keeping everything else as is.
TEST(otlp_utf8, invalid_utf8_is_replaced_not_sent) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  record_set rs;
  span_record r;
  r.context = {make_trace_id(1, 2), make_span_id(3), trace_flags::sampled, false};
  r.name = "bad \xff name";
  r.trace_state = "k=v";
  r.status = status_code::error;
  r.status_message = "truncated \xe2\x82";
  r.start_unix_nano = 1;
  r.end_unix_nano = 2;
  r.attributes = rs.attrs({
      {"overlong", record_set::str("\xc0\xaf")},
      {"surrogate", record_set::str("\xed\xa0\x80")},
      {"ok \xc3\xa9", record_set::str("caf\xc3\xa9")},
      {"key \x80", rs.array({record_set::str("a\xfe"), record_set::str("fine")})},
      {"long", record_set::str(rs.keep(std::string(200, 'a') + "\xf5" + std::string(200, 'b')))},
  });
  auto& events = rs.event_lists.emplace_back();
  events.push_back({"ev\xc3", 5, {}});
  r.events = events;
  rs.records.push_back(r);
  const auto res = sample_resource();

  const std::string fffd = "\xef\xbf\xbd";
  auto check = [&](const pb::Span& s) {
    EXPECT_EQ(s.name(), "bad " + fffd + " name");
    EXPECT_EQ(s.status().message(), "truncated " + fffd) << "one maximal subpart, one U+FFFD";
    EXPECT_EQ(find_attribute(s, "overlong")->string_value(), fffd + fffd);
    EXPECT_EQ(find_attribute(s, "surrogate")->string_value(), fffd + fffd + fffd);
    EXPECT_EQ(find_attribute(s, "ok \xc3\xa9")->string_value(), "caf\xc3\xa9");
    ASSERT_NE(find_attribute(s, "key " + fffd), nullptr);
    EXPECT_EQ(find_attribute(s, "key " + fffd)->array_value().values(0).string_value(), "a" + fffd);
    EXPECT_EQ(find_attribute(s, "long")->string_value(), std::string(200, 'a') + fffd + std::string(200, 'b'));
    EXPECT_EQ(s.events(0).name(), "ev" + fffd);
  };

  httplib::Client cli("127.0.0.1", rx.port());
  std::string body;
  detail::encode_traces_protobuf(rs.records, res, body);
  auto r1 = cli.Post("/v1/traces", body, "application/x-protobuf");
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 200) << r1->body;  // libprotobuf rejects invalid UTF-8 in proto3 strings
  detail::encode_traces_json(rs.records, res, body);
  auto r2 = cli.Post("/v1/traces", body, "application/json");
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 200) << r2->body;
  ASSERT_TRUE(rx.wait_for_spans(2, 10s));
  for (const auto& s : rx.spans()) check(s);
}

}  // namespace
}  // namespace logfire::test
