// Background-thread cost of scrubbing one record: 12 attributes as a service writes them (ids,
// amounts, a route, a JSON cart, free text), most not matching, with scrubbing off (the copy the
// pipeline makes anyway), with the default patterns, and with three extra patterns (RE2).
// The caller's thread does not scrub: its cost is bench_core's, unchanged.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "record/arena.hpp"
#include "scrub/keywords.hpp"
#include "scrub/scrubber.hpp"

namespace {

using logfire::attribute;
using logfire::attribute_value;
using logfire::scrub_path_segment;
using logfire::detail::scrub_session;
using logfire::detail::scrubber;

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

// The pipeline's batch arena as the scrubber's sink.
class arena_sink final : public logfire::detail::scrub_sink {
 public:
  explicit arena_sink(logfire::detail::arena& a) : a_(a) {}
  std::string_view copy(std::string_view text) override { return a_.copy(text); }
  attribute_value* make_values(std::size_t n) override { return a_.make_array<attribute_value>(n); }

 private:
  logfire::detail::arena& a_;
};

const std::vector<attribute>& record_12(bool with_matches) {
  static const std::vector<attribute> none = {
      {"user_id", num(123456)},
      {"order_id", str("ord_01HZX8K2M4")},
      {"amount", dbl(42.5)},
      {"currency", str("EUR")},
      {"http.route", str("/checkout/{id}")},
      {"region", str("europe-west1")},
      {"retry", num(0)},
      {"customer", str("ann@example.com")},
      {"cart", str(R"({"items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"coupon":null})")},
      {"note", str("customer asked for gift wrapping")},
      {"latency_ms", dbl(12.75)},
      {"payment_provider", str("stripe")},
  };
  static const std::vector<attribute> two = [] {
    auto r = none;
    r[6] = {"password", str("hunter2")};
    r[9] = {"note", str("reset the session cookie before retrying")};
    return r;
  }();
  return with_matches ? two : none;
}

void run(benchmark::State& state, const logfire::scrubbing_options* options, bool with_matches) {
  std::string error;
  std::unique_ptr<scrubber> s = options ? scrubber::create(*options, error) : nullptr;
  if (options && !s) {
    state.SkipWithError(error.c_str());
    return;
  }
  std::unique_ptr<scrub_session> session = s ? std::make_unique<scrub_session>(*s) : nullptr;
  logfire::detail::arena arena;
  arena_sink sink(arena);
  const auto& input = record_12(with_matches);
  std::vector<attribute> attrs;
  std::string notes;
  const scrub_path_segment root[] = {{.key = "attributes"}};
  for (auto _ : state) {
    attrs = input;  // the decoder's attribute list for one record
    if (session) {
      session->begin_record();
      session->scrub_attributes(root, attrs, sink);
      if (session->scrubbed()) {
        notes.clear();
        session->write_notes_json(notes);
      }
    }
    benchmark::DoNotOptimize(attrs.data());
    arena.reset();
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_scrub_off_12_attributes(benchmark::State& state) {
  run(state, nullptr, false);
}
BENCHMARK(BM_scrub_off_12_attributes);

void BM_scrub_defaults_12_attributes_none_match(benchmark::State& state) {
  const logfire::scrubbing_options o;
  run(state, &o, false);
}
BENCHMARK(BM_scrub_defaults_12_attributes_none_match);

void BM_scrub_defaults_12_attributes_2_match(benchmark::State& state) {
  const logfire::scrubbing_options o;
  run(state, &o, true);
}
BENCHMARK(BM_scrub_defaults_12_attributes_2_match);

void BM_scrub_extra_patterns_12_attributes_none_match(benchmark::State& state) {
  const logfire::scrubbing_options o{.extra_patterns = {"iban", R"(\b\d{16}\b)", "bearer [a-z0-9._-]+"}};
  run(state, &o, false);
}
BENCHMARK(BM_scrub_extra_patterns_12_attributes_none_match);

// The keyword automaton alone, over text with no keyword.
void BM_keyword_scan_4KiB(benchmark::State& state) {
  const logfire::detail::keyword_matcher m;
  std::string text;
  while (text.size() < 4096) text += "the quick brown fox jumps over the lazy dog 0123456789 ";
  text.resize(4096);
  for (auto _ : state) benchmark::DoNotOptimize(m.find(text));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * 4096);
}
BENCHMARK(BM_keyword_scan_4KiB);

}  // namespace

BENCHMARK_MAIN();
