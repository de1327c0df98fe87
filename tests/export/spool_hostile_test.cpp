// The spool folder's contents are untrusted input (another process, an operator, a full disk
// wrote them). A huge or sparse file must neither abort nor bloat the instrumented process: the
// header is read first, every read is bounded by the spool's own limits, the body is read in
// chunks, and no allocation failure or exception reaches the host. A file whose header cannot be
// read is deleted with a line naming it. A server's Retry-After holds during flush and shutdown
// too: a deadline-bound flush does not hammer a server that asked for time.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "export/otlp_encoder.hpp"
#include "export/spool.hpp"
#include "export_test_util.hpp"
#include "logfire/config.hpp"
#include "logfire/logfire.hpp"
#include "setup/otlp_destinations.hpp"

namespace logfire::test {
namespace {

options sdk_options(const std::string& endpoint, const std::string& spool_root) {
  options o;
  o.service_name = "hostile-spool-test";
  o.console.enabled = false;
  o.read_environment = false;
  o.otlp.endpoint = endpoint;
  o.otlp.spool_directory = spool_root;
  o.otlp.backoff_initial = 50ms;
  o.otlp.backoff_max = 100ms;
  return o;
}

std::string folder_of(const options& o) {
  detail::resource r;
  r.set("service.name", *o.service_name);
  std::vector<detail::otlp_exporter_config> cfgs;
  std::vector<std::string> notices;
  const auto err = detail::resolve_destinations(
      o, r, [](std::string_view) { return std::optional<std::string>(); }, cfgs, notices);
  EXPECT_TRUE(err.empty()) << err;
  return cfgs.empty() ? std::string() : cfgs[0].spool_directory;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A sparse file of `size` bytes that starts with `head` (no disk space used beyond it).
void sparse_file(const std::string& path, std::uint64_t size, std::string_view head) {
  std::ofstream(path, std::ios::binary).write(head.data(), static_cast<std::streamsize>(head.size()));
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(size)), 0) << path;
}

// A valid header (magic, version, CRC) that claims a body of `body_bytes` with `records` records.
std::string header_claiming(std::uint64_t body_bytes, std::uint32_t records) {
  unsigned char h[detail::k_spool_header_bytes];
  detail::body_meta meta;
  meta.records = records;
  detail::encode_spool_header(meta, "x", h);
  for (int i = 0; i < 8; ++i) h[16 + i] = static_cast<unsigned char>(body_bytes >> (8 * i));
  const std::uint32_t crc = detail::crc32_of(std::string_view(reinterpret_cast<const char*>(h), 28));
  for (int i = 0; i < 4; ++i) h[28 + i] = static_cast<unsigned char>(crc >> (8 * i));
  return std::string(reinterpret_cast<const char*>(h), sizeof h);
}

std::uint64_t peak_rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6));
  return 0;
}

// Runs `body` in a forked child with stderr going to `err_path`; returns its wait status, or -1
// when it did not end within `limit` (it is killed).
template <typename Body>
int run_child(const std::string& err_path, std::chrono::milliseconds limit, Body body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) ::dup2(fd, 2);
    ::_exit(body());
  }
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(10ms);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -1;
}

TEST(SpoolHostile, HugeAndSparseFilesNeitherAbortNorBloatTheHost) {
  temp_dir tmp;
  const auto o = sdk_options("http://127.0.0.1:9", tmp.path() + "/spool");  // nothing listens on port 9
  const std::string folder = folder_of(o);
  ASSERT_EQ(std::system(("mkdir -p '" + folder + "'").c_str()), 0);
  // Oldest first: a 100 GB sparse file of zeros, a 1 GiB one whose valid header claims a 1 GiB
  // body, then a small intact file of another process (which must still be replayed).
  sparse_file(folder + "/00000000000000000001-x.lfspool", 100ull << 30, "");
  sparse_file(folder + "/00000000000000000002-y.lfspool", (1ull << 30) + detail::k_spool_header_bytes,
              header_claiming(1ull << 30, 25));
  {
    std::string err;
    auto sp = detail::spool::open({.directory = folder, .max_bytes = 1ull << 40}, err);
    ASSERT_TRUE(sp) << err;
    record_factory f;
    std::string body;
    detail::encode_traces_protobuf(f.spans(7), test_resource(), body);
    ASSERT_TRUE(sp->write(body, meta_of(7)).ok);
  }
  const std::uint64_t rss_before = peak_rss_kib();
  const std::string err_path = tmp.path() + "/stderr.txt";
  const int status = run_child(err_path, 60s, [&] {
    auto lf = configure(o);
    logfire::shutdown_guard lf_guard(lf);
    if (!lf) return 10;
    (void)force_flush(3s);
    const auto st = stats();
    if (st.produced != 0 || st.dropped_total() != 0) return 11;  // none of it is this process's
    if (st.replayed.dropped_by(drop_reason::spool_corrupt) != 25) return 12;
    if (peak_rss_kib() > rss_before + 64 * 1024) return 13;  // no allocation sized by the file
    (void)shutdown(2s);
    return 0;
  });
  const std::string err = read_file(err_path);
  ASSERT_TRUE(WIFEXITED(status)) << "the child did not exit normally (status " << status << ")\n" << err;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: configure, 11: charged to this process, 12: not counted, 13: RSS\n" << err;
  const auto left = spool_files(folder);
  EXPECT_EQ(std::count(left.begin(), left.end(), "00000000000000000001-x.lfspool"), 0) << "the 100 GB file stayed";
  EXPECT_EQ(std::count(left.begin(), left.end(), "00000000000000000002-y.lfspool"), 0) << "the 1 GiB file stayed";
  EXPECT_EQ(left.size(), 1u);  // the intact file waits for a backend that answers
  EXPECT_NE(err.find("00000000000000000001-x.lfspool"), std::string::npos) << err;
  EXPECT_NE(err.find("00000000000000000002-y.lfspool"), std::string::npos) << err;
}

TEST(SpoolHostile, AFileWithAnUnreadableHeaderIsDeletedWithALineNamingIt) {
  temp_dir tmp;
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  const auto o = sdk_options(rx.endpoint(), tmp.path() + "/spool");
  const std::string folder = folder_of(o);
  ASSERT_EQ(std::system(("mkdir -p '" + folder + "'").c_str()), 0);
  std::ofstream(folder + "/00000000000000000001-garbage.lfspool") << std::string(100, 'Z');
  testing::internal::CaptureStderr();
  {
    auto lf = configure(o);
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    EXPECT_TRUE(force_flush(5s));
    const auto st = stats();
    EXPECT_EQ(st.count_of(event_counter::spool_files_unreadable), 1u) << st.summary();
    EXPECT_EQ(st.dropped_total(), 0u) << st.summary();
  }
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(spool_files(folder).empty());
  EXPECT_NE(err.find("00000000000000000001-garbage.lfspool"), std::string::npos) << err;
}

TEST(SpoolHostile, FlushAndShutdownHonourALongRetryAfter) {
  for (const bool with_spool : {true, false}) {
    SCOPED_TRACE(with_spool ? "with a spool" : "without a spool");
    temp_dir tmp;
    otlp_receiver rx;
    ASSERT_TRUE(rx.start());
    rx.set_status(429, {{"Retry-After", "100000"}});
    auto o = sdk_options(rx.endpoint(), tmp.path() + "/spool");
    o.otlp.spool = with_spool;
    {
      auto lf = configure(o);
      ASSERT_TRUE(lf) << lf.error();
      logfire::shutdown_guard lf_guard(lf);
      for (int i = 0; i < 10; ++i) info("asked to wait {i}", {{"i", i}});
      EXPECT_FALSE(force_flush(2s));
      EXPECT_FALSE(shutdown(2s));
      const auto st = stats();
      EXPECT_EQ(st.produced, 10u);
      EXPECT_EQ(st.produced, st.exported + st.dropped_total() + st.in_spool) << st.summary();
    }
    // The first request got "come back in 100000 s": nothing more was sent.
    EXPECT_EQ(rx.request_count(), 1u);
  }
}

}  // namespace
}  // namespace logfire::test
