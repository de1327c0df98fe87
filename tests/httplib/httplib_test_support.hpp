// Helpers for the cpp-httplib integration tests: a server on a free port of 127.0.0.1 that
// stops by itself, a quiet configure() into a memory exporter, and record lookups.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "logfire/config.hpp"
#include "logfire/memory_exporter.hpp"

namespace httplib_test {

using namespace std::chrono_literals;

// Debian's libcpp-httplib.so is not built with ThreadSanitizer. Its function-local statics
// (e.g. the set of known methods that parses every request line) are initialized by whichever
// worker parses the first request, and other workers later skip the guard with an inline
// acquire load that TSan cannot see in uninstrumented code: a false "data race" inside the
// library. Serving one request on a throwaway server, joined before any test server starts its
// workers, initializes them with a happens-before edge TSan does see. Harmless elsewhere.
inline void prime_httplib_statics() {
  static const bool primed = [] {
    httplib::Server svr;
    svr.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
    svr.Post("/", [](const httplib::Request& req, httplib::Response& res) { res.set_content(req.body, "text/plain"); });
    const int port = svr.bind_to_any_port("127.0.0.1");
    if (port <= 0) return false;
    std::thread t([&] { svr.listen_after_bind(); });
    for (int i = 0; i < 1000 && !svr.is_running(); ++i) std::this_thread::sleep_for(10ms);
    {
      httplib::Client c("127.0.0.1", port);
      (void)c.Get("/", {{"User-Agent", "prime"}});
      (void)c.Post("/", "{}", "application/json");
    }
    svr.stop();
    t.join();
    return true;
  }();
  (void)primed;
}

// Listens on 127.0.0.1 (a free port) in its own thread from start() until destruction.
class running_server {
 public:
  running_server() = default;
  running_server(const running_server&) = delete;
  running_server& operator=(const running_server&) = delete;
  ~running_server() { stop(); }

  httplib::Server& server() { return svr_; }

  // Binds and starts listening; false when that failed or did not happen within 10 s.
  bool start() {
    prime_httplib_statics();
    port_ = svr_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) return false;
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    for (int i = 0; i < 1000 && !svr_.is_running(); ++i) std::this_thread::sleep_for(10ms);
    return svr_.is_running();
  }
  void stop() {
    if (thread_.joinable()) {
      svr_.stop();
      thread_.join();
    }
  }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  httplib::Server svr_;
  std::thread thread_;
  int port_ = 0;
};

inline logfire::options quiet_options(std::shared_ptr<logfire::exporter> mem) {
  logfire::options o;
  o.service_name = "httplib-test";
  o.send_to_logfire = logfire::send_to_logfire::no;
  o.console.enabled = false;
  o.exporters = {std::move(mem)};
  o.read_environment = false;
  return o;
}

inline std::vector<logfire::stored_record> of_kind(const std::vector<logfire::stored_record>& recs,
                                                   logfire::span_kind kind) {
  std::vector<logfire::stored_record> out;
  for (const auto& r : recs)
    if (r.kind == kind && r.type == logfire::record_type::span) out.push_back(r);
  return out;
}

inline std::vector<logfire::stored_record> logs(const std::vector<logfire::stored_record>& recs) {
  std::vector<logfire::stored_record> out;
  for (const auto& r : recs)
    if (r.type == logfire::record_type::log) out.push_back(r);
  return out;
}

inline std::optional<std::int64_t> int_attr(const logfire::stored_record& r, std::string_view key) {
  if (const auto* v = r.find(key)) return v->int64();
  return std::nullopt;
}

inline std::size_t occurrences(std::string_view text, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

// Sends `request` as raw bytes to 127.0.0.1:port and returns what comes back until the peer
// closes or 10 s pass (for requests httplib::Client refuses to send).
inline std::string raw_exchange(int port, std::string_view request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    char buf[4096];
    for (int i = 0; i < 100; ++i) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) != 1) {
        if (!out.empty()) break;
        continue;
      }
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

}  // namespace httplib_test
