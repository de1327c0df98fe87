#include "net/curl_global.hpp"

#include <curl/curl.h>

#include <mutex>

namespace logfire::detail {

bool curl_global_init_once() noexcept {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] { ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; });
  return ok;
}

}  // namespace logfire::detail
