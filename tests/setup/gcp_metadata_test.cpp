// On Cloud Run, configure() looks up project, region and instance id from the metadata server
// without blocking, and exporters that carry the resource receive them once it answers.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "logfire/config.hpp"
#include "logfire/logfire.hpp"
#include "resource/resource_listener.hpp"

namespace {

class resource_recorder final : public logfire::exporter, public logfire::detail::resource_listener {
 public:
  std::string name() const override { return "resource recorder"; }
  void export_batch(std::span<const logfire::span_record> records) noexcept override {
    counter_->delivered(records.size());
  }
  void add_resource_attributes(const logfire::detail::resource& additions) noexcept override {
    std::lock_guard lock(mutex_);
    for (const auto& a : additions.attributes)
      if (auto* s = std::get_if<std::string>(&a.value)) seen_[a.key] = *s;
  }
  std::map<std::string, std::string> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::string> seen_;
};

TEST(gcp_metadata, cloud_run_resource_is_enriched_without_blocking_configure) {
  httplib::Server metadata;
  auto answer = [](const char* body) {
    return [body](const httplib::Request& req, httplib::Response& res) {
      if (req.get_header_value("Metadata-Flavor") != "Google") {
        res.status = 403;
        return;
      }
      res.set_content(body, "text/plain");
    };
  };
  metadata.Get("/computeMetadata/v1/project/project-id", answer("my-project"));
  metadata.Get("/computeMetadata/v1/instance/region", answer("projects/123/regions/europe-west1"));
  metadata.Get("/computeMetadata/v1/instance/id", answer("instance-7"));
  const int port = metadata.bind_to_any_port("127.0.0.1");
  std::thread server([&] { metadata.listen_after_bind(); });

  setenv("K_SERVICE", "checkout", 1);
  setenv("K_REVISION", "checkout-00042", 1);
  setenv("GCE_METADATA_HOST", ("127.0.0.1:" + std::to_string(port)).c_str(), 1);
  auto rec = std::make_shared<resource_recorder>();
  {
    auto lf = logfire::configure({.console = {.enabled = false}, .exporters = {rec}});
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard guard(lf);
    std::map<std::string, std::string> seen;
    for (int i = 0; i < 100 && seen.size() < 3; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      seen = rec->seen();
    }
    EXPECT_EQ(seen["cloud.account.id"], "my-project");
    EXPECT_EQ(seen["cloud.region"], "europe-west1");
    EXPECT_EQ(seen["faas.instance"], "instance-7");
  }
  unsetenv("K_SERVICE");
  unsetenv("K_REVISION");
  unsetenv("GCE_METADATA_HOST");
  metadata.stop();
  server.join();
}

}  // namespace
