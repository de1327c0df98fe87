// GCP metadata server lookup on its own thread (see the thread model in gcp_metadata.hpp).
#include "resource/gcp_metadata.hpp"

#include <array>

#include "net/http_transport.hpp"
#include "text/ascii.hpp"

namespace logfire::detail {
namespace {

constexpr std::size_t k_max_body = 4096;  // the answers are a few dozen bytes

using ascii::trim;

}  // namespace

std::string_view last_path_segment(std::string_view s) noexcept {
  const std::size_t slash = s.rfind('/');
  return slash == std::string_view::npos ? s : s.substr(slash + 1);
}

std::unique_ptr<gcp_metadata_lookup> gcp_metadata_lookup::start_if_gcp(platform p, const env_lookup& env,
                                                                       callback on_done,
                                                                       std::chrono::milliseconds timeout) {
  if (!is_gcp(p)) return nullptr;
  std::string host(default_host);
  if (auto h = env("GCE_METADATA_HOST"); h && !h->empty()) host = std::move(*h);
  return std::make_unique<gcp_metadata_lookup>(std::move(host), timeout, std::move(on_done));
}

gcp_metadata_lookup::gcp_metadata_lookup(std::string host, std::chrono::milliseconds timeout, callback on_done)
    : host_(std::move(host)), timeout_(timeout), on_done_(std::move(on_done)) {
  try {
    thread_ = std::thread([this] { run(); });
  } catch (...) {
    done_.store(true, std::memory_order_release);  // no thread: nothing found, nothing to wait for
  }
}

gcp_metadata_lookup::~gcp_metadata_lookup() {
  canceller_.cancel();  // wakes a lookup still in flight at once
  if (thread_.joinable()) thread_.join();
}

std::optional<gcp_metadata> gcp_metadata_lookup::result() const {
  if (!ready()) return std::nullopt;
  std::lock_guard<std::mutex> lock(mutex_);
  return result_;
}

bool gcp_metadata_lookup::apply_to(resource& r) const {
  const auto m = result();
  if (!m) return false;
  if (!m->project_id.empty() && !r.find("cloud.account.id")) r.set("cloud.account.id", m->project_id);
  if (!m->region.empty() && !r.find("cloud.region")) r.set("cloud.region", m->region);
  if (!m->instance_id.empty() && !r.find("faas.instance")) r.set("faas.instance", m->instance_id);
  return true;
}

void gcp_metadata_lookup::run() noexcept {
  gcp_metadata found;
  try {
    // The three questions at once, with one deadline (net/http_transport.hpp).
    const std::string base = "http://" + host_ + "/computeMetadata/v1/";
    std::array<http_get, 3> gets{
        {{base + "project/project-id", {}, 0}, {base + "instance/region", {}, 0}, {base + "instance/id", {}, 0}}};
    const http_header flavor{"Metadata-Flavor", "Google"};
    http_get_all(gets, {&flavor, 1}, timeout_, k_max_body, canceller_);
    if (gets[0].status == 200) found.project_id = trim(gets[0].body);
    if (gets[1].status == 200) found.region = last_path_segment(trim(gets[1].body));
    if (gets[2].status == 200) found.instance_id = trim(gets[2].body);
  } catch (...) {
    found = {};
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    result_ = found;
  }
  done_.store(true, std::memory_order_release);
  if (on_done_) {
    try {
      on_done_(found);
    } catch (...) {
    }
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    settled_ = true;
  }
  settled_cv_.notify_all();
}

bool gcp_metadata_lookup::wait_until_done(std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return settled_cv_.wait_until(lock, deadline, [this] { return settled_; });
}

}  // namespace logfire::detail
