// Many threads recording while the reader collects: every measurement lands in exactly one
// collection (delta sums and histogram counts add up exactly), nothing is lost or counted twice.
#include <thread>

#include "metrics/metrics_support.hpp"

namespace {

using namespace metrics_test;

TEST(metric_threads, concurrent_recording_and_collection_lose_nothing) {
  reader_fixture r;
  const std::string cn = unique("mt.counter"), dn = unique("mt.double"), hn = unique("mt.histogram"),
                    un = unique("mt.updown"), gn = unique("mt.gauge");
  auto c = logfire::metric_counter(cn);
  auto d = logfire::metric_counter<double>(dn);
  auto h = logfire::metric_histogram(hn);
  auto u = logfire::metric_up_down_counter(un);
  auto g = logfire::metric_gauge(gn);
  constexpr int k_threads = 4, k_iterations = 20000;
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t)
    threads.emplace_back([&, t] {
      auto bound = c.bind({{"t", t % 2}});
      auto hb = h.bind();
      for (int i = 0; i < k_iterations; ++i) {
        bound.add(1);
        c.add(1, {{"t", t % 2}});
        d.add(0.25);
        hb.record(i % 100);
        h.record(1.0, {{"unbound", true}});
        u.add(t % 2 ? 1 : -1);
        g.set(i);
      }
    });
  // Collect while they run.
  std::vector<logfire::stored_metric_batch> batches;
  std::thread collector([&] {
    while (!done.load()) {
      batches.push_back(r.collect());
      std::this_thread::sleep_for(2ms);
    }
  });
  for (auto& th : threads) th.join();
  done = true;
  collector.join();
  batches.push_back(r.collect());

  std::int64_t counted = 0;
  double doubles = 0;
  std::uint64_t histogram_count = 0;
  for (const auto& b : batches) {
    if (const auto* m = b.find(cn))
      for (const auto& p : m->points) counted += p.as_int;
    if (const auto* m = b.find(dn))
      for (const auto& p : m->points) doubles += p.as_double;
    if (const auto* m = b.find(hn))
      for (const auto& p : m->points) {
        histogram_count += p.count;
        std::uint64_t in_buckets = p.zero_count;
        for (auto n : p.bucket_counts) in_buckets += n;
        EXPECT_EQ(in_buckets, p.count);
      }
  }
  EXPECT_EQ(counted, 2LL * k_threads * k_iterations);
  EXPECT_DOUBLE_EQ(doubles, 0.25 * k_threads * k_iterations);
  EXPECT_EQ(histogram_count, 2ULL * k_threads * k_iterations);
  const auto* updown = batches.back().find(un);
  ASSERT_NE(updown, nullptr);
  EXPECT_EQ(updown->points.at(0).as_int, 0);  // as many +1 as -1, cumulative
}

}  // namespace

namespace {

// More threads than there are owner cells, in waves (threads exit and new ones take their
// cells): owners and sharers together lose nothing, while the reader collects in between.
TEST(metric_threads, more_threads_than_owner_cells_in_waves) {
  reader_fixture r;
  const std::string name = unique("mt.waves");
  auto c = logfire::metric_counter(name);
  const std::string u_name = unique("mt.waves.updown");
  auto u = logfire::metric_up_down_counter(u_name);
  const auto bound = c.bind({{"k", "v"}});
  constexpr int k_waves = 3, k_threads = 12, k_iterations = 5000;
  for (int w = 0; w < k_waves; ++w) {
    std::vector<std::thread> threads;
    for (int t = 0; t < k_threads; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < k_iterations; ++i) {
          bound.add(1);
          u.add(1);
          u.add(-1);
        }
      });
    if (w == 1) r.collect();  // a collection while a wave runs
    for (auto& th : threads) th.join();
    r.collect();
  }
  // Every add counted exactly once across the collections (the mid-wave one included).
  std::int64_t all = 0;
  for (const auto& b : r.mem->batches())
    if (const auto* m = b.find(name))
      for (const auto& p : m->points) all += p.as_int;
  EXPECT_EQ(all, static_cast<std::int64_t>(k_waves) * k_threads * k_iterations);
  auto ud = r.collect_one(u_name);
  ASSERT_EQ(ud.points.size(), 1u);
  EXPECT_EQ(ud.points[0].as_int, 0);
}

}  // namespace
