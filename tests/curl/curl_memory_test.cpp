// The header copies given to libcurl are freed: with libcurl's allocations counted through
// curl_global_init_mem (which must come before any other use of libcurl in the process, hence
// a program of its own), many instrumented transfers leave exactly as many blocks allocated as
// one does, on the easy and on the multi path.
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "curl/curl_test_support.hpp"
#include "logfire/curl.hpp"

namespace {

using namespace curl_test;

std::atomic<long> g_live{0};  // blocks libcurl allocated and has not freed

void* counted_malloc(std::size_t n) {
  void* p = std::malloc(n);
  if (p) ++g_live;
  return p;
}
void counted_free(void* p) {
  if (p) --g_live;
  std::free(p);
}
void* counted_realloc(void* p, std::size_t n) {
  void* q = std::realloc(p, n);
  if (!p && q) ++g_live;
  if (p && !q && n == 0) --g_live;
  return q;
}
char* counted_strdup(const char* s) {
  char* p = static_cast<char*>(counted_malloc(std::strlen(s) + 1));
  if (p) std::strcpy(p, s);
  return p;
}
void* counted_calloc(std::size_t n, std::size_t size) {
  void* p = std::calloc(n, size);
  if (p) ++g_live;
  return p;
}

class memory : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_EQ(curl_global_init_mem(CURL_GLOBAL_DEFAULT, counted_malloc, counted_free, counted_realloc, counted_strdup,
                                   counted_calloc),
              CURLE_OK);
  }
  void SetUp() override {
    lf = logfire::configure(httplib_test::quiet_options(mem));
    ASSERT_TRUE(lf) << lf.error();
    ASSERT_TRUE(server.start());
  }
  std::shared_ptr<logfire::memory_exporter> mem = std::make_shared<logfire::memory_exporter>();
  logfire::setup lf;
  recording_server server;
};

TEST_F(memory, easy_transfers_free_their_header_copies) {
  header_list headers{"Accept: text/plain", "X-Tenant: acme"};
  easy_handle h;
  h.url(server.url("/ok"));
  logfire::span parent("parent");
  ASSERT_EQ(logfire::curl_easy_perform(h.get(), headers.get()), CURLE_OK);
  const long after_one = g_live.load();
  for (int i = 0; i < 20; ++i) ASSERT_EQ(logfire::curl_easy_perform(h.get(), headers.get()), CURLE_OK);
  EXPECT_EQ(g_live.load(), after_one);
  EXPECT_EQ(server.requests().size(), 21u);
}

TEST_F(memory, multi_transfers_free_their_header_copies) {
  header_list headers{"Accept: text/plain"};
  easy_handle h;
  h.url(server.url("/ok"));
  CURLM* m = curl_multi_init();
  auto one = [&] {
    ASSERT_EQ(logfire::curl_multi_add_handle(m, h.get(), headers.get()), CURLM_OK);
    bool done = false;
    for (int i = 0; i < 400 && !done; ++i) {
      int running = 0;
      curl_multi_perform(m, &running);
      int left = 0;
      while (CURLMsg* msg = logfire::curl_multi_info_read(m, &left)) done = done || msg->msg == CURLMSG_DONE;
      if (!done) curl_multi_poll(m, nullptr, 0, 10, nullptr);
    }
    ASSERT_TRUE(done);
    ASSERT_EQ(logfire::curl_multi_remove_handle(m, h.get()), CURLM_OK);
  };
  one();
  const long after_one = g_live.load();
  for (int i = 0; i < 20; ++i) one();
  EXPECT_EQ(g_live.load(), after_one);
  curl_multi_cleanup(m);
}

}  // namespace
