// The HTTP/1.1 layer under `logfire-cpp serve` (tools/backend/http/): request framing as RFC 9112
// reads it (and refuses what lets two parsers disagree), and the server's limits and deadlines
// over real loopback sockets. In-process, so the sanitizer runs see the server's threads.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include "backend/backend_support.hpp"
#include "backend/http/content_coding.hpp"
#include "backend/http/request_parser.hpp"
#include "backend/http/server.hpp"
#include "backend/text.hpp"

namespace logfire::backend::http {
namespace {

// ---- the parser --------------------------------------------------------------------------------

struct parsed {
  parse_state state;
  request_head head;
  refusal error = refusal::bad_request;
  std::string detail;
  std::size_t consumed = 0;
};

parsed parse(std::string_view text, head_limits limits = {}) {
  head_parser p(limits);
  parsed out{p.feed(text), {}, {}, {}, 0};
  out.head = p.head();
  out.error = p.error();
  out.detail = p.error_detail();
  out.consumed = p.consumed();
  return out;
}

TEST(http_parser, reads_a_request_head) {
  auto r = parse(
      "POST /v1/traces?x=1&limit=20 HTTP/1.1\r\nHost: localhost:4318\r\nContent-Type: application/x-protobuf\r\n"
      "Content-Length:  12 \r\nX-Empty:\r\n\r\nbody follows");
  ASSERT_EQ(r.state, parse_state::complete) << r.detail;
  EXPECT_EQ(r.head.method, "POST");
  EXPECT_EQ(r.head.path, "/v1/traces");
  EXPECT_EQ(r.head.query_param("limit"), "20");
  EXPECT_EQ(r.head.header_or_empty("content-type"), "application/x-protobuf");
  EXPECT_EQ(r.head.header_or_empty("x-empty"), "");
  EXPECT_EQ(r.head.framing, body_framing::length);
  EXPECT_EQ(r.head.content_length, 12u);
  EXPECT_TRUE(r.head.keep_alive);
  EXPECT_EQ(std::string_view("POST /v1/traces?x=1&limit=20 HTTP/1.1\r\nHost: localhost:4318\r\nContent-Type: "
                             "application/x-protobuf\r\nContent-Length:  12 \r\nX-Empty:\r\n\r\n")
                .size(),
            r.consumed);
}

TEST(http_parser, a_head_sent_a_byte_at_a_time_parses_the_same) {
  std::string text = "\r\nGET /api/traces HTTP/1.0\nHost: h\nConnection: keep-alive\n\n";
  head_parser p({});
  std::string buffer;
  for (char c : text) {
    buffer += c;
    if (p.feed(buffer) != parse_state::incomplete) break;
  }
  ASSERT_EQ(p.state(), parse_state::complete) << p.error_detail();
  EXPECT_EQ(p.head().path, "/api/traces");
  EXPECT_EQ(p.head().minor_version, 0);
  EXPECT_TRUE(p.head().keep_alive);
  EXPECT_EQ(p.consumed(), text.size());
}

// Found by fuzz_http_request: the answer must not depend on how the bytes were split into reads.
TEST(http_parser, a_request_line_at_its_limit_passes_whatever_the_split) {
  head_limits limits{.max_request_line = 20, .max_header_bytes = 1000, .max_header_count = 5};
  std::string line = "GET /" + std::string(6, 'a') + " HTTP/1.1";  // exactly 20 bytes
  ASSERT_EQ(line.size(), 20u);
  std::string text = line + "\r\nHost: h\r\n\r\n";
  head_parser split(limits);
  EXPECT_EQ(split.feed(text.substr(0, 21)), parse_state::incomplete) << "up to the CR: not yet too long";
  EXPECT_EQ(split.feed(text), parse_state::complete);
  EXPECT_EQ(parse(text, limits).state, parse_state::complete);
  EXPECT_EQ(parse("GET /" + std::string(7, 'a') + " HTTP/1.1\r\n\r\n", limits).error, refusal::request_line_too_long);
}

TEST(http_parser, limits_are_checked_before_a_line_ends) {
  head_limits limits{.max_request_line = 100, .max_header_bytes = 1000, .max_header_count = 5};
  // No newline yet: refused as soon as the line passes its limit.
  auto line = parse("GET /" + std::string(200, 'a'), limits);
  EXPECT_EQ(line.state, parse_state::failed);
  EXPECT_EQ(line.error, refusal::request_line_too_long);
  std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 5; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  auto count = parse(many + "\r\n", limits);
  EXPECT_EQ(count.error, refusal::too_many_headers);
  auto bytes = parse("GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(2000, 'v'), limits);
  EXPECT_EQ(bytes.state, parse_state::failed);
  EXPECT_EQ(bytes.error, refusal::header_too_large);
  EXPECT_EQ(status_of(refusal::request_line_too_long), 414);
  EXPECT_EQ(status_of(refusal::header_too_large), 431);
  EXPECT_EQ(status_of(refusal::too_many_headers), 431);
}

// Each of these lets a proxy and this server disagree about where a request ends.
TEST(http_parser, ambiguous_framing_is_refused) {
  struct bad {
    std::string head;
    refusal expected;
    std::string detail;
  };
  std::vector<bad> cases = {
      {"Content-Length: abc", refusal::bad_request, "is not a number"},
      {"Content-Length: 5\r\nContent-Length: 5", refusal::bad_request, "more than one Content-Length"},
      {"Content-Length: 5, 5", refusal::bad_request, "is not a number"},
      {"Content-Length: +5", refusal::bad_request, "is not a number"},
      {"Content-Length: 5\r\nTransfer-Encoding: chunked", refusal::bad_request, "both Content-Length"},
      {"Transfer-Encoding: chunked\r\nContent-Length: 5", refusal::bad_request, "both Content-Length"},
      {"Transfer-Encoding: gzip, chunked", refusal::not_implemented, "gzip"},
      {"Transfer-Encoding: chunked, chunked", refusal::bad_request, "exactly `chunked`"},
      {"Transfer-Encoding: xchunked", refusal::not_implemented, "xchunked"},
      {"X-Folded: a\r\n b", refusal::bad_request, "folding"},
      {"Content-Length : 5", refusal::bad_request, "whitespace between a header name"},
      {"X: a\rb", refusal::bad_request, "bare CR"},
      {"X: a\x01", refusal::bad_request, "control characters"},
      {"Expect: 200-ok", refusal::expectation_failed, ""},
  };
  for (const auto& c : cases) {
    auto r = parse("POST /v1/traces HTTP/1.1\r\nHost: h\r\n" + c.head + "\r\n\r\n");
    EXPECT_EQ(r.state, parse_state::failed) << c.head;
    EXPECT_EQ(r.error, c.expected) << c.head;
    EXPECT_NE(r.detail.find(c.detail), std::string::npos) << c.head << " -> " << r.detail;
  }
  EXPECT_EQ(parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n").error, refusal::bad_request);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\n\r\n").detail, "an HTTP/1.1 request without Host");
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").detail, "more than one Host header");
  EXPECT_EQ(parse("GET / HTTP/2.0\r\n\r\n").error, refusal::version_not_supported);
  EXPECT_EQ(parse("GET  / HTTP/1.1\r\n\r\n").state, parse_state::failed);
  EXPECT_EQ(parse("GET /a b HTTP/1.1\r\n\r\n").state, parse_state::failed);
  EXPECT_EQ(parse("GET /\x7f HTTP/1.1\r\n\r\n").state, parse_state::failed);
  // A length beyond any limit parses as "too large", for the caller to refuse with 413.
  auto huge = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n");
  ASSERT_EQ(huge.state, parse_state::complete);
  EXPECT_EQ(huge.head.content_length, UINT64_MAX);
  auto absolute = parse("GET http://localhost:4318/api/traces?limit=2 HTTP/1.1\r\nHost: localhost\r\n\r\n");
  ASSERT_EQ(absolute.state, parse_state::complete);
  EXPECT_EQ(absolute.head.path, "/api/traces");
  EXPECT_EQ(absolute.head.query, "limit=2");
}

std::string dechunk(std::string_view in, std::uint64_t max, chunked_decoder** keep = nullptr, std::size_t step = 0) {
  static head_limits limits{};
  auto* d = new chunked_decoder(max, limits);
  std::string out;
  if (step == 0) {
    d->feed(in, out);
  } else {
    for (std::size_t i = 0; i < in.size() && !d->done() && !d->failed(); i += step) {
      std::size_t used = d->feed(in.substr(i, step), out);
      if (used < std::min(step, in.size() - i)) break;
    }
  }
  if (keep) {
    *keep = d;
  } else {
    delete d;
  }
  return out;
}

TEST(http_parser, chunked_bodies_decode_in_any_split) {
  std::string body = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
  for (std::size_t step : {0u, 1u, 2u, 3u, 7u}) {
    chunked_decoder* d = nullptr;
    EXPECT_EQ(dechunk(body, 1000, &d, step), "hello world") << step;
    EXPECT_TRUE(d->done()) << step;
    delete d;
  }
}

TEST(http_parser, malformed_or_oversized_chunks_are_refused) {
  auto failure = [](std::string_view in, std::uint64_t max = 1000) {
    chunked_decoder* d = nullptr;
    dechunk(in, max, &d);
    std::pair<bool, refusal> r{d->failed(), d->error()};
    delete d;
    return r;
  };
  EXPECT_EQ(failure("zz\r\n"), std::make_pair(true, refusal::bad_request));
  EXPECT_EQ(failure("5\nhello\n0\n\n"), std::make_pair(true, refusal::bad_request)) << "bare LF";
  EXPECT_EQ(failure("5\r\nhelloXX0\r\n\r\n"), std::make_pair(true, refusal::bad_request));
  EXPECT_EQ(failure("5 \r\nhello\r\n"), std::make_pair(true, refusal::bad_request));
  EXPECT_EQ(failure("ffffffffffffffffff\r\n"), std::make_pair(true, refusal::body_too_large));
  EXPECT_EQ(failure("3e9\r\n", 1000), std::make_pair(true, refusal::body_too_large));
  EXPECT_EQ(failure("200\r\n" + std::string(512, 'a') + "\r\n200\r\n" + std::string(512, 'a') + "\r\n", 1000),
            std::make_pair(true, refusal::body_too_large));
  EXPECT_EQ(failure("0\r\nX: " + std::string(100'000, 'a') + "\r\n\r\n"),
            std::make_pair(true, refusal::header_too_large));
}

TEST(http_coding, gzip_inflates_within_its_limit) {
  memory_budget budget(64u << 20);
  auto r = budget.reserve(0);
  std::string out;
  EXPECT_EQ(inflate_body("not gzip", "gzip", 1000, out, r), inflate_result::corrupt);
  EXPECT_EQ(inflate_body("", "deflate", 1000, out, r), inflate_result::corrupt);
  EXPECT_TRUE(is_compressed(" GZip "));
  EXPECT_FALSE(is_compressed("identity"));
}

// ---- the server, over loopback -------------------------------------------------------------------

using raw_client = backend_test::raw_connection;
using std::chrono::milliseconds;

std::size_t count_of(const std::string& haystack, std::string_view needle) {
  std::size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

// A server on 127.0.0.1 with a handler that echoes the body's size, stopped at scope exit.
class test_server {
 public:
  explicit test_server(server_limits limits = {}, std::size_t budget = 64u << 20,
                       std::function<response(request&)> on_request = {})
      : budget_(budget) {
    handlers h;
    h.on_head = [](const request_head& head) {
      head_decision d;
      if (head.path == "/refuse") d.reply = text_response(401, "no");
      return d;
    };
    h.on_request = on_request ? std::move(on_request) : [](request& req) {
      return text_response(200, req.head.path + " got " + std::to_string(req.body.size()));
    };
    h.on_refusal = [](refusal kind, const request_head*, const std::string& detail) {
      return text_response(status_of(kind), "refused: " + detail);
    };
    srv_ = std::make_unique<server>(limits, std::move(h), budget_);
    std::string error;
    ok_ = srv_->listen("127.0.0.1", 0, error);
    EXPECT_TRUE(ok_) << error;
    if (ok_) thread_ = std::thread([this] { srv_->run(); });
  }
  ~test_server() {
    srv_->stop();
    if (thread_.joinable()) thread_.join();
  }
  test_server(const test_server&) = delete;
  test_server& operator=(const test_server&) = delete;
  [[nodiscard]] int port() const { return srv_->port(); }
  server& srv() { return *srv_; }
  memory_budget& budget() { return budget_; }

 private:
  memory_budget budget_;
  std::unique_ptr<server> srv_;
  std::thread thread_;
  bool ok_ = false;
};

TEST(http_server, keep_alive_and_pipelined_requests_are_answered_in_order) {
  test_server s;
  raw_client c(s.port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(
      c.send("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: h\r\n\r\n"
             "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwxyz\r\n0\r\n\r\n"));
  std::string got = c.read_until("/c got 4");
  auto a = got.find("/a got 3"), b = got.find("/b got 0"), cc = got.find("/c got 4");
  ASSERT_NE(a, std::string::npos) << got;
  ASSERT_NE(b, std::string::npos) << got;
  ASSERT_NE(cc, std::string::npos) << got;
  EXPECT_LT(a, b);
  EXPECT_LT(b, cc);
  EXPECT_EQ(count_of(got, "HTTP/1.1 200 OK"), 3u);
}

TEST(http_server, expect_100_continue_gets_an_interim_answer_and_a_refusal_comes_first) {
  test_server s;
  raw_client c(s.port());
  ASSERT_TRUE(c.send("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  EXPECT_NE(c.read_until("100 Continue").find("HTTP/1.1 100 Continue\r\n\r\n"), std::string::npos);
  ASSERT_TRUE(c.send("hello"));
  EXPECT_NE(c.read_until("/x got 5").find("/x got 5"), std::string::npos);
  // Refused from the head: the answer comes without the body being sent at all.
  raw_client r(s.port());
  ASSERT_TRUE(r.send("POST /refuse HTTP/1.1\r\nHost: h\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n"));
  std::string got = r.read_until("no\n");
  EXPECT_EQ(got.find("100 Continue"), std::string::npos) << got;
  EXPECT_NE(got.find("HTTP/1.1 401 Unauthorized"), std::string::npos) << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
}

TEST(http_server, a_refused_body_is_drained_so_the_client_reads_the_answer) {
  server_limits limits;
  limits.max_body_bytes = 1000;
  test_server s(limits);
  raw_client c(s.port());
  // The client sends its whole (too large) body before reading: it must still get its 413.
  ASSERT_TRUE(c.send("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 300000\r\n\r\n"));
  std::string filler(300'000, 'x');
  c.send(filler);
  EXPECT_TRUE(c.read_to_close());
  EXPECT_NE(c.received().find("HTTP/1.1 413 Content Too Large"), std::string::npos) << c.received();
}

TEST(http_server, a_head_too_slow_gets_408_and_idle_connections_are_closed) {
  server_limits limits;
  limits.header_timeout = std::chrono::milliseconds(300);
  limits.idle_timeout = std::chrono::milliseconds(300);
  test_server s(limits);
  raw_client slow(s.port());
  raw_client idle(s.port());
  ASSERT_TRUE(slow.send("GET / HTTP/1.1\r\n"));
  // One more header line now and then, as a slowloris client does: the deadline is for the
  // whole head, so it does not move.
  for (int i = 0; i < 10 && !slow.read_to_close(milliseconds(100)); ++i) slow.send("X-Slow: 1\r\n");
  EXPECT_NE(slow.received().find("HTTP/1.1 408 Request Timeout"), std::string::npos) << slow.received();
  EXPECT_TRUE(idle.read_to_close());
  EXPECT_EQ(idle.received(), "") << "an idle connection closes without an answer";
  EXPECT_GE(s.srv().counters().idle_closed.load(), 1u);
}

TEST(http_server, connections_over_the_limit_get_503) {
  server_limits limits;
  limits.max_connections = 2;
  test_server s(limits);
  raw_client a(s.port()), b(s.port());
  ASSERT_TRUE(a.send("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"));
  ASSERT_TRUE(b.send("GET /b HTTP/1.1\r\nHost: h\r\n\r\n"));
  a.read_until("/a got");
  b.read_until("/b got");
  raw_client c(s.port());
  c.send("GET /c HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_TRUE(c.read_to_close());
  EXPECT_NE(c.received().find("HTTP/1.1 503 Service Unavailable"), std::string::npos) << c.received();
  EXPECT_EQ(s.srv().counters().refused_connections.load(), 1u);
}

TEST(http_server, bodies_over_the_memory_budget_get_429) {
  test_server s({}, 1u << 20);
  raw_client c(s.port());
  ASSERT_TRUE(c.send("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2000000\r\n\r\n"));
  EXPECT_NE(c.read_until("refused").find("HTTP/1.1 429 Too Many Requests"), std::string::npos) << c.received();
  raw_client chunked(s.port());
  ASSERT_TRUE(chunked.send("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"));
  std::string chunk = "100000\r\n" + std::string(0x100000, 'a') + "\r\n";
  for (int i = 0; i < 3 && chunked.send(chunk); ++i) {
  }
  EXPECT_NE(chunked.read_until("refused").find("HTTP/1.1 429"), std::string::npos);
  EXPECT_EQ(s.budget().in_use(), 0u) << "refused bodies give their memory back";
}

TEST(http_server, a_blocked_handler_does_not_hold_up_other_connections) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> entered;  // the /block handler has started: a worker is taken
  std::atomic<int> blocked{0};
  server_limits limits;
  limits.workers = 2;
  test_server s(limits, 64u << 20, [&](request& req) {
    if (req.head.path == "/block") {
      if (++blocked == 1) entered.set_value();
      released.wait();
    }
    return text_response(200, "done " + req.head.path);
  });
  raw_client a(s.port());
  ASSERT_TRUE(a.send("GET /block HTTP/1.1\r\nHost: h\r\n\r\n"));
  // Only once a worker is held does the rest of the test say anything about the other one.
  const bool held = entered.get_future().wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  if (!held) release.set_value();  // so that the server can stop
  ASSERT_TRUE(held) << "the /block request never reached its handler";
  // Slow clients do not take workers either: one sends half a head, one nothing.
  raw_client half(s.port()), silent(s.port());
  half.send("GET /x HTTP/1.1\r\nHo");
  raw_client b(s.port());
  ASSERT_TRUE(b.send("GET /free HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_NE(b.read_until("done /free").find("done /free"), std::string::npos);
  EXPECT_EQ(blocked.load(), 1);
  release.set_value();
  EXPECT_NE(a.read_until("done /block").find("done /block"), std::string::npos);
}

TEST(http_server, stop_answers_the_requests_being_handled) {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  auto s = std::make_unique<test_server>(server_limits{}, 64u << 20, [&](request&) {
    entered.set_value();
    released.wait();
    return text_response(200, "finished");
  });
  raw_client c(s->port());
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  entered.get_future().wait();
  s->srv().stop();
  release.set_value();
  EXPECT_TRUE(c.read_to_close());
  EXPECT_NE(c.received().find("finished"), std::string::npos) << c.received();
  EXPECT_NE(c.received().find("Connection: close"), std::string::npos);
}

// A streamed answer (server-sent events): its bytes reach the client as the producer writes them,
// from a thread of its own after the handler returned, and the close ends the body.
TEST(http_server, a_stream_sends_its_bytes_as_they_come_and_ends_with_the_connection) {
  auto events = std::make_shared<body_stream>();
  test_server s({}, 64u << 20, [&](request&) {
    response r;
    r.content_type = "text/event-stream";
    r.stream = events;
    return r;
  });
  raw_client c(s.port());
  ASSERT_TRUE(c.send("GET /events HTTP/1.1\r\nHost: h\r\n\r\n"));
  std::string head = c.read_until("\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK", 0), 0u) << head;
  EXPECT_NE(head.find("Content-Type: text/event-stream"), std::string::npos) << head;
  EXPECT_NE(head.find("Connection: close"), std::string::npos) << head;
  EXPECT_EQ(head.find("Content-Length"), std::string::npos) << "the close ends the body: " << head;
  std::thread producer([&] {
    for (int i = 1; i <= 3; ++i) EXPECT_TRUE(events->write("data: " + std::to_string(i) + "\n\n"));
  });
  EXPECT_NE(c.read_until("data: 3\n\n").find("data: 1\n\ndata: 2\n\ndata: 3\n\n"), std::string::npos) << c.received();
  producer.join();
  EXPECT_FALSE(events->closed());
  events->end();
  EXPECT_TRUE(c.read_to_close()) << "end() closes the connection once the bytes are out";
  EXPECT_FALSE(events->write("data: late\n\n"));
}

TEST(http_server, a_stream_whose_client_leaves_or_whose_server_stops_is_closed) {
  std::vector<std::shared_ptr<body_stream>> made;
  std::mutex mu;
  auto s = std::make_unique<test_server>(server_limits{}, 64u << 20, [&](request&) {
    response r;
    r.stream = std::make_shared<body_stream>();
    std::lock_guard lk(mu);
    made.push_back(r.stream);
    return r;
  });
  auto stream_of = [&](std::size_t i) {
    for (int tries = 0; tries < 500; ++tries) {
      {
        std::lock_guard lk(mu);
        if (made.size() > i) return made[i];
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
    return std::shared_ptr<body_stream>();
  };
  auto closed_soon = [](const std::shared_ptr<body_stream>& st) {
    for (int tries = 0; tries < 500 && !st->closed(); ++tries) std::this_thread::sleep_for(milliseconds(10));
    return st->closed();
  };
  {
    raw_client leaving(s->port());
    ASSERT_TRUE(leaving.send("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"));
    leaving.read_until("\r\n\r\n");
  }
  auto first = stream_of(0);
  ASSERT_TRUE(first);
  EXPECT_TRUE(closed_soon(first)) << "the producer learns that its client left";
  EXPECT_FALSE(first->write("data: x\n\n"));

  raw_client staying(s->port());
  ASSERT_TRUE(staying.send("GET /b HTTP/1.1\r\nHost: h\r\n\r\n"));
  staying.read_until("\r\n\r\n");
  auto second = stream_of(1);
  ASSERT_TRUE(second);
  s->srv().stop();
  EXPECT_TRUE(staying.read_to_close()) << "stopping ends streams: their clients reconnect";
  EXPECT_TRUE(closed_soon(second));
  s.reset();
  EXPECT_FALSE(second->write("data: after the server\n\n"));
}

TEST(http_server, a_stream_holds_at_most_its_bound) {
  body_stream st(10);
  EXPECT_TRUE(st.write("12345"));
  EXPECT_FALSE(st.write("123456")) << "past the bound: refused whole, the producer decides";
  EXPECT_TRUE(st.write("67890"));
  EXPECT_FALSE(st.write("x"));
}

TEST(http_server, listen_names_the_problem) {
  memory_budget budget(1u << 20);
  server srv({}, {}, budget);
  std::string error;
  EXPECT_FALSE(srv.listen("999.1.1.1", 0, error));
  EXPECT_NE(error.find("is not an IP address"), std::string::npos) << error;
  EXPECT_FALSE(srv.listen("192.0.2.1", 0, error));  // TEST-NET-1: not this machine's
  EXPECT_NE(error.find("is not an address of this machine"), std::string::npos) << error;
  EXPECT_TRUE(is_ip_address("[::1]"));
  EXPECT_FALSE(is_ip_address("example.com"));
  EXPECT_FALSE(is_ip_address(""));
}

TEST(terminal_text, escape_sequences_never_pass) {
  EXPECT_EQ(text::for_terminal("a\x1b]0;title\x07 b\x1b[2J \xc2\x9b"
                               "31m caf\xc3\xa9"),
            "a\\e]0;title\\x07 b\\e[2J \\u009b31m caf\xc3\xa9");
  EXPECT_EQ(text::for_terminal("line\nnext\ttab\r", true), "line\nnext\ttab\\x0d");
  EXPECT_EQ(text::for_terminal("\xe2\x80\xae"
                               "evil \xff"),
            "\\u202eevil \\xff");
  EXPECT_EQ(text::printable("ok\r\n\x1b\\"), "ok\\x0d\\x0a\\x1b\\x5c");
}

}  // namespace
}  // namespace logfire::backend::http
