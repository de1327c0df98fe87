// Records -> OTLP request bytes, on one core, as the exporter's thread does it per batch.
//
// Each record is what the pipeline hands an exporter for a span such as
//   logfire::span("charged {user_id} for {order_id}", {{"user_id", ...}, {"order_id", ...},
//                                                      {"amount", 12.5}, {"express", true}})
// i.e. 4 user attributes (int, string, double, bool) plus the 8 the SDK adds: logfire.msg_template,
// logfire.msg, logfire.span_type, logfire.level_num, logfire.json_schema, code.filepath,
// code.lineno, code.function (12 attributes, ~540 bytes of protobuf per span), with a parent,
// no events or links. The resource has the 9 attributes configure() sets. Batches of 512
// records (the default batch size); items/s = spans/s. BM_protobuf encodes every attribute one
// by one (a record without span_record::shared); BM_protobuf_shared and BM_protobuf_split copy
// the bytes of the seven shared ones, as the OTLP exporter does.
//
//   bench_otlp_encode --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <deque>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "export/gzip.hpp"
#include "export/otlp_encoder.hpp"

namespace {

using namespace logfire;

attribute_value str(std::string_view s) {
  attribute_value v;
  v.type = attribute_value::kind::string;
  v.s = s;
  return v;
}
attribute_value i64(std::int64_t i) {
  attribute_value v;
  v.type = attribute_value::kind::int64;
  v.i = i;
  return v;
}
attribute_value f64(double d) {
  attribute_value v;
  v.type = attribute_value::kind::float64;
  v.d = d;
  return v;
}
attribute_value boolean(bool b) {
  attribute_value v;
  v.type = attribute_value::kind::boolean;
  v.b = b;
  return v;
}

struct batch {
  std::deque<std::string> text;
  std::deque<std::vector<attribute>> attrs;
  std::vector<span_record> records;
  detail::resource res;

  explicit batch(std::size_t n) {
    res = bench::service_resource();
    const std::uint64_t t0 = 1'700'000'000'000'000'000ULL;
    for (std::size_t i = 0; i < n; ++i) {
      const std::string_view msg =
          text.emplace_back("charged " + std::to_string(10'000 + i) + " for order-" + std::to_string(i * 7919));
      const std::string_view order = text.emplace_back("order-" + std::to_string(i * 7919));
      // In the order the SDK's record builder writes them: the user's, logfire.msg, then the
      // seven every record of the call site shares (span_record::shared), as the SDK sets it.
      auto& a = attrs.emplace_back(std::vector<attribute>{
          {"user_id", i64(static_cast<std::int64_t>(10'000 + i))},
          {"order_id", str(order)},
          {"amount", f64(12.5 + static_cast<double>(i))},
          {"express", boolean(i % 2 == 0)},
          {"logfire.msg", str(msg)},
          {"logfire.msg_template", str("charged {user_id} for {order_id}")},
          {"logfire.span_type", str("span")},
          {"logfire.level_num", i64(9)},
          {"logfire.json_schema",
           str(R"({"type":"object","properties":{"user_id":{},"order_id":{},"amount":{},"express":{}}})")},
          {"code.filepath", str("src/billing/charge.cpp")},
          {"code.lineno", i64(118)},
          {"code.function", str("billing::charge_order")},
      });
      span_record r;
      r.context.trace.hi = 0x0000018b'cfe5'0000ULL + i / 8;
      r.context.trace.lo = 0x9e3779b97f4a7c15ULL * (i / 8 + 1);
      r.context.span.value = 0xbf58476d1ce4e5b9ULL * (i + 1);
      r.context.flags = trace_flags::sampled | trace_flags::random;
      r.parent.value = 0x94d049bb133111ebULL * (i / 8 + 1);
      r.name = "charged {user_id} for {order_id}";
      r.message = msg;
      r.kind = span_kind::internal;
      r.start_unix_nano = t0 + i * 1'000'000;
      r.end_unix_nano = r.start_unix_nano + 250'000 + i;
      r.attributes = a;
      r.shared = {.of = a.data(), .first = 5, .count = 7, .site = 1};
      records.push_back(r);
    }
  }
};

constexpr std::size_t k_batch = 512;

void BM_protobuf(benchmark::State& state) {
  batch b(k_batch);
  std::string out;
  for (auto _ : state) {
    detail::encode_traces_protobuf(b.records, b.res, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * k_batch));
  state.counters["bytes_per_span"] = static_cast<double>(out.size()) / k_batch;
}
BENCHMARK(BM_protobuf);

// The OTLP exporter's path: the shared attributes' bytes written once, then copied.
void BM_protobuf_shared(benchmark::State& state) {
  batch b(k_batch);
  std::string out;
  detail::shared_attribute_bytes shared;
  for (auto _ : state) {
    detail::encode_traces_protobuf(b.records, b.res, out, &shared);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * k_batch));
  state.counters["bytes_per_span"] = static_cast<double>(out.size()) / k_batch;
}
BENCHMARK(BM_protobuf_shared);

// The exporter's path: split at 5 MiB, the body handed over as a view (no copy), shared bytes.
void BM_protobuf_split(benchmark::State& state) {
  batch b(k_batch);
  std::string buffer;
  detail::shared_attribute_bytes shared;
  std::size_t bytes = 0;
  const detail::body_sink sink = [&bytes](std::string_view body, std::size_t, std::size_t) { bytes += body.size(); };
  for (auto _ : state) {
    detail::encode_traces_protobuf_split(b.records, b.res, detail::k_max_request_body_bytes, buffer, sink, &shared);
  }
  benchmark::DoNotOptimize(bytes);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * k_batch));
}
BENCHMARK(BM_protobuf_split);

void BM_protobuf_gzip(benchmark::State& state) {
  const int level = static_cast<int>(state.range(0));
  batch b(k_batch);
  std::string out;
  std::string gz;
  for (auto _ : state) {
    detail::encode_traces_protobuf(b.records, b.res, out);
    if (!detail::gzip_compress(out, gz, level)) state.SkipWithError("gzip failed");
    benchmark::DoNotOptimize(gz.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * k_batch));
  state.counters["gzip_ratio"] = static_cast<double>(out.size()) / static_cast<double>(gz.size());
}
BENCHMARK(BM_protobuf_gzip)->Arg(1)->Arg(6);

void BM_json(benchmark::State& state) {
  batch b(k_batch);
  std::string out;
  for (auto _ : state) {
    detail::encode_traces_json(b.records, b.res, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * k_batch));
  state.counters["bytes_per_span"] = static_cast<double>(out.size()) / k_batch;
}
BENCHMARK(BM_json);

void BM_json_gzip(benchmark::State& state) {
  batch b(k_batch);
  std::string out;
  std::string gz;
  for (auto _ : state) {
    detail::encode_traces_json(b.records, b.res, out);
    if (!detail::gzip_compress(out, gz, detail::k_default_gzip_level)) state.SkipWithError("gzip failed");
    benchmark::DoNotOptimize(gz.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * k_batch));
}
BENCHMARK(BM_json_gzip);

}  // namespace
BENCHMARK_MAIN();
