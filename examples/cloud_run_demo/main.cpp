// The demo's service and its simulated Google Cloud Run front end, in one program.
//
//   cloud_run_demo service [--port N]                 # the instrumented checkout service
//   cloud_run_demo front-end --target URL [--requests N] [--trace-ids FILE]
//
// The service is a cpp-httplib server instrumented with logfire-cpp: a SERVER span per request
// (logfire::instrument_httplib), spans and logs inside the handler, an exception when a payment
// is declined. It exports wherever the environment says (scripts/demo points
// OTEL_EXPORTER_OTLP_ENDPOINT at `logfire-cpp serve`) and prints the console tree. Run it with
// K_SERVICE set, as Cloud Run does, and it knows it is on Cloud Run.
//
// The front end sends what Cloud Run's sends: every request carries a `traceparent` marked
// *not sampled* (…-00) and the legacy `X-Cloud-Trace-Context: TRACE/SPAN;o=0`. A standard
// OpenTelemetry SDK would record none of those requests; logfire-cpp records them all in the
// platform's trace ids (docs/distributed-tracing.md). On SIGTERM the service stops, flushes and
// prints logfire::stats(): every record exported or dropped under a named reason.
#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include "logfire/config.hpp"
#include "logfire/httplib.hpp"
#include "logfire/logfire.hpp"
#include "logfire/metric_stats.hpp"
#include "logfire/metrics.hpp"
#include "logfire/stats.hpp"

namespace shop {
struct payment_declined : std::runtime_error {
  using std::runtime_error::runtime_error;
};
}  // namespace shop

namespace {

// Metrics beside the traces: orders by outcome, and the amounts charged (an exponential
// histogram). They go to the same destination's /v1/metrics, every 60 s and at shutdown.
auto g_orders = logfire::metric_counter("checkout.orders", {.unit = "{order}", .description = "orders by outcome"});
auto g_amount = logfire::metric_histogram("checkout.amount", {.unit = "EUR", .description = "amount per order"});

// Every fifth order has its card declined.
void handle_checkout(const httplib::Request& req, httplib::Response& res) {
  const long order_id = std::strtol(req.matches[1].str().c_str(), nullptr, 10);
  const long items = 1 + order_id % 4;
  const double amount = 9.99 * static_cast<double>(items);
  g_amount.record(amount);
  {
    logfire::span load("load cart {order_id}", {{"order_id", order_id}});
    std::this_thread::sleep_for(std::chrono::milliseconds(2 + order_id % 5));
    logfire::info("cart has {items} items", {{"items", items}});
  }
  logfire::span charge("charge {amount} to the card on file", {{"amount", amount}, {"currency", "EUR"}},
                       {.tags = {"payments"}});
  try {
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + order_id % 7));
    if (order_id % 5 == 0) throw shop::payment_declined("card ending 4242 declined: insufficient funds");
    logfire::notice("order {order_id} paid", {{"order_id", order_id}});
    g_orders.add(1, {{"outcome", "paid"}});
    res.set_content("{\"status\":\"paid\"}", "application/json");
  } catch (const shop::payment_declined& e) {
    charge.record_exception(e, true);
    logfire::error("payment failed for order {order_id}", {{"order_id", order_id}});
    g_orders.add(1, {{"outcome", "declined"}});
    res.status = 502;
    res.set_content("{\"status\":\"declined\"}", "application/json");
  }
}

int run_service(int port) {
  // Stop on SIGINT/SIGTERM: block them here, wait for them on one thread.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  auto lf = logfire::configure({.service_name = "checkout", .service_version = "1.4.2"});
  if (!lf) {
    std::fprintf(stderr, "checkout: %s\n", lf.error().c_str());
    return 1;
  }
  httplib::Server svr;
  auto routes = logfire::instrument_httplib(svr);
  routes.get(R"(/checkout/(\d+))", handle_checkout, "/checkout/{order_id}");
  routes.get("/health", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });

  if (port == 0) {
    port = svr.bind_to_any_port("127.0.0.1");
  } else if (!svr.bind_to_port("127.0.0.1", port)) {
    port = -1;
  }
  if (port <= 0) {
    std::fprintf(stderr, "checkout: cannot listen on 127.0.0.1\n");
    return 1;
  }
  std::printf("checkout: listening on http://127.0.0.1:%d (K_SERVICE=%s)\n", port,
              std::getenv("K_SERVICE") ? std::getenv("K_SERVICE") : "unset");
  std::fflush(stdout);
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop, &sig);
    svr.stop();
  });
  svr.listen_after_bind();
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();

  const bool flushed = logfire::force_flush(std::chrono::seconds(10));
  const auto s = logfire::stats();
  std::fflush(stdout);
  std::printf("checkout: logfire stats: %s\n", s.summary().c_str());
  std::printf("checkout: metrics: %s\n", logfire::metrics_stats().summary().c_str());
  for (std::size_t r = 0; r < logfire::drop_reason_count; ++r) {
    if (s.dropped[r] > 0) {
      std::printf("checkout:   lost %" PRIu64 " (%s)\n", s.dropped[r],
                  std::string(logfire::to_string(static_cast<logfire::drop_reason>(r))).c_str());
    }
  }
  std::fflush(stdout);
  return flushed ? 0 : 1;
}

// The simulated front end. Sequential requests, like a burst from one client.
// Writes each request's trace id to `trace_ids` (when given), so the demo can check that the
// service's spans joined the platform's traces.
int run_front_end(const std::string& target, int requests, const std::string& trace_ids) {
  std::FILE* ids = trace_ids.empty() ? nullptr : std::fopen(trace_ids.c_str(), "w");
  httplib::Client cli(target);
  cli.set_connection_timeout(5);
  cli.set_read_timeout(30);
  std::mt19937_64 rng(std::random_device{}());
  int ok = 0, failed = 0, broken = 0;
  for (int i = 1; i <= requests; ++i) {
    char trace[33], span[17];
    std::snprintf(trace, sizeof trace, "%016" PRIx64 "%016" PRIx64, rng(), rng());
    const std::uint64_t span_value = rng() | 1;
    std::snprintf(span, sizeof span, "%016" PRIx64, span_value);
    httplib::Headers headers = {
        {"traceparent", std::string("00-") + trace + "-" + span + "-00"},  // not sampled
        {"X-Cloud-Trace-Context", std::string(trace) + "/" + std::to_string(span_value) + ";o=0"},
        {"X-Forwarded-For", "203.0.113." + std::to_string(i % 250)},
        {"User-Agent", "cloud-run-demo-front-end"},
    };
    if (ids != nullptr) std::fprintf(ids, "%s\n", trace);
    auto res = cli.Get("/checkout/" + std::to_string(i), headers);
    if (!res) {
      ++broken;
    } else if (res->status < 400) {
      ++ok;
    } else {
      ++failed;
    }
  }
  if (ids != nullptr) std::fclose(ids);
  std::printf("front end: sent %d requests (traceparent ...-00 and X-Cloud-Trace-Context o=0): %d ok, %d failed",
              requests, ok, failed);
  if (broken > 0) std::printf(", %d without an answer", broken);
  std::printf("\n");
  return broken == 0 ? 0 : 1;
}

void usage() {
  std::fprintf(stderr,
               "usage: cloud_run_demo service [--port N]\n"
               "       cloud_run_demo front-end --target http://127.0.0.1:PORT [--requests N] [--trace-ids FILE]\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage();
    return 2;
  }
  const std::string role = argv[1];
  int port = 0;
  int requests = 25;
  std::string target;
  std::string trace_ids;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--port" && i + 1 < argc) {
      port = std::atoi(argv[++i]);
    } else if (a == "--requests" && i + 1 < argc) {
      requests = std::atoi(argv[++i]);
    } else if (a == "--target" && i + 1 < argc) {
      target = argv[++i];
    } else if (a == "--trace-ids" && i + 1 < argc) {
      trace_ids = argv[++i];
    } else {
      usage();
      return 2;
    }
  }
  if (role == "service") return run_service(port);
  if (role == "front-end" && !target.empty() && requests > 0) return run_front_end(target, requests, trace_ids);
  usage();
  return 2;
}
