// logfire::curl_easy_perform against a real cpp-httplib server on 127.0.0.1 that records the
// headers it gets: a CLIENT span per request on the wire, named by the traceparent it carried,
// the caller's header list sent intact and left untouched, redirects and retries as resends,
// 4xx/5xx and transport failures mapped as in the cpp-httplib integration.
#include <string>

#include "curl/curl_test_support.hpp"
#include "logfire/curl.hpp"
#include "logfire/stats.hpp"
#include "support/otlp_receiver.hpp"

namespace {

using namespace curl_test;
using httplib_test::int_attr;
using httplib_test::of_kind;
using httplib_test::quiet_options;

std::string expected_traceparent(const logfire::stored_record& s) {
  return "00-" + s.context.trace.to_hex() + "-" + s.context.span.to_hex() + "-0" +
         std::to_string(s.context.flags & logfire::trace_flags::known);
}

struct easy : ::testing::Test {
  std::shared_ptr<logfire::memory_exporter> mem = std::make_shared<logfire::memory_exporter>();
  logfire::setup lf;
  recording_server server;

  void SetUp() override {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    auto o = quiet_options(mem);
    o.propagators = "tracecontext,baggage";
    lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    ASSERT_TRUE(server.start());
  }
  std::vector<logfire::stored_record> client_spans() {
    EXPECT_TRUE(logfire::force_flush());
    return of_kind(mem->records(), logfire::span_kind::client);
  }
};

TEST_F(easy, the_callers_headers_arrive_once_and_unchanged_beside_the_trace_context) {
  header_list headers{"Accept: application/json", "X-Request-Id: r-1", "traceparent: 00-stale-ignored",
                      "TraceState: vendor=stale"};
  const auto before = headers.snapshot();
  easy_handle h;
  h.url(server.url("/ok"));
  logfire::span_context parent;
  {
    logfire::span s("checkout");
    parent = s.context();
    ASSERT_EQ(logfire::curl_easy_perform(h.get(), headers.get()), CURLE_OK);
  }
  const auto spans = client_spans();
  ASSERT_EQ(spans.size(), 1u);
  const auto got = server.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].one("Accept"), "application/json");
  EXPECT_EQ(got[0].one("X-Request-Id"), "r-1");
  // Ours replaces the caller's stale ones: exactly one of each.
  EXPECT_EQ(got[0].one("traceparent"), expected_traceparent(spans[0]));
  EXPECT_EQ(got[0].all("tracestate").size(), 0u);  // no incoming tracestate to pass on
  EXPECT_EQ(spans[0].context.trace, parent.trace);
  EXPECT_EQ(spans[0].parent, parent.span);
  // The caller's list: same nodes, same text.
  EXPECT_EQ(headers.snapshot(), before);

  // The handle's CURLOPT_HTTPHEADER is the caller's again: a plain perform sends exactly it.
  ASSERT_EQ(curl_easy_perform(h.get()), CURLE_OK);
  const auto again = server.requests();
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[1].one("traceparent"), "00-stale-ignored");
  EXPECT_EQ(again[1].one("X-Request-Id"), "r-1");
}

TEST_F(easy, a_caller_baggage_header_is_kept_when_there_is_no_baggage_to_send) {
  header_list headers{"baggage: tenant=acme"};
  easy_handle h;
  h.url(server.url("/ok"));
  ASSERT_EQ(logfire::curl_easy_perform(h.get(), headers.get()), CURLE_OK);
  const auto got = server.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].one("baggage"), "tenant=acme");
  EXPECT_EQ(got[0].all("traceparent").size(), 1u);  // a root CLIENT span still sends its context
}

TEST_F(easy, no_header_list_and_no_sdk_still_perform) {
  easy_handle h;
  h.url(server.url("/ok"));
  EXPECT_EQ(logfire::curl_easy_perform(h.get(), nullptr), CURLE_OK);
  logfire::shutdown();
  EXPECT_EQ(logfire::curl_easy_perform(h.get(), nullptr), CURLE_OK);
  const auto got = server.requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].all("traceparent").size(), 1u);
  EXPECT_EQ(got[1].all("traceparent").size(), 0u);  // not configured: nothing injected
}

TEST_F(easy, a_followed_redirect_is_a_second_span_with_its_own_traceparent_and_resend_count) {
  easy_handle h;
  h.url(server.url("/redirect"));
  curl_easy_setopt(h.get(), CURLOPT_FOLLOWLOCATION, 1L);
  {
    logfire::span s("outer");
    ASSERT_EQ(logfire::curl_easy_perform(h.get(), nullptr), CURLE_OK);
  }
  const auto spans = client_spans();
  ASSERT_EQ(spans.size(), 2u);
  const auto got = server.requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].path, "/redirect");
  EXPECT_EQ(got[1].path, "/ok");
  EXPECT_EQ(got[0].one("traceparent"), expected_traceparent(spans[0]));
  EXPECT_EQ(got[1].one("traceparent"), expected_traceparent(spans[1]));
  EXPECT_NE(spans[0].context.span, spans[1].context.span);
  EXPECT_EQ(spans[0].parent, spans[1].parent);  // siblings under "outer"
  EXPECT_EQ(int_attr(spans[0], "http.response.status_code"), 302);
  EXPECT_EQ(spans[0].find("http.request.resend_count"), nullptr);
  EXPECT_EQ(spans[0].string_attr("url.full"), server.url("/redirect"));
  EXPECT_EQ(spans[0].status, logfire::status_code::unset);
  EXPECT_EQ(int_attr(spans[1], "http.response.status_code"), 200);
  EXPECT_EQ(int_attr(spans[1], "http.request.resend_count"), 1);
  EXPECT_EQ(spans[1].string_attr("url.full"), server.url("/ok"));
  EXPECT_EQ(spans[1].message, "GET " + server.url("/ok"));
}

TEST_F(easy, an_authentication_round_is_a_resend) {
  easy_handle h;
  h.url(server.url("/auth"));
  curl_easy_setopt(h.get(), CURLOPT_HTTPAUTH, CURLAUTH_ANY);  // libcurl asks first, then answers
  curl_easy_setopt(h.get(), CURLOPT_USERPWD, "alice:secret");
  ASSERT_EQ(logfire::curl_easy_perform(h.get(), nullptr), CURLE_OK);
  const auto spans = client_spans();
  ASSERT_EQ(spans.size(), 2u);
  const auto got = server.requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].all("Authorization").size(), 0u);
  EXPECT_EQ(got[1].all("Authorization").size(), 1u);
  EXPECT_EQ(got[0].one("traceparent"), expected_traceparent(spans[0]));
  EXPECT_EQ(got[1].one("traceparent"), expected_traceparent(spans[1]));
  EXPECT_EQ(int_attr(spans[0], "http.response.status_code"), 401);
  EXPECT_EQ(spans[0].lvl, logfire::level::warn);
  EXPECT_EQ(int_attr(spans[1], "http.request.resend_count"), 1);
  EXPECT_EQ(int_attr(spans[1], "http.response.status_code"), 200);
}

TEST_F(easy, performing_the_same_request_again_after_a_failure_is_a_resend) {
  server.flaky_failures = 2;
  easy_handle h;
  h.url(server.url("/flaky"));
  long code = 0;
  for (int attempt = 0; attempt < 3 && code != 200; ++attempt) {
    ASSERT_EQ(logfire::curl_easy_perform(h.get(), nullptr), CURLE_OK);
    curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &code);
  }
  ASSERT_EQ(code, 200);
  // Another request on the same handle after the success starts a new call.
  ASSERT_EQ(logfire::curl_easy_perform(h.get(), nullptr), CURLE_OK);
  const auto spans = client_spans();
  ASSERT_EQ(spans.size(), 4u);
  EXPECT_EQ(spans[0].find("http.request.resend_count"), nullptr);
  EXPECT_EQ(int_attr(spans[1], "http.request.resend_count"), 1);
  EXPECT_EQ(int_attr(spans[2], "http.request.resend_count"), 2);
  EXPECT_EQ(spans[3].find("http.request.resend_count"), nullptr);
  for (int i : {0, 1}) {
    EXPECT_EQ(int_attr(spans[i], "http.response.status_code"), 503);
    EXPECT_EQ(spans[i].string_attr("error.type"), "503");
    EXPECT_EQ(spans[i].status, logfire::status_code::error);
  }
  EXPECT_EQ(spans[2].status, logfire::status_code::unset);
}

TEST_F(easy, client_errors_are_warnings_server_errors_and_transport_failures_are_errors) {
  easy_handle h;
  h.url(server.url("/missing"));
  ASSERT_EQ(logfire::curl_easy_perform(h.get(), nullptr), CURLE_OK);
  h.url(server.url("/fail"));
  ASSERT_EQ(logfire::curl_easy_perform(h.get(), nullptr), CURLE_OK);
  h.url("http://127.0.0.1:" + std::to_string(unused_port()) + "/ok");
  EXPECT_EQ(logfire::curl_easy_perform(h.get(), nullptr), CURLE_COULDNT_CONNECT);

  const auto spans = client_spans();
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(spans[0].lvl, logfire::level::warn);
  EXPECT_EQ(spans[0].status, logfire::status_code::unset);
  EXPECT_EQ(spans[0].find("error.type"), nullptr);
  EXPECT_EQ(spans[1].lvl, logfire::level::error);
  EXPECT_EQ(spans[1].status, logfire::status_code::error);
  EXPECT_EQ(spans[1].string_attr("error.type"), "500");
  EXPECT_EQ(spans[1].status_message, "");  // the status code says it all
  EXPECT_EQ(spans[2].status, logfire::status_code::error);
  EXPECT_EQ(spans[2].string_attr("error.type"), "CURLE_COULDNT_CONNECT");
  EXPECT_EQ(spans[2].status_message, "Couldn't connect to server");
  EXPECT_EQ(spans[2].find("http.response.status_code"), nullptr);
  EXPECT_EQ(spans[2].find("network.peer.address"), nullptr);  // never connected
}

TEST_F(easy, unknown_methods_are_other) {
  easy_handle h;
  h.url(server.url("/ok"));
  curl_easy_setopt(h.get(), CURLOPT_CUSTOMREQUEST, "PURGE");
  ASSERT_EQ(logfire::curl_easy_perform(h.get(), nullptr), CURLE_OK);  // httplib answers 400
  const auto spans = client_spans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].name, "HTTP {url.full}");
  EXPECT_EQ(spans[0].string_attr("http.request.method"), "_OTHER");
  EXPECT_EQ(spans[0].string_attr("http.request.method_original"), "PURGE");
}

TEST_F(easy, what_the_callbacks_log_nests_under_the_span) {
  easy_handle h;
  h.url(server.url("/ok"));
  curl_easy_setopt(
      h.get(), CURLOPT_WRITEFUNCTION, +[](char*, std::size_t size, std::size_t n, void*) {
        logfire::info("body chunk");
        return size * n;
      });
  ASSERT_EQ(logfire::curl_easy_perform(h.get(), nullptr), CURLE_OK);
  logfire::info("after");
  ASSERT_TRUE(logfire::force_flush());
  const auto recs = mem->records();
  const auto spans = of_kind(recs, logfire::span_kind::client);
  ASSERT_EQ(spans.size(), 1u);
  const auto logs = httplib_test::logs(recs);
  ASSERT_EQ(logs.size(), 2u);
  EXPECT_EQ(logs[0].parent, spans[0].context.span);
  EXPECT_FALSE(logs[1].parent.valid());  // the span is no longer current after the transfer
}

// Field by field as a backend receives it: OTLP protobuf decoded by libprotobuf.
TEST(easy_otlp, the_client_span_on_the_wire) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  logfire::test::otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  recording_server server;
  ASSERT_TRUE(server.start());
  logfire::options o;
  o.service_name = "curl-test";
  o.console.enabled = false;
  o.read_environment = false;
  o.send_to_logfire = logfire::send_to_logfire::no;
  o.otlp.endpoint = rx.endpoint();
  o.otlp.spool = false;
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();

  easy_handle h;
  const std::string path = "/ok?sig=s3cr3t&page=2";
  std::string url = server.url(path);
  url.insert(url.find("//") + 2, "alice:pw@");
  h.url(url);
  std::string parent_span;
  {
    logfire::span s("checkout");
    parent_span = s.context().span.to_hex();
    ASSERT_EQ(logfire::curl_easy_perform(h.get(), nullptr), CURLE_OK);
  }
  ASSERT_TRUE(logfire::force_flush());
  ASSERT_TRUE(rx.wait_for_spans(2, std::chrono::seconds(20)));
  const auto span = rx.span_named("GET {url.full}");
  ASSERT_TRUE(span);
  auto str = [&](const char* k) {
    const auto* v = logfire::test::find_attribute(*span, k);
    return v ? v->string_value() : std::string("<missing>");
  };
  auto num = [&](const char* k) {
    const auto* v = logfire::test::find_attribute(*span, k);
    return v ? v->int_value() : -1;
  };
  EXPECT_EQ(span->kind(), logfire::test::otlp::span::SPAN_KIND_CLIENT);
  const std::string redacted =
      "http://REDACTED:REDACTED@127.0.0.1:" + std::to_string(server.port()) + "/ok?sig=REDACTED&page=2";
  EXPECT_EQ(str("url.full"), redacted);
  EXPECT_EQ(str("logfire.msg"), "GET " + redacted);
  EXPECT_EQ(str("http.request.method"), "GET");
  EXPECT_EQ(str("server.address"), "127.0.0.1");
  EXPECT_EQ(num("server.port"), server.port());
  EXPECT_EQ(str("network.peer.address"), "127.0.0.1");
  EXPECT_EQ(num("network.peer.port"), server.port());
  EXPECT_EQ(num("http.response.status_code"), 200);
  EXPECT_EQ(str("network.protocol.version"), "1.1");
  EXPECT_EQ(num("logfire.level_num"), 9);
  EXPECT_EQ(span->status().code(), 0);  // unset
  EXPECT_LE(span->start_time_unix_nano(), span->end_time_unix_nano());
  EXPECT_EQ(logfire::test::hex(span->parent_span_id()), parent_span);
  // What the server got names this span.
  const auto got = server.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].one("traceparent"),
            "00-" + logfire::test::hex(span->trace_id()) + "-" + logfire::test::hex(span->span_id()) + "-03");
  const auto stats = logfire::stats();
  EXPECT_EQ(stats.produced, stats.exported + stats.dropped_total()) << stats.summary();
}

}  // namespace
