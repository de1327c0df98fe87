// http_get_all over libcurl's multi interface: the GETs run concurrently on the calling thread,
// which polls until all are done, the deadline passes, or the canceller wakes it.
#include <curl/curl.h>

#include <algorithm>
#include <vector>

#include "net/curl_global.hpp"
#include "net/http_transport.hpp"

namespace logfire::detail {
namespace {

struct body_sink {
  std::string* body;
  std::size_t max;
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) noexcept {
  auto* sink = static_cast<body_sink*>(user);
  const std::size_t bytes = size * n;
  if (sink->body->size() + bytes > sink->max) return 0;  // aborts the transfer
  try {
    sink->body->append(data, bytes);
  } catch (...) {
    return 0;
  }
  return bytes;
}

}  // namespace

void http_get_canceller::cancel() noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  cancelled_.store(true, std::memory_order_relaxed);
  if (in_flight_ != nullptr) curl_multi_wakeup(static_cast<CURLM*>(in_flight_));
}

void http_get_all(std::span<http_get> gets, std::span<const http_header> headers, std::chrono::milliseconds timeout,
                  std::size_t max_body, http_get_canceller& canceller) noexcept {
  for (auto& g : gets) g.status = 0;
  if (!curl_global_init_once()) return;  // as with no server: nothing found
  std::vector<CURL*> easy(gets.size(), nullptr);
  std::vector<body_sink> sinks(gets.size());
  curl_slist* header_list = nullptr;
  CURLM* multi = curl_multi_init();
  try {
    std::string line;
    for (const auto& h : headers) {
      line = h.name + ": " + h.value;
      if (curl_slist* next = curl_slist_append(header_list, line.c_str())) header_list = next;
    }
    const long timeout_ms = static_cast<long>(timeout.count());
    for (std::size_t i = 0; i < gets.size() && multi != nullptr; ++i) {
      easy[i] = curl_easy_init();
      if (easy[i] == nullptr) continue;
      gets[i].body.clear();
      sinks[i] = {&gets[i].body, max_body};
      curl_easy_setopt(easy[i], CURLOPT_URL, gets[i].url.c_str());
      curl_easy_setopt(easy[i], CURLOPT_HTTPHEADER, header_list);
      curl_easy_setopt(easy[i], CURLOPT_TIMEOUT_MS, timeout_ms);
      curl_easy_setopt(easy[i], CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
      curl_easy_setopt(easy[i], CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(easy[i], CURLOPT_NOPROXY, "*");  // a metadata server is never behind a proxy
      curl_easy_setopt(easy[i], CURLOPT_FOLLOWLOCATION, 0L);
      curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, &on_body);
      curl_easy_setopt(easy[i], CURLOPT_WRITEDATA, &sinks[i]);
      curl_easy_setopt(easy[i], CURLOPT_PRIVATE, &gets[i]);
      curl_multi_add_handle(multi, easy[i]);
    }
    {
      std::lock_guard<std::mutex> lock(canceller.mutex_);
      canceller.in_flight_ = multi;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (multi != nullptr && !canceller.cancelled()) {
      int running = 0;
      if (curl_multi_perform(multi, &running) != CURLM_OK || running == 0) break;
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      // Wakes early on socket activity or curl_multi_wakeup() from the canceller.
      curl_multi_poll(multi, nullptr, 0, static_cast<int>(std::min<long>(left.count(), 100)), nullptr);
    }
  } catch (...) {  // out of memory: what finished so far counts, the rest has no answer
  }
  {
    std::lock_guard<std::mutex> lock(canceller.mutex_);
    canceller.in_flight_ = nullptr;
  }
  if (multi != nullptr) {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE || msg->data.result != CURLE_OK) continue;
      http_get* g = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&g));
      long status = 0;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
      if (g != nullptr) g->status = static_cast<int>(status);
    }
  }
  for (CURL* e : easy) {
    if (e == nullptr) continue;
    if (multi != nullptr) curl_multi_remove_handle(multi, e);
    curl_easy_cleanup(e);
  }
  if (multi != nullptr) curl_multi_cleanup(multi);
  curl_slist_free_all(header_list);
}

}  // namespace logfire::detail
