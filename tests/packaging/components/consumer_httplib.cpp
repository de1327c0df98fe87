// Uses logfire::httplib from the installed package: a request to an instrumented server.
#include <thread>

#include "consumer.hpp"
#include "logfire/httplib.hpp"

int main() {
  auto lf = consumer::configure();
  httplib::Server svr;
  logfire::instrument_httplib(svr).get(
      "/ok", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
  const int port = svr.bind_to_any_port("127.0.0.1");
  std::thread t([&] { svr.listen_after_bind(); });
  while (!svr.is_running()) std::this_thread::yield();
  logfire::httplib_client c("127.0.0.1", port);
  const auto res = c.get("/ok");
  svr.stop();
  t.join();
  return res ? consumer::expect("httplib", logfire::span_kind::server, "GET /ok") : 1;
}
