// Asks the GCP metadata server for the project id, region and instance id, on a thread of its
// own, so that startup never waits for it. Only ever started on a GCP platform.
//
// Thread model: the constructor starts one std::thread and returns at once. That thread runs
// the three requests concurrently (net/http_transport.hpp: http_get_all) with one deadline (`timeout`, default 1 s),
// stores the result under a mutex, then calls `on_done` (if any) on that same thread. Any
// thread may poll ready()/result()/apply_to() meanwhile. The destructor cancels a lookup still
// in flight (it wakes the thread at once) and joins it.
//
//   auto lookup = gcp_metadata_lookup::start_if_gcp(detected_platform(), process_environment());
//   ...  // later, e.g. on the exporter thread before encoding a batch's resource:
//   if (lookup && lookup->ready()) lookup->apply_to(res);
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "net/http_transport.hpp"
#include "resource/detect.hpp"
#include "resource/resource.hpp"

namespace logfire::detail {

struct gcp_metadata {
  std::string project_id;   // project/project-id -> cloud.account.id
  std::string region;       // instance/region "projects/N/regions/R" -> R -> cloud.region
  std::string instance_id;  // instance/id -> faas.instance
  // False when the server could not be reached or answered nothing useful before the deadline.
  [[nodiscard]] bool found_any() const noexcept {
    return !project_id.empty() || !region.empty() || !instance_id.empty();
  }
};

class gcp_metadata_lookup {
 public:
  using callback = std::function<void(const gcp_metadata&)>;

  static constexpr std::string_view default_host = "metadata.google.internal";

  // Starts a lookup when `p` is a GCP platform, against GCE_METADATA_HOST from `env` (host or
  // host:port, the variable Google's client libraries honour) or metadata.google.internal.
  // Returns null elsewhere: the metadata server is never contacted outside GCP.
  [[nodiscard]] static std::unique_ptr<gcp_metadata_lookup> start_if_gcp(
      platform p, const env_lookup& env, callback on_done = {},
      std::chrono::milliseconds timeout = std::chrono::milliseconds(1000));

  // Starts a lookup against `host` unconditionally.
  gcp_metadata_lookup(std::string host, std::chrono::milliseconds timeout, callback on_done = {});
  ~gcp_metadata_lookup();
  gcp_metadata_lookup(const gcp_metadata_lookup&) = delete;
  gcp_metadata_lookup& operator=(const gcp_metadata_lookup&) = delete;

  // Whether the lookup has finished (with or without answers).
  [[nodiscard]] bool ready() const noexcept { return done_.load(std::memory_order_acquire); }
  // Waits until the lookup has finished and `on_done` has returned, or until `deadline`; returns
  // whether it finished. For a process about to shut down before the answers came (a short job):
  // its last export then carries them. Any thread but the lookup's own.
  bool wait_until_done(std::chrono::steady_clock::time_point deadline) const;
  // The answers, once ready.
  [[nodiscard]] std::optional<gcp_metadata> result() const;
  // Once ready, sets cloud.account.id, cloud.region and faas.instance for the values found,
  // keeping values the environment already gave. Returns whether the lookup was ready.
  bool apply_to(resource& r) const;

 private:
  void run() noexcept;

  std::string host_;
  std::chrono::milliseconds timeout_;
  callback on_done_;
  mutable std::mutex mutex_;
  mutable std::condition_variable settled_cv_;  // notified once `settled_` is set
  bool settled_ = false;                        // on_done_ has returned; under mutex_
  gcp_metadata result_;
  std::atomic<bool> done_{false};
  http_get_canceller canceller_;  // the destructor stops a lookup in flight
  std::thread thread_;
};

// "projects/123/regions/us-central1" -> "us-central1" (the last path segment).
[[nodiscard]] std::string_view last_path_segment(std::string_view s) noexcept;

}  // namespace logfire::detail
