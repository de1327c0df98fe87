// Helpers for the exporter tests: hand-built span records with unique ids, a delivery counter
// that tests can read, temporary directories, and exporter configs pointing at a receiver with
// fast backoff (the tests must not wait minutes; one test keeps the real 30 s outage).
#pragma once

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "export/otlp_exporter.hpp"
#include "logfire/exporter.hpp"
#include "logfire/record.hpp"
#include "resource/resource.hpp"
#include "support/otlp_receiver.hpp"
#include "support/sanitizers.hpp"

namespace logfire::test {

using namespace std::chrono_literals;

// A thread-safe delivery counter the tests read.
class test_counter final : public delivery_counter {
 public:
  void delivered(std::uint64_t n) noexcept override { delivered_ += n; }
  void dropped(drop_reason reason, std::uint64_t n, std::string_view detail) noexcept override {
    dropped_[static_cast<std::size_t>(reason)] += n;
    std::lock_guard lock(mu_);
    details_[reason].emplace_back(detail);
  }
  void count(event_counter which, std::uint64_t n) noexcept override { events_[static_cast<std::size_t>(which)] += n; }
  void count_with_detail(event_counter which, std::uint64_t n, std::string_view detail) noexcept override {
    events_[static_cast<std::size_t>(which)] += n;
    std::lock_guard lock(mu_);
    event_details_[which].emplace_back(detail);
  }
  void spooled(std::uint64_t n) noexcept override { spooled_ += n; }
  void unspooled(std::uint64_t n) noexcept override { unspooled_ += n; }
  void taken_over(std::uint64_t n) noexcept override { taken_over_ += n; }
  void replay_delivered(std::uint64_t n) noexcept override { replay_delivered_ += n; }
  void replay_dropped(drop_reason reason, std::uint64_t n, std::string_view detail) noexcept override {
    replay_dropped_[static_cast<std::size_t>(reason)] += n;
    std::lock_guard lock(mu_);
    replay_details_[reason].emplace_back(detail);
  }

  [[nodiscard]] std::uint64_t delivered() const { return delivered_.load(); }
  [[nodiscard]] std::uint64_t dropped(drop_reason r) const { return dropped_[static_cast<std::size_t>(r)].load(); }
  [[nodiscard]] std::uint64_t dropped_total() const {
    std::uint64_t t = 0;
    for (const auto& d : dropped_) t += d.load();
    return t;
  }
  [[nodiscard]] std::uint64_t events(event_counter c) const { return events_[static_cast<std::size_t>(c)].load(); }
  [[nodiscard]] std::vector<std::string> details(drop_reason r) const {
    std::lock_guard lock(mu_);
    auto it = details_.find(r);
    return it == details_.end() ? std::vector<std::string>{} : it->second;
  }
  // Records of this exporter's own spool files: on disk, and taken over by another process.
  [[nodiscard]] std::uint64_t in_spool() const { return spooled_.load() - unspooled_.load() - taken_over_.load(); }
  [[nodiscard]] std::uint64_t taken_over() const { return taken_over_.load(); }
  // The replay ledger: spool files this exporter did not write.
  [[nodiscard]] std::uint64_t replay_delivered() const { return replay_delivered_.load(); }
  [[nodiscard]] std::uint64_t replay_dropped(drop_reason r) const {
    return replay_dropped_[static_cast<std::size_t>(r)].load();
  }
  [[nodiscard]] std::vector<std::string> replay_details(drop_reason r) const {
    std::lock_guard lock(mu_);
    auto it = replay_details_.find(r);
    return it == replay_details_.end() ? std::vector<std::string>{} : it->second;
  }
  [[nodiscard]] std::vector<std::string> event_details(event_counter c) const {
    std::lock_guard lock(mu_);
    auto it = event_details_.find(c);
    return it == event_details_.end() ? std::vector<std::string>{} : it->second;
  }
  // delivered + every drop + what is in the spool (left there for the next process at shutdown,
  // where it equals spool_left_at_exit) or was taken over by another process.
  [[nodiscard]] std::uint64_t accounted() const { return delivered() + dropped_total() + in_spool() + taken_over(); }

 private:
  std::atomic<std::uint64_t> delivered_{0};
  std::array<std::atomic<std::uint64_t>, drop_reason_count> dropped_{};
  std::array<std::atomic<std::uint64_t>, event_counter_count> events_{};
  std::atomic<std::uint64_t> spooled_{0};
  std::atomic<std::uint64_t> unspooled_{0};
  std::atomic<std::uint64_t> taken_over_{0};
  std::atomic<std::uint64_t> replay_delivered_{0};
  std::array<std::atomic<std::uint64_t>, drop_reason_count> replay_dropped_{};
  mutable std::mutex mu_;
  std::map<drop_reason, std::vector<std::string>> details_;
  std::map<drop_reason, std::vector<std::string>> replay_details_;
  std::map<event_counter, std::vector<std::string>> event_details_;
};

// Owns the memory behind span records. Every record gets a unique span id (a global
// sequence) so the tests can check which records arrived, and four attributes.
class record_factory {
 public:
  explicit record_factory(std::uint64_t id_base = 0) : next_(id_base + 1) {}

  // `n` finished spans (type span), named "work {i}".
  std::vector<span_record> spans(std::size_t n, std::size_t attr_bytes = 16) {
    std::vector<span_record> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) out.push_back(make(record_type::span, attr_bytes));
    return out;
  }

  span_record make(record_type type, std::size_t attr_bytes = 16, std::uint64_t parent = 0) {
    const std::uint64_t id = next_++;
    auto& attrs = attrs_.emplace_back();
    auto& text = text_.emplace_back(std::string(attr_bytes, static_cast<char>('a' + id % 26)));
    attrs.push_back({"user_id", int_value(static_cast<std::int64_t>(id))});
    attrs.push_back({"payload", str_value(text)});
    attrs.push_back({"ratio", float_value(0.25)});
    attrs.push_back({"logfire.span_type", str_value(to_string(type))});
    span_record r;
    r.type = type;
    r.context.trace.hi = 0x0190000000000000ULL | (id >> 8);
    r.context.trace.lo = 0x9e3779b97f4a7c15ULL * id;
    r.context.span.value = id;
    r.context.flags = trace_flags::sampled;
    r.parent.value = parent;
    r.name = "work {i}";
    r.message = "work";
    r.kind = span_kind::internal;
    const auto now = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    r.start_unix_nano = now - 1'000'000;
    r.end_unix_nano = type == record_type::span ? now : r.start_unix_nano;
    r.attributes = attrs;
    return r;
  }

 private:
  static attribute_value int_value(std::int64_t v) {
    attribute_value a;
    a.type = attribute_value::kind::int64;
    a.i = v;
    return a;
  }
  static attribute_value float_value(double v) {
    attribute_value a;
    a.type = attribute_value::kind::float64;
    a.d = v;
    return a;
  }
  static attribute_value str_value(std::string_view v) {
    attribute_value a;
    a.type = attribute_value::kind::string;
    a.s = v;
    return a;
  }

  std::uint64_t next_;
  std::deque<std::vector<attribute>> attrs_;
  std::deque<std::string> text_;
};

inline detail::resource test_resource(std::string service = "export-test") {
  detail::resource r;
  r.set("service.name", std::move(service));
  r.set("telemetry.sdk.name", std::string("logfire-cpp"));
  return r;
}

// The span ids (as 16 hex chars) of the spans the receiver accepted, and how many arrived
// more than once.
struct arrivals {
  std::set<std::string> unique;
  std::size_t total = 0;
  [[nodiscard]] std::size_t duplicates() const { return total - unique.size(); }
};
inline arrivals arrived(const otlp_receiver& rx) {
  arrivals a;
  for (const auto& s : rx.spans()) {
    a.unique.insert(s.span_id());
    ++a.total;
  }
  return a;
}
inline std::string span_id_bytes(std::uint64_t id) {
  unsigned char b[8];
  span_id{id}.write_bytes(b);
  return std::string(reinterpret_cast<const char*>(b), 8);
}

// A fresh directory under $TMPDIR (or /tmp), removed with its content at scope exit.
class temp_dir {
 public:
  temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/logfire-export-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) != nullptr) path_ = buf.data();
  }
  ~temp_dir() {
    if (!path_.empty()) remove_tree(path_);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

  static void remove_tree(const std::string& p) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
      if (DIR* d = ::opendir(p.c_str())) {
        while (dirent* e = ::readdir(d)) {
          std::string n = e->d_name;
          if (n != "." && n != "..") remove_tree(p + "/" + n);
        }
        ::closedir(d);
      }
      ::chmod(p.c_str(), 0700);
      ::rmdir(p.c_str());
    } else {
      ::unlink(p.c_str());
    }
  }

 private:
  std::string path_;
};

// Names of the complete spool files in a folder, sorted.
inline std::vector<std::string> spool_files(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > 8 && n.front() != '.' && n.ends_with(".lfspool")) out.push_back(n);
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// How the receiver answers (helpers, since designated initializers must name every member).
inline reply answer(int status, std::vector<std::pair<std::string, std::string>> headers = {}, std::string body = {},
                    std::chrono::milliseconds delay = 0ms) {
  reply r;
  r.status = status;
  r.headers = std::move(headers);
  r.body = std::move(body);
  r.delay = delay;
  return r;
}
inline reply delayed(std::chrono::milliseconds delay) {
  return answer(200, {}, {}, delay);
}

inline detail::body_meta meta_of(std::uint32_t records, detail::body_format format = detail::body_format::protobuf,
                                 bool gzip = false, bool maybe_duplicate = false) {
  detail::body_meta m;
  m.format = format;
  m.gzip = gzip;
  m.records = records;
  m.maybe_duplicate = maybe_duplicate;
  return m;
}

inline detail::http_request request(std::string_view url, std::span<const detail::http_header> headers,
                                    std::string_view body, std::chrono::milliseconds timeout = 10s,
                                    const std::atomic<std::int64_t>* abort_at_ns = nullptr) {
  detail::http_request r;
  r.url = url;
  r.headers = headers;
  r.body = body;
  r.timeout = timeout;
  r.abort_at_ns = abort_at_ns;
  return r;
}

// An exporter config for the receiver's URL with retries fast enough for tests.
inline detail::otlp_exporter_config fast_config(const std::string& url, const std::string& spool_dir = {}) {
  detail::otlp_exporter_config c;
  c.name = "otlp " + url;
  c.url = url;
  c.headers.push_back({"Authorization", "pylf_v1_us_testtoken"});
  c.backoff_initial = 100ms;
  c.backoff_max = 400ms;
  c.timeout = 5s;
  c.spool_directory = spool_dir;
  return c;
}

// Polls `pred` every 10 ms until it holds or `timeout` passes.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

// A loopback port with nothing listening (bound then closed): connections are refused.
inline std::uint16_t closed_port() {
  otlp_receiver rx;
  if (!rx.start()) return 1;
  auto p = rx.port();
  rx.stop();
  return p;
}

}  // namespace logfire::test
