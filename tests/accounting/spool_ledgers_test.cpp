// Two ledgers: this process's records, and records replayed from spool files that other
// processes (or an earlier configure()) wrote. Deliveries and losses of replayed files are
// reported apart and never change this process's identity or its flush result; a spool file of
// this process that another process sends leaves this process's ledger as "taken over".
#include <cstdlib>
#include <fstream>

#include "accounting/accounting_support.hpp"
#include "export/otlp_encoder.hpp"
#include "export/spool.hpp"
#include "setup/otlp_destinations.hpp"
#include "support/otlp_receiver.hpp"

using namespace accounting_test;
namespace detail = logfire::detail;

namespace {

class temp_dir {
 public:
  temp_dir() {
    char buf[] = "/tmp/logfire-ledger-XXXXXX";
    if (::mkdtemp(buf) != nullptr) path_ = buf;
  }
  ~temp_dir() {
    if (!path_.empty()) std::system(("rm -rf '" + path_ + "'").c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

logfire::options sdk_options(const std::string& endpoint, const std::string& spool_root) {
  logfire::options o;
  o.service_name = "ledger-test";
  o.console.enabled = false;
  o.read_environment = false;
  o.otlp.endpoint = endpoint;
  o.otlp.spool_directory = spool_root;
  o.otlp.backoff_initial = 20ms;
  o.otlp.backoff_max = 50ms;
  return o;
}

// The folder the SDK will use for `o`'s destination.
std::string spool_folder_of(const logfire::options& o) {
  detail::resource r;
  r.set("service.name", *o.service_name);
  std::vector<detail::otlp_exporter_config> cfgs;
  std::vector<std::string> notices;
  const auto err = detail::resolve_destinations(
      o, r, [](std::string_view) { return std::optional<std::string>(); }, cfgs, notices);
  EXPECT_TRUE(err.empty()) << err;
  return cfgs.empty() ? std::string() : cfgs[0].spool_directory;
}

// A file as another process would have left it, with `records` records.
void write_foreign_file(const std::string& dir, std::uint32_t records, bool corrupt) {
  std::string err;
  auto sp = detail::spool::open({.directory = dir, .max_bytes = 1 << 20}, err);
  ASSERT_TRUE(sp) << err;
  std::string body = "not really protobuf, but the checksums will say whether it is intact";
  detail::body_meta meta;
  meta.records = records;
  ASSERT_TRUE(sp->write(body, meta).ok);
  if (!corrupt) return;
  // Flip one body byte of the only file.
  std::string cmd =
      "f=$(ls '" + dir + "'/*.lfspool) && printf 'X' | dd of=\"$f\" bs=1 seek=40 conv=notrunc 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
}

// A delivery counter for the exporter that plays the other process (its numbers are not checked).
class other_process_counter final : public logfire::delivery_counter {
 public:
  void delivered(std::uint64_t) noexcept override {}
  void dropped(logfire::drop_reason, std::uint64_t, std::string_view) noexcept override {}
  void count(logfire::event_counter, std::uint64_t) noexcept override {}
};

}  // namespace

TEST(spool_ledgers, a_corrupt_file_of_an_earlier_process_is_not_charged_to_this_one) {
  logfire::test::otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  temp_dir root;
  auto o = sdk_options(rx.endpoint(), root.path());
  write_foreign_file(spool_folder_of(o), 37, /*corrupt=*/true);
  stderr_capture capture;
  {
    auto lf = logfire::configure(o);
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    EXPECT_TRUE(logfire::force_flush(5s));  // this process lost nothing
    const auto st = logfire::stats();
    EXPECT_EQ(st.produced, 0u) << st.summary();
    EXPECT_EQ(st.dropped_total(), 0u) << st.summary();
    EXPECT_EQ(st.replayed.dropped_by(logfire::drop_reason::spool_corrupt), 37u);
    EXPECT_EQ(st.replayed.exported, 0u);
    expect_balanced(st);
    EXPECT_TRUE(logfire::shutdown(5s));
  }
  const std::string err = capture.take();
  EXPECT_NE(err.find(".lfspool"), std::string::npos) << err;  // the file is named
}

TEST(spool_ledgers, an_intact_file_of_an_earlier_process_is_replayed_apart) {
  logfire::test::otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  rx.set_status(200);  // the body is not real OTLP: accept it anyway
  temp_dir root;
  auto o = sdk_options(rx.endpoint(), root.path());
  write_foreign_file(spool_folder_of(o), 12, /*corrupt=*/false);
  auto lf = logfire::configure(o);
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard lf_guard(lf);
  logfire::info("mine");
  EXPECT_TRUE(logfire::force_flush(5s));
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, 1u) << st.summary();
  EXPECT_EQ(st.exported, 1u) << st.summary();
  EXPECT_EQ(st.replayed.exported, 12u);
  expect_balanced(st);
}

TEST(spool_ledgers, a_file_of_this_process_sent_by_another_process_is_taken_over) {
  temp_dir root;
  // This process: its backend is down, so its records go to the spool.
  auto o = sdk_options("http://127.0.0.1:9", root.path());
  const std::string folder = spool_folder_of(o);
  stderr_capture capture;
  {
    auto lf = logfire::configure(o);
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard lf_guard(lf);
    for (int i = 0; i < 10; ++i) logfire::info("spooled {i}", {{"i", i}});
    EXPECT_FALSE(logfire::force_flush(1s));
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (logfire::stats().in_spool < 10 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(10ms);
    ASSERT_EQ(logfire::stats().in_spool, 10u) << logfire::stats().summary();

    // Another process of the service, whose backend answers, sends the file.
    logfire::test::otlp_receiver rx;
    ASSERT_TRUE(rx.start());
    detail::otlp_exporter_config cfg;
    cfg.name = "other";
    cfg.url = rx.traces_url();
    cfg.spool_directory = folder;
    cfg.backoff_initial = 20ms;
    cfg.backoff_max = 50ms;
    other_process_counter other_counter;
    auto other = detail::make_otlp_exporter(cfg, detail::resource{});
    other->start(other_counter);
    ASSERT_TRUE(rx.wait_for_spans(10, 30s));
    EXPECT_TRUE(other->shutdown(logfire::clock::now() + 5s));

    EXPECT_TRUE(logfire::force_flush(2s));  // nothing of this process is left anywhere
    const auto st = logfire::stats();
    EXPECT_EQ(st.in_spool, 0u) << st.summary();
    EXPECT_EQ(st.spool_taken_over, 10u) << st.summary();
    expect_balanced(st);
    EXPECT_TRUE(logfire::shutdown(2s));
  }
  const std::string err = capture.take();
  EXPECT_EQ(err.find("left in the disk spool"), std::string::npos) << err;
}
