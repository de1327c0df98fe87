// Export failures are said while they happen, through the whole SDK and real HTTP on loopback:
// the first failed attempt prints a line with the destination's URL and the cause (a refused
// connection, an HTTP status with the server's text or its google.rpc.Status message), then at
// most a line a minute while it lasts; an answer after failures prints one line saying delivery
// works again; the shutdown summary repeats the latest cause.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "export_test_util.hpp"
#include "logfire/config.hpp"
#include "logfire/logfire.hpp"

namespace logfire::test {
namespace {

options sdk_options(const std::string& endpoint) {
  options o;
  o.service_name = "failure-lines-test";
  o.console.enabled = false;
  o.read_environment = false;
  o.otlp.endpoint = endpoint;
  o.otlp.spool = false;
  o.otlp.backoff_initial = 20ms;
  o.otlp.backoff_max = 40ms;
  return o;
}

constexpr std::string_view k_failed_text =
    " (batches_retried) - records are kept and retried, any loss is counted under its own reason; latest cause: ";

TEST(FailureLines, ARefusedConnectionIsSaidWithTheURLAndTheCauseAndRepeatedAtShutdown) {
  std::string url;
  {
    otlp_receiver rx;
    ASSERT_TRUE(rx.start());
    url = rx.traces_url();
  }  // stopped: nothing listens on that port any more, so connecting is refused
  testing::internal::CaptureStderr();
  {
    auto lf = configure(sdk_options(url.substr(0, url.size() - std::string_view("/v1/traces").size())));
    ASSERT_TRUE(lf) << lf.error();
    shutdown_guard guard(lf);
    info("order {id} placed", {{"id", 7}});
    EXPECT_FALSE(force_flush(300ms));
    EXPECT_GE(stats().count_of(event_counter::batches_retried), 1u);
  }
  const std::string err = testing::internal::GetCapturedStderr();
  // "logfire: 1 failed export attempt (batches_retried) - ...; latest cause: http://127.0.0.1:PORT/v1/traces:
  // Failed to connect to 127.0.0.1 port PORT after 0 ms: Couldn't connect to server" (curl's words)
  const auto at = err.find(std::string(k_failed_text) + url + ": ");
  ASSERT_NE(at, std::string::npos) << err;
  EXPECT_EQ(err.rfind("logfire: ", at), err.rfind('\n', at) + 1) << err;  // one line, from its start
  const std::string cause = err.substr(at, err.find('\n', at) - at);
  EXPECT_NE(cause.find("onnect"), std::string::npos) << cause;  // curl: "Failed to connect ... Couldn't connect"
  EXPECT_NE(err.find("; last export error: " + url + ": "), std::string::npos) << err;
  EXPECT_EQ(err.find("recover"), std::string::npos) << err;
}

TEST(FailureLines, ADeadPortThatNeverAnswersIsSaidAsATimeoutWithTheURL) {
  // A socket that listens and never accepts: the connection completes in the kernel's backlog,
  // the request is sent, and no answer ever comes (a hung backend, a black-holing proxy).
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  const std::string url = endpoint + "/v1/traces";
  testing::internal::CaptureStderr();
  {
    options o = sdk_options(endpoint);
    o.otlp.timeout = 200ms;
    auto lf = configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    shutdown_guard guard(lf);
    info("order {id} placed", {{"id", 7}});
    EXPECT_FALSE(force_flush(1500ms));
    EXPECT_GE(stats().count_of(event_counter::batches_retried), 1u);
    EXPECT_FALSE(shutdown(500ms));  // the record is still unsent: the summary says why
  }
  ::close(fd);
  const std::string err = testing::internal::GetCapturedStderr();
  // "logfire: 1 failed export attempt (batches_retried) - ...; latest cause: http://127.0.0.1:PORT/v1/traces:
  // Operation timed out after 200 milliseconds with 0 bytes received" (curl's words)
  const auto at = err.find(std::string(k_failed_text) + url + ": ");
  ASSERT_NE(at, std::string::npos) << err;
  EXPECT_EQ(err.rfind("logfire: ", at), err.rfind('\n', at) + 1) << err;
  const std::string cause = err.substr(at, err.find('\n', at) - at);
  EXPECT_NE(cause.find("timed out"), std::string::npos) << cause;
  EXPECT_NE(err.find("; last export error: " + url + ": "), std::string::npos) << err;
}

TEST(FailureLines, A503WithTextIsSaidThenTheRecoveryOnce) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  rx.queue_replies(
      {reply::of(503).with_body("overloaded, try later"), reply::of(503).with_body("overloaded, try later")});
  testing::internal::CaptureStderr();
  {
    auto lf = configure(sdk_options(rx.endpoint()));
    ASSERT_TRUE(lf) << lf.error();
    shutdown_guard guard(lf);
    info("order {id} placed", {{"id", 8}});
    EXPECT_TRUE(force_flush(10s));
    const auto st = stats();
    EXPECT_EQ(st.count_of(event_counter::batches_retried), 2u) << st.summary();
    EXPECT_EQ(st.count_of(event_counter::export_recovered), 1u) << st.summary();
    EXPECT_EQ(st.exported, 1u) << st.summary();
    EXPECT_EQ(st.dropped_total(), 0u) << st.summary();
  }
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find(std::string(k_failed_text) + "HTTP 503 from " + rx.traces_url() + ": overloaded, try later\n"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("logfire: 1 recovery (export_recovered) delivery works again: " + rx.traces_url() +
                     " answered again after 2 failed attempts\n"),
            std::string::npos)
      << err;
  EXPECT_EQ(err.find("logfire: shutdown"), std::string::npos) << err;  // nothing lost, nothing to summarize
}

TEST(FailureLines, A401WithAProtobufStatusIsSaidAsItsMessage) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  // google.rpc.Status { code: 16 (UNAUTHENTICATED), message: "invalid token" }
  rx.queue_replies({reply::of(401)
                        .with_header("Content-Type", "application/x-protobuf")
                        .with_body(std::string("\x08\x10\x12\x0dinvalid token", 17))});
  testing::internal::CaptureStderr();
  {
    auto lf = configure(sdk_options(rx.endpoint()));
    ASSERT_TRUE(lf) << lf.error();
    shutdown_guard guard(lf);
    info("order {id} placed", {{"id", 9}});
    (void)force_flush(10s);
    EXPECT_EQ(stats().dropped[static_cast<std::size_t>(drop_reason::rejected_by_backend)], 1u);
  }
  const std::string err = testing::internal::GetCapturedStderr();
  const std::string said = "(rejected_by_backend)";
  const auto at = err.find(said);
  ASSERT_NE(at, std::string::npos) << err;
  const std::string line = err.substr(err.rfind('\n', at) + 1, err.find('\n', at) - err.rfind('\n', at) - 1);
  EXPECT_EQ(line.rfind("logfire: 1 record (rejected_by_backend) ", 0), 0u) << line;
  EXPECT_NE(line.find(": HTTP 401 from " + rx.traces_url() + ": code 16: invalid token"), std::string::npos) << line;
  EXPECT_EQ(line.find('\x10'), std::string::npos) << line;  // no raw protobuf bytes
}

}  // namespace
}  // namespace logfire::test
