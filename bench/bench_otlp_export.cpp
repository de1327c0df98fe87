// End-to-end export throughput: span records -> OTLP exporter (encode + gzip on the calling
// thread, which stands for the pipeline's background thread) -> libcurl -> a minimal HTTP sink
// on 127.0.0.1 that reads and counts the bytes. Reports spans/s and the CPU each side spends
// per span: the caller (encode, gzip, queue) and the exporter's sender thread (HTTP), read from
// /proc/self/task/*/stat by thread name.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "export/otlp_exporter.hpp"
#include "logfire/exporter.hpp"

namespace {

using namespace std::chrono_literals;

// A bare HTTP/1.1 sink: one thread per connection, answers every request 200 with an empty
// body, counts the body bytes. Enough for libcurl's keep-alive POSTs and nothing more.
class http_sink {
 public:
  http_sink() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~http_sink() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    acceptor_.join();
    for (auto& t : conns_) t.join();
  }
  http_sink(const http_sink&) = delete;
  http_sink& operator=(const http_sink&) = delete;

  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1/traces"; }
  std::atomic<std::uint64_t> body_bytes{0};
  std::atomic<std::uint64_t> requests{0};

 private:
  void accept_loop() {
    for (;;) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      conns_.emplace_back([this, fd] { serve(fd); });
    }
  }
  void serve(int fd) {
    std::string buf;
    char chunk[65536];
    for (;;) {
      auto end = buf.find("\r\n\r\n");
      while (end == std::string::npos) {
        ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n <= 0) {
          ::close(fd);
          return;
        }
        buf.append(chunk, static_cast<std::size_t>(n));
        end = buf.find("\r\n\r\n");
      }
      std::size_t length = 0;
      std::string head = buf.substr(0, end);
      for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (auto p = head.find("content-length:"); p != std::string::npos)
        length = std::strtoull(head.c_str() + p + 15, nullptr, 10);
      buf.erase(0, end + 4);
      while (buf.size() < length) {
        ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n <= 0) {
          ::close(fd);
          return;
        }
        buf.append(chunk, static_cast<std::size_t>(n));
      }
      buf.erase(0, length);
      body_bytes += length;
      ++requests;
      static constexpr char ok[] =
          "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
      if (::write(fd, ok, sizeof ok - 1) < 0) {
        ::close(fd);
        return;
      }
    }
  }

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread acceptor_;
  std::deque<std::thread> conns_;
};

class counting final : public logfire::delivery_counter {
 public:
  void delivered(std::uint64_t n) noexcept override { delivered_ += n; }
  void dropped(logfire::drop_reason, std::uint64_t n, std::string_view) noexcept override { dropped_ += n; }
  void count(logfire::event_counter, std::uint64_t) noexcept override {}
  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> dropped_{0};
};

// CPU time (user + system, ns) of this process's threads named `name`.
std::uint64_t thread_cpu_ns(std::string_view name) {
  std::uint64_t total = 0;
  const long ticks = ::sysconf(_SC_CLK_TCK);
  DIR* d = ::opendir("/proc/self/task");
  if (d == nullptr) return 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string base = std::string("/proc/self/task/") + e->d_name;
    std::ifstream comm(base + "/comm");
    std::string n;
    std::getline(comm, n);
    if (n != name) continue;
    std::ifstream stat(base + "/stat");
    std::string line;
    std::getline(stat, line);
    auto close = line.rfind(')');
    std::istringstream rest(line.substr(close + 2));
    std::string field;
    std::uint64_t utime = 0;
    std::uint64_t stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::stoull(field);
      if (i == 15) stime = std::stoull(field);
    }
    total += (utime + stime) * 1'000'000'000ull / static_cast<std::uint64_t>(ticks);
  }
  ::closedir(d);
  return total;
}

std::uint64_t this_thread_cpu_ns() {
  rusage ru{};
  ::getrusage(RUSAGE_THREAD, &ru);
  return static_cast<std::uint64_t>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1'000'000'000ull +
         static_cast<std::uint64_t>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

// 512 spans with four attributes each (an int, a short string, a double, the span type), as a
// typical batch from the pipeline.
struct batch_data {
  std::vector<logfire::span_record> records;
  std::deque<std::vector<logfire::attribute>> attrs;
  std::deque<std::string> text;
  explicit batch_data(std::size_t n) {
    records.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      auto& a = attrs.emplace_back();
      auto& s = text.emplace_back("user-" + std::to_string(i * 7919 % 100000));
      logfire::attribute_value v;
      v.type = logfire::attribute_value::kind::int64;
      v.i = static_cast<std::int64_t>(i);
      a.push_back({"http.status_code", v});
      v = {};
      v.type = logfire::attribute_value::kind::string;
      v.s = s;
      a.push_back({"user.id", v});
      v = {};
      v.type = logfire::attribute_value::kind::float64;
      v.d = 0.25 * static_cast<double>(i);
      a.push_back({"duration_ratio", v});
      v = {};
      v.type = logfire::attribute_value::kind::string;
      v.s = "span";
      a.push_back({"logfire.span_type", v});
      logfire::span_record r;
      r.context.trace.hi = 0x018f000000000000ull + i / 16;
      r.context.trace.lo = 0x9e3779b97f4a7c15ull * (i / 16 + 1);
      r.context.span.value = 0x1234567800000000ull + i + 1;
      r.context.flags = logfire::trace_flags::sampled;
      r.parent.value = i % 16 == 0 ? 0 : 0x1234567800000000ull + i;
      r.name = "GET /orders/{id}";
      r.message = "GET /orders/42";
      r.start_unix_nano = 1'700'000'000'000'000'000ull + i * 1000;
      r.end_unix_nano = r.start_unix_nano + 250'000;
      r.attributes = a;
      records.push_back(r);
    }
  }
};

void BM_export_end_to_end(benchmark::State& state) {
  const bool gzip = state.range(0) != 0;
  http_sink sink;
  logfire::detail::resource res;
  res.set("service.name", std::string("bench"));
  res.set("telemetry.sdk.name", std::string("logfire-cpp"));
  logfire::detail::otlp_exporter_config cfg;
  cfg.name = "bench";
  cfg.url = sink.url();
  cfg.gzip = gzip;
  cfg.max_queue_spans = 1u << 20;  // measure throughput, not overflow
  counting counter;
  auto exp = logfire::detail::make_otlp_exporter(cfg, res);
  exp->start(counter);
  batch_data batch(512);
  constexpr int k_batches_per_iteration = 64;

  std::uint64_t spans = 0;
  std::uint64_t caller_cpu = 0;
  const std::uint64_t sender_cpu0 = thread_cpu_ns("logfire-send");
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto c0 = this_thread_cpu_ns();
    for (int i = 0; i < k_batches_per_iteration; ++i) exp->export_batch(batch.records);
    caller_cpu += this_thread_cpu_ns() - c0;
    exp->force_flush(logfire::clock::now() + 60s);
    spans += batch.records.size() * k_batches_per_iteration;
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  const std::uint64_t sender_cpu = thread_cpu_ns("logfire-send") - sender_cpu0;
  state.counters["spans/s"] = benchmark::Counter(static_cast<double>(spans), benchmark::Counter::kIsRate);
  state.counters["caller_ns/span"] = static_cast<double>(caller_cpu) / static_cast<double>(spans);
  state.counters["sender_ns/span"] = static_cast<double>(sender_cpu) / static_cast<double>(spans);
  state.counters["wire_B/span"] = static_cast<double>(sink.body_bytes.load()) / static_cast<double>(spans);
  exp->shutdown(logfire::clock::now() + 10s);
  if (counter.delivered_.load() != spans || counter.dropped_.load() != 0) state.SkipWithError("records were lost");
}
BENCHMARK(BM_export_end_to_end)->Arg(1)->Arg(0)->ArgName("gzip")->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
