// Prototype for docs/design/throughput.md (not built by CMake): the caller's clock read today
// (clock_gettime(CLOCK_REALTIME) through the vDSO) against the TSC.
//   g++ -O2 bench/prototypes/clock.cpp -lbenchmark -lpthread -o /tmp/clock && /tmp/clock
#include <benchmark/benchmark.h>
#include <x86intrin.h>

#include <ctime>
static void BM_clock_gettime_realtime(benchmark::State& s) {
  timespec t;
  for (auto _ : s) {
    clock_gettime(CLOCK_REALTIME, &t);
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_clock_gettime_realtime);
static void BM_rdtsc(benchmark::State& s) {
  for (auto _ : s) {
    auto v = __rdtsc();
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_rdtsc);
BENCHMARK_MAIN();
