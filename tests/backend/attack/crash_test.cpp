// Acknowledged means stored, also when `serve` is killed outright in the middle of ingest:
// clients post batches of spans with ids of their own while the server is killed with SIGKILL at
// a random moment; after a restart on the same database every span of every batch that was
// answered 200 is there. (A batch committed but not yet answered may be there too: at least
// once, never lost.)
#include <gtest/gtest.h>
#include <signal.h>

#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "backend/backend_support.hpp"

namespace logfire::backend_test {
namespace {

TEST(crash, acknowledged_batches_survive_kill_9_mid_ingest) {
  temp_dir dir;
  std::string db = dir.file("crash.db");
  std::mt19937 rng(std::random_device{}());
  std::int64_t acknowledged_total = 0, stored_unacknowledged = 0;
  for (int round = 0; round < 4; ++round) {
    std::string name = "round " + std::to_string(round);
    std::mutex mu;
    std::set<std::string> acknowledged;  // span ids answered 200
    {
      serve_process serve(db);
      ASSERT_TRUE(serve.started()) << serve.output();
      const int port = serve.port();  // read once: stop() clears it while clients still run
      std::atomic<bool> dead{false};
      std::vector<std::thread> clients;
      for (int c = 0; c < 4; ++c) {
        clients.emplace_back([&] {
          while (!dead.load()) {
            std::vector<span_spec> batch;
            std::string trace = random_hex(16);
            for (int i = 0; i < 50; ++i) {
              span_spec s;
              s.trace_id = trace;
              s.span_id = random_hex(8);
              s.name = name;
              batch.push_back(s);
            }
            auto r = post(port, "/v1/traces", trace_request(batch).SerializeAsString());
            if (r.status != 200) break;  // killed (or refused): this batch is not acknowledged
            std::lock_guard lk(mu);
            for (const auto& s : batch) acknowledged.insert(s.span_id);
          }
        });
      }
      // Kill at a random moment once ingest is under way (at least one batch answered).
      for (int i = 0; i < 2000; ++i) {
        {
          std::lock_guard lk(mu);
          if (!acknowledged.empty()) break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 600));
      serve.stop(SIGKILL);
      dead.store(true);
      for (auto& t : clients) t.join();
    }
    serve_process restarted(db);
    ASSERT_TRUE(restarted.started()) << restarted.output();
    std::set<std::string> stored;
    for (const auto& r : sql(db, "SELECT span_id FROM records WHERE span_name = '" + name + "'")) {
      stored.insert(r.at("span_id"));
    }
    std::size_t missing = 0;
    for (const auto& id : acknowledged) missing += stored.count(id) == 0 ? 1 : 0;
    EXPECT_EQ(missing, 0u) << name << ": " << missing << " of " << acknowledged.size()
                           << " acknowledged spans were lost";
    EXPECT_GT(acknowledged.size(), 0u) << name << ": nothing was acknowledged before the kill";
    acknowledged_total += static_cast<std::int64_t>(acknowledged.size());
    stored_unacknowledged += static_cast<std::int64_t>(stored.size()) - static_cast<std::int64_t>(acknowledged.size());
  }
  std::printf("acknowledged %lld spans in 4 rounds, all stored; %lld more stored but not acknowledged\n",
              static_cast<long long>(acknowledged_total), static_cast<long long>(stored_unacknowledged));
}

}  // namespace
}  // namespace logfire::backend_test
