// Propagation hot path: what a service pays per request to continue an incoming trace and to
// pass it on. Incoming headers are a header list as a server parses them (a few unrelated
// headers around the trace ones); outgoing headers a std::map reused across requests, as a
// client's header set would be. The context is reused with clear(), so steady state shows the
// propagator's own cost rather than the allocator's.
#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "logfire/propagation.hpp"

namespace {

using headers = std::vector<std::pair<std::string, std::string>>;

headers incoming_with(std::vector<std::pair<std::string, std::string>> trace_headers) {
  headers h{{"Host", "checkout.internal:8080"},
            {"User-Agent", "curl/7.88.1"},
            {"Accept", "*/*"},
            {"Content-Type", "application/json"}};
  for (auto& p : trace_headers) h.push_back(std::move(p));
  h.emplace_back("Content-Length", "42");
  return h;
}

void continue_trace(benchmark::State& state, const logfire::propagator& p, const headers& in_headers) {
  logfire::header_list_carrier in{in_headers};
  std::map<std::string, std::string> out_headers;
  logfire::map_carrier out{out_headers};
  logfire::propagation_context ctx;
  for (auto _ : state) {
    ctx.clear();
    p.extract(in, ctx);
    ctx.span.span.value ^= 0x5a5a5a5a5a5a5a5aull;  // the outgoing call's own span id
    p.inject(ctx, out);
    benchmark::DoNotOptimize(out_headers);
  }
  if (!ctx.has_trace()) state.SkipWithError("nothing extracted");
}

// The headline number: traceparent + a 2-member tracestate, extract then inject.
void BM_traceparent_tracestate_extract_inject(benchmark::State& state) {
  const auto h = incoming_with({{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
                                {"tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"}});
  continue_trace(state, logfire::trace_context_propagator{}, h);
}
BENCHMARK(BM_traceparent_tracestate_extract_inject);

void BM_traceparent_extract_inject(benchmark::State& state) {
  const auto h = incoming_with({{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}});
  continue_trace(state, logfire::trace_context_propagator{}, h);
}
BENCHMARK(BM_traceparent_extract_inject);

void BM_traceparent_tracestate_extract(benchmark::State& state) {
  const auto h = incoming_with({{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
                                {"tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"}});
  logfire::header_list_carrier in{h};
  logfire::trace_context_propagator p;
  logfire::propagation_context ctx;
  for (auto _ : state) {
    ctx.clear();
    p.extract(in, ctx);
    benchmark::DoNotOptimize(ctx);
  }
}
BENCHMARK(BM_traceparent_tracestate_extract);

// The default propagator (tracecontext + baggage) on a Cloud Run style request: traceparent,
// X-Cloud-Trace-Context, no baggage.
void BM_default_propagator_cloud_run_request(benchmark::State& state) {
  const auto h = incoming_with({{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"},
                                {"X-Cloud-Trace-Context", "4bf92f3577b34da6a3ce929d0e0e4736/67667974448284343;o=0"}});
  continue_trace(state, *logfire::default_propagator(), h);
}
BENCHMARK(BM_default_propagator_cloud_run_request);

std::string ten_member_baggage() {
  return "userId=alice,serverNode=DF%2028,isProduction=false,tenant=acme;ttl=30,region=eu-west-1,"
         "plan=enterprise,session=8f14e45fceea167a,feature=new-checkout,locale=fr-FR,name=J%C3%B6rg";
}

// Baggage with 10 members (percent-encoded values, a property), extract then inject.
void BM_baggage_10_extract_inject(benchmark::State& state) {
  const auto h = incoming_with({{"baggage", ten_member_baggage()}});
  logfire::header_list_carrier in{h};
  std::map<std::string, std::string> out_headers;
  logfire::map_carrier out{out_headers};
  logfire::baggage_propagator p;
  logfire::propagation_context ctx;
  for (auto _ : state) {
    ctx.clear();
    p.extract(in, ctx);
    p.inject(ctx, out);
    benchmark::DoNotOptimize(out_headers);
  }
  if (ctx.baggage.size() != 10) state.SkipWithError("expected 10 members");
}
BENCHMARK(BM_baggage_10_extract_inject);

void BM_baggage_10_extract(benchmark::State& state) {
  const auto h = incoming_with({{"baggage", ten_member_baggage()}});
  logfire::header_list_carrier in{h};
  logfire::baggage_propagator p;
  logfire::propagation_context ctx;
  for (auto _ : state) {
    ctx.clear();
    p.extract(in, ctx);
    benchmark::DoNotOptimize(ctx);
  }
}
BENCHMARK(BM_baggage_10_extract);

}  // namespace

BENCHMARK_MAIN();
