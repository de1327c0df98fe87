// Prototype for docs/design/throughput.md (not built by CMake): is a template's text inside a
// read-only segment of a loaded ELF object (string literals, constexpr arrays), so that only its
// address need cross the ring? Ranges collected once with dl_iterate_phdr; the check is a few
// compares.
//   g++ -std=c++20 -O2 bench/prototypes/rodata.cpp -lbenchmark -lpthread -o /tmp/rodata && /tmp/rodata
#include <benchmark/benchmark.h>
#include <link.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

struct range {
  std::uintptr_t lo, hi;
};
static std::vector<range> g_ranges;

static int collect(dl_phdr_info* info, size_t, void*) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const auto& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && !(ph.p_flags & PF_W))
      g_ranges.push_back({info->dlpi_addr + ph.p_vaddr, info->dlpi_addr + ph.p_vaddr + ph.p_memsz});
  }
  return 0;
}

[[gnu::noinline]] bool is_static(std::string_view s) noexcept {
  const auto p = reinterpret_cast<std::uintptr_t>(s.data());
  for (const range& r : g_ranges)
    if (p >= r.lo && p + s.size() <= r.hi) return true;
  return false;
}

static void BM_is_static_literal(benchmark::State& st) {
  std::string_view s = "charge {user}";
  for (auto _ : st) {
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(is_static(s));
  }
}
BENCHMARK(BM_is_static_literal);

static void BM_is_static_heap(benchmark::State& st) {
  std::string h = "charge {user} built at run time, long enough for the heap";
  std::string_view s = h;
  for (auto _ : st) {
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(is_static(s));
  }
}
BENCHMARK(BM_is_static_heap);

int main(int argc, char** argv) {
  dl_iterate_phdr(collect, nullptr);
  std::string heap = "charge {user}, a std::string on the heap....";
  char stack[] = "charge {user}";
  static char mutable_global[] = "charge {user}";
  static constexpr char cx[] = "charge {user}";
  std::printf("ranges %zu; literal %d, constexpr array %d, heap %d, stack %d, mutable global %d\n", g_ranges.size(),
              is_static("charge {user}"), is_static(cx), is_static(heap), is_static(stack), is_static(mutable_global));
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
}
