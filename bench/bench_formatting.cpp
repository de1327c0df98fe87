// Background-thread formatting costs: message templates, UTF-8 validation, JSON strings and
// console output. The background must drain >= 2 M records/s, so a typical template should
// stay near 100 ns.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

#include "export/console_exporter.hpp"
#include "formatting/message_template.hpp"
#include "text/json.hpp"
#include "text/utf8.hpp"

namespace {

using logfire::attribute;
using logfire::attribute_value;

attribute_value str(std::string_view s) {
  attribute_value v;
  v.type = attribute_value::kind::string;
  v.s = s;
  return v;
}
attribute_value num(std::int64_t i) {
  attribute_value v;
  v.type = attribute_value::kind::int64;
  v.i = i;
  return v;
}
attribute_value dbl(double d) {
  attribute_value v;
  v.type = attribute_value::kind::float64;
  v.d = d;
  return v;
}

void run_template(benchmark::State& state, std::string_view tmpl, const std::vector<attribute>& attrs) {
  std::string out;
  for (auto _ : state) {
    logfire::detail::format_message(tmpl, attrs, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_template_plain(benchmark::State& state) {
  run_template(state, "request finished without fields", {});
}
BENCHMARK(BM_template_plain);

void BM_template_2_fields(benchmark::State& state) {
  run_template(state, "user {user_id} logged in from {client}",
               {{"user_id", num(123456)}, {"client", str("10.0.0.7")}});
}
BENCHMARK(BM_template_2_fields);

void BM_template_3_fields_spec(benchmark::State& state) {
  run_template(state, "charged {user} {amount:.2f} for {http.route}",
               {{"http.method", str("POST")},
                {"http.route", str("/checkout/{cart_id}")},
                {"user", str("alice")},
                {"amount", dbl(1234.5678)}});
}
BENCHMARK(BM_template_3_fields_spec);

void BM_template_4_fields(benchmark::State& state) {
  run_template(
      state, "{method} {route} -> {status} in {elapsed_ms=}ms",
      {{"method", str("GET")}, {"route", str("/users/{id}")}, {"status", num(200)}, {"elapsed_ms", dbl(12.75)}});
}
BENCHMARK(BM_template_4_fields);

void BM_utf8_valid_ascii_100(benchmark::State& state) {
  const std::string s(100, 'a');
  for (auto _ : state) benchmark::DoNotOptimize(logfire::detail::is_valid_utf8(s));
  state.SetBytesProcessed(state.iterations() * 100);
}
BENCHMARK(BM_utf8_valid_ascii_100);

void BM_utf8_valid_mixed_100(benchmark::State& state) {
  std::string s;
  while (s.size() < 100) s += "caf\xC3\xA9 \xE2\x82\xAC ";
  for (auto _ : state) benchmark::DoNotOptimize(logfire::detail::is_valid_utf8(s));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(s.size()));
}
BENCHMARK(BM_utf8_valid_mixed_100);

void BM_json_string_100(benchmark::State& state) {
  const std::string s = std::string(90, 'a') + "\"quoted\"";
  std::string out;
  for (auto _ : state) {
    out.clear();
    logfire::detail::json_append_string(out, s);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_json_string_100);

void BM_json_double(benchmark::State& state) {
  std::string out;
  double d = 0.1;
  for (auto _ : state) {
    out.clear();
    logfire::detail::json_append_double(out, d);
    d += 1.37;
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_json_double);

// A 512-record batch as a request-heavy service produces it: span starts, logs, ends.
void BM_console_batch_512(benchmark::State& state) {
  const attribute tag_attrs[] = {{"code.filepath", str("src/shop.cpp")}, {"code.lineno", num(42)}};
  const attribute_value tags[] = {str("shop")};
  std::vector<logfire::span_record> batch;
  const std::uint64_t t0 = 1704164645ull * 1'000'000'000ull;
  for (std::uint64_t k = 0; batch.size() < 512; ++k) {
    logfire::span_record start;
    start.type = logfire::record_type::pending_span;
    start.name = start.message = "GET /users/{id}";
    start.parent.value = k + 1;
    start.start_unix_nano = t0 + k * 1000;
    start.tags = tags;
    start.attributes = tag_attrs;
    logfire::span_record log = start;
    log.type = logfire::record_type::log;
    log.message = "user 42 loaded in 12.75ms";
    log.depth = 1;
    logfire::span_record end = start;
    end.type = logfire::record_type::span;
    end.context.span.value = k + 1;
    batch.push_back(start);
    batch.push_back(log);
    batch.push_back(end);
  }
  batch.resize(512);
  logfire::detail::console_exporter console({.colors = state.range(0) != 0});
  std::string out;
  for (auto _ : state) {
    out.clear();
    console.format_batch(batch, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * 512);
}
BENCHMARK(BM_console_batch_512)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
