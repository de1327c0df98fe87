// libcurl transport for the OTLP exporter. Runs on one exporter's sender thread; the easy
// handle is reused so the connection stays alive between batches. The SDK never traces these
// requests: this file does not use the instrumentation API.
#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "export/http_transport.hpp"
#include "net/curl_global.hpp"
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
  curl_transport(CURL* handle, const curl_transport_options& options) : handle_(handle), options_(options) {
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
  curl_transport_options options_;
};

// Parses "06 Nov 1994 08:49:37" style pieces shared by the three HTTP date formats.
int month_index(std::string_view m) noexcept {
  static constexpr std::string_view names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                               "jul", "aug", "sep", "oct", "nov", "dec"};
  for (int i = 0; i < 12; ++i)
    if (iequals(m, names[i])) return i;
  return -1;
}

bool parse_int(std::string_view s, int& out) noexcept {
  if (s.empty() || s.size() > 9) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

bool parse_clock(std::string_view s, std::tm& tm) noexcept {
  if (s.size() != 8 || s[2] != ':' || s[5] != ':') return false;
  return parse_int(s.substr(0, 2), tm.tm_hour) && parse_int(s.substr(3, 2), tm.tm_min) &&
         parse_int(s.substr(6, 2), tm.tm_sec);
}

}  // namespace

std::unique_ptr<http_transport> make_curl_transport(const curl_transport_options& options) {
  if (!curl_global_init_once()) return nullptr;
  CURL* h = curl_easy_init();
  if (h == nullptr) return nullptr;
  return std::make_unique<curl_transport>(h, options);
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now) noexcept {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 9) return std::chrono::milliseconds(std::chrono::hours(24 * 365));
    int secs = 0;
    parse_int(value, secs);
    return std::chrono::milliseconds(std::chrono::seconds(secs));
  }
  // Split on spaces, commas and dashes: every HTTP date form becomes a list of tokens.
  std::string_view tok[8];
  int n = 0;
  std::size_t i = 0;
  while (i < value.size() && n < 8) {
    while (i < value.size() && (value[i] == ' ' || value[i] == ',' || value[i] == '-')) ++i;
    std::size_t start = i;
    while (i < value.size() && value[i] != ' ' && value[i] != ',' && value[i] != '-') ++i;
    if (i > start) tok[n++] = value.substr(start, i - start);
  }
  std::tm tm{};
  int year = 0;
  bool ok = false;
  if (n == 6 && iequals(tok[5], "GMT")) {
    // IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT" or RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT".
    ok = parse_int(tok[1], tm.tm_mday) && (tm.tm_mon = month_index(tok[2])) >= 0 && parse_int(tok[3], year) &&
         parse_clock(tok[4], tm);
    if (ok && tok[3].size() == 2) year += year < 70 ? 2000 : 1900;
  } else if (n == 5) {
    // asctime "Sun Nov  6 08:49:37 1994".
    ok = (tm.tm_mon = month_index(tok[1])) >= 0 && parse_int(tok[2], tm.tm_mday) && parse_clock(tok[3], tm) &&
         parse_int(tok[4], year);
  }
  if (!ok || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
    return std::nullopt;
  tm.tm_year = year - 1900;
  std::time_t at = timegm(&tm);
  if (at == static_cast<std::time_t>(-1)) return std::nullopt;
  auto wait = std::chrono::system_clock::from_time_t(at) - now;
  if (wait < std::chrono::system_clock::duration::zero()) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(wait);
}

}  // namespace logfire::detail
