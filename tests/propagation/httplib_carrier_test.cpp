// The cpp-httplib carrier against real httplib::Headers (a case-insensitive multimap) and a real
// request over loopback: what a server handler sees is what the propagator reads.
#include "logfire/httplib_carrier.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr const char* k_tp = "00-12345678901234567890123456789012-1234567890123456-01";

TEST(httplib_carrier, reads_any_casing_and_every_value) {
  httplib::Headers h{{"TraceParent", k_tp}, {"tracestate", "a=1"}, {"TRACESTATE", "b=2"}};
  logfire::httplib_carrier c{h};
  const auto ctx = logfire::extract_context(*logfire::default_propagator(), c);
  EXPECT_TRUE(ctx.has_trace());
  EXPECT_EQ(ctx.trace_state, "a=1,b=2");
  h.emplace("traceparent", k_tp);
  EXPECT_FALSE(logfire::extract_context(*logfire::default_propagator(), c).has_trace());
}

// Every tracestate value character: printable ASCII (0x20-0x7E) but ',' and '='.
std::string all_value_chars() {
  std::string v;
  for (int c = 0x20; c <= 0x7E; ++c)
    if (c != ',' && c != '=') v += static_cast<char>(c);
  return v;
}

TEST(httplib_carrier, tracestate_is_read_exactly_and_baggage_restored) {
  const std::string ts = "all=" + all_value_chars() + R"(,q="x\y")";
  httplib::Headers h{{"traceparent", k_tp}, {"tracestate", ts}, {"baggage", "user=J\xC3\xB6rg"}};
  logfire::httplib_carrier c{h};
  const auto ctx = logfire::extract_context(*logfire::default_propagator(), c);
  EXPECT_EQ(ctx.trace_state, ts);  // no "%22" / "%5C" for '"' and '\'
  ASSERT_EQ(ctx.baggage.size(), 1u);
  EXPECT_EQ(ctx.baggage[0].value, "J\xC3\xB6rg");  // re-encoded, then decoded by W3C baggage
}

TEST(httplib_carrier, mutable_carrier_replaces_headers) {
  httplib::Headers h{{"TraceParent", "stale"}};
  logfire::httplib_mutable_carrier c{h};
  logfire::propagation_context ctx;
  ctx.span.trace = logfire::trace_id::from_hex("12345678901234567890123456789012");
  ctx.span.span = logfire::span_id::from_hex("00000000000000ff");
  logfire::default_propagator()->inject(ctx, c);
  ASSERT_EQ(h.count("traceparent"), 1u);
  EXPECT_EQ(h.find("traceparent")->second, "00-12345678901234567890123456789012-00000000000000ff-00");
}

TEST(httplib_carrier, over_loopback) {
  httplib::Server svr;
  std::string seen_trace;
  std::string seen_trace_state;
  std::vector<logfire::baggage_member> seen_baggage;
  svr.Get("/", [&](const httplib::Request& req, httplib::Response& res) {
    logfire::httplib_carrier in{req.headers};
    const auto ctx = logfire::extract_context(*logfire::default_propagator(), in);
    seen_trace = ctx.has_trace() ? ctx.span.trace.to_hex() : "";
    seen_baggage = ctx.baggage;
    seen_trace_state = ctx.trace_state;
    res.set_content("ok", "text/plain");
  });
  const int port = svr.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread t([&] { svr.listen_after_bind(); });
  for (int i = 0; i < 5000 && !svr.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  logfire::propagation_context out;
  out.span.trace = logfire::trace_id::from_hex("4bf92f3577b34da6a3ce929d0e0e4736");
  out.span.span = logfire::span_id::from_hex("00f067aa0ba902b7");
  out.span.flags = 1;
  // Values that cpp-httplib's server percent-decodes before the handler sees them.
  out.baggage = {{"user", "J\xC3\xB6rg", ""}, {"node", "DF 28", "ttl=5"}, {"plain", "v", ""}};
  // Every tracestate value character (one by one: tests/httplib/w3c_service_test.cpp).
  out.trace_state = "all=" + all_value_chars() + ",vendor@=1";
  httplib::Headers req_headers;
  logfire::httplib_mutable_carrier c{req_headers};
  logfire::default_propagator()->inject(out, c);

  httplib::Client cli("127.0.0.1", port);
  const auto res = cli.Get("/", req_headers);
  svr.stop();
  t.join();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(seen_trace, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(seen_baggage, out.baggage);
  EXPECT_EQ(seen_trace_state, out.trace_state);
}

}  // namespace
