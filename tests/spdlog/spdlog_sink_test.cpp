// logfire::spdlog_sink on a synchronous spdlog logger: levels, code.*, the logger's name, the
// current span as parent, the message exactly as spdlog wrote it, templates and arguments kept
// by the LOGFIRE_SPDLOG_* macros, and flush reaching the SDK.
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <map>

#include "spdlog/spdlog_test_support.hpp"
#include "support/otlp_receiver.hpp"

namespace {

using namespace spdlog_test;

struct money {
  long cents;
};

}  // namespace

template <>
struct fmt::formatter<money> : fmt::formatter<std::string_view> {
  auto format(const money& m, fmt::format_context& ctx) const {
    return fmt::format_to(ctx.out(), "{}.{:02d} EUR", m.cents / 100, m.cents % 100);
  }
};

namespace {

struct sink : ::testing::Test {
  std::shared_ptr<logfire::memory_exporter> mem = std::make_shared<logfire::memory_exporter>();
  logfire::setup lf;
  std::shared_ptr<logfire::spdlog_sink> lf_sink = std::make_shared<logfire::spdlog_sink>();
  std::shared_ptr<recording_sink> console = std::make_shared<recording_sink>();
  std::shared_ptr<spdlog::logger> logger;

  void SetUp() override {
    lf = logfire::configure(quiet_options(mem));
    ASSERT_TRUE(lf) << lf.error();
    logger = std::make_shared<spdlog::logger>("checkout", spdlog::sinks_init_list{lf_sink, console});
    logger->set_level(spdlog::level::trace);
  }
  std::vector<logfire::stored_record> flushed_logs() {
    EXPECT_TRUE(logfire::force_flush());
    return logs(mem->records());
  }
};

TEST_F(sink, levels_map_to_logfires_and_off_is_not_sent) {
  logger->trace("t");
  logger->debug("d");
  logger->info("i");
  logger->warn("w");
  logger->error("e");
  logger->critical("c");
  logger->log(spdlog::level::off, "never");
  const auto recs = flushed_logs();
  ASSERT_EQ(recs.size(), 6u);
  const std::map<std::string, logfire::level> want = {{"t", logfire::level::trace}, {"d", logfire::level::debug},
                                                      {"i", logfire::level::info},  {"w", logfire::level::warn},
                                                      {"e", logfire::level::error}, {"c", logfire::level::fatal}};
  for (const auto& r : recs) {
    ASSERT_TRUE(want.contains(r.message)) << r.message;
    EXPECT_EQ(r.lvl, want.at(r.message)) << r.message;
  }
}

TEST_F(sink, a_record_carries_the_call_sites_span_location_logger_name_and_thread) {
  logfire::span_context request;
  int line = 0;
  {
    logfire::span s("GET /orders");
    request = s.context();
    line = __LINE__ + 1;
    SPDLOG_LOGGER_INFO(logger, "order {} loaded", 42);
  }
  const auto recs = flushed_logs();
  ASSERT_EQ(recs.size(), 1u);
  const auto& r = recs[0];
  EXPECT_EQ(r.message, "order 42 loaded");
  EXPECT_EQ(r.name, "order 42 loaded");  // a plain call: spdlog formatted it, so that is the template
  EXPECT_EQ(r.context.trace, request.trace);
  EXPECT_EQ(r.parent, request.span);
  EXPECT_EQ(r.string_attr("logfire.logger_name"), "checkout");
  EXPECT_NE(r.string_attr("code.filepath").find("spdlog_sink_test.cpp"), std::string::npos);
  EXPECT_EQ(r.find("code.lineno")->int64(), line);
  EXPECT_EQ(r.string_attr("code.function"), "TestBody");
  EXPECT_EQ(r.find("thread.id")->int64(), static_cast<std::int64_t>(spdlog::details::os::thread_id()));
  EXPECT_EQ(console->entries().at(0).payload, "order 42 loaded");
}

TEST_F(sink, text_with_braces_is_the_message_as_spdlog_wrote_it_with_no_template_error) {
  logger->info("payload {}", R"({"sku": "A-1", "qty": {"n": 2}})");
  logger->info("a lone } and a lone {");
  const auto recs = flushed_logs();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].message, R"(payload {"sku": "A-1", "qty": {"n": 2}})");
  EXPECT_EQ(recs[1].message, "a lone } and a lone {");
  EXPECT_EQ(logfire::stats().count_of(logfire::event_counter::template_errors), 0u);
}

TEST_F(sink, the_macros_keep_the_template_and_the_arguments) {
  const int user_id = 42;
  const double amount = 9.5;
  struct {
    std::string id = "A-7";
  } order;
  LOGFIRE_SPDLOG_INFO(logger, "charged {} {:.2f} for {}", user_id, amount, order.id);
  LOGFIRE_SPDLOG_WARN(logger, "retry {attempt} of {max}", fmt::arg("attempt", 2), fmt::arg("max", 3));
  LOGFIRE_SPDLOG_ERROR(logger, "refund {} failed", money{1250});  // not an attribute type: fmt's text
  LOGFIRE_SPDLOG_INFO(logger, "total {}", user_id * 2);           // an expression: arg0
  LOGFIRE_SPDLOG_INFO(logger, "no arguments");
  const auto recs = flushed_logs();
  ASSERT_EQ(recs.size(), 5u);

  EXPECT_EQ(recs[0].name, "charged {user_id} {amount:.2f} for {order.id}");
  EXPECT_EQ(recs[0].string_attr("logfire.msg_template"), "charged {user_id} {amount:.2f} for {order.id}");
  EXPECT_EQ(recs[0].message, "charged 42 9.50 for A-7");
  EXPECT_EQ(recs[0].find("user_id")->int64(), 42);
  EXPECT_DOUBLE_EQ(*recs[0].find("amount")->float64(), 9.5);
  EXPECT_EQ(recs[0].string_attr("order.id"), "A-7");

  EXPECT_EQ(recs[1].name, "retry {attempt} of {max}");
  EXPECT_EQ(recs[1].message, "retry 2 of 3");
  EXPECT_EQ(recs[1].find("attempt")->int64(), 2);
  EXPECT_EQ(recs[1].lvl, logfire::level::warn);

  EXPECT_EQ(recs[2].name, "refund {arg0} failed");
  EXPECT_EQ(recs[2].message, "refund 12.50 EUR failed");
  EXPECT_EQ(recs[2].string_attr("arg0"), "12.50 EUR");

  EXPECT_EQ(recs[3].name, "total {arg0}");
  EXPECT_EQ(recs[3].find("arg0")->int64(), 84);
  EXPECT_EQ(recs[4].name, "no arguments");
  // spdlog's other sinks got the same text.
  const auto entries = console->entries();
  ASSERT_EQ(entries.size(), 5u);
  EXPECT_EQ(entries[0].payload, "charged 42 9.50 for A-7");
  EXPECT_EQ(logfire::stats().count_of(logfire::event_counter::template_errors), 0u);
}

TEST_F(sink, a_macro_below_the_loggers_level_costs_nothing_and_sends_nothing) {
  logger->set_level(spdlog::level::warn);
  int evaluated = 0;
  auto count = [&] { return ++evaluated; };
  LOGFIRE_SPDLOG_INFO(logger, "hidden {}", count());  // like spdlog, arguments are evaluated
  EXPECT_TRUE(flushed_logs().empty());
  EXPECT_TRUE(console->entries().empty());
}

TEST_F(sink, flush_delivers_through_the_sdk) {
  logger->info("before flush");
  logger->flush();  // no force_flush from the test: spdlog's flush did it
  EXPECT_EQ(logs(mem->records()).size(), 1u);
  logger->flush_on(spdlog::level::err);
  logger->error("flushed at once");
  EXPECT_EQ(logs(mem->records()).size(), 2u);
}

// Field by field as a backend receives it.
TEST(sink_otlp, a_log_on_the_wire) {
  logfire::test::otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  logfire::options o;
  o.service_name = "spdlog-test";
  o.console.enabled = false;
  o.read_environment = false;
  o.send_to_logfire = logfire::send_to_logfire::no;
  o.otlp.endpoint = rx.endpoint();
  o.otlp.spool = false;
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  auto logger = std::make_shared<spdlog::logger>("billing", std::make_shared<logfire::spdlog_sink>());
  std::string parent;
  {
    logfire::span s("invoice");
    parent = s.context().span.to_hex();
    LOGFIRE_SPDLOG_WARN(logger, "{} days overdue: invoice {number}", 12, fmt::arg("number", "INV-9"));
  }
  logger->flush();
  ASSERT_TRUE(rx.wait_for_spans(2, std::chrono::seconds(20)));
  const auto span = rx.span_named("{arg0} days overdue: invoice {number}");
  ASSERT_TRUE(span);
  auto attr = [&](const char* k) { return logfire::test::find_attribute(*span, k); };
  EXPECT_EQ(attr("logfire.span_type")->string_value(), "log");
  EXPECT_EQ(attr("logfire.msg")->string_value(), "12 days overdue: invoice INV-9");
  EXPECT_EQ(attr("logfire.level_num")->int_value(), 13);
  EXPECT_EQ(attr("number")->string_value(), "INV-9");
  EXPECT_EQ(attr("arg0")->int_value(), 12);
  EXPECT_EQ(attr("logfire.logger_name")->string_value(), "billing");
  EXPECT_NE(attr("code.filepath")->string_value().find("spdlog_sink_test.cpp"), std::string::npos);
  EXPECT_EQ(logfire::test::hex(span->parent_span_id()), parent);
  EXPECT_EQ(span->start_time_unix_nano(), span->end_time_unix_nano());
}

}  // namespace
