// Issue 11, case 8: `Content-Length: abc` was read as an empty body and the real body parsed as a
// new request; Content-Length with Transfer-Encoding, or two Content-Lengths, were accepted —
// request smuggling behind the reverse proxy the docs recommend. Each is now a 400 that closes
// the connection, and what follows is never read as a request.
#include <gtest/gtest.h>

#include "backend/backend_support.hpp"

namespace logfire::backend_test {
namespace {

std::size_t count_of(const std::string& haystack, std::string_view needle) {
  std::size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

// Sends a head whose framing is ambiguous, followed by bytes that are a second request under
// one of the readings. Exactly one answer must come back: 400, naming the problem.
void expect_refused(int port, const std::string& framing, const std::string& body, const std::string& reason) {
  raw_connection c(port);
  c.send("POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\n" + framing +
         "\r\n\r\n" + body);
  EXPECT_TRUE(c.read_to_close(std::chrono::seconds(10))) << framing;
  const std::string& got = c.received();
  EXPECT_EQ(got.rfind("HTTP/1.1 400 Bad Request", 0), 0u) << framing << "\n" << got;
  EXPECT_NE(got.find(reason), std::string::npos) << framing << "\n" << got;
  EXPECT_EQ(count_of(got, "HTTP/1.1 "), 1u) << "a smuggled request was answered: " << got;
}

const std::string kSmuggled = "GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

TEST(attack_8_framing, a_content_length_that_is_not_a_number_is_400) {
  temp_dir dir;
  serve_process serve(dir.file("f.db"));
  ASSERT_TRUE(serve.started()) << serve.output();
  expect_refused(serve.port(), "Content-Length: abc", kSmuggled, "Content-Length 'abc' is not a number");
}

TEST(attack_8_framing, content_length_with_transfer_encoding_is_400) {
  temp_dir dir;
  serve_process serve(dir.file("f.db"));
  ASSERT_TRUE(serve.started()) << serve.output();
  // Read as chunked, the body ends at "0"; read by its length, it holds the next request.
  expect_refused(serve.port(),
                 "Content-Length: " + std::to_string(5 + kSmuggled.size()) + "\r\nTransfer-Encoding: chunked",
                 "0\r\n\r\n" + kSmuggled, "both Content-Length and Transfer-Encoding");
}

TEST(attack_8_framing, two_content_lengths_are_400) {
  temp_dir dir;
  serve_process serve(dir.file("f.db"));
  ASSERT_TRUE(serve.started()) << serve.output();
  expect_refused(serve.port(), "Content-Length: 0\r\nContent-Length: " + std::to_string(kSmuggled.size()), kSmuggled,
                 "more than one Content-Length header");
  expect_refused(serve.port(), "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked", "0\r\n\r\n" + kSmuggled,
                 "Transfer-Encoding must be exactly `chunked`");
}

}  // namespace
}  // namespace logfire::backend_test
