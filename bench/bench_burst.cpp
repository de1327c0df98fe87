// A burst right after configure(), as a batch job's loop does it: configure() with the default
// settings (1 MiB ring per thread, batches of 512), then at once N spans with 4 attributes on
// the main thread, then one flush. Reports how many were delivered and dropped (by reason),
// the caller's wall time per span, how long the loop took, and the peak RSS. One run per
// process, printed as one line
//   result spans=100000 exporter=discard produced=... delivered=... dropped=... ...
// for scripts/bench, and a readable summary on stderr. Exits 1 when the loss identity
// produced == delivered + dropped does not hold after the flush.
//
//   bench_burst --spans=100000 --exporter=discard     (discard, otlp or otlp_gzip)
//
// --flush-every=K flushes after every K spans, so that nothing is dropped (K spans must fit in
// the ring): not a burst any more, but a fixed amount of background work to profile, e.g.
//   valgrind --tool=callgrind --separate-threads=yes bench_burst --spans=20000 --flush-every=1000 --exporter=otlp
// --updates=1 sets one attribute on each span after it started (a record with an update).
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "bench_support.hpp"

int main(int argc, char** argv) {
  std::int64_t spans = 100000;
  std::int64_t flush_every = 0;
  std::string kind = "discard";
  bool block = false;
  bool update = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view s(argv[i]);
    if (s.substr(0, 8) == "--spans=") {
      spans = std::atoll(argv[i] + 8);
    } else if (s.substr(0, 14) == "--flush-every=") {
      flush_every = std::atoll(argv[i] + 14);
    } else if (s.substr(0, 11) == "--exporter=") {
      kind = std::string(s.substr(11));
    } else if (s == "--updates=1" || s == "--updates=0") {
      update = s == "--updates=1";
    } else if (s == "--overflow=block" || s == "--overflow=drop") {
      block = s == "--overflow=block";
    } else {
      std::fprintf(stderr,
                   "usage: bench_burst [--spans=N] [--flush-every=K] [--exporter=discard|otlp|otlp_gzip] "
                   "[--overflow=drop|block] [--updates=0|1]\n");
      return 2;
    }
  }
  auto exp = bench::make_exporter(kind);
  if (!exp || spans <= 0) {
    std::fprintf(stderr, "bad arguments (exporters: discard, otlp, otlp_gzip; spans > 0)\n");
    return 2;
  }
  auto opts = bench::default_options(exp);
  if (block) opts.limits.overflow = logfire::overflow_policy::block;
  auto lf = logfire::configure(std::move(opts));
  logfire::shutdown_guard lf_guard(lf);
  if (!lf) {
    std::fprintf(stderr, "configure failed: %s\n", lf.error().c_str());
    return 1;
  }

  const auto t0 = std::chrono::steady_clock::now();
  for (std::int64_t i = 0; i < spans; ++i) {
    bench::span_4_attributes(i, update);
    if (flush_every > 0 && (i + 1) % flush_every == 0) (void)logfire::force_flush(std::chrono::seconds(60));
  }
  const double loop_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Returns false after any ring_full: the identity below is what tells.
  (void)logfire::force_flush(std::chrono::seconds(60));
  const auto st = logfire::stats();

  const std::uint64_t dropped = st.dropped_total();
  const bool identity = st.produced == st.exported + dropped && st.produced == static_cast<std::uint64_t>(spans);
  std::printf("result spans=%" PRId64 " exporter=%s produced=%" PRIu64 " delivered=%" PRIu64 " dropped=%" PRIu64
              " loop_ms=%.3f caller_ns_per_span=%.1f rss_peak_kib=%" PRIu64 " overflow=%s identity=%s %s\n",
              spans, kind.c_str(), st.produced, st.exported, dropped, loop_s * 1e3,
              loop_s * 1e9 / static_cast<double>(spans), bench::status_kib("VmHWM"), block ? "block" : "drop",
              identity ? "held" : "broken", bench::dropped_by_reason(st).c_str());
  std::fprintf(stderr,
               "burst of %" PRId64 " spans after configure(), %s: delivered %" PRIu64 ", dropped %" PRIu64
               " in a %.1f ms loop; peak RSS %.1f MiB\n  %s\n",
               spans, kind.c_str(), st.exported, dropped, loop_s * 1e3,
               static_cast<double>(bench::status_kib("VmHWM")) / 1024.0, st.summary().c_str());
  return identity ? 0 : 1;
}
