// A test service for the W3C trace-context test suite (github.com/w3c/trace-context, test/).
// The harness POSTs a JSON array of {"url", "arguments"} to /test; for each entry, in order,
// the service POSTs `arguments` as the JSON body to `url` (written back by nlohmann-json, see
// instructions.hpp), with the propagated trace context (a new span, so a new parent id, per
// call), and only then answers 200. A body that is not such a list gets a 400 saying why.
//
//   w3c_test_service --port 5000                   # then: python test/test.py http://127.0.0.1:5000/test
//   w3c_test_service --port 0                      # any free port; the first line says which
//
// distributed_tracing is "on" (standard W3C behaviour: continue the caller's trace, obey its
// sampled flag) and the console is off; OTEL_PROPAGATORS and the LOGFIRE_*/OTEL_* exporter
// variables apply as usual. SIGINT/SIGTERM stop it cleanly.
#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

#include "instructions.hpp"
#include "logfire/config.hpp"
#include "logfire/httplib.hpp"

namespace {

struct target {
  std::string base;  // "http://host:port"
  std::string path;  // "/callback?x=1"
};

// "http://host[:port][/path]" (https too when cpp-httplib has OpenSSL); false otherwise.
bool split_url(std::string_view url, target& out) {
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) return false;
  const std::string_view scheme = url.substr(0, sep);
  if (scheme != "http" && scheme != "https") return false;
  const auto slash = url.find('/', sep + 3);
  const std::string_view authority = url.substr(sep + 3, slash == std::string_view::npos ? url.npos : slash - sep - 3);
  if (authority.empty()) return false;
  out.base = std::string(url.substr(0, sep + 3 + authority.size()));
  out.path = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  return true;
}

void usage() {
  std::fprintf(stderr,
               "usage: w3c_test_service [--port N] [--host ADDRESS]\n"
               "  --port N        port to listen on (default 5000; 0 picks a free one)\n"
               "  --host ADDRESS  address to listen on (default 127.0.0.1)\n");
}

}  // namespace

int main(int argc, char** argv) {
  int port = 5000;
  std::string host = "127.0.0.1";
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--port" && i + 1 < argc) {
      char* end = nullptr;
      const long p = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || p < 0 || p > 65535) {
        usage();
        return 2;
      }
      port = static_cast<int>(p);
    } else if (a == "--host" && i + 1 < argc) {
      host = argv[++i];
    } else {
      usage();
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }

  // SIGINT/SIGTERM go to one thread that stops the server (blocked here, before any thread
  // starts, so every thread inherits the mask).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto lf = logfire::configure({.service_name = "w3c-test-service",
                                .console = {.enabled = false},
                                .distributed_tracing = logfire::distributed_tracing::on});
  if (!lf) {
    std::fprintf(stderr, "w3c_test_service: %s\n", lf.error().c_str());
    return 1;
  }

  httplib::Server svr;
  auto routes = logfire::instrument_httplib(svr);
  routes.post("/test", [](const httplib::Request& req, httplib::Response& res) {
    const auto parsed = w3c::parse_instructions(req.body);
    if (!parsed.ok()) {
      res.status = 400;
      res.set_content(parsed.error + "\n", "text/plain");
      return;
    }
    std::vector<target> targets(parsed.items.size());
    for (std::size_t i = 0; i < parsed.items.size(); ++i) {
      if (!split_url(parsed.items[i].url, targets[i])) {
        res.status = 400;
        res.set_content("not an http URL: " + parsed.items[i].url + "\n", "text/plain");
        return;
      }
    }
    // In order, each call finished before the next, all before this request is answered.
    for (std::size_t i = 0; i < targets.size(); ++i) {
      logfire::httplib_client client(targets[i].base);
      client.raw().set_connection_timeout(5);
      client.raw().set_read_timeout(10);
      (void)client.post(targets[i].path, parsed.items[i].arguments, "application/json");
    }
    res.status = 200;
  });

  const int bound = port == 0 ? svr.bind_to_any_port(host) : (svr.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    std::fprintf(stderr, "w3c_test_service: cannot listen on %s:%d\n", host.c_str(), port);
    return 1;
  }
  std::thread stopper([&svr, stop_signals] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    svr.stop();
  });
  std::printf("w3c_test_service: listening on http://%s:%d/test\n", host.c_str(), bound);
  std::fflush(stdout);

  const bool ok = svr.listen_after_bind();
  if (!ok) pthread_kill(stopper.native_handle(), SIGTERM);  // the listener failed: end the waiter too
  stopper.join();
  return ok ? 0 : 1;
}
