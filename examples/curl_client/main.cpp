// libcurl into Logfire: CLIENT spans for transfers run by curl_easy_perform and by a multi
// handle, with the trace context in their headers. A small cpp-httplib server on 127.0.0.1
// stands in for the services called, so the example runs anywhere.
#include <curl/curl.h>
#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "logfire/config.hpp"
#include "logfire/curl.hpp"
#include "logfire/logfire.hpp"
#include "logfire/stats.hpp"

namespace {

std::size_t discard(char*, std::size_t size, std::size_t n, void*) {
  return size * n;
}

}  // namespace

int main() {
  auto lf = logfire::configure({.service_name = "curl-example"});
  if (!lf) {
    std::fprintf(stderr, "configure failed: %s\n", lf.error().c_str());
    return 1;
  }
  httplib::Server prices;
  prices.Get("/price/(\\d+)", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content("{\"sku\": " + req.matches[1].str() + ", \"price\": 9.5}", "application/json");
  });
  prices.Get("/old-price", [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/price/1"); });
  const int port = prices.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { prices.listen_after_bind(); });
  while (!prices.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const std::string base = "http://127.0.0.1:" + std::to_string(port);

  curl_global_init(CURL_GLOBAL_DEFAULT);
  curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
  {
    logfire::span checkout("checkout {cart}", {{"cart", 7}});

    // One transfer on this thread, following a redirect: two CLIENT spans, each with its own
    // traceparent; the second has http.request.resend_count = 1.
    CURL* easy = curl_easy_init();
    curl_easy_setopt(easy, CURLOPT_URL, (base + "/old-price").c_str());
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &discard);
    logfire::curl_easy_perform(easy, headers);
    curl_easy_cleanup(easy);

    // Three transfers at once on a multi handle.
    CURLM* multi = curl_multi_init();
    CURL* handles[3];
    for (int i = 0; i < 3; ++i) {
      handles[i] = curl_easy_init();
      curl_easy_setopt(handles[i], CURLOPT_URL, (base + "/price/" + std::to_string(i + 2)).c_str());
      curl_easy_setopt(handles[i], CURLOPT_WRITEFUNCTION, &discard);
      logfire::curl_multi_add_handle(multi, handles[i], headers);
    }
    for (int done = 0; done < 3;) {
      int running = 0;
      curl_multi_perform(multi, &running);
      int left = 0;
      while (CURLMsg* m = logfire::curl_multi_info_read(multi, &left)) done += m->msg == CURLMSG_DONE ? 1 : 0;
      if (done < 3) curl_multi_poll(multi, nullptr, 0, 100, nullptr);
    }
    for (CURL* h : handles) {
      logfire::curl_multi_remove_handle(multi, h);
      curl_easy_cleanup(h);
    }
    curl_multi_cleanup(multi);
  }
  curl_slist_free_all(headers);
  prices.stop();
  serving.join();
  logfire::force_flush();
  std::printf("%s\n", logfire::stats().summary().c_str());
  return 0;
}
