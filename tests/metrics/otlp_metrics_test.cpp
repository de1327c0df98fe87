// The OTLP metrics encoder, decoded by libprotobuf: every instrument kind, both temporalities,
// exponential and explicit histograms, the overflow point, resource and scope; the bytes equal
// libprotobuf's own serialization of the same message; split bodies keep every point once.
#include "export/otlp_metrics.hpp"

#include <google/protobuf/util/message_differencer.h>

#include <cmath>
#include <deque>
#include <limits>

#include "export/otlp_split.hpp"
#include "metrics/metrics_support.hpp"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"

namespace {

using namespace metrics_test;
namespace pbm = opentelemetry::proto::metrics::v1;
namespace pbc = opentelemetry::proto::common::v1;
using opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest;
using namespace logfire;

// Owns what a hand-built batch points into.
struct batch_storage {
  std::deque<std::vector<attribute>> attrs;
  std::deque<std::vector<number_point>> numbers;
  std::deque<std::vector<histogram_point>> histograms;
  std::deque<std::vector<exponential_histogram_point>> exponentials;
  std::deque<std::vector<std::uint64_t>> counts;
  std::deque<std::vector<double>> bounds;
  std::vector<metric_data> metrics;

  std::span<const attribute> kv(std::vector<attribute> a) { return attrs.emplace_back(std::move(a)); }
  static attribute str(std::string_view k, std::string_view v) {
    attribute a{k, {}};
    a.value.type = attribute_value::kind::string;
    a.value.s = v;
    return a;
  }
  static attribute i64(std::string_view k, std::int64_t v) {
    attribute a{k, {}};
    a.value.type = attribute_value::kind::int64;
    a.value.i = v;
    return a;
  }
  static attribute boolean(std::string_view k, bool v) {
    attribute a{k, {}};
    a.value.type = attribute_value::kind::boolean;
    a.value.b = v;
    return a;
  }
  static attribute f64(std::string_view k, double v) {
    attribute a{k, {}};
    a.value.type = attribute_value::kind::float64;
    a.value.d = v;
    return a;
  }
};

constexpr std::uint64_t T0 = 1'700'000'000'000'000'000ULL;
constexpr std::uint64_t T1 = T0 + 60'000'000'000ULL;

// One metric of every kind and point type, with both temporalities.
metric_batch sample_batch(batch_storage& s) {
  auto number = [&](std::span<const attribute> a, std::uint64_t start, bool dbl, std::int64_t i, double d) {
    number_point p;
    p.attributes = a;
    p.start_unix_nano = start;
    p.time_unix_nano = T1;
    p.is_double = dbl;
    p.as_int = i;
    p.as_double = d;
    return p;
  };
  auto add = [&](std::string_view name, metric_kind kind, metric_data_type type, aggregation_temporality t,
                 bool monotonic) -> metric_data& {
    metric_data m;
    m.name = name;
    m.description = "a description";
    m.unit = "1";
    m.kind = kind;
    m.type = type;
    m.temporality = t;
    m.monotonic = monotonic;
    s.metrics.push_back(m);
    return s.metrics.back();
  };
  s.metrics.reserve(16);
  {
    auto& m = add("requests", metric_kind::counter, metric_data_type::sum, aggregation_temporality::delta, true);
    m.numbers = s.numbers.emplace_back(std::vector<number_point>{
        number(s.kv({batch_storage::str("route", "/a"), batch_storage::i64("code", 200)}), T0, false, 42, 0),
        number(s.kv({batch_storage::boolean("otel.metric.overflow", true)}), T0, false, 7, 0),
        number(s.kv({}), T0, false, -1, 0)});
  }
  {
    auto& m = add("price", metric_kind::counter, metric_data_type::sum, aggregation_temporality::cumulative, true);
    m.unit = "USD";
    m.numbers = s.numbers.emplace_back(
        std::vector<number_point>{number(s.kv({batch_storage::f64("ratio", 0.5)}), T0, true, 0, 12.75)});
  }
  {
    auto& m =
        add("queue", metric_kind::up_down_counter, metric_data_type::sum, aggregation_temporality::cumulative, false);
    m.numbers = s.numbers.emplace_back(std::vector<number_point>{number(s.kv({}), T0, false, 0, 0)});
  }
  {
    auto& m =
        add("temperature", metric_kind::gauge, metric_data_type::gauge, aggregation_temporality::unspecified, false);
    m.numbers = s.numbers.emplace_back(
        std::vector<number_point>{number(s.kv({batch_storage::str("room", "é")}), 0, true, 0, -3.5)});
  }
  {
    auto& m = add("observed.total", metric_kind::observable_counter, metric_data_type::sum,
                  aggregation_temporality::delta, true);
    m.numbers = s.numbers.emplace_back(std::vector<number_point>{number(s.kv({}), T0, false, 0, 0)});
  }
  {
    auto& m = add("size", metric_kind::histogram, metric_data_type::histogram, aggregation_temporality::delta, false);
    histogram_point h;
    h.attributes = s.kv({batch_storage::str("kind", "upload")});
    h.start_unix_nano = T0;
    h.time_unix_nano = T1;
    h.count = 6;
    h.sum = 1e6 + 126;
    h.min = 0;
    h.max = 1e6;
    h.explicit_bounds = s.bounds.emplace_back(std::vector<double>{0, 10, 100});
    h.bucket_counts = s.counts.emplace_back(std::vector<std::uint64_t>{1, 2, 2, 1});
    histogram_point empty;  // a histogram point with no values
    empty.time_unix_nano = T1;
    m.histograms = s.histograms.emplace_back(std::vector<histogram_point>{h, empty});
  }
  {
    auto& m = add("latency", metric_kind::histogram, metric_data_type::exponential_histogram,
                  aggregation_temporality::cumulative, false);
    exponential_histogram_point e;
    e.attributes = s.kv({batch_storage::str("route", "/checkout")});
    e.start_unix_nano = T0;
    e.time_unix_nano = T1;
    e.count = 300;
    e.sum = 4567.25;
    e.min = 0;
    e.max = 999.5;
    e.scale = 3;
    e.zero_count = 2;
    e.positive_offset = -17;
    std::vector<std::uint64_t> c(160);
    for (std::size_t i = 0; i < c.size(); ++i) c[i] = (i * 7919) % 300;
    e.positive_counts = s.counts.emplace_back(std::move(c));
    exponential_histogram_point neg_scale;
    neg_scale.time_unix_nano = T1;
    neg_scale.count = 1;
    neg_scale.sum = 1e300;
    neg_scale.min = neg_scale.max = 1e300;
    neg_scale.scale = -4;
    neg_scale.positive_offset = 62;
    neg_scale.positive_counts = s.counts.emplace_back(std::vector<std::uint64_t>{1});
    exponential_histogram_point zeros;
    zeros.time_unix_nano = T1;
    zeros.count = 3;
    zeros.zero_count = 3;
    zeros.scale = 20;
    m.exponential_histograms =
        s.exponentials.emplace_back(std::vector<exponential_histogram_point>{e, neg_scale, zeros});
  }
  metric_batch b;
  b.resource = s.kv({batch_storage::str("service.name", "checkout"), batch_storage::i64("process.pid", 1234)});
  b.scope_name = "logfire";
  b.scope_version = "0.1.0";
  b.metrics = s.metrics;
  return b;
}

void to_proto_kv(std::span<const attribute> attrs, google::protobuf::RepeatedPtrField<pbc::KeyValue>* out) {
  for (const attribute& a : attrs) {
    auto* kv = out->Add();
    kv->set_key(std::string(a.key));
    auto* v = kv->mutable_value();
    switch (a.value.type) {
      case attribute_value::kind::string:
        v->set_string_value(std::string(a.value.s));
        break;
      case attribute_value::kind::int64:
        v->set_int_value(a.value.i);
        break;
      case attribute_value::kind::float64:
        v->set_double_value(a.value.d);
        break;
      case attribute_value::kind::boolean:
        v->set_bool_value(a.value.b);
        break;
      default:
        break;
    }
  }
}

// The same batch built with libprotobuf's generated classes, independently of the encoder.
ExportMetricsServiceRequest to_proto(const metric_batch& b) {
  ExportMetricsServiceRequest req;
  auto* rm = req.add_resource_metrics();
  to_proto_kv(b.resource, rm->mutable_resource()->mutable_attributes());
  auto* sm = rm->add_scope_metrics();
  sm->mutable_scope()->set_name(std::string(b.scope_name));
  sm->mutable_scope()->set_version(std::string(b.scope_version));
  for (const metric_data& m : b.metrics) {
    auto* pm = sm->add_metrics();
    pm->set_name(std::string(m.name));
    pm->set_description(std::string(m.description));
    pm->set_unit(std::string(m.unit));
    auto number = [](const number_point& p, pbm::NumberDataPoint* d) {
      to_proto_kv(p.attributes, d->mutable_attributes());
      d->set_start_time_unix_nano(p.start_unix_nano);
      d->set_time_unix_nano(p.time_unix_nano);
      if (p.is_double)
        d->set_as_double(p.as_double);
      else
        d->set_as_int(p.as_int);
    };
    switch (m.type) {
      case metric_data_type::sum: {
        auto* s = pm->mutable_sum();
        s->set_aggregation_temporality(static_cast<pbm::AggregationTemporality>(m.temporality));
        s->set_is_monotonic(m.monotonic);
        for (const auto& p : m.numbers) number(p, s->add_data_points());
        break;
      }
      case metric_data_type::gauge: {
        auto* g = pm->mutable_gauge();
        for (const auto& p : m.numbers) number(p, g->add_data_points());
        break;
      }
      case metric_data_type::histogram: {
        auto* h = pm->mutable_histogram();
        h->set_aggregation_temporality(static_cast<pbm::AggregationTemporality>(m.temporality));
        for (const auto& p : m.histograms) {
          auto* d = h->add_data_points();
          to_proto_kv(p.attributes, d->mutable_attributes());
          d->set_start_time_unix_nano(p.start_unix_nano);
          d->set_time_unix_nano(p.time_unix_nano);
          d->set_count(p.count);
          d->set_sum(p.sum);
          for (auto c : p.bucket_counts) d->add_bucket_counts(c);
          for (auto x : p.explicit_bounds) d->add_explicit_bounds(x);
          if (p.count) {
            d->set_min(p.min);
            d->set_max(p.max);
          }
        }
        break;
      }
      case metric_data_type::exponential_histogram: {
        auto* h = pm->mutable_exponential_histogram();
        h->set_aggregation_temporality(static_cast<pbm::AggregationTemporality>(m.temporality));
        for (const auto& p : m.exponential_histograms) {
          auto* d = h->add_data_points();
          to_proto_kv(p.attributes, d->mutable_attributes());
          d->set_start_time_unix_nano(p.start_unix_nano);
          d->set_time_unix_nano(p.time_unix_nano);
          d->set_count(p.count);
          d->set_sum(p.sum);
          d->set_scale(p.scale);
          d->set_zero_count(p.zero_count);
          if (!p.positive_counts.empty()) {
            d->mutable_positive()->set_offset(p.positive_offset);
            for (auto c : p.positive_counts) d->mutable_positive()->add_bucket_counts(c);
          }
          if (p.count) {
            d->set_min(p.min);
            d->set_max(p.max);
          }
        }
        break;
      }
    }
  }
  return req;
}

std::string serialize_deterministic(const ExportMetricsServiceRequest& req) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  req.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

TEST(otlp_metrics, decodes_field_by_field_with_libprotobuf) {
  batch_storage s;
  const metric_batch batch = sample_batch(s);
  std::string body;
  detail::encode_metrics_protobuf(batch, body);
  ExportMetricsServiceRequest req;
  ASSERT_TRUE(req.ParseFromString(body));
  ASSERT_EQ(req.resource_metrics_size(), 1);
  const auto& rm = req.resource_metrics(0);
  ASSERT_EQ(rm.resource().attributes_size(), 2);
  EXPECT_EQ(rm.resource().attributes(0).key(), "service.name");
  EXPECT_EQ(rm.resource().attributes(0).value().string_value(), "checkout");
  EXPECT_EQ(rm.resource().attributes(1).value().int_value(), 1234);
  ASSERT_EQ(rm.scope_metrics_size(), 1);
  const auto& sm = rm.scope_metrics(0);
  EXPECT_EQ(sm.scope().name(), "logfire");
  EXPECT_EQ(sm.scope().version(), "0.1.0");
  ASSERT_EQ(sm.metrics_size(), 7);

  const auto& requests = sm.metrics(0);
  EXPECT_EQ(requests.name(), "requests");
  EXPECT_EQ(requests.unit(), "1");
  ASSERT_TRUE(requests.has_sum());
  EXPECT_EQ(requests.sum().aggregation_temporality(), pbm::AGGREGATION_TEMPORALITY_DELTA);
  EXPECT_TRUE(requests.sum().is_monotonic());
  ASSERT_EQ(requests.sum().data_points_size(), 3);
  const auto& p0 = requests.sum().data_points(0);
  EXPECT_EQ(p0.value_case(), pbm::NumberDataPoint::kAsInt);
  EXPECT_EQ(p0.as_int(), 42);
  EXPECT_EQ(p0.start_time_unix_nano(), T0);
  EXPECT_EQ(p0.time_unix_nano(), T1);
  ASSERT_EQ(p0.attributes_size(), 2);
  EXPECT_EQ(p0.attributes(0).key(), "route");
  EXPECT_EQ(p0.attributes(1).value().int_value(), 200);
  const auto& overflow = requests.sum().data_points(1);
  ASSERT_EQ(overflow.attributes_size(), 1);
  EXPECT_EQ(overflow.attributes(0).key(), "otel.metric.overflow");
  EXPECT_TRUE(overflow.attributes(0).value().has_bool_value());
  EXPECT_TRUE(overflow.attributes(0).value().bool_value());
  EXPECT_EQ(requests.sum().data_points(2).as_int(), -1);

  const auto& price = sm.metrics(1);
  EXPECT_EQ(price.sum().aggregation_temporality(), pbm::AGGREGATION_TEMPORALITY_CUMULATIVE);
  EXPECT_EQ(price.sum().data_points(0).value_case(), pbm::NumberDataPoint::kAsDouble);
  EXPECT_DOUBLE_EQ(price.sum().data_points(0).as_double(), 12.75);

  const auto& queue = sm.metrics(2);
  EXPECT_FALSE(queue.sum().is_monotonic());
  EXPECT_EQ(queue.sum().data_points(0).value_case(), pbm::NumberDataPoint::kAsInt);  // 0 still set
  EXPECT_EQ(queue.sum().data_points(0).as_int(), 0);

  const auto& temperature = sm.metrics(3);
  ASSERT_TRUE(temperature.has_gauge());
  EXPECT_DOUBLE_EQ(temperature.gauge().data_points(0).as_double(), -3.5);
  EXPECT_EQ(temperature.gauge().data_points(0).attributes(0).value().string_value(), "é");
  EXPECT_EQ(temperature.gauge().data_points(0).start_time_unix_nano(), 0u);

  const auto& size = sm.metrics(5);
  ASSERT_TRUE(size.has_histogram());
  EXPECT_EQ(size.histogram().aggregation_temporality(), pbm::AGGREGATION_TEMPORALITY_DELTA);
  const auto& h = size.histogram().data_points(0);
  EXPECT_EQ(h.count(), 6u);
  EXPECT_DOUBLE_EQ(h.sum(), 1e6 + 126);
  EXPECT_TRUE(h.has_min());
  EXPECT_DOUBLE_EQ(h.max(), 1e6);
  ASSERT_EQ(h.explicit_bounds_size(), 3);
  EXPECT_EQ(h.explicit_bounds(2), 100);
  ASSERT_EQ(h.bucket_counts_size(), 4);
  EXPECT_EQ(h.bucket_counts(1), 2u);
  const auto& empty = size.histogram().data_points(1);
  EXPECT_EQ(empty.count(), 0u);
  EXPECT_FALSE(empty.has_min());
  EXPECT_TRUE(empty.has_sum());

  const auto& latency = sm.metrics(6);
  ASSERT_TRUE(latency.has_exponential_histogram());
  EXPECT_EQ(latency.exponential_histogram().aggregation_temporality(), pbm::AGGREGATION_TEMPORALITY_CUMULATIVE);
  const auto& e = latency.exponential_histogram().data_points(0);
  EXPECT_EQ(e.scale(), 3);
  EXPECT_EQ(e.zero_count(), 2u);
  EXPECT_EQ(e.count(), 300u);
  EXPECT_DOUBLE_EQ(e.sum(), 4567.25);
  EXPECT_EQ(e.positive().offset(), -17);
  ASSERT_EQ(e.positive().bucket_counts_size(), 160);
  for (int i = 0; i < 160; ++i) EXPECT_EQ(e.positive().bucket_counts(i), (static_cast<std::uint64_t>(i) * 7919) % 300);
  EXPECT_FALSE(e.has_negative());
  EXPECT_DOUBLE_EQ(e.max(), 999.5);
  const auto& neg = latency.exponential_histogram().data_points(1);
  EXPECT_EQ(neg.scale(), -4);
  EXPECT_EQ(neg.positive().offset(), 62);
  const auto& zeros = latency.exponential_histogram().data_points(2);
  EXPECT_EQ(zeros.zero_count(), 3u);
  EXPECT_EQ(zeros.scale(), 20);
  EXPECT_FALSE(zeros.has_positive());
}

TEST(otlp_metrics, bytes_equal_libprotobufs_serialization) {
  batch_storage s;
  const metric_batch batch = sample_batch(s);
  std::string body;
  detail::encode_metrics_protobuf(batch, body);
  const ExportMetricsServiceRequest expected = to_proto(batch);
  ExportMetricsServiceRequest decoded;
  ASSERT_TRUE(decoded.ParseFromString(body));
  std::string diff;
  google::protobuf::util::MessageDifferencer d;
  d.ReportDifferencesToString(&diff);
  EXPECT_TRUE(d.Compare(expected, decoded)) << diff;
  EXPECT_EQ(body, serialize_deterministic(expected));
}

TEST(otlp_metrics, invalid_utf8_in_names_is_repaired) {
  batch_storage s;
  metric_data m;
  m.name = "bad\xff name";
  m.type = metric_data_type::gauge;
  number_point p;
  p.time_unix_nano = T1;
  p.attributes = s.kv({batch_storage::str("k", "v\xc3")});
  m.numbers = s.numbers.emplace_back(std::vector<number_point>{p});
  s.metrics.push_back(m);
  metric_batch b;
  b.metrics = s.metrics;
  std::string body;
  detail::encode_metrics_protobuf(b, body);
  ExportMetricsServiceRequest req;
  ASSERT_TRUE(req.ParseFromString(body));  // libprotobuf rejects invalid UTF-8 in strings
  EXPECT_EQ(req.resource_metrics(0).scope_metrics(0).metrics(0).name(), "bad\xEF\xBF\xBD name");
}

TEST(otlp_metrics, split_bodies_stay_under_the_limit_and_keep_every_point_once) {
  batch_storage s;
  std::vector<number_point> pts;
  for (int i = 0; i < 3000; ++i) {
    number_point p;
    p.attributes = s.kv({batch_storage::i64("id", i), batch_storage::str("pad", std::string_view("xxxxxxxxxxxxxxxx"))});
    p.start_unix_nano = T0;
    p.time_unix_nano = T1;
    p.as_int = i;
    pts.push_back(p);
  }
  metric_data m;
  m.name = "many";
  m.kind = metric_kind::counter;
  m.temporality = aggregation_temporality::delta;
  m.monotonic = true;
  m.numbers = s.numbers.emplace_back(std::move(pts));
  s.metrics.push_back(m);
  metric_data g;
  g.name = "after";
  g.type = metric_data_type::gauge;
  number_point gp;
  gp.time_unix_nano = T1;
  gp.is_double = true;
  gp.as_double = 1;
  g.numbers = s.numbers.emplace_back(std::vector<number_point>{gp});
  s.metrics.push_back(g);
  metric_batch b;
  b.resource = s.kv({batch_storage::str("service.name", "split")});
  b.metrics = s.metrics;

  constexpr std::size_t k_max = 16 * 1024;
  std::string buffer;
  std::vector<std::int64_t> ids;
  std::size_t bodies = 0, points = 0;
  detail::encode_metrics_protobuf_split(b, k_max, buffer, [&](std::string_view body, std::size_t n) {
    ++bodies;
    points += n;
    EXPECT_LE(body.size(), k_max);
    ExportMetricsServiceRequest req;
    ASSERT_TRUE(req.ParseFromArray(body.data(), static_cast<int>(body.size())));
    const auto& sm = req.resource_metrics(0).scope_metrics(0);
    EXPECT_EQ(req.resource_metrics(0).resource().attributes(0).value().string_value(), "split");
    std::size_t in_body = 0;
    for (const auto& metric : sm.metrics()) {
      if (metric.name() == "many") {
        EXPECT_TRUE(metric.sum().is_monotonic());
        for (const auto& p : metric.sum().data_points()) ids.push_back(p.as_int());
        in_body += static_cast<std::size_t>(metric.sum().data_points_size());
      } else {
        in_body += static_cast<std::size_t>(metric.gauge().data_points_size());
      }
    }
    EXPECT_EQ(in_body, n);
  });
  EXPECT_GT(bodies, 5u);
  EXPECT_EQ(points, 3001u);
  ASSERT_EQ(ids.size(), 3000u);
  for (std::size_t i = 0; i < ids.size(); ++i) ASSERT_EQ(ids[i], static_cast<std::int64_t>(i));
}

// A collection through the reader, encoded and decoded: what the memory exporter saw is what
// goes on the wire, point for point.
class encoding_exporter final : public metric_exporter {
 public:
  std::string name() const override { return "encoding"; }
  void export_metrics(const metric_batch& batch) noexcept override {
    std::string body;
    detail::encode_metrics_protobuf(batch, body);
    decoded.emplace_back();
    parsed = decoded.back().ParseFromString(body) && parsed;
    if (counter_) counter_->delivered(batch.point_count());
  }
  std::vector<ExportMetricsServiceRequest> decoded;
  bool parsed = true;
};

TEST(otlp_metrics, a_real_collection_round_trips) {
  auto enc = std::make_shared<encoding_exporter>();
  detail::metric_reader_settings st;
  st.exporters = {enc};
  st.interval = std::chrono::hours(1);
  st.diagnostics = nullptr;
  st.res.set("service.name", std::string("roundtrip"));
  detail::metric_reader reader(std::move(st));
  reader.start();
  const std::string cn = unique("rt.counter"), hn = unique("rt.histogram"), gn = unique("rt.gauge");
  logfire::metric_counter(cn).add(3, {{"a", "b"}});
  auto h = logfire::metric_histogram(hn);
  for (int i = 1; i <= 100; ++i) h.record(i * 0.5);
  logfire::metric_gauge(gn).set(2.5);
  auto reg =
      logfire::metric_up_down_counter_callback(unique("rt.callback"), [](logfire::observer& o) { o.observe(4); });
  ASSERT_TRUE(reader.force_flush(std::chrono::steady_clock::now() + 10s));
  reader.shutdown(std::chrono::steady_clock::now() + 10s);
  ASSERT_TRUE(enc->parsed);
  ASSERT_FALSE(enc->decoded.empty());
  const auto& sm = enc->decoded.front().resource_metrics(0).scope_metrics(0);
  bool saw_counter = false, saw_histogram = false, saw_gauge = false;
  for (const auto& m : sm.metrics()) {
    if (m.name() == cn) {
      saw_counter = true;
      EXPECT_EQ(m.sum().data_points(0).as_int(), 3);
      EXPECT_EQ(m.sum().aggregation_temporality(), pbm::AGGREGATION_TEMPORALITY_DELTA);
    } else if (m.name() == hn) {
      saw_histogram = true;
      const auto& p = m.exponential_histogram().data_points(0);
      EXPECT_EQ(p.count(), 100u);
      std::uint64_t total = 0;
      for (auto c : p.positive().bucket_counts()) total += c;
      EXPECT_EQ(total, 100u);
      EXPECT_LE(p.positive().bucket_counts_size(), 160);
    } else if (m.name() == gn) {
      saw_gauge = true;
      EXPECT_DOUBLE_EQ(m.gauge().data_points(0).as_double(), 2.5);
    }
  }
  EXPECT_TRUE(saw_counter && saw_histogram && saw_gauge);
  const auto st2 = reader.stats();
  EXPECT_EQ(st2.points_produced, st2.points_exported + st2.points_dropped_total());
}

}  // namespace

// A Metric carrying two data fields (gauge and sum: one oneof, so no SDK writes both; a corrupt
// spool file can) does not parse for the 413 splitter: before, the halves re-read the other
// field's points and said a different count than the split had charged (found by fuzz_otlp_split).
TEST(otlp_metrics, a_metric_with_two_data_fields_is_refused_by_the_splitter) {
  ExportMetricsServiceRequest req;
  auto* m = req.add_resource_metrics()->add_scope_metrics()->add_metrics();
  m->set_name("two.kinds");
  for (int i = 0; i < 3; ++i) m->mutable_gauge()->add_data_points()->set_as_int(i);
  std::string gauge_only;
  ASSERT_TRUE(req.SerializeToString(&gauge_only));
  pbm::Metric sum_part;
  for (int i = 0; i < 2; ++i) sum_part.mutable_sum()->add_data_points()->set_as_int(10 + i);
  std::string metric_bytes;
  ASSERT_TRUE(m->SerializeToString(&metric_bytes));
  metric_bytes += sum_part.SerializeAsString();  // the sum field appended after the gauge
  // Rebuild by hand: ResourceMetrics{ ScopeMetrics{ Metric = metric_bytes } }.
  auto len_field = [](int field, const std::string& payload) {
    std::string out(1, static_cast<char>(field << 3 | 2));
    std::size_t n = payload.size();
    while (n >= 0x80) {
      out.push_back(static_cast<char>((n & 0x7f) | 0x80));
      n >>= 7;
    }
    out.push_back(static_cast<char>(n));
    return out + payload;
  };
  const std::string body = len_field(1, len_field(2, len_field(2, metric_bytes)));

  std::size_t points = 0;
  ASSERT_TRUE(
      detail::count_request_spans(detail::body_format::protobuf, gauge_only, points, detail::otlp_signal::metrics));
  EXPECT_EQ(points, 3u);
  detail::split_halves h;
  EXPECT_FALSE(detail::count_request_spans(detail::body_format::protobuf, body, points, detail::otlp_signal::metrics));
  EXPECT_FALSE(detail::split_request_in_halves(detail::body_format::protobuf, body, h, detail::otlp_signal::metrics));
}
