// GCP metadata server lookup on its own thread (see the thread model in gcp_metadata.hpp).
#include "resource/gcp_metadata.hpp"

#include <curl/curl.h>

#include <array>

#include "net/curl_global.hpp"
#include "text/ascii.hpp"

namespace logfire::detail {
namespace {

constexpr std::size_t k_max_body = 4096;  // the answers are a few dozen bytes

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) noexcept {
  auto* body = static_cast<std::string*>(user);
  const std::size_t bytes = size * n;
  if (body->size() + bytes > k_max_body) return 0;  // aborts the transfer
  try {
    body->append(data, bytes);
  } catch (...) {
    return 0;
  }
  return bytes;
}

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
  // A failed init shows as failed requests on the thread: nothing found, as with no server.
  (void)curl_global_init_once();
  try {
    thread_ = std::thread([this] { run(); });
  } catch (...) {
    done_.store(true, std::memory_order_release);  // no thread: nothing found, nothing to wait for
  }
}

gcp_metadata_lookup::~gcp_metadata_lookup() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    cancel_.store(true, std::memory_order_relaxed);
    if (multi_ != nullptr) curl_multi_wakeup(static_cast<CURLM*>(multi_));
  }
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
    struct request {
      const char* path;
      std::string url;
      std::string body;
      CURL* easy = nullptr;
      bool ok = false;
    };
    std::array<request, 3> reqs{{{"project/project-id", {}, {}}, {"instance/region", {}, {}}, {"instance/id", {}, {}}}};
    CURLM* multi = curl_multi_init();
    curl_slist* headers = curl_slist_append(nullptr, "Metadata-Flavor: Google");
    const long timeout_ms = static_cast<long>(timeout_.count());
    for (auto& rq : reqs) {
      rq.url = "http://" + host_ + "/computeMetadata/v1/" + rq.path;
      rq.easy = curl_easy_init();
      if (rq.easy == nullptr) continue;
      curl_easy_setopt(rq.easy, CURLOPT_URL, rq.url.c_str());
      curl_easy_setopt(rq.easy, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(rq.easy, CURLOPT_TIMEOUT_MS, timeout_ms);
      curl_easy_setopt(rq.easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
      curl_easy_setopt(rq.easy, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(rq.easy, CURLOPT_NOPROXY, "*");  // the metadata server is never behind a proxy
      curl_easy_setopt(rq.easy, CURLOPT_FOLLOWLOCATION, 0L);
      curl_easy_setopt(rq.easy, CURLOPT_WRITEFUNCTION, &on_body);
      curl_easy_setopt(rq.easy, CURLOPT_WRITEDATA, &rq.body);
      curl_easy_setopt(rq.easy, CURLOPT_PRIVATE, &rq);
      if (multi != nullptr) curl_multi_add_handle(multi, rq.easy);
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      multi_ = multi;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    while (multi != nullptr && !cancel_.load(std::memory_order_relaxed)) {
      int running = 0;
      if (curl_multi_perform(multi, &running) != CURLM_OK || running == 0) break;
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      // Wakes early on socket activity or curl_multi_wakeup() from the destructor.
      curl_multi_poll(multi, nullptr, 0, static_cast<int>(std::min<long>(left.count(), 100)), nullptr);
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      multi_ = nullptr;
    }
    if (multi != nullptr) {
      int left = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
        if (msg->msg != CURLMSG_DONE || msg->data.result != CURLE_OK) continue;
        request* rq = nullptr;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&rq));
        long status = 0;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        if (rq != nullptr && status == 200) rq->ok = true;
      }
    }
    for (auto& rq : reqs) {
      if (rq.easy == nullptr) continue;
      if (multi != nullptr) curl_multi_remove_handle(multi, rq.easy);
      curl_easy_cleanup(rq.easy);
    }
    if (multi != nullptr) curl_multi_cleanup(multi);
    curl_slist_free_all(headers);

    if (reqs[0].ok) found.project_id = trim(reqs[0].body);
    if (reqs[1].ok) found.region = last_path_segment(trim(reqs[1].body));
    if (reqs[2].ok) found.instance_id = trim(reqs[2].body);
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
