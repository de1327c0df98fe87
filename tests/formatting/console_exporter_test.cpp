// The console as a developer sees it: exact lines (time, indentation by depth, level colours,
// tags, verbose details, exceptions) for batches of pending spans, logs and finished spans.
// Time zone fixed to UTC so the HH:MM:SS.mmm prefix is the same on every machine.
#include "export/console_exporter.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "logfire/record.hpp"

namespace {

using logfire::attribute;
using logfire::attribute_value;
using logfire::event;
using logfire::level;
using logfire::record_type;
using logfire::span_record;
using logfire::detail::console_exporter;
using logfire::detail::console_settings;

// 2024-01-02 03:04:05.678 UTC
constexpr std::uint64_t k_t0 = 1704164645ull * 1'000'000'000ull + 678'000'000ull;
constexpr std::uint64_t k_ms = 1'000'000ull;

class Console : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
  }

  static attribute_value str(std::string_view s) {
    attribute_value v;
    v.type = attribute_value::kind::string;
    v.s = s;
    return v;
  }
  static attribute_value num(std::int64_t i) {
    attribute_value v;
    v.type = attribute_value::kind::int64;
    v.i = i;
    return v;
  }

  // A pending span (span start) for the real span `span_id`.
  static span_record pending(std::string_view msg, std::uint32_t depth, std::uint64_t t, std::uint64_t span_id,
                             level lvl = level::info) {
    span_record r;
    r.type = record_type::pending_span;
    r.name = r.message = msg;
    r.depth = depth;
    r.level = lvl;
    r.start_unix_nano = r.end_unix_nano = t;
    r.context.span.value = span_id + 1000;  // pending spans have their own id
    r.parent.value = span_id;
    return r;
  }
  static span_record log(std::string_view msg, std::uint32_t depth, std::uint64_t t, level lvl = level::info) {
    span_record r;
    r.type = record_type::log;
    r.name = r.message = msg;
    r.depth = depth;
    r.level = lvl;
    r.start_unix_nano = r.end_unix_nano = t;
    return r;
  }
  static span_record finished(std::string_view msg, std::uint32_t depth, std::uint64_t start, std::uint64_t end,
                              std::uint64_t span_id, level lvl = level::info) {
    span_record r;
    r.type = record_type::span;
    r.name = r.message = msg;
    r.depth = depth;
    r.level = lvl;
    r.start_unix_nano = start;
    r.end_unix_nano = end;
    r.context.span.value = span_id;
    return r;
  }

  static std::string print(console_exporter& c, const std::vector<span_record>& batch) {
    std::string out;
    c.format_batch(batch, out);
    return out;
  }
};

attribute_value text(std::string_view s) {
  attribute_value v;
  v.type = attribute_value::kind::string;
  v.s = s;
  return v;
}

// The batch a small request produces: nested spans, logs at several levels, an exception.
struct request_batch {
  attribute exception_attrs[3] = {
      {"exception.type", text("ValueError")},
      {"exception.message", text("card declined")},
      {"exception.stacktrace", text("frame 1\nframe 2\n")},
  };
  event exception{"exception", k_t0 + 4 * k_ms, exception_attrs};
  attribute_value tags[2] = {text("shop"), text("web")};
  std::vector<span_record> records;
};

class ConsoleRequest : public Console {
 protected:
  void SetUp() override {
    Console::SetUp();
    span_record checkout = pending("checkout", 0, k_t0, 100);
    checkout.tags = b_.tags;
    span_record declined = log("card declined", 2, k_t0 + 4 * k_ms, level::error);
    declined.events = {&b_.exception, 1};
    b_.records = {checkout,
                  log("charged 42", 1, k_t0 + 1 * k_ms),
                  pending("charge card", 1, k_t0 + 2 * k_ms, 200),
                  log("retrying", 2, k_t0 + 3 * k_ms, level::warn),
                  declined,
                  log("debug detail", 2, k_t0 + 5 * k_ms, level::debug),
                  finished("charge card", 1, k_t0 + 2 * k_ms, k_t0 + 6 * k_ms, 200),
                  finished("checkout", 0, k_t0, k_t0 + 7 * k_ms, 100)};
  }
  request_batch b_;
};

TEST_F(ConsoleRequest, PrintsStartsAndLogsIndentedByDepth) {
  console_exporter c;
  EXPECT_EQ(print(c, b_.records),
            "03:04:05.678 checkout [shop,web]\n"
            "03:04:05.679   charged 42\n"
            "03:04:05.680   charge card\n"
            "03:04:05.681     retrying\n"
            "03:04:05.682     card declined\n"
            "                 \u2502 ValueError: card declined\n");
}

TEST_F(ConsoleRequest, ColoursByLevelWithExactAnsiCodes) {
  console_exporter c({.colors = true});
  EXPECT_EQ(print(c, b_.records),
            "\x1b[32m03:04:05.678\x1b[0m checkout \x1b[36m[shop,web]\x1b[0m\n"
            "\x1b[32m03:04:05.679\x1b[0m   charged 42\n"
            "\x1b[32m03:04:05.680\x1b[0m   charge card\n"
            "\x1b[32m03:04:05.681\x1b[0m     \x1b[33mretrying\x1b[0m\n"
            "\x1b[32m03:04:05.682\x1b[0m     \x1b[31mcard declined\x1b[0m\n"
            "                 \x1b[34m\u2502 \x1b[0m\x1b[1;31mValueError: \x1b[0mcard declined\n");
}

TEST_F(ConsoleRequest, WithoutTimestampsOrTags) {
  console_exporter c({.include_timestamps = false, .include_tags = false});
  EXPECT_EQ(print(c, b_.records),
            "checkout\n"
            "  charged 42\n"
            "  charge card\n"
            "    retrying\n"
            "    card declined\n"
            "    \u2502 ValueError: card declined\n");
}

TEST_F(ConsoleRequest, MinLevelFilters) {
  console_exporter warn_only({.min_level = level::warn, .include_timestamps = false});
  EXPECT_EQ(print(warn_only, b_.records),
            "    retrying\n"
            "    card declined\n"
            "    \u2502 ValueError: card declined\n");
  console_exporter everything({.min_level = level::trace, .include_timestamps = false, .include_tags = false});
  const std::string all = print(everything, b_.records);
  EXPECT_NE(all.find("    debug detail\n"), std::string::npos) << all;
}

TEST_F(ConsoleRequest, VerboseAddsTheStackTrace) {
  console_exporter c({.include_timestamps = false, .verbose = true});
  const std::string out = print(c, b_.records);
  EXPECT_NE(out.find("    card declined\n"
                     "    \u2502 error\n"
                     "    \u2502 ValueError: card declined\n"
                     "    \u2502 frame 1\n"
                     "    \u2502 frame 2\n"),
            std::string::npos)
      << out;
}

TEST_F(Console, VerboseShowsLocationLevelAndArguments) {
  const attribute attrs[] = {
      {"logfire.msg_template", str("charged {user_id}")},
      {"code.filepath", str("src/shop.cpp")},
      {"code.lineno", num(42)},
      {"user_id", num(42)},
      {"note", str("two\nlines")},
  };
  span_record r = log("charged 42", 1, k_t0);
  r.attributes = attrs;
  std::vector<span_record> batch{r};

  console_exporter plain({.verbose = true});
  EXPECT_EQ(print(plain, batch),
            "03:04:05.678   charged 42\n"
            "               \u2502 src/shop.cpp:42 info\n"
            "               \u2502 user_id=42\n"
            "               \u2502 note=two\n"
            "               \u2502      lines\n");

  console_exporter colored({.colors = true, .verbose = true});
  EXPECT_EQ(print(colored, batch),
            "\x1b[32m03:04:05.678\x1b[0m   charged 42\n"
            "               \x1b[34m\u2502\x1b[0m\x1b[36m src/shop.cpp:42\x1b[0m info\n"
            "               \x1b[34m\u2502 user_id=\x1b[0m42\n"
            "               \x1b[34m\u2502 note=\x1b[0mtwo\n"
            "               \x1b[34m\u2502\x1b[0m      lines\n");
}

TEST_F(Console, FinishedSpansAreNotPrintedAgain) {
  console_exporter c({.include_timestamps = false});
  EXPECT_EQ(print(c, {pending("work", 0, k_t0, 400)}), "work\n");
  // The end arrives in a later batch: nothing to print.
  EXPECT_EQ(print(c, {finished("work", 0, k_t0, k_t0 + 5 * k_ms, 400)}), "");
}

TEST_F(Console, SpanWhoseStartWasNeverSeenIsPrintedOnceInStartOrder) {
  console_exporter c;
  EXPECT_EQ(print(c, {log("inside", 1, k_t0 + 1 * k_ms), finished("late span", 0, k_t0, k_t0 + 5 * k_ms, 300)}),
            "03:04:05.678 late span\n"
            "03:04:05.679   inside\n");
}

TEST_F(Console, RecordsFromSeveralThreadsPrintInTimeOrder) {
  // The pipeline drains one thread's ring after another: thread 1's records, then thread 2's.
  console_exporter c;
  EXPECT_EQ(print(c, {pending("job a", 0, k_t0, 1), log("a done", 1, k_t0 + 3 * k_ms),
                      pending("job b", 0, k_t0 + 1 * k_ms, 2), log("b step", 1, k_t0 + 2 * k_ms),
                      log("b same ms", 1, k_t0 + 2 * k_ms)}),
            "03:04:05.678 job a\n"
            "03:04:05.679 job b\n"
            "03:04:05.680   b step\n"
            "03:04:05.680   b same ms\n"
            "03:04:05.681   a done\n");
}

TEST_F(Console, SpanEndingWithAnExceptionShowsIt) {
  const attribute ex_attrs[] = {{"exception.type", str("RuntimeError")}, {"exception.message", str("boom")}};
  const event ex{"exception", k_t0 + 9 * k_ms, ex_attrs};
  console_exporter c;
  EXPECT_EQ(print(c, {pending("pay", 0, k_t0, 500)}), "03:04:05.678 pay\n");
  span_record end = finished("pay", 0, k_t0, k_t0 + 9 * k_ms, 500, level::error);
  end.events = {&ex, 1};
  EXPECT_EQ(print(c, {end}),
            "03:04:05.687 pay\n"
            "             \u2502 RuntimeError: boom\n");
}

TEST_F(Console, ControlCharactersCannotReachTheTerminal) {
  console_exporter c({.include_timestamps = false});
  EXPECT_EQ(print(c, {log("evil\x1b[2Jtext\r", 0, k_t0)}), "evil\\x1b[2Jtext\\x0d\n");
}

TEST_F(Console, EmptyMessageFallsBackToTheName) {
  span_record r = log("", 0, k_t0);
  r.name = "template {x}";
  console_exporter c({.include_timestamps = false});
  EXPECT_EQ(print(c, {r}), "template {x}\n");
}

TEST_F(Console, DisableConsoleLogAttributeHidesTheRecord) {
  attribute_value yes;
  yes.type = attribute_value::kind::boolean;
  yes.b = true;
  const attribute attrs[] = {{"logfire.disable_console_log", yes}};
  span_record hidden = log("hidden", 0, k_t0);
  hidden.attributes = attrs;
  console_exporter c({.include_timestamps = false});
  EXPECT_EQ(print(c, {hidden, log("shown", 0, k_t0)}), "shown\n");
}

struct counting final : logfire::delivery_counter {
  std::uint64_t delivered_n = 0, dropped_n = 0;
  void delivered(std::uint64_t n) noexcept override { delivered_n += n; }
  void dropped(logfire::drop_reason, std::uint64_t n, std::string_view) noexcept override { dropped_n += n; }
  void count(logfire::event_counter, std::uint64_t) noexcept override {}
};

TEST_F(Console, ExportWritesTheBatchToTheFileAndCountsIt) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  console_exporter c({.include_timestamps = false, .output = f});
  counting counter;
  c.start(counter);
  c.export_batch(std::vector<span_record>{pending("a", 0, k_t0, 1), log("b", 1, k_t0)});
  c.export_batch(std::vector<span_record>{finished("a", 0, k_t0, k_t0, 1)});
  EXPECT_TRUE(c.force_flush(logfire::clock::now()));
  std::rewind(f);
  char buf[64] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  EXPECT_EQ(std::string(buf, n), "a\n  b\n");
  EXPECT_EQ(counter.delivered_n, 2u);  // the log and the span; its pending span is only a preview
  EXPECT_EQ(counter.dropped_n, 0u);
  EXPECT_EQ(c.name(), "console");
  EXPECT_TRUE(c.wants_pending_spans());
  EXPECT_FALSE(c.is_destination());
}

TEST_F(Console, ColourDecision) {
  using logfire::console_colors;
  using logfire::detail::console_should_color;
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  unsetenv("NO_COLOR");
  EXPECT_TRUE(console_should_color(console_colors::always, f));
  EXPECT_FALSE(console_should_color(console_colors::never, f));
  EXPECT_FALSE(console_should_color(console_colors::automatic, f));  // a file is not a terminal
  setenv("NO_COLOR", "1", 1);
  EXPECT_FALSE(console_should_color(console_colors::automatic, f));
  EXPECT_TRUE(console_should_color(console_colors::always, f));  // an explicit choice wins
  unsetenv("NO_COLOR");
  std::fclose(f);
}

}  // namespace

// Two worker threads, each in its own span, their lines interleaved in time: what each
// span_style prints (Logfire's ConsoleOptions.span_style).
class ConsoleStyles : public Console {
 protected:
  // A pending span whose real parent is `parent` (logfire.pending_parent_id, as the pipeline
  // builds it).
  span_record child_start(std::string_view msg, std::uint32_t depth, std::uint64_t t, std::uint64_t span_id,
                          const char* parent_hex) {
    span_record r = pending(msg, depth, t, span_id);
    attrs_.push_back(std::make_unique<attribute>(attribute{"logfire.pending_parent_id", str(parent_hex)}));
    r.attributes = {attrs_.back().get(), 1};
    return r;
  }
  span_record child_log(std::string_view msg, std::uint32_t depth, std::uint64_t t, std::uint64_t parent) {
    span_record r = log(msg, depth, t);
    r.parent.value = parent;
    return r;
  }
  // batch: job (0x10) holds worker a (0x11) and worker b (0x12), whose logs interleave.
  std::vector<span_record> interleaved() {
    return {child_start("job", 0, k_t0, 0x10, "0000000000000000"),
            child_start("worker a", 1, k_t0 + 1 * k_ms, 0x11, "0000000000000010"),
            child_log("a step 1", 2, k_t0 + 2 * k_ms, 0x11),
            child_start("worker b", 1, k_t0 + 3 * k_ms, 0x12, "0000000000000010"),
            child_log("b step 1", 2, k_t0 + 4 * k_ms, 0x12),
            child_log("a step 2", 2, k_t0 + 5 * k_ms, 0x11),
            child_log("a step 3", 2, k_t0 + 6 * k_ms, 0x11),
            finished("worker a", 1, k_t0 + 1 * k_ms, k_t0 + 7 * k_ms, 0x11),
            child_log("b step 2", 2, k_t0 + 8 * k_ms, 0x12),
            child_log("job done", 1, k_t0 + 9 * k_ms, 0x10)};
  }
  std::vector<std::unique_ptr<attribute>> attrs_;
};

TEST_F(ConsoleStyles, SimpleIsAFlatList) {
  console_exporter c({.span_style = logfire::console_span_style::simple});
  EXPECT_EQ(print(c, interleaved()),
            "03:04:05.678 job\n"
            "03:04:05.679 worker a\n"
            "03:04:05.680 a step 1\n"
            "03:04:05.681 worker b\n"
            "03:04:05.682 b step 1\n"
            "03:04:05.683 a step 2\n"
            "03:04:05.684 a step 3\n"
            "03:04:05.686 b step 2\n"
            "03:04:05.687 job done\n");
}

TEST_F(ConsoleStyles, IndentedIndentsByDepthOnly) {
  console_exporter c({.span_style = logfire::console_span_style::indented});
  EXPECT_EQ(print(c, interleaved()),
            "03:04:05.678 job\n"
            "03:04:05.679   worker a\n"
            "03:04:05.680     a step 1\n"
            "03:04:05.681   worker b\n"
            "03:04:05.682     b step 1\n"
            "03:04:05.683     a step 2\n"
            "03:04:05.684     a step 3\n"
            "03:04:05.686     b step 2\n"
            "03:04:05.687   job done\n");
}

TEST_F(ConsoleStyles, ShowParentsReprintsTheParentsOfAnInterleavedLine) {
  console_exporter c;  // the default, as Logfire's
  EXPECT_EQ(print(c, interleaved()),
            "03:04:05.678 job\n"
            "03:04:05.679   worker a\n"
            "03:04:05.680     a step 1\n"
            "03:04:05.681   worker b\n"
            "03:04:05.682     b step 1\n"
            "               worker a\n"  // not the span printed last: its parent is shown again
            "03:04:05.683     a step 2\n"
            "03:04:05.684     a step 3\n"
            "               worker b\n"  // worker a ended; b step 2 sits in worker b
            "03:04:05.686     b step 2\n"
            "03:04:05.687   job done\n");  // job is on the chain: nothing to repeat
}

TEST_F(ConsoleStyles, ShowParentsDimsTheReprintedParentsWithColours) {
  console_exporter c({.colors = true, .include_timestamps = false});
  EXPECT_EQ(print(c, {child_start("worker a", 0, k_t0, 0x11, "0000000000000000"),
                      child_start("worker b", 0, k_t0 + 1 * k_ms, 0x12, "0000000000000000"),
                      child_log("a step", 1, k_t0 + 2 * k_ms, 0x11)}),
            "worker a\n"
            "worker b\n"
            "\x1b[2mworker a\x1b[0m\n"
            "  a step\n");
}

TEST_F(ConsoleStyles, ShowParentsKeepsItsChainAcrossBatches) {
  console_exporter c({.include_timestamps = false});
  EXPECT_EQ(print(c, {child_start("worker a", 0, k_t0, 0x11, "0000000000000000"),
                      child_start("worker b", 0, k_t0 + 1 * k_ms, 0x12, "0000000000000000")}),
            "worker a\n"
            "worker b\n");
  EXPECT_EQ(print(c, {child_log("a step", 1, k_t0 + 2 * k_ms, 0x11)}),
            "worker a\n"
            "  a step\n");
  // After its end a span is forgotten: a late line in it has no parent to repeat.
  EXPECT_EQ(
      print(c, {finished("worker a", 0, k_t0, k_t0 + 3 * k_ms, 0x11), child_log("b step", 1, k_t0 + 4 * k_ms, 0x12)}),
      "worker b\n"
      "  b step\n");
}
