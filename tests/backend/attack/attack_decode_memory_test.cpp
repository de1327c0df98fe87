// Issue 11, case 5: decoding multiplied memory ~46x: a 64 MiB body of 2.23 M minimal spans
// peaked at 3.08 GB, three in parallel at 8.5 GB. Now a request is walked item by item and stored
// chunk by chunk, so its memory is bounded by its body and one chunk, and all requests in flight
// together by --max-memory, beyond which they are answered 429 with Retry-After.
#include <gtest/gtest.h>

#include <cstdio>
#include <thread>

#include "backend/backend_support.hpp"

namespace logfire::backend_test {
namespace {

// A body of spans with nothing but ids and times (about 50 bytes each on the wire), the
// shape that multiplies most when decoded.
std::string minimal_spans(std::size_t target_bytes, std::size_t& count, const std::string& name) {
  pb::trace_request req;
  auto* ss = req.add_resource_spans()->add_scope_spans();
  std::string trace = bytes_from_hex(random_hex(16));
  std::uint64_t t = now_ns() - 1'000'000'000;
  std::size_t approx = 0;
  count = 0;
  while (approx < target_bytes) {
    auto* s = ss->add_spans();
    s->set_trace_id(trace);
    s->set_span_id(bytes_from_hex(random_hex(8)));
    s->set_name(name);
    s->set_start_time_unix_nano(t);
    s->set_end_time_unix_nano(t + 1000);
    approx += 52 + name.size();
    ++count;
  }
  return req.SerializeAsString();
}

TEST(attack_5_decode_memory, a_body_of_minimal_spans_is_decoded_in_bounded_memory) {
  temp_dir dir;
  std::string db = dir.file("m.db");
  serve_process serve(db);
  ASSERT_TRUE(serve.started()) << serve.output();
  std::size_t n = 0;
  std::string body = minimal_spans(16u << 20, n, "m");
  std::int64_t before = memory_of(serve.pid()).anon;
  {
    anon_peak_sampler sampler(serve.pid());
    auto r = post(serve.port(), "/v1/traces", body);
    ASSERT_EQ(r.status, 200) << r.body;
    // The body (16 MiB), one chunk of rows (16 MiB), SQLite's page cache (8 MiB) and the
    // allocator's slack; the old decoder took about 46 times the body.
    std::printf("peak RssAnon growth: %lld MiB\n", static_cast<long long>((sampler.peak() - before) >> 20));
    if (!kSanitized) {
      EXPECT_LT(sampler.peak() - before, 96 << 20)
          << "peak RssAnon " << (sampler.peak() >> 20) << " MiB, before " << (before >> 20) << " MiB";
    }
  }
  EXPECT_EQ(sql_count(db, "SELECT count(*) FROM records"), static_cast<std::int64_t>(n));
  auto stats = get(serve.port(), "/api/stats").body;
  EXPECT_NE(stats.find("\"chunked_requests\":1"), std::string::npos) << stats;
  EXPECT_NE(stats.find("\"in_use\":0"), std::string::npos) << "all memory given back: " << stats;
}

TEST(attack_5_decode_memory, requests_beyond_the_memory_budget_get_429_and_nothing_is_lost) {
  temp_dir dir;
  std::string db = dir.file("m.db");
  serve_process serve(db, {"--max-memory", "48MiB"});
  ASSERT_TRUE(serve.started()) << serve.output();
  constexpr int kClients = 4;
  std::vector<std::string> bodies(kClients);
  std::size_t per = 0;
  for (int i = 0; i < kClients; ++i)
    bodies[static_cast<std::size_t>(i)] = minimal_spans(8u << 20, per, "c" + std::to_string(i));
  std::vector<http_reply> replies(kClients);
  std::int64_t before = memory_of(serve.pid()).anon;
  anon_peak_sampler sampler(serve.pid());
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      replies[static_cast<std::size_t>(i)] = post(serve.port(), "/v1/traces", bodies[static_cast<std::size_t>(i)]);
    });
  }
  for (auto& t : clients) t.join();
  int refused = 0;
  for (int i = 0; i < kClients; ++i) {
    auto& r = replies[static_cast<std::size_t>(i)];
    ASSERT_TRUE(r.status == 200 || r.status == 429) << r.status << " " << r.body;
    if (r.status != 429) continue;
    ++refused;
    EXPECT_EQ(r.headers["Retry-After"], "1");
    EXPECT_NE(r.body.find("memory limit of 48 MiB"), std::string::npos) << r.body;
    // An exporter retries after Retry-After; alone, the request fits.
    EXPECT_EQ(post(serve.port(), "/v1/traces", bodies[static_cast<std::size_t>(i)]).status, 200);
  }
  EXPECT_GE(refused, 1) << "four 8 MiB requests at once do not fit in 48 MiB";
  std::printf("peak RssAnon growth: %lld MiB\n", static_cast<long long>((sampler.peak() - before) >> 20));
  if (!kSanitized) {
    EXPECT_LT(sampler.peak() - before, (48 + 64) << 20);
  }
  EXPECT_EQ(sql_count(db, "SELECT count(*) FROM records"), static_cast<std::int64_t>(per) * kClients);
}

}  // namespace
}  // namespace logfire::backend_test
