// The GCP metadata lookup against a loopback cpp-httplib server standing in for
// metadata.google.internal (pointed to by GCE_METADATA_HOST), a server that never answers, and
// platforms where it must not be attempted at all.
#include "resource/gcp_metadata.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;
using logfire::detail::gcp_metadata;
using logfire::detail::gcp_metadata_lookup;
using logfire::detail::platform;

logfire::detail::env_lookup env_of(std::map<std::string, std::string, std::less<>> m) {
  return [m = std::move(m)](std::string_view name) -> std::optional<std::string> {
    const auto it = m.find(name);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
}

// A fake metadata server on 127.0.0.1 that answers like Google's (and only to requests with
// Metadata-Flavor: Google).
class fake_metadata_server {
 public:
  explicit fake_metadata_server(bool with_region = true) {
    auto answer = [this](const char* body) {
      return [this, body](const httplib::Request& req, httplib::Response& res) {
        ++hits_;
        if (req.get_header_value("Metadata-Flavor") != "Google") {
          ++missing_flavor_;
          res.status = 403;
          return;
        }
        res.set_header("Metadata-Flavor", "Google");
        res.set_content(body, "application/text");
      };
    };
    svr_.Get("/computeMetadata/v1/project/project-id", answer("shop-prod"));
    if (with_region) svr_.Get("/computeMetadata/v1/instance/region", answer("projects/123456789/regions/us-central1"));
    svr_.Get("/computeMetadata/v1/instance/id", answer("00bf4bf02d1c7c1b0a4f\n"));
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    for (int i = 0; i < 5000 && !svr_.is_running(); ++i) std::this_thread::sleep_for(1ms);
  }
  ~fake_metadata_server() {
    svr_.stop();
    thread_.join();
  }
  [[nodiscard]] std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] int hits() const { return hits_.load(); }
  [[nodiscard]] int missing_flavor() const { return missing_flavor_.load(); }

 private:
  httplib::Server svr_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> hits_{0};
  std::atomic<int> missing_flavor_{0};
};

// Accepts TCP connections into the backlog but never reads or answers.
class silent_server {
 public:
  silent_server() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~silent_server() { ::close(fd_); }
  [[nodiscard]] std::string host() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Polls until the lookup is done; bounded (the lookup's own timeout ends it far sooner).
bool wait_ready(const gcp_metadata_lookup& l) {
  for (int i = 0; i < 3000 && !l.ready(); ++i) std::this_thread::sleep_for(10ms);
  return l.ready();
}

TEST(gcp_metadata, reads_project_region_and_instance) {
  fake_metadata_server server;
  std::mutex m;
  std::optional<gcp_metadata> from_callback;
  auto lookup = gcp_metadata_lookup::start_if_gcp(
      platform::gcp_cloud_run, env_of({{"GCE_METADATA_HOST", server.host()}}),
      [&](const gcp_metadata& md) {
        std::lock_guard<std::mutex> lock(m);
        from_callback = md;
      },
      5000ms);
  ASSERT_NE(lookup, nullptr);
  ASSERT_TRUE(wait_ready(*lookup));
  const auto md = lookup->result();
  ASSERT_TRUE(md);
  EXPECT_EQ(md->project_id, "shop-prod");
  EXPECT_EQ(md->region, "us-central1");
  EXPECT_EQ(md->instance_id, "00bf4bf02d1c7c1b0a4f");
  EXPECT_EQ(server.hits(), 3);
  EXPECT_EQ(server.missing_flavor(), 0) << "every request carries Metadata-Flavor: Google";
  lookup.reset();  // joins the thread, so the callback has run
  std::lock_guard<std::mutex> lock(m);
  ASSERT_TRUE(from_callback);
  EXPECT_EQ(from_callback->project_id, "shop-prod");
}

TEST(gcp_metadata, applies_to_the_resource_keeping_environment_values) {
  fake_metadata_server server;
  gcp_metadata_lookup lookup(server.host(), 5000ms);
  ASSERT_TRUE(wait_ready(lookup));
  logfire::detail::resource r;
  r.set("cloud.account.id", std::string("from-env"));
  EXPECT_TRUE(lookup.apply_to(r));
  EXPECT_EQ(std::get<std::string>(r.find("cloud.account.id")->value), "from-env");
  EXPECT_EQ(std::get<std::string>(r.find("cloud.region")->value), "us-central1");
  EXPECT_EQ(std::get<std::string>(r.find("faas.instance")->value), "00bf4bf02d1c7c1b0a4f");
}

TEST(gcp_metadata, partial_answers) {
  fake_metadata_server server(/*with_region=*/false);  // 404 for the region
  gcp_metadata_lookup lookup(server.host(), 5000ms);
  ASSERT_TRUE(wait_ready(lookup));
  const auto md = lookup.result();
  ASSERT_TRUE(md);
  EXPECT_EQ(md->project_id, "shop-prod");
  EXPECT_EQ(md->region, "");
  logfire::detail::resource r;
  lookup.apply_to(r);
  EXPECT_EQ(r.find("cloud.region"), nullptr);
}

TEST(gcp_metadata, not_attempted_outside_gcp) {
  fake_metadata_server server;
  const auto env = env_of({{"GCE_METADATA_HOST", server.host()}});
  for (platform p : {platform::none, platform::aws_lambda, platform::azure_app_service, platform::azure_functions,
                     platform::kubernetes, platform::fly_io, platform::heroku}) {
    EXPECT_EQ(gcp_metadata_lookup::start_if_gcp(p, env), nullptr);
  }
  EXPECT_EQ(server.hits(), 0);
}

TEST(gcp_metadata, attempted_on_every_gcp_platform) {
  for (platform p : {platform::gcp_cloud_run, platform::gcp_cloud_run_job, platform::gcp_cloud_functions,
                     platform::gcp_app_engine}) {
    fake_metadata_server server;
    auto lookup = gcp_metadata_lookup::start_if_gcp(p, env_of({{"GCE_METADATA_HOST", server.host()}}), {}, 5000ms);
    ASSERT_NE(lookup, nullptr);
    ASSERT_TRUE(wait_ready(*lookup));
    EXPECT_EQ(lookup->result()->project_id, "shop-prod");
  }
}

TEST(gcp_metadata, times_out_without_blocking_when_the_server_never_answers) {
  silent_server server;
  gcp_metadata_lookup lookup(server.host(), 200ms);
  // Construction returned while the server has not answered (it never will): the caller was
  // not blocked.
  EXPECT_FALSE(lookup.ready());
  EXPECT_FALSE(lookup.result());
  logfire::detail::resource r;
  EXPECT_FALSE(lookup.apply_to(r));
  // The lookup gives up by itself after its timeout.
  ASSERT_TRUE(wait_ready(lookup));
  ASSERT_TRUE(lookup.result());
  EXPECT_FALSE(lookup.result()->found_any());
}

TEST(gcp_metadata, wait_until_done_returns_after_the_callback) {
  fake_metadata_server server;
  std::atomic<bool> called{false};
  gcp_metadata_lookup lookup(server.host(), 5000ms, [&](const gcp_metadata& md) { called = md.found_any(); });
  ASSERT_TRUE(lookup.wait_until_done(std::chrono::steady_clock::now() + 30s));
  EXPECT_TRUE(called.load()) << "the callback has returned when the wait ends";
  EXPECT_TRUE(lookup.ready());
}

TEST(gcp_metadata, wait_until_done_gives_up_at_its_deadline) {
  silent_server server;
  // The lookup would wait 10 minutes for an answer; the caller's deadline ends the wait.
  gcp_metadata_lookup lookup(server.host(), std::chrono::milliseconds(10 * 60 * 1000));
  EXPECT_FALSE(lookup.wait_until_done(std::chrono::steady_clock::now() + 50ms));
  EXPECT_FALSE(lookup.ready());
}

TEST(gcp_metadata, destruction_cancels_a_lookup_in_flight) {
  silent_server server;
  std::atomic<bool> called{false};
  {
    // A timeout far beyond this test's ctest timeout: only cancellation can end it in time.
    gcp_metadata_lookup lookup(server.host(), std::chrono::milliseconds(10 * 60 * 1000),
                               [&](const gcp_metadata& md) { called = !md.found_any(); });
    std::this_thread::sleep_for(50ms);
    EXPECT_FALSE(lookup.ready());
  }
  EXPECT_TRUE(called.load()) << "the callback reports the cancelled, empty lookup";
}

TEST(gcp_metadata, default_host_without_override) {
  // Not started (not GCP), so nothing is contacted; this checks the override is optional.
  EXPECT_EQ(gcp_metadata_lookup::start_if_gcp(platform::none, env_of({})), nullptr);
  EXPECT_EQ(gcp_metadata_lookup::default_host, "metadata.google.internal");
}

TEST(gcp_metadata, last_path_segment) {
  EXPECT_EQ(logfire::detail::last_path_segment("projects/123/regions/europe-west1"), "europe-west1");
  EXPECT_EQ(logfire::detail::last_path_segment("us-east1"), "us-east1");
  EXPECT_EQ(logfire::detail::last_path_segment("projects/1/zones/"), "");
}

}  // namespace
