// The W3C trace-context test service (examples/w3c_test_service), run as its own process the
// way the conformance harness runs it, and driven by a fake harness on 127.0.0.1: the service
// must forward each instruction's `arguments` verbatim, in order, before it answers, and every
// forwarded request must carry the propagated context — the caller's trace id and flags, a new
// parent id per call, version 00, tracestate unchanged — or a new trace when the incoming one is
// invalid. Also unit tests of the service's JSON reader.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mutex>
#include <set>

#include "httplib/httplib_test_support.hpp"
#include "w3c_test_service/instructions.hpp"

#ifndef W3C_TEST_SERVICE
#error "W3C_TEST_SERVICE must name the w3c_test_service executable"
#endif

namespace {

using namespace httplib_test;

// ---- the JSON reader --------------------------------------------------------------------

TEST(w3c_instructions, arguments_pass_through_verbatim_and_urls_are_decoded) {
  const std::string body = R"( [
    {"url": "http:\/\/127.0.0.1:7777\/cb\u0031", "arguments": [ {"url": "x", "arguments": []}, 1.5e3, "a\"b" ]},
    {"extra": {"k": [true, false, null]}, "arguments": {"nested": {"deep": [-0, 2E-2]}}, "url": "http://h/\u00e9\ud83d\ude00"},
    {"url": "http://h/last"}
  ] )";
  const auto r = w3c::parse_instructions(body);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.items.size(), 3u);
  EXPECT_EQ(r.items[0].url, "http://127.0.0.1:7777/cb1");
  EXPECT_EQ(r.items[0].arguments, R"([ {"url": "x", "arguments": []}, 1.5e3, "a\"b" ])");
  EXPECT_EQ(r.items[1].url, "http://h/\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(r.items[1].arguments, R"({"nested": {"deep": [-0, 2E-2]}})");
  EXPECT_EQ(r.items[2].arguments, "[]");
}

TEST(w3c_instructions, invalid_json_is_an_error_with_a_position) {
  const char* bad[] = {
      "",
      "{}",
      "[{\"url\": 1}]",
      "[{\"arguments\": []}]",
      "[{\"url\": \"a\", \"arguments\": [1,]}]",
      "[{\"url\": \"a\", \"arguments\": 01}]",
      "[{\"url\": \"a\\q\"}]",
      "[{\"url\": \"a\"}] x",
      "[{\"url\": \"a\", \"arguments\": tru}]",
      "[{\"url\": \"a\nb\"}]",
      "[{\"url\": \"a\"}",
      "[{\"url\": \"a\", \"arguments\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
      "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
      "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
      "]]]]]]]}]",
  };
  for (const char* b : bad) {
    const auto r = w3c::parse_instructions(b);
    EXPECT_FALSE(r.ok()) << b;
    EXPECT_TRUE(r.items.empty()) << b;
    EXPECT_NE(r.error.find("at byte"), std::string::npos) << r.error;
  }
  EXPECT_TRUE(w3c::parse_instructions(" [ ] ").ok());
}

// ---- the service as a process -------------------------------------------------------------

// Runs the service with --port 0 and reads the port from its first line of output.
class service_process {
 public:
  service_process() {
    // Exporters and propagators from the developer's environment stay out of the test. The
    // environment is prepared before fork: the child only execs (other threads are running).
    std::vector<std::string> env_text;
    for (char** e = environ; *e; ++e) {
      const std::string_view v = *e;
      if (v.starts_with("LOGFIRE_") || v.starts_with("OTEL_")) continue;
      env_text.emplace_back(v);
    }
    std::vector<char*> envp;
    for (auto& v : env_text) envp.push_back(v.data());
    envp.push_back(nullptr);
    std::string exe = W3C_TEST_SERVICE, flag = "--port", zero = "0";
    char* args[] = {exe.data(), flag.data(), zero.data(), nullptr};

    int out[2];
    if (::pipe(out) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::close(out[0]);
      ::close(out[1]);
      ::execve(args[0], args, envp.data());
      ::_exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
    std::string line;
    for (int i = 0; i < 100 && line.find('\n') == std::string::npos; ++i) {  // at most 10 s
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, 100) != 1) continue;
      char buf[256];
      const ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<std::size_t>(n));
    }
    const auto colon = line.rfind(':');
    const auto slash = line.rfind("/test");
    if (colon != std::string::npos && slash != std::string::npos && slash > colon)
      port_ = std::atoi(line.substr(colon + 1, slash - colon - 1).c_str());
    first_line_ = line;
  }
  ~service_process() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  service_process(const service_process&) = delete;
  service_process& operator=(const service_process&) = delete;

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] const std::string& first_line() const { return first_line_; }

  // SIGTERM, then waits up to 10 s; the exit status, or -1 if it did not end.
  int terminate() {
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 1000; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return status;
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  int port_ = 0;
  bool reaped_ = false;
  std::string first_line_;
};

struct forwarded {
  std::string path;
  std::vector<std::string> traceparent;  // every value received
  std::string tracestate;                // all values comma-joined
  bool has_tracestate = false;
  std::string body;
  std::string content_type;
};

// The harness's side: records what the service forwards to it.
class fake_harness {
 public:
  fake_harness() {
    srv_.server().Post(R"(/callback/(\d+))", [this](const httplib::Request& req, httplib::Response&) {
      forwarded f;
      f.path = req.path;
      for (auto [it, end] = req.headers.equal_range("traceparent"); it != end; ++it)
        f.traceparent.push_back(it->second);
      for (auto [it, end] = req.headers.equal_range("tracestate"); it != end; ++it) {
        if (f.has_tracestate) f.tracestate += ',';
        f.tracestate += it->second;
        f.has_tracestate = true;
      }
      f.body = req.body;
      f.content_type = req.get_header_value("Content-Type");
      std::lock_guard lock(mu_);
      received_.push_back(std::move(f));
    });
  }
  bool start() { return srv_.start(); }
  [[nodiscard]] std::string url(int n) const { return srv_.base_url() + "/callback/" + std::to_string(n); }
  std::vector<forwarded> take() {
    std::lock_guard lock(mu_);
    return std::exchange(received_, {});
  }

 private:
  running_server srv_;
  std::mutex mu_;
  std::vector<forwarded> received_;
};

struct parsed_traceparent {
  std::string version, trace, parent, flags;
};

parsed_traceparent split(const std::string& tp) {
  if (tp.size() != 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-') return {};
  return {tp.substr(0, 2), tp.substr(3, 32), tp.substr(36, 16), tp.substr(53, 2)};
}

bool lower_hex(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

class w3c_service : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    harness_ = new fake_harness;
    ASSERT_TRUE(harness_->start());
    service_ = new service_process;
    ASSERT_GT(service_->port(), 0) << "service said: " << service_->first_line();
  }
  static void TearDownTestSuite() {
    if (service_) {
      EXPECT_EQ(service_->terminate(), 0) << "the service did not stop cleanly on SIGTERM";
    }
    delete service_;
    delete harness_;
    service_ = nullptr;
    harness_ = nullptr;
  }

  // POSTs three instructions to the service with `headers`; returns what reached the harness
  // by the time the service answered.
  static std::vector<forwarded> drive(const httplib::Headers& headers, int* status = nullptr) {
    const std::string body = "[{\"url\": \"" + harness_->url(1) + "\", \"arguments\": [{\"url\": \"" +
                             harness_->url(9) + "\", \"arguments\": []}]},\n {\"url\": \"" + harness_->url(2) +
                             "\", \"arguments\": {\"text\": \"a \\\"quoted\\\" \\u00e9\"}},\n {\"url\": \"" +
                             harness_->url(3) + "\", \"arguments\": []}]";
    httplib::Client c("127.0.0.1", service_->port());
    c.set_read_timeout(30);
    auto res = c.Post("/test", headers, body, "application/json");
    if (status) *status = res ? res->status : -1;
    EXPECT_TRUE(res);
    if (res) {
      EXPECT_EQ(res->status, 200);
    }
    return harness_->take();
  }

  static void expect_instructions_followed(const std::vector<forwarded>& got) {
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].path, "/callback/1");
    EXPECT_EQ(got[1].path, "/callback/2");
    EXPECT_EQ(got[2].path, "/callback/3");
    EXPECT_EQ(got[0].body, "[{\"url\": \"" + harness_->url(9) + "\", \"arguments\": []}]");
    EXPECT_EQ(got[1].body, "{\"text\": \"a \\\"quoted\\\" \\u00e9\"}");
    EXPECT_EQ(got[2].body, "[]");
    for (const auto& f : got) {
      EXPECT_EQ(f.content_type, "application/json");
      ASSERT_EQ(f.traceparent.size(), 1u) << f.path;
      const auto tp = split(f.traceparent[0]);
      EXPECT_EQ(tp.version, "00") << f.traceparent[0];
      EXPECT_TRUE(lower_hex(tp.trace) && lower_hex(tp.parent) && lower_hex(tp.flags)) << f.traceparent[0];
    }
    // One trace per incoming request, a new parent id per call.
    std::set<std::string> parents;
    for (const auto& f : got) parents.insert(split(f.traceparent[0]).parent);
    EXPECT_EQ(parents.size(), 3u);
    EXPECT_EQ(split(got[0].traceparent[0]).trace, split(got[1].traceparent[0]).trace);
    EXPECT_EQ(split(got[0].traceparent[0]).trace, split(got[2].traceparent[0]).trace);
  }

  static inline fake_harness* harness_ = nullptr;
  static inline service_process* service_ = nullptr;
};

constexpr const char* k_trace = "0af7651916cd43dd8448eb211c80319c";
constexpr const char* k_parent = "b7ad6b7169203331";

struct continued_case {
  const char* name;
  std::string traceparent;
  std::string expected_flags;
};

TEST_F(w3c_service, continues_a_valid_trace_and_carries_flags_and_tracestate) {
  const continued_case cases[] = {
      {"sampled", std::string("00-") + k_trace + "-" + k_parent + "-01", "01"},
      {"not sampled", std::string("00-") + k_trace + "-" + k_parent + "-00", "00"},
      {"random, not sampled", std::string("00-") + k_trace + "-" + k_parent + "-02", "02"},
      {"random and sampled", std::string("00-") + k_trace + "-" + k_parent + "-03", "03"},
      {"reserved bits zeroed", std::string("00-") + k_trace + "-" + k_parent + "-ff", "03"},
      {"future version, extra field", std::string("cc-") + k_trace + "-" + k_parent + "-01-what-the-future", "01"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto got =
        drive({{"traceparent", c.traceparent}, {"tracestate", "foo=1,bar=2"}, {"tracestate", "rojo=00f067aa0ba902b7"}});
    expect_instructions_followed(got);
    for (const auto& f : got) {
      if (f.traceparent.empty()) continue;
      const auto tp = split(f.traceparent[0]);
      EXPECT_EQ(tp.trace, k_trace);
      EXPECT_NE(tp.parent, k_parent);
      EXPECT_EQ(tp.flags, c.expected_flags);
      EXPECT_EQ(f.tracestate, "foo=1,bar=2,rojo=00f067aa0ba902b7");
    }
  }
}

TEST_F(w3c_service, starts_a_new_trace_when_the_incoming_one_is_absent_or_invalid) {
  const std::pair<const char*, httplib::Headers> cases[] = {
      {"absent", {}},
      {"uppercase hex",
       {{"traceparent", "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01"}, {"tracestate", "foo=1"}}},
      {"version ff", {{"traceparent", std::string("ff-") + k_trace + "-" + k_parent + "-01"}, {"tracestate", "foo=1"}}},
      {"all-zero trace id",
       {{"traceparent", std::string("00-00000000000000000000000000000000-") + k_parent + "-01"},
        {"tracestate", "foo=1"}}},
      {"version 00 with an extra field",
       {{"traceparent", std::string("00-") + k_trace + "-" + k_parent + "-01-extra"}, {"tracestate", "foo=1"}}},
      {"two traceparent headers",
       {{"traceparent", std::string("00-") + k_trace + "-" + k_parent + "-01"},
        {"traceparent", std::string("00-") + k_trace + "-" + k_parent + "-01"},
        {"tracestate", "foo=1"}}},
  };
  for (const auto& [name, headers] : cases) {
    SCOPED_TRACE(name);
    const auto got = drive(headers);
    expect_instructions_followed(got);
    for (const auto& f : got) {
      if (f.traceparent.empty()) continue;
      const auto tp = split(f.traceparent[0]);
      EXPECT_NE(tp.trace, k_trace);
      EXPECT_NE(tp.trace, "00000000000000000000000000000000");
      EXPECT_EQ(tp.flags, "03");                       // our own new trace: random id, sampled
      EXPECT_FALSE(f.has_tracestate) << f.tracestate;  // dropped with the invalid traceparent
    }
  }
}

TEST_F(w3c_service, an_invalid_tracestate_is_dropped_whole) {
  const auto got = drive(
      {{"traceparent", std::string("00-") + k_trace + "-" + k_parent + "-01"}, {"tracestate", "foo=1,BAD KEY=2"}});
  expect_instructions_followed(got);
  for (const auto& f : got) {
    EXPECT_FALSE(f.has_tracestate) << f.tracestate;
    if (!f.traceparent.empty()) {
      EXPECT_EQ(split(f.traceparent[0]).trace, k_trace);
    }
  }
}

TEST_F(w3c_service, rejects_a_body_that_is_not_an_instruction_list) {
  httplib::Client c("127.0.0.1", service_->port());
  auto res = c.Post("/test", "[{\"url\": \"" + harness_->url(1) + "\"", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_TRUE(harness_->take().empty());
}

}  // namespace
