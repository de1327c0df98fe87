#include "backend_support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <regex>

namespace logfire::backend_test {

std::string binary_path() {
  if (const char* other = std::getenv("LOGFIRE_CPP_BIN"); other && *other) return other;
  return LOGFIRE_CPP_BIN;
}

temp_dir::temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/logfire-backend-test-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) != nullptr) path_ = buf.data();
}

temp_dir::~temp_dir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

namespace {

// fork + exec of the binary with stdin/stdout/stderr as pipes. The child gets SIGKILL if the
// thread that started it dies, so a crashed test leaves no server behind.
pid_t spawn(const std::vector<std::string>& args, int& in_fd, int& out_fd, int& err_fd) {
  int in[2], out[2], err[2];
  if (pipe(in) != 0 || pipe(out) != 0 || pipe(err) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) close(fd);
    std::vector<std::string> full = {binary_path()};
    full.insert(full.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : full) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  in_fd = in[1];
  out_fd = out[0];
  err_fd = err[0];
  return pid;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Waits for `pid` up to `timeout`; returns the exit code or nullopt when still running.
std::optional<int> wait_for(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return decode_status(status);
    if (r < 0) return -1;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

cli_result run_cli(const std::vector<std::string>& args, const std::string& stdin_text, std::chrono::seconds timeout) {
  cli_result r;
  int in_fd = -1, out_fd = -1, err_fd = -1;
  pid_t pid = spawn(args, in_fd, out_fd, err_fd);
  if (pid < 0) return r;
  if (!stdin_text.empty()) {
    ssize_t ignored = write(in_fd, stdin_text.data(), stdin_text.size());
    (void)ignored;
  }
  close(in_fd);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (left <= 0) break;
    if (poll(fds, 2, left) <= 0) break;
    char buf[8192];
    for (int i = 0; i < 2; ++i) {
      bool& open = i == 0 ? out_open : err_open;
      if (!open || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        open = false;
      } else {
        (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  close(out_fd);
  close(err_fd);
  auto code = wait_for(pid, std::chrono::milliseconds(100));
  if (!code) {
    kill(pid, SIGKILL);
    code = wait_for(pid, std::chrono::seconds(5));
    r.exit_code = -1;
    return r;
  }
  r.exit_code = *code;
  return r;
}

serve_process::serve_process(const std::string& db, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"serve", "--port", "0", "--db", db};
  args.insert(args.end(), extra.begin(), extra.end());
  // OTLP/gRPC only where a test asks for it, so parallel tests never contend for port 4317.
  bool grpc_named = false;
  for (const auto& a : extra) grpc_named |= a == "--grpc-port" || a == "--no-grpc" || a == "--no-http";
  if (!grpc_named) args.emplace_back("--no-grpc");
  int in_fd = -1;
  pid_ = spawn(args, in_fd, out_fd_, err_fd_);
  if (pid_ < 0) return;
  close(in_fd);
  reader_ = std::thread([this] { drain(); });
  static const std::regex banner("listening on http://127\\.0\\.0\\.1:([0-9]+)");
  static const std::regex grpc_banner("OTLP/gRPC endpoint  http://127\\.0\\.0\\.1:([0-9]+)");
  static const std::regex database_line("  database  ");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lk(mu_);
      std::smatch m;
      // The database line comes after every port line of the banner.
      if (std::regex_search(out_, m, banner) && std::regex_search(out_, database_line)) {
        port_ = std::stoi(m[1].str());
        if (std::regex_search(out_, m, grpc_banner)) grpc_port_ = std::stoi(m[1].str());
        return;
      }
    }
    if (wait_for(pid_, std::chrono::milliseconds(0)).has_value()) {
      pid_ = -1;  // exited already (reaped by wait_for)
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void serve_process::drain() {
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    if (poll(fds, 2, 200) < 0) break;
    char buf[8192];
    for (int i = 0; i < 2; ++i) {
      bool& open = i == 0 ? out_open : err_open;
      if (!open || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      std::lock_guard lk(mu_);
      if (n <= 0) {
        open = false;
      } else {
        (i == 0 ? out_ : err_).append(buf, static_cast<std::size_t>(n));
      }
    }
  }
}

std::string serve_process::output() const {
  std::lock_guard lk(mu_);
  return out_ + err_;
}

int serve_process::stop(int sig) {
  if (pid_ > 0) {
    kill(pid_, sig);
    auto code = wait_for(pid_, std::chrono::seconds(kSanitized ? 60 : 10));
    if (!code) {
      kill(pid_, SIGKILL);
      code = wait_for(pid_, std::chrono::seconds(10));
    }
    exit_code_ = code.value_or(-1);
    pid_ = -1;
  }
  if (reader_.joinable()) reader_.join();  // the pipes close when the child is gone
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
  out_fd_ = err_fd_ = -1;
  port_ = 0;
  return exit_code_;
}

serve_process::~serve_process() {
  bool running = pid_ > 0;
  int code = stop();
  // A server that does not exit cleanly on SIGTERM crashed, or (in the sanitizer builds) its
  // sanitizer found something: the test that ran it fails, with what it printed.
  if (running && code != 0) ADD_FAILURE() << "logfire-cpp serve exited with " << code << " on SIGTERM:\n" << output();
}

namespace {

http_reply to_reply(const httplib::Result& res) {
  http_reply r;
  if (!res) return r;
  r.status = res->status;
  r.body = res->body;
  r.content_type = res->get_header_value("Content-Type");
  for (const auto& [k, v] : res->headers) r.headers[k] = v;
  return r;
}

httplib::Headers to_headers(const std::vector<std::pair<std::string, std::string>>& headers) {
  httplib::Headers h;
  for (const auto& [k, v] : headers) h.emplace(k, v);
  return h;
}

}  // namespace

http_reply post(int port, const std::string& path, const std::string& body, const std::string& content_type,
                const std::vector<std::pair<std::string, std::string>>& headers) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(5);
  cli.set_read_timeout(60);
  cli.set_write_timeout(60);
  cli.set_decompress(false);
  return to_reply(cli.Post(path, to_headers(headers), body, content_type));
}

http_reply post_chunked(int port, const std::string& path, const std::string& body, const std::string& content_type,
                        std::size_t chunk, const std::vector<std::pair<std::string, std::string>>& headers) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(5);
  cli.set_read_timeout(60);
  // A content provider without a length makes cpp-httplib send Transfer-Encoding: chunked.
  return to_reply(cli.Post(
      path, to_headers(headers),
      [&](std::size_t offset, httplib::DataSink& sink) {
        if (offset >= body.size()) {
          sink.done();
          return true;
        }
        std::size_t n = std::min(chunk, body.size() - offset);
        return sink.write(body.data() + offset, n);
      },
      content_type));
}

http_reply get(int port, const std::string& path, const std::vector<std::pair<std::string, std::string>>& headers) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(5);
  cli.set_read_timeout(60);
  return to_reply(cli.Get(path, to_headers(headers)));
}

std::string gzip(std::string_view data) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // 15+16: gzip wrapper
  std::string out(deflateBound(&zs, data.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

raw_connection::raw_connection(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    fd_ = fd;
  } else if (fd >= 0) {
    ::close(fd);
  }
}

raw_connection::~raw_connection() {
  if (fd_ >= 0) ::close(fd_);
}

bool raw_connection::send(std::string_view bytes) {
  while (!bytes.empty()) {
    pollfd p{fd_, POLLOUT, 0};
    if (fd_ < 0 || ::poll(&p, 1, 10'000) <= 0) return false;
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return false;
    if (n > 0) bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool raw_connection::read_some(std::chrono::milliseconds timeout) {
  if (fd_ < 0 || closed_) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  char buf[65536];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    closed_ = true;
    return false;
  }
  received_.append(buf, static_cast<std::size_t>(n));
  return true;
}

std::string raw_connection::read_until(std::string_view needle, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (received_.find(needle) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !read_some(left)) break;
  }
  return received_;
}

bool raw_connection::read_to_close(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!closed_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    read_some(left);
  }
  return closed_;
}

int listen_backlog(int port) {
  int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return -1;
  struct {
    nlmsghdr nlh;
    inet_diag_req_v2 req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.req.sdiag_family = AF_INET;
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = 1u << 10;  // TCP_LISTEN
  int backlog = -1;
  if (::send(fd, &msg, sizeof msg, 0) == static_cast<ssize_t>(sizeof msg)) {
    alignas(nlmsghdr) char buf[32768];
    bool done = false;
    while (!done) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, static_cast<unsigned>(n)); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
          done = true;
          break;
        }
        const auto* m = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
        if (ntohs(m->id.idiag_sport) == port) backlog = static_cast<int>(m->idiag_wqueue);
      }
    }
  }
  ::close(fd);
  return backlog;
}

process_memory memory_of(int pid) {
  process_memory m;
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/status").c_str(), "r");
  if (f == nullptr) return m;
  char line[256];
  while (std::fgets(line, sizeof line, f)) {
    long long kb = 0;
    if (std::sscanf(line, "VmRSS: %lld kB", &kb) == 1) m.rss = kb * 1024;
    if (std::sscanf(line, "VmHWM: %lld kB", &kb) == 1) m.peak = kb * 1024;
    if (std::sscanf(line, "RssAnon: %lld kB", &kb) == 1) m.anon = kb * 1024;
  }
  std::fclose(f);
  return m;
}

anon_peak_sampler::anon_peak_sampler(int pid) {
  thread_ = std::thread([this, pid] {
    while (!stop_.load()) {
      std::int64_t now = memory_of(pid).anon;
      if (now > peak_.load()) peak_.store(now);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
}

anon_peak_sampler::~anon_peak_sampler() {
  stop_.store(true);
  thread_.join();
}

std::vector<row> sql(const std::string& db, const std::string& query) {
  std::vector<row> rows;
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(h);
    return rows;
  }
  sqlite3_busy_timeout(h, 5000);
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(h, query.c_str(), -1, &s, nullptr) == SQLITE_OK) {
    while (sqlite3_step(s) == SQLITE_ROW) {
      row r;
      for (int i = 0; i < sqlite3_column_count(s); ++i) {
        const auto* t = sqlite3_column_text(s, i);
        r[sqlite3_column_name(s, i)] = t ? reinterpret_cast<const char*>(t) : "NULL";
      }
      rows.push_back(std::move(r));
    }
  } else {
    rows.push_back({{"error", sqlite3_errmsg(h)}});
  }
  sqlite3_finalize(s);
  sqlite3_close(h);
  return rows;
}

std::int64_t sql_count(const std::string& db, const std::string& query) {
  auto rows = sql(db, query);
  if (rows.empty() || rows[0].count("error")) return -1;
  return std::stoll(rows[0].begin()->second);
}

std::string bytes_from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  return out;
}

pb::key_value kv(const std::string& key, const std::string& value) {
  pb::key_value k;
  k.set_key(key);
  k.mutable_value()->set_string_value(value);
  return k;
}
pb::key_value kv(const std::string& key, const char* value) {
  return kv(key, std::string(value));
}
pb::key_value kv(const std::string& key, std::int64_t value) {
  pb::key_value k;
  k.set_key(key);
  k.mutable_value()->set_int_value(value);
  return k;
}
pb::key_value kv_tags(const std::vector<std::string>& tags) {
  pb::key_value k;
  k.set_key("logfire.tags");
  for (const auto& t : tags) k.mutable_value()->mutable_array_value()->add_values()->set_string_value(t);
  return k;
}

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

std::string random_hex(std::size_t bytes) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes * 2; ++i) out += digits[rng() & 0xF];
  if (out.find_first_not_of('0') == std::string::npos) out[0] = '1';
  return out;
}

pb::trace_request trace_request(const std::vector<span_spec>& spans, const std::string& service) {
  pb::trace_request req;
  auto* rs = req.add_resource_spans();
  auto* attr = rs->mutable_resource()->add_attributes();
  *attr = kv("service.name", service);
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("logfire");
  for (const auto& spec : spans) {
    auto* s = ss->add_spans();
    s->set_trace_id(bytes_from_hex(spec.trace_id));
    s->set_span_id(bytes_from_hex(spec.span_id));
    if (!spec.parent_span_id.empty()) s->set_parent_span_id(bytes_from_hex(spec.parent_span_id));
    s->set_name(spec.name);
    s->set_kind(opentelemetry::proto::trace::v1::Span::SPAN_KIND_INTERNAL);
    std::uint64_t start = spec.start_ns ? spec.start_ns : now_ns();
    s->set_start_time_unix_nano(start);
    s->set_end_time_unix_nano(start + spec.duration_ns);
    for (const auto& a : spec.attributes) *s->add_attributes() = a;
    if (spec.exception) {
      auto* ev = s->add_events();
      ev->set_name("exception");
      ev->set_time_unix_nano(start + spec.duration_ns / 2);
      *ev->add_attributes() = kv("exception.type", spec.exception->first);
      *ev->add_attributes() = kv("exception.message", spec.exception->second);
      *ev->add_attributes() = kv("exception.stacktrace", spec.stacktrace);
    }
    if (spec.error) {
      s->mutable_status()->set_code(opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
      if (spec.exception) s->mutable_status()->set_message(spec.exception->first + ": " + spec.exception->second);
    }
  }
  return req;
}

}  // namespace logfire::backend_test
