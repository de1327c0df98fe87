// Uses logfire::curl from the installed package: a transfer to a port nothing listens on.
#include "consumer.hpp"
#include "logfire/curl.hpp"

int main() {
  auto lf = consumer::configure();
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL* h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_URL, "http://127.0.0.1:1/");
  const CURLcode rc = logfire::curl_easy_perform(h, nullptr);
  curl_easy_cleanup(h);
  return rc != CURLE_OK ? consumer::expect("curl", logfire::span_kind::client, "GET {url.full}") : 1;
}
