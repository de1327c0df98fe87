// A service ready for Google Cloud Run, instrumented with logfire-cpp (docs/cloud-run.md).
//
//   PORT=8080 K_SERVICE=orders cloud_run_service          # what Cloud Run runs
//   OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 PORT=0 cloud_run_service --host 127.0.0.1
//
// What Cloud Run's container contract asks, and what the service does:
// - listens on 0.0.0.0 (all interfaces) at $PORT, 8080 when unset (PORT=0 picks a free port; the
//   first line on stdout says which, for tests). --host narrows the address;
// - on SIGTERM (Cloud Run sends it 10 s before it kills the instance) stops taking requests,
//   lets the ones in flight finish, flushes its telemetry under an 8 s budget counted from the
//   signal, prints logfire::stats() (every record exported or dropped under a named reason) and
//   exits 0. SIGINT does the same;
// - logs to stdout: its own lines and the console view of its spans and logs (LOGFIRE_CONSOLE=0
//   turns the latter off); the SDK's own warnings go to stderr. Cloud Run collects both;
// - exports wherever the environment says: LOGFIRE_TOKEN (Logfire), OTEL_EXPORTER_OTLP_ENDPOINT
//   (any OTLP/HTTP backend), and every other LOGFIRE_* / OTEL_* variable.
// Defaults chosen for Cloud Run, each overridden by its variable when set: the service name is
// $K_SERVICE (LOGFIRE_SERVICE_NAME / OTEL_SERVICE_NAME), the propagators read
// X-Cloud-Trace-Context as well as traceparent (OTEL_PROPAGATORS). FLUSH_AFTER_EACH_REQUEST=1
// (this program's own variable) flushes at the end of every request, for services whose CPU
// is only allocated during requests (docs/cloud-run.md, "CPU throttling").
//
// Routes: GET / answers "ok"; GET /orders/{id} loads an order (a span and a log inside the
// request's SERVER span); ids above 1000 are not found (404, level warn).
#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "logfire/config.hpp"
#include "logfire/httplib.hpp"
#include "logfire/logfire.hpp"
#include "logfire/stats.hpp"

namespace {

using std::chrono::steady_clock;

// Cloud Run kills the instance 10 s after SIGTERM; the flush gets 8 s of them from the signal,
// leaving the rest for the requests still in flight and the exit itself.
constexpr std::chrono::milliseconds k_stop_budget{8000};

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

bool env_true(const char* name) {
  const auto v = env(name);
  return v && (*v == "1" || *v == "true" || *v == "TRUE" || *v == "yes" || *v == "on");
}

// $PORT: 8080 when unset; 0 picks a free port. Anything else is an error naming the value.
std::optional<int> port_from_env() {
  const auto v = env("PORT");
  if (!v) return 8080;
  char* end = nullptr;
  const long p = std::strtol(v->c_str(), &end, 10);
  if (*end != '\0' || p < 0 || p > 65535) return std::nullopt;
  return static_cast<int>(p);
}

void handle_order(const httplib::Request& req, httplib::Response& res) {
  const long id = std::strtol(req.matches[1].str().c_str(), nullptr, 10);
  logfire::span load("load order {order_id}", {{"order_id", id}});
  if (id > 1000) {
    logfire::warn("order {order_id} not found", {{"order_id", id}});
    res.status = 404;
    res.set_content("{\"error\":\"not found\"}\n", "application/json");
    return;
  }
  logfire::info("order {order_id} has {items} items", {{"order_id", id}, {"items", 1 + id % 4}});
  res.set_content("{\"order\":" + std::to_string(id) + ",\"status\":\"paid\"}\n", "application/json");
}

}  // namespace

// main reads as the container's life in order: arguments, configure, serve, stop on a signal,
// flush; split into functions it would hide that order, which is what the example shows.
int main(int argc, char** argv) {
  std::string host = "0.0.0.0";
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--host" && i + 1 < argc) {
      host = argv[++i];
    } else {
      std::fprintf(stderr, "usage: cloud_run_service [--host ADDRESS]   (the port comes from $PORT, default 8080)\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  const auto port = port_from_env();
  if (!port) {
    std::fprintf(stderr, "cloud_run_service: PORT is not a port number (0-65535): '%s'\n", env("PORT")->c_str());
    return 2;
  }

  // SIGTERM/SIGINT are blocked here, before any thread starts (every thread inherits the mask),
  // and taken by one waiting thread below: no async-signal-safety concerns anywhere.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  logfire::options opts;
  if (!env("LOGFIRE_SERVICE_NAME") && !env("OTEL_SERVICE_NAME")) opts.service_name = env("K_SERVICE");
  if (!env("OTEL_PROPAGATORS")) opts.propagators = "tracecontext,baggage,xcloudtrace";
  auto lf = logfire::configure(std::move(opts));
  if (!lf) {
    std::fprintf(stderr, "cloud_run_service: %s\n", lf.error().c_str());
    return 1;
  }

  httplib::Server svr;
  const bool flush_each = env_true("FLUSH_AFTER_EACH_REQUEST");
  auto routes = logfire::instrument_httplib(svr, {.flush_after_each_request = flush_each});
  routes.get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  routes.get(R"(/orders/(\d+))", handle_order, "/orders/{order_id}");

  const int bound = *port == 0 ? svr.bind_to_any_port(host) : (svr.bind_to_port(host, *port) ? *port : -1);
  if (bound <= 0) {
    std::fprintf(stderr, "cloud_run_service: cannot listen on %s:%d\n", host.c_str(), *port);
    return 1;
  }

  std::atomic<steady_clock::rep> signalled_at{0};
  std::atomic<bool> listener_failed{false};
  std::thread waiter([&] {
    int sig = 0;
    if (sigwait(&stop_signals, &sig) != 0 || listener_failed.load()) return;
    signalled_at.store(steady_clock::now().time_since_epoch().count());
    std::printf("cloud_run_service: %s: no new requests; flushing telemetry (at most %lld ms)\n",
                sig == SIGTERM ? "SIGTERM" : "SIGINT", static_cast<long long>(k_stop_budget.count()));
    std::fflush(stdout);
    // stop() does nothing before the listener runs: a signal in that first instant waits for it.
    while (!svr.is_running() && !listener_failed.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    svr.stop();
  });
  std::printf("cloud_run_service: listening on http://%s:%d (K_SERVICE=%s, flush after each request: %s)\n",
              host.c_str(), bound, env("K_SERVICE").value_or("unset").c_str(), flush_each ? "on" : "off");
  std::fflush(stdout);

  const bool listened = svr.listen_after_bind();  // returns once stop() ran and requests finished
  if (!listened) {
    // The listener failed on its own: wake the waiting thread to end it, then shut down as for
    // a signal.
    listener_failed.store(true);
    signalled_at.store(steady_clock::now().time_since_epoch().count());
    pthread_kill(waiter.native_handle(), SIGTERM);
  }
  waiter.join();

  // What is left of the budget since the signal goes to the flush; shutdown() sends what it can
  // and counts the rest under a named reason (or leaves it in the spool).
  const auto since_signal = steady_clock::now() - steady_clock::time_point(steady_clock::duration(signalled_at.load()));
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(k_stop_budget - since_signal);
  (void)logfire::shutdown(std::max(left, std::chrono::milliseconds(100)));
  std::printf("cloud_run_service: stopped; telemetry: %s\n", logfire::stats().summary().c_str());
  std::fflush(stdout);
  return listened ? 0 : 1;  // telemetry never decides the exit status
}
