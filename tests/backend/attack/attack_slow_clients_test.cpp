// Issue 11, case 7: 16 connections sending one header line every 10 s (= --threads) blocked
// ingest and the API until released; and a listen backlog of 5 made 1,000 concurrent exports
// wait on SYN retransmits (p99 31.7 s). Now heads and bodies are read by one I/O thread under a
// deadline (--header-timeout, --body-timeout), so slow clients hold no worker, and the backlog is
// --listen-backlog (default 1024).
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>

#include <thread>

#include "backend/backend_support.hpp"

namespace logfire::backend_test {
namespace {

std::string one_span(const std::string& name) {
  span_spec s;
  s.trace_id = random_hex(16);
  s.span_id = random_hex(8);
  s.name = name;
  return trace_request({s}).SerializeAsString();
}

std::string export_request(const std::string& body) {
  return "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST(attack_7_slow_clients, slow_heads_do_not_hold_up_ingest_or_the_api) {
  temp_dir dir;
  std::string db = dir.file("s.db");
  serve_process serve(db);  // default --threads 16
  ASSERT_TRUE(serve.started()) << serve.output();
  // 32 slowloris connections keep trickling header lines until the checks below are done.
  std::atomic<bool> done{false};
  std::vector<std::thread> slow;
  for (int i = 0; i < 32; ++i) {
    slow.emplace_back([&] {
      raw_connection c(serve.port());
      c.send("POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n");
      while (!done.load() && c.send("X-Slow: 1\r\n")) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  raw_connection ingest(serve.port());
  ingest.send(export_request(one_span("during slowloris")));
  std::string answer = ingest.read_until("\r\n\r\n", std::chrono::seconds(8));
  raw_connection api(serve.port());
  api.send("GET /api/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  std::string listed = api.read_until("during slowloris", std::chrono::seconds(8));
  done.store(true);
  for (auto& t : slow) t.join();
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK", 0), 0u) << answer;
  EXPECT_NE(listed.find("during slowloris"), std::string::npos) << listed;
}

TEST(attack_7_slow_clients, a_head_that_never_ends_gets_408_naming_the_option) {
  temp_dir dir;
  serve_process serve(dir.file("s.db"), {"--header-timeout", "1s"});
  ASSERT_TRUE(serve.started()) << serve.output();
  raw_connection c(serve.port());
  c.send("POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  for (int i = 0; i < 50 && c.send("X-Slow: 1\r\n") && !c.read_to_close(std::chrono::milliseconds(200)); ++i) {
  }
  EXPECT_NE(c.received().find("HTTP/1.1 408 Request Timeout"), std::string::npos) << c.received();
  EXPECT_NE(c.received().find("raise --header-timeout"), std::string::npos) << c.received();
}

// A thousand exporters connecting at once all fit in the listen queue and are all stored.
TEST(attack_7_slow_clients, a_thousand_exports_at_once_fit_in_the_backlog) {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < 1200 && lim.rlim_max >= 1200) {
    lim.rlim_cur = 1200;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  temp_dir dir;
  std::string db = dir.file("s.db");
  serve_process serve(db);
  ASSERT_TRUE(serve.started()) << serve.output();
  EXPECT_GE(listen_backlog(serve.port()), 1000) << "the listen queue holds a burst of 1,000 connections";
  constexpr int kClients = 1000;
  std::vector<std::unique_ptr<raw_connection>> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(std::make_unique<raw_connection>(serve.port()));
  int sent = 0;
  for (int i = 0; i < kClients; ++i) {
    if (clients[static_cast<std::size_t>(i)]->send(export_request(one_span("burst")))) ++sent;
  }
  int ok = 0;
  for (auto& c : clients) {
    if (c->read_until("\r\n\r\n", std::chrono::seconds(30)).rfind("HTTP/1.1 200 OK", 0) == 0) ++ok;
  }
  EXPECT_EQ(sent, kClients);
  EXPECT_EQ(ok, kClients);
  EXPECT_EQ(sql_count(db, "SELECT count(*) FROM records WHERE span_name = 'burst'"), kClients);
}

}  // namespace
}  // namespace logfire::backend_test
