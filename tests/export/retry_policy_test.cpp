// The retry policy on its own (src/export/retry.hpp): what each answer means, and the waits
// between attempts. The exporter's behaviour with these waits over real HTTP is in
// exporter_retry_test.cpp and exporter_outage_test.cpp.
#include <gtest/gtest.h>

#include <chrono>

#include "export/retry.hpp"

namespace {

using namespace logfire::detail;
using std::chrono::milliseconds;

http_response answer(int status, std::optional<std::string> retry_after = std::nullopt) {
  http_response r;
  r.status = status;
  r.retry_after = std::move(retry_after);
  return r;
}

TEST(retry_policy, each_answer_has_one_meaning) {
  EXPECT_EQ(classify(answer(200)), outcome::delivered);
  EXPECT_EQ(classify(answer(204)), outcome::delivered);
  EXPECT_EQ(classify(answer(413)), outcome::split);
  for (int status : {0, 408, 429, 500, 502, 503, 504}) EXPECT_EQ(classify(answer(status)), outcome::retry) << status;
  for (int status : {100, 301, 400, 401, 403, 404, 415})
    EXPECT_EQ(classify(answer(status)), outcome::rejected) << status;
}

TEST(retry_policy, backoff_doubles_with_jitter_up_to_the_maximum) {
  retry_backoff backoff(milliseconds(1000), milliseconds(8000), milliseconds(60000));
  for (int round = 0; round < 50; ++round) {
    for (int failures = 1; failures <= 40; ++failures) {
      const auto base = milliseconds(std::min<std::int64_t>(1000LL << std::min(failures - 1, 30), 8000));
      const auto w = backoff.after(failures);
      EXPECT_GE(w, base * 8 / 10) << failures;
      EXPECT_LE(w, std::min(base * 12 / 10, milliseconds(8000))) << failures;
    }
  }
}

TEST(retry_policy, the_server_wait_is_taken_and_capped) {
  retry_backoff backoff(milliseconds(1000), milliseconds(8000), milliseconds(60000));
  EXPECT_FALSE(backoff.server_wait(answer(503)).has_value());
  EXPECT_FALSE(backoff.server_wait(answer(503, "soon")).has_value()) << "unreadable: the backoff decides";
  EXPECT_EQ(backoff.server_wait(answer(429, "2")), milliseconds(2000));
  EXPECT_EQ(backoff.server_wait(answer(429, "3600")), milliseconds(60000)) << "at most retry_after_max";
}

}  // namespace
