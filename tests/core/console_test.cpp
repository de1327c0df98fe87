// The console as configure() sets it up: span starts and logs, indented by depth, with the
// options of console_options (output file, colours, min level, timestamps, tags, verbose).
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/core_support.hpp"

using namespace core_test;
using logfire::level;

namespace {

// "HH:MM:SS.mmm " at the start of `l`.
bool has_time_prefix(const std::string& l) {
  static constexpr std::string_view shape = "dd:dd:dd.ddd ";
  if (l.size() < shape.size()) return false;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const bool digit = l[i] >= '0' && l[i] <= '9';
    if (shape[i] == 'd' ? !digit : l[i] != shape[i]) return false;
  }
  return true;
}

// A console writing into a temporary file.
class console_file {
 public:
  console_file() : f_(std::tmpfile()) {}
  ~console_file() {
    if (f_) std::fclose(f_);
  }
  console_file(const console_file&) = delete;
  console_file& operator=(const console_file&) = delete;
  std::FILE* get() const { return f_; }
  std::string text() const {
    std::fflush(f_);
    std::string out;
    std::rewind(f_);
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f_)) > 0;) out.append(buf, n);
    return out;
  }
  // The lines, with the "HH:MM:SS.mmm " prefix checked and removed.
  std::vector<std::string> lines_without_time() const {
    std::vector<std::string> out;
    const std::string t = text();
    std::size_t start = 0;
    while (start < t.size()) {
      std::size_t nl = t.find('\n', start);
      if (nl == std::string::npos) nl = t.size();
      const std::string l = t.substr(start, nl - start);
      out.push_back(has_time_prefix(l) ? l.substr(13) : "<no time> " + l);
      start = nl + 1;
    }
    return out;
  }

 private:
  std::FILE* f_;
};

logfire::options console_options(const console_file& out) {
  logfire::options o;
  o.read_environment = false;
  o.console.output = out.get();
  o.console.colors = logfire::console_colors::never;
  return o;
}

}  // namespace

TEST(console, nested_spans_and_logs_are_indented) {
  console_file out;
  {
    auto lf = logfire::configure(console_options(out));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard guard(lf);  // the console is complete when the scope ends
    {
      logfire::span request("GET /orders/{id}", {{"id", 7}}, {.tags = {"http", "api"}});
      logfire::info("loading order {id}", {{"id", 7}});
      {
        logfire::span db("query {table}", {{"table", "orders"}});
        logfire::warn("slow query {ms}ms", {{"ms", 250}});
        logfire::debug("not shown: below the console's min level");
      }
      logfire::info("done");
    }
    logfire::info("outside");
  }
  const auto lines = out.lines_without_time();
  const std::vector<std::string> expected = {
      "GET /orders/7 [http,api]", "  loading order 7", "  query orders", "    slow query 250ms", "  done", "outside",
  };
  EXPECT_EQ(lines, expected) << out.text();
  // Colours never: no escape sequences at all.
  EXPECT_EQ(out.text().find('\x1b'), std::string::npos);
}

TEST(console, spans_are_shown_at_their_start) {
  console_file out;
  {
    auto lf = logfire::configure(console_options(out));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard guard(lf);  // the console is complete when the scope ends
    logfire::span long_running("long running");
    ASSERT_TRUE(logfire::force_flush());
    // Visible before it ends.
    EXPECT_EQ(out.lines_without_time(), std::vector<std::string>{"long running"});
  }
}

TEST(console, min_level_timestamps_and_tags_options) {
  console_file out;
  {
    logfire::options o = console_options(out);
    o.console.min_level = level::warn;
    o.console.include_timestamps = false;
    o.console.include_tags = false;
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard guard(lf);  // the console is complete when the scope ends
    logfire::info("hidden");
    logfire::warn("shown", {}, {.tags = {"t"}});
    logfire::error("also shown");
  }
  EXPECT_EQ(out.text(), "shown\nalso shown\n");
}

TEST(console, colours_always) {
  console_file out;
  {
    logfire::options o = console_options(out);
    o.console.colors = logfire::console_colors::always;
    o.console.include_timestamps = false;
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard guard(lf);  // the console is complete when the scope ends
    logfire::error("red");
    logfire::warn("yellow");
    logfire::info("plain", {}, {.tags = {"cyan"}});
  }
  const std::string t = out.text();
  EXPECT_NE(t.find("\x1b[31mred\x1b[0m"), std::string::npos) << t;
  EXPECT_NE(t.find("\x1b[33myellow\x1b[0m"), std::string::npos) << t;
  EXPECT_NE(t.find("plain \x1b[36m[cyan]\x1b[0m"), std::string::npos) << t;
}

TEST(console, verbose_shows_location_arguments_and_exceptions) {
  console_file out;
  {
    logfire::options o = console_options(out);
    o.console.verbose = true;
    o.console.include_timestamps = false;
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard guard(lf);  // the console is complete when the scope ends
    logfire::exception("payment failed for {user}", std::runtime_error("card declined"), {{"user", "ann"}});
  }
  const std::string t = out.text();
  EXPECT_EQ(t.rfind("payment failed for ann\n", 0), 0u) << t;
  EXPECT_NE(t.find("console_test.cpp:"), std::string::npos) << t;
  EXPECT_NE(t.find(" error\n"), std::string::npos) << t;
  EXPECT_NE(t.find("user=ann"), std::string::npos) << t;
  EXPECT_NE(t.find("std::runtime_error: card declined"), std::string::npos) << t;
}

TEST(console, the_console_alone_counts_as_the_destination) {
  console_file out;
  auto lf = logfire::configure(console_options(out));
  ASSERT_TRUE(lf) << lf.error();
  logfire::shutdown_guard guard(lf);
  for (int i = 0; i < 5; ++i) logfire::info("line {i}", {{"i", i}});
  EXPECT_TRUE(logfire::force_flush());
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, 5u);
  EXPECT_EQ(st.exported, 5u);
  EXPECT_EQ(out.lines_without_time().size(), 5u);
}

TEST(console, disabled_console_prints_nothing) {
  console_file out;
  {
    logfire::options o = console_options(out);
    o.console.enabled = false;
    auto mem = std::make_shared<logfire::memory_exporter>();
    o.exporters = {mem};
    auto lf = logfire::configure(std::move(o));
    ASSERT_TRUE(lf) << lf.error();
    logfire::shutdown_guard guard(lf);  // the console is complete when the scope ends
    logfire::info("only in memory");
    EXPECT_TRUE(logfire::force_flush());
    EXPECT_EQ(mem->size(), 1u);
  }
  EXPECT_EQ(out.text(), "");
}
