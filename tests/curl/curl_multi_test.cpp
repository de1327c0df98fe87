// Transfers on a libcurl multi handle: spans start at logfire::curl_multi_add_handle as children
// of the adding thread's current span, never become any thread's current span, carry their own
// traceparent per request, and end when logfire::curl_multi_info_read reports them done (or
// logfire::curl_multi_remove_handle removes them first), whichever thread drives the handle.
#include <atomic>
#include <map>
#include <thread>

#include "curl/curl_test_support.hpp"
#include "logfire/curl.hpp"

namespace {

using namespace curl_test;
using httplib_test::int_attr;
using httplib_test::of_kind;
using httplib_test::quiet_options;

std::string expected_traceparent(const logfire::stored_record& s) {
  return "00-" + s.context.trace.to_hex() + "-" + s.context.span.to_hex() + "-0" +
         std::to_string(s.context.flags & logfire::trace_flags::known);
}

class multi_handle {
 public:
  multi_handle() : m_(curl_multi_init()) {}
  ~multi_handle() { curl_multi_cleanup(m_); }
  multi_handle(const multi_handle&) = delete;
  multi_handle& operator=(const multi_handle&) = delete;
  CURLM* get() const { return m_; }

  // Drives transfers until `want` are reported done through logfire::curl_multi_info_read (at
  // most 20 s); returns the results by handle.
  std::map<CURL*, CURLcode> run(std::size_t want) const {
    std::map<CURL*, CURLcode> done;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (done.size() < want && std::chrono::steady_clock::now() < deadline) {
      int running = 0;
      curl_multi_perform(m_, &running);
      int left = 0;
      while (CURLMsg* msg = logfire::curl_multi_info_read(m_, &left))
        if (msg->msg == CURLMSG_DONE) done[msg->easy_handle] = msg->data.result;
      if (done.size() < want) curl_multi_poll(m_, nullptr, 0, 100, nullptr);
    }
    return done;
  }

 private:
  CURLM* m_;
};

struct multi : ::testing::Test {
  std::shared_ptr<logfire::memory_exporter> mem = std::make_shared<logfire::memory_exporter>();
  logfire::setup lf;
  recording_server server;

  void SetUp() override {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    lf = logfire::configure(quiet_options(mem));
    ASSERT_TRUE(lf) << lf.error();
    ASSERT_TRUE(server.start());
  }
  std::vector<logfire::stored_record> records() {
    EXPECT_TRUE(logfire::force_flush());
    return mem->records();
  }
  // The recorded request whose traceparent names `s`.
  const received* request_of(const std::vector<received>& got, const logfire::stored_record& s) {
    for (const auto& r : got)
      if (r.one("traceparent") == expected_traceparent(s)) return &r;
    return nullptr;
  }
};

TEST_F(multi, concurrent_transfers_are_children_of_the_adding_span_and_never_current) {
  multi_handle m;
  easy_handle a, b, c;
  a.url(server.url("/ok"));
  b.url(server.url("/redirect"));
  curl_easy_setopt(b.get(), CURLOPT_FOLLOWLOCATION, 1L);
  c.url(server.url("/missing"));
  header_list headers{"X-Batch: 7"};
  const auto before = headers.snapshot();
  logfire::span_context batch;
  {
    logfire::span s("batch");
    batch = s.context();
    for (CURL* h : {a.get(), b.get(), c.get()})
      ASSERT_EQ(logfire::curl_multi_add_handle(m.get(), h, headers.get()), CURLM_OK);
    EXPECT_EQ(logfire::current_span_context(), batch);  // adding changed nothing here
    logfire::info("between");
    const auto done = m.run(3);
    ASSERT_EQ(done.size(), 3u);
    for (const auto& [h, rc] : done) EXPECT_EQ(rc, CURLE_OK);
    EXPECT_EQ(logfire::curl_transfers_in_flight(), 0u);
  }
  for (CURL* h : {a.get(), b.get(), c.get()}) curl_multi_remove_handle(m.get(), h);
  EXPECT_EQ(headers.snapshot(), before);

  const auto recs = records();
  const auto spans = of_kind(recs, logfire::span_kind::client);
  ASSERT_EQ(spans.size(), 4u);  // /ok, /redirect and its /ok, /missing
  const auto got = server.requests();
  ASSERT_EQ(got.size(), 4u);
  std::map<std::string, int> by_path;
  for (const auto& s : spans) {
    EXPECT_EQ(s.context.trace, batch.trace);
    EXPECT_EQ(s.parent, batch.span);
    const received* r = request_of(got, s);
    ASSERT_TRUE(r) << s.message;
    EXPECT_EQ(r->one("X-Batch"), "7");
    ++by_path[r->path];
    if (r->path == "/missing") {
      EXPECT_EQ(s.lvl, logfire::level::warn);
    }
    if (r->path == "/redirect") {
      EXPECT_EQ(int_attr(s, "http.response.status_code"), 302);
    }
  }
  EXPECT_EQ(by_path["/ok"], 2);
  EXPECT_EQ(by_path["/redirect"], 1);
  EXPECT_EQ(by_path["/missing"], 1);
  for (const auto& l : httplib_test::logs(recs)) EXPECT_EQ(l.parent, batch.span) << l.message;
}

TEST_F(multi, a_handle_driven_on_another_thread_keeps_the_adding_threads_parent) {
  multi_handle m;
  easy_handle h;
  h.url(server.url("/ok"));
  logfire::span_context adder;
  {
    logfire::span s("enqueue");
    adder = s.context();
    ASSERT_EQ(logfire::curl_multi_add_handle(m.get(), h.get(), nullptr), CURLM_OK);
  }
  logfire::span_context worker;
  std::thread driver([&] {
    logfire::span s("event loop");
    worker = s.context();
    EXPECT_EQ(m.run(1).size(), 1u);
  });
  driver.join();
  curl_multi_remove_handle(m.get(), h.get());
  const auto spans = of_kind(records(), logfire::span_kind::client);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].parent, adder.span);
  EXPECT_NE(spans[0].parent, worker.span);
  EXPECT_EQ(int_attr(spans[0], "http.response.status_code"), 200);
}

TEST_F(multi, removing_an_unfinished_transfer_ends_its_span_as_cancelled) {
  multi_handle m;
  easy_handle h;
  h.url(server.url("/slow"));
  ASSERT_EQ(logfire::curl_multi_add_handle(m.get(), h.get(), nullptr), CURLM_OK);
  std::atomic<bool> stop{false};
  std::thread driver([&] {
    while (!stop) {
      int running = 0;
      curl_multi_perform(m.get(), &running);
      curl_multi_poll(m.get(), nullptr, 0, 20, nullptr);
    }
  });
  server.wait_for_slow();
  stop = true;
  driver.join();
  EXPECT_EQ(logfire::curl_transfers_in_flight(), 1u);
  ASSERT_EQ(logfire::curl_multi_remove_handle(m.get(), h.get()), CURLM_OK);
  EXPECT_EQ(logfire::curl_transfers_in_flight(), 0u);
  server.release();
  const auto spans = of_kind(records(), logfire::span_kind::client);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].string_attr("error.type"), "cancelled");
  EXPECT_EQ(spans[0].status, logfire::status_code::error);
  EXPECT_EQ(spans[0].find("http.response.status_code"), nullptr);
}

TEST_F(multi, a_transfer_whose_end_was_not_seen_is_ended_when_its_handle_is_added_again) {
  multi_handle m;
  easy_handle h;
  h.url(server.url("/ok"));
  ASSERT_EQ(logfire::curl_multi_add_handle(m.get(), h.get(), nullptr), CURLM_OK);
  // The application reads and removes with libcurl's own functions this time.
  for (int i = 0; i < 200; ++i) {
    int running = 0;
    curl_multi_perform(m.get(), &running);
    if (!running) break;
    curl_multi_poll(m.get(), nullptr, 0, 50, nullptr);
  }
  int left = 0;
  while (curl_multi_info_read(m.get(), &left)) {
  }
  curl_multi_remove_handle(m.get(), h.get());
  EXPECT_EQ(logfire::curl_transfers_in_flight(), 1u);
  ASSERT_EQ(logfire::curl_multi_add_handle(m.get(), h.get(), nullptr), CURLM_OK);
  EXPECT_EQ(m.run(1).size(), 1u);
  logfire::curl_multi_remove_handle(m.get(), h.get());
  EXPECT_EQ(logfire::curl_transfers_in_flight(), 0u);
  const auto spans = of_kind(records(), logfire::span_kind::client);
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].string_attr("error.type"), "_OTHER");
  EXPECT_NE(spans[0].status_message.find("logfire::curl_multi_info_read"), std::string::npos);
  EXPECT_EQ(spans[1].status, logfire::status_code::unset);
}

TEST_F(multi, a_handle_libcurl_refuses_is_left_alone) {
  multi_handle m;
  easy_handle h;
  h.url(server.url("/ok"));
  ASSERT_EQ(logfire::curl_multi_add_handle(m.get(), h.get(), nullptr), CURLM_OK);
  EXPECT_EQ(logfire::curl_multi_add_handle(m.get(), h.get(), nullptr), CURLM_ADDED_ALREADY);
  EXPECT_EQ(logfire::curl_transfers_in_flight(), 1u);
  EXPECT_EQ(m.run(1).size(), 1u);
  logfire::curl_multi_remove_handle(m.get(), h.get());
  const auto spans = of_kind(records(), logfire::span_kind::client);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].status, logfire::status_code::unset);
  const auto got = server.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].one("traceparent"), expected_traceparent(spans[0]));
}

}  // namespace
