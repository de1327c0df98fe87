// libcurl transport for the OTLP exporter. Runs on one exporter's sender thread; the easy
// handle is reused so the connection stays alive between batches. The SDK never traces these
// requests: this file does not use the instrumentation API.
#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "net/curl_global.hpp"
#include "net/http_transport.hpp"
#include "text/ascii.hpp"

#ifndef LOGFIRE_VERSION
#define LOGFIRE_VERSION "0.0.0"
#endif

namespace logfire::detail {
namespace {

using ascii::iequals;
using ascii::trim;

// State of one call, reached from libcurl's callbacks (same thread).
struct call_state {
  http_response* response;
  const std::atomic<std::int64_t>* abort_at_ns;
};

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* st = static_cast<call_state*>(user);
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    // A new response starts (after a 100 Continue or a proxy's CONNECT answer): forget the
    // headers of the previous one.
    st->response->retry_after.reset();
    return size * count;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos && iequals(trim(line.substr(0, colon)), "retry-after"))
    st->response->retry_after = std::string(trim(line.substr(colon + 1)));
  return size * count;
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* st = static_cast<call_state*>(user);
  auto& prefix = st->response->body_prefix;
  std::size_t n = size * count;
  if (prefix.size() < k_response_prefix_bytes)
    prefix.append(data, std::min(n, k_response_prefix_bytes - prefix.size()));
  return n;  // the rest is read and discarded so the connection stays reusable
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* st = static_cast<call_state*>(user);
  auto now = std::chrono::steady_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(now).count() > st->abort_at_ns->load() ? 1 : 0;
}

class curl_transport final : public http_transport {
 public:
  curl_transport(CURL* handle, const http_transport_options& options) : handle_(handle), options_(options) {
    if (options_.user_agent.empty()) options_.user_agent = "logfire-cpp/" LOGFIRE_VERSION;
  }
  ~curl_transport() override { curl_easy_cleanup(handle_); }
  curl_transport(const curl_transport&) = delete;
  curl_transport& operator=(const curl_transport&) = delete;

  http_response post(const http_request& request) noexcept override {
    http_response response;
    try {
      perform(request, response);
    } catch (...) {
      // Only std::bad_alloc can get here (string/slist growth); report it as a failed call.
      response = http_response{};
      response.error = "out of memory while sending";
    }
    return response;
  }

 private:
  void perform(const http_request& request, http_response& response) {
    CURL* h = handle_;
    // Options are set afresh on each call; the handle's connection cache survives reset.
    curl_easy_reset(h);
    std::string url(request.url);
    curl_slist* headers = nullptr;
    std::string line;
    for (const auto& hd : request.headers) {
      line.assign(hd.name).append(": ").append(hd.value);
      headers = curl_slist_append(headers, line.c_str());
    }
    // libcurl would otherwise send "Expect: 100-continue" for bodies over 1 KiB and wait for an
    // interim answer some servers never give.
    headers = curl_slist_append(headers, "Expect:");

    call_state st{&response, request.abort_at_ns};
    char errbuf[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<std::int64_t>(1, request.timeout.count())));
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &st);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &st);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    if (request.abort_at_ns != nullptr) {
      curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &on_progress);
      curl_easy_setopt(h, CURLOPT_XFERINFODATA, &st);
      curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }

    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(headers);

    curl_off_t uploaded = 0;
    curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &uploaded);
    response.request_sent = uploaded >= static_cast<curl_off_t>(request.body.size());
    if (rc == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
      response.status = static_cast<int>(status);
      return;
    }
    response.status = 0;
    if (rc == CURLE_ABORTED_BY_CALLBACK) {
      response.error = "request cut at the flush deadline";
      response.cut_by_deadline = true;
    } else {
      response.error = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
    }
    // Errors that happen before anything reached the server cannot duplicate data.
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY ||
        rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION)
      response.request_sent = false;
  }

  CURL* handle_;
  http_transport_options options_;
};

// Parses "06 Nov 1994 08:49:37" style pieces shared by the three HTTP date formats.
}  // namespace

std::unique_ptr<http_transport> make_http_transport(const http_transport_options& options) {
  if (!curl_global_init_once()) return nullptr;
  CURL* h = curl_easy_init();
  if (h == nullptr) return nullptr;
  return std::make_unique<curl_transport>(h, options);
}

}  // namespace logfire::detail
