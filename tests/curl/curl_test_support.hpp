// Helpers for the libcurl integration tests: a cpp-httplib server on 127.0.0.1 that records the
// headers of every request it gets (and answers by path), and a libcurl easy handle that stops
// by itself.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "httplib/httplib_test_support.hpp"
#include "logfire/logfire.hpp"
#include "logfire/propagation.hpp"

namespace curl_test {

using namespace std::chrono_literals;

struct received {
  std::string method;
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;  // in arrival order

  // Every value of header `name` (any casing).
  [[nodiscard]] std::vector<std::string> all(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : headers)
      if (logfire::detail::iequals(k, name)) out.push_back(v);
    return out;
  }
  [[nodiscard]] std::string one(std::string_view name) const {
    const auto v = all(name);
    return v.size() == 1 ? v[0] : "<" + std::to_string(v.size()) + " values>";
  }
};

// Answers: /ok 200, /redirect 302 -> /ok, /auth 401 with a Basic challenge unless the request
// has Authorization, /missing 404, /fail 500, /flaky 503 until it has
// failed `flaky_failures` times then 200, /slow waits until release() (at most 10 s).
class recording_server {
 public:
  recording_server() {
    auto& s = srv_.server();
    s.Get(".*", [this](const httplib::Request& req, httplib::Response& res) { answer(req, res); });
    s.Post(".*", [this](const httplib::Request& req, httplib::Response& res) { answer(req, res); });
  }
  ~recording_server() {
    release();
    srv_.stop();
  }
  bool start() { return srv_.start(); }
  [[nodiscard]] int port() const { return srv_.port(); }
  [[nodiscard]] std::string url(std::string_view path) const { return srv_.base_url() + std::string(path); }

  [[nodiscard]] std::vector<received> requests() const {
    std::lock_guard lock(mu_);
    return got_;
  }
  void release() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }
  void wait_for_slow() {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 10s, [&] { return slow_arrived_; });
  }
  int flaky_failures = 1;

 private:
  void answer(const httplib::Request& req, httplib::Response& res) {
    std::unique_lock lock(mu_);
    received r{req.method, req.path, {}};
    for (const auto& [k, v] : req.headers) r.headers.emplace_back(k, v);
    got_.push_back(std::move(r));
    if (req.path == "/redirect") {
      res.set_redirect("/ok");
    } else if (req.path == "/auth") {
      if (req.has_header("Authorization")) {
        res.set_content("welcome", "text/plain");
      } else {
        res.status = 401;
        res.set_header("WWW-Authenticate", "Basic realm=\"test\"");
      }
    } else if (req.path == "/missing") {
      res.status = 404;
    } else if (req.path == "/fail") {
      res.status = 500;
    } else if (req.path == "/flaky") {
      res.status = flaky_seen_++ < flaky_failures ? 503 : 200;
    } else if (req.path == "/slow") {
      slow_arrived_ = true;
      cv_.notify_all();
      cv_.wait_for(lock, 10s, [&] { return released_; });
      res.set_content("late", "text/plain");
    } else {
      res.set_content("ok", "text/plain");
    }
  }

  httplib_test::running_server srv_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<received> got_;
  int flaky_seen_ = 0;
  bool released_ = false;
  bool slow_arrived_ = false;
};

// A port of 127.0.0.1 nothing listens on (bound, then closed).
inline int unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

inline std::size_t discard(char*, std::size_t size, std::size_t n, void*) {
  return size * n;
}

// An easy handle that discards the body and cleans itself up.
class easy_handle {
 public:
  easy_handle() : h_(curl_easy_init()) {
    curl_easy_setopt(h_, CURLOPT_WRITEFUNCTION, &discard);
    curl_easy_setopt(h_, CURLOPT_TIMEOUT_MS, 20000L);
  }
  ~easy_handle() { curl_easy_cleanup(h_); }
  easy_handle(const easy_handle&) = delete;
  easy_handle& operator=(const easy_handle&) = delete;
  CURL* get() const { return h_; }
  void url(const std::string& u) const { curl_easy_setopt(h_, CURLOPT_URL, u.c_str()); }

 private:
  CURL* h_;
};

// A curl_slist the test owns, with a snapshot of its text to prove it was not modified.
class header_list {
 public:
  header_list(std::initializer_list<const char*> lines) {
    for (const char* l : lines) list_ = curl_slist_append(list_, l);
  }
  ~header_list() { curl_slist_free_all(list_); }
  header_list(const header_list&) = delete;
  header_list& operator=(const header_list&) = delete;
  curl_slist* get() const { return list_; }
  [[nodiscard]] std::vector<std::pair<const curl_slist*, std::string>> snapshot() const {
    std::vector<std::pair<const curl_slist*, std::string>> out;
    for (const curl_slist* n = list_; n; n = n->next) out.emplace_back(n, n->data);
    return out;
  }

 private:
  curl_slist* list_ = nullptr;
};

}  // namespace curl_test
