// Issue 11, case 3: header count and request-line length were unlimited, read before the token
// was checked: 200,000 header lines of 1 KB cost ~400 MB per connection. Now the head is bounded
// (--max-header-count, --max-header-size, --max-request-line) and refused with 431/414, naming
// the option, before anything else is done with it.
#include <gtest/gtest.h>

#include <cstdio>
#include <thread>

#include "backend/backend_support.hpp"

namespace logfire::backend_test {
namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(attack_3_headers, too_many_header_lines_are_refused_with_431) {
  temp_dir dir;
  serve_process serve(dir.file("h.db"), {"--token", "t"});
  ASSERT_TRUE(serve.started()) << serve.output();
  raw_connection c(serve.port());
  std::string head = "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (int i = 0; i < 150; ++i) head += "X-Filler-" + std::to_string(i) + ": x\r\n";
  c.send(head + "\r\n");
  std::string got = c.read_until("\n\n");
  EXPECT_TRUE(contains(got, "HTTP/1.1 431 ")) << got;
  EXPECT_TRUE(contains(got, "more than 100 header fields in one request; raise --max-header-count")) << got;
}

TEST(attack_3_headers, a_long_request_line_is_refused_with_414) {
  temp_dir dir;
  serve_process serve(dir.file("h.db"));
  ASSERT_TRUE(serve.started()) << serve.output();
  raw_connection c(serve.port());
  c.send("GET /" + std::string(100'000, 'a'));  // no end of line needed: refused past the limit
  std::string got = c.read_until("\n\n");
  EXPECT_TRUE(contains(got, "HTTP/1.1 414 ")) << got.substr(0, 300);
  EXPECT_TRUE(contains(got, "request line longer than the limit of 8 KiB; raise --max-request-line")) << got;
}

// Four connections each sending 16 MB of 1 KB header lines, unauthenticated: the server's
// memory must not follow (on the old server it grew by ~2 bytes per byte sent, and stayed).
TEST(attack_3_headers, endless_headers_do_not_take_memory) {
  temp_dir dir;
  serve_process serve(dir.file("h.db"), {"--token", "t"});
  ASSERT_TRUE(serve.started()) << serve.output();
  std::int64_t before = memory_of(serve.pid()).anon;
  anon_peak_sampler sampler(serve.pid());
  std::vector<std::thread> attackers;
  std::vector<std::string> answers(4);
  for (int k = 0; k < 4; ++k) {
    attackers.emplace_back([&, k] {
      raw_connection c(serve.port());
      c.send("POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n");
      std::string line = "X-Filler: " + std::string(1000, 'v') + "\r\n";
      std::string block;
      for (int i = 0; i < 64; ++i) block += line;
      for (int i = 0; i < 250 && c.send(block); ++i) {
      }
      answers[static_cast<std::size_t>(k)] = c.read_until("\n\n", std::chrono::seconds(5));
    });
  }
  for (auto& t : attackers) t.join();
  for (const auto& a : answers) EXPECT_TRUE(contains(a, "HTTP/1.1 431 ")) << a.substr(0, 200);
  std::printf("peak RssAnon growth: %lld MiB\n", static_cast<long long>((sampler.peak() - before) >> 20));
  if (!kSanitized) {
    EXPECT_LT(sampler.peak() - before, 16 << 20) << "peak RssAnon " << sampler.peak() << ", before " << before;
  }
  // Still serving.
  EXPECT_EQ(get(serve.port(), "/api/stats", {{"Authorization", "Bearer t"}}).status, 200);
}

}  // namespace
}  // namespace logfire::backend_test
