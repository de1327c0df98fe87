// Helpers for the local backend's tests, which drive the real thing: the built `logfire-cpp`
// binary in child processes, real HTTP on 127.0.0.1, and the real SQLite file read back with
// sqlite3. OTLP requests are built with libprotobuf's generated classes (an encoder independent
// of both the SDK and the backend).
//
//   temp_dir dir;
//   serve_process serve(dir.file("t.db"));            // logfire-cpp serve --port 0 --db ...
//   ASSERT_TRUE(serve.started()) << serve.output();
//   auto reply = post(serve.port(), "/v1/traces", trace_request({span_spec{...}}).SerializeAsString());
//   auto rows = sql(dir.file("t.db"), "SELECT message FROM records");
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "support/sanitizers.hpp"

namespace logfire::backend_test {

namespace pb {
using trace_request = opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using trace_response = opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using logs_request = opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest;
using logs_response = opentelemetry::proto::collector::logs::v1::ExportLogsServiceResponse;
using metrics_request = opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest;
using span = opentelemetry::proto::trace::v1::Span;
using key_value = opentelemetry::proto::common::v1::KeyValue;
}  // namespace pb

// Whether this build runs under a sanitizer: memory bounds measured from /proc do not hold there
// (shadow memory, quarantined frees), so tests check them only without one. ThreadSanitizer also
// kills the child of a multi-threaded fork() before it can exec, so tests that start `serve`
// while the SDK's threads run in the test process skip under it.
#if defined(LOGFIRE_UNDER_TSAN)
constexpr bool kThreadSanitizer = true;
#else
constexpr bool kThreadSanitizer = false;
#endif
#if defined(LOGFIRE_UNDER_ASAN)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = kThreadSanitizer;
#endif

// The built binary (set by tests/backend/CMakeLists.txt), or $LOGFIRE_CPP_BIN when set (to run
// the suite against another build, e.g. an older one).
[[nodiscard]] std::string binary_path();

// A fresh directory under $TMPDIR, removed with its contents at scope exit.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

struct cli_result {
  int exit_code = -1;  // -1 when it had to be killed
  std::string out;
  std::string err;
};

// Runs `logfire-cpp <args...>` to completion (killed after `timeout`), with optional stdin.
cli_result run_cli(const std::vector<std::string>& args, const std::string& stdin_text = {},
                   std::chrono::seconds timeout = std::chrono::seconds(60));

// `logfire-cpp serve --port 0 --db <db> <extra...> [--no-grpc]` in a child process. The constructor waits
// (at most 20 s) for the banner that names the port. The destructor stops it with SIGTERM (and
// SIGKILL if it does not exit within 10 s) and fails the test unless it exited with 0; the child
// also dies if the test process dies.
class serve_process {
 public:
  explicit serve_process(const std::string& db, const std::vector<std::string>& extra = {});
  ~serve_process();
  serve_process(const serve_process&) = delete;
  serve_process& operator=(const serve_process&) = delete;

  [[nodiscard]] bool started() const { return port_ > 0; }
  [[nodiscard]] int port() const { return port_; }
  // OTLP/gRPC's port, 0 when off (serve_process adds --no-grpc unless `extra` names
  // --grpc-port, --no-grpc or --no-http).
  [[nodiscard]] int grpc_port() const { return grpc_port_; }
  [[nodiscard]] int pid() const { return pid_; }
  [[nodiscard]] std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Everything the server printed so far (stdout then stderr).
  [[nodiscard]] std::string output() const;
  // Sends `sig` and waits for the exit; returns the exit code (128+signal when killed by one).
  int stop(int sig = 15);

 private:
  void drain();
  int pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  int port_ = 0;
  int grpc_port_ = 0;
  int exit_code_ = -1;
  mutable std::mutex mu_;
  std::string out_, err_;
  std::thread reader_;
};

struct http_reply {
  int status = 0;  // 0 when the connection failed
  std::string body;
  std::string content_type;
  std::map<std::string, std::string> headers;
};

// POSTs a body over a new connection to 127.0.0.1:port.
http_reply post(int port, const std::string& path, const std::string& body,
                const std::string& content_type = "application/x-protobuf",
                const std::vector<std::pair<std::string, std::string>>& headers = {});
// POSTs with Transfer-Encoding: chunked, in pieces of `chunk` bytes.
http_reply post_chunked(int port, const std::string& path, const std::string& body, const std::string& content_type,
                        std::size_t chunk, const std::vector<std::pair<std::string, std::string>>& headers = {});
http_reply get(int port, const std::string& path, const std::vector<std::pair<std::string, std::string>>& headers = {});

[[nodiscard]] std::string gzip(std::string_view data);

// A client socket to 127.0.0.1:port that sends raw bytes and reads what comes back, every read
// bounded by a timeout: for requests no HTTP library would send.
class raw_connection {
 public:
  explicit raw_connection(int port);
  ~raw_connection();
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  [[nodiscard]] bool connected() const { return fd_ >= 0; }
  // False when the peer closed or reset (the bytes may be partly sent).
  bool send(std::string_view bytes);
  // Reads until `needle` appears, the peer closes, or `timeout` passes; returns all received.
  std::string read_until(std::string_view needle, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Reads until the peer closes (true) or `timeout` passes (false).
  bool read_to_close(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  [[nodiscard]] const std::string& received() const { return received_; }

 private:
  bool read_some(std::chrono::milliseconds timeout);
  int fd_ = -1;
  bool closed_ = false;
  std::string received_;
};

// The backlog of the TCP socket listening on `port` (IPv4), as the kernel reports it through
// sock_diag (what `ss -ltn` shows as Send-Q), or -1.
[[nodiscard]] int listen_backlog(int port);

// Memory of a process from /proc/<pid>/status, in bytes.
struct process_memory {
  std::int64_t rss = 0;   // VmRSS: resident now
  std::int64_t peak = 0;  // VmHWM: the most ever resident (file pages, e.g. SQLite's mmap, included)
  std::int64_t anon = 0;  // RssAnon: resident heap and stacks now (no file pages)
};
[[nodiscard]] process_memory memory_of(int pid);

// Samples a process's RssAnon every 10 ms on its own thread until destroyed: the peak of the
// memory a request made the server allocate, without the database file's mapped pages.
class anon_peak_sampler {
 public:
  explicit anon_peak_sampler(int pid);
  ~anon_peak_sampler();
  anon_peak_sampler(const anon_peak_sampler&) = delete;
  anon_peak_sampler& operator=(const anon_peak_sampler&) = delete;
  [[nodiscard]] std::int64_t peak() const { return peak_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> peak_{0};
  std::thread thread_;
};

// Rows of a query run with sqlite3 directly on the database file (read-only), every value as
// text ("NULL" for NULL).
using row = std::map<std::string, std::string>;
[[nodiscard]] std::vector<row> sql(const std::string& db, const std::string& query);
[[nodiscard]] std::int64_t sql_count(const std::string& db, const std::string& query);

// ---- building requests ----------------------------------------------------------------------

// 16/8 raw bytes from hex, and the hex the backend stores.
[[nodiscard]] std::string bytes_from_hex(std::string_view hex);

struct span_spec {
  std::string trace_id = "0af7651916cd43dd8448eb211c80319c";
  std::string span_id = "b7ad6b7169203331";
  std::string parent_span_id;  // hex, empty for a root
  std::string name = "span";
  std::uint64_t start_ns = 0;  // 0 = now
  std::uint64_t duration_ns = 1'000'000;
  std::vector<pb::key_value> attributes;
  bool error = false;  // status ERROR with "<type>: <message>" from the exception, if any
  std::optional<std::pair<std::string, std::string>> exception;  // type, message
  std::string stacktrace;
};

[[nodiscard]] pb::key_value kv(const std::string& key, const std::string& value);
[[nodiscard]] pb::key_value kv(const std::string& key, const char* value);
[[nodiscard]] pb::key_value kv(const std::string& key, std::int64_t value);
[[nodiscard]] pb::key_value kv_tags(const std::vector<std::string>& tags);

// One ExportTraceServiceRequest with the spans under one resource (service.name = service).
[[nodiscard]] pb::trace_request trace_request(const std::vector<span_spec>& spans,
                                              const std::string& service = "backend-test");

// Unix nanoseconds now.
[[nodiscard]] std::uint64_t now_ns();

// A random hex id of `bytes` bytes.
[[nodiscard]] std::string random_hex(std::size_t bytes);

}  // namespace logfire::backend_test
