// The SDK exporting to `logfire-cpp serve` over real HTTP (libcurl, OTLP protobuf with and
// without gzip, OTLP/JSON): SQL over `records` returns exactly what the program produced, with
// the SDK's own ids, parent links, levels, messages, tags, attributes and exceptions, and the
// SDK counts nothing as lost.
#include <gtest/gtest.h>

#include <map>
#include <stdexcept>

#include "backend/backend_support.hpp"
#include "logfire/config.hpp"
#include "logfire/logfire.hpp"
#include "logfire/stats.hpp"

namespace logfire::backend_test {
namespace {

struct export_case {
  const char* name;
  otlp_protocol protocol;
  bool gzip;
};

class sdk_export : public ::testing::TestWithParam<export_case> {};

TEST_P(sdk_export, sql_returns_exactly_what_was_produced) {
  temp_dir dir;
  std::string db = dir.file("sdk.db");
  serve_process serve(db);
  ASSERT_TRUE(serve.started()) << serve.output();

  span_context root_ctx, child_ctx;
  {
    auto setup = configure({.service_name = "sdk-export-test",
                            .console = {.enabled = false},
                            .otlp = {.endpoint = serve.base_url(),
                                     .protocol = GetParam().protocol,
                                     .gzip = GetParam().gzip,
                                     .spool = false},
                            .read_environment = false});
    ASSERT_TRUE(setup.ok()) << setup.error();
    logfire::shutdown_guard guard(setup);
    {
      span root("checkout {cart_id}", {{"cart_id", 42}, {"user", "ada"}}, {.tags = {"shop", "web"}});
      root_ctx = root.context();
      info("cart has {items} items", {{"items", 3}});
      {
        span child("charge card", {{"amount_cents", 1999}});
        child_ctx = child.context();
        warn("retrying payment {attempt}", {{"attempt", 2}});
        child.record_exception(std::runtime_error("card declined"), true);
      }
    }
    ASSERT_TRUE(force_flush(std::chrono::seconds(20)));
    auto st = stats();
    EXPECT_EQ(st.dropped_total(), 0u) << st.summary();
    EXPECT_EQ(st.exported, 4u) << st.summary();
  }  // shutdown

  // Looked up by message: records made within the same microsecond share a start_timestamp.
  auto rows = sql(db, "SELECT * FROM records");
  ASSERT_EQ(rows.size(), 4u);
  const std::string trace = root_ctx.trace.to_hex();
  std::map<std::string, row> by_message;
  for (const auto& r : rows) {
    EXPECT_EQ(r.at("trace_id"), trace);
    EXPECT_EQ(r.at("service_name"), "sdk-export-test");
    by_message[r.at("message")] = r;
  }
  ASSERT_EQ(by_message.size(), 4u);
  const auto& root = by_message["checkout 42"];
  EXPECT_EQ(root.at("span_id"), root_ctx.span.to_hex());
  EXPECT_EQ(root.at("parent_span_id"), "NULL");
  EXPECT_EQ(root.at("kind"), "span");
  EXPECT_EQ(root.at("level"), "9");
  EXPECT_EQ(root.at("span_name"), "checkout {cart_id}");
  EXPECT_EQ(root.at("message"), "checkout 42");
  EXPECT_EQ(root.at("tags"), R"(["shop","web"])");
  EXPECT_EQ(
      sql(db, "SELECT attributes->>'$.cart_id' AS v FROM records WHERE span_id = '" + root_ctx.span.to_hex() + "'")[0]
          .at("v"),
      "42");
  EXPECT_EQ(
      sql(db, "SELECT attributes->>'$.user' AS v FROM records WHERE span_id = '" + root_ctx.span.to_hex() + "'")[0].at(
          "v"),
      "ada");

  const auto& info_log = by_message["cart has 3 items"];
  EXPECT_EQ(info_log.at("kind"), "log");
  EXPECT_EQ(info_log.at("parent_span_id"), root_ctx.span.to_hex());
  EXPECT_EQ(info_log.at("level"), "9");
  EXPECT_EQ(info_log.at("message"), "cart has 3 items");

  const auto& child = by_message["charge card"];
  EXPECT_EQ(child.at("span_id"), child_ctx.span.to_hex());
  EXPECT_EQ(child.at("parent_span_id"), root_ctx.span.to_hex());
  EXPECT_EQ(child.at("message"), "charge card");
  EXPECT_EQ(child.at("level"), "17") << "an escaped exception makes the span an error";
  EXPECT_EQ(child.at("otel_status_code"), "ERROR");
  EXPECT_EQ(child.at("is_exception"), "1");
  EXPECT_NE(child.at("exception_type").find("runtime_error"), std::string::npos) << child.at("exception_type");
  EXPECT_EQ(child.at("exception_message"), "card declined");
  EXPECT_NE(sql(db, "SELECT attributes->>'$.amount_cents' AS v FROM records WHERE span_id = '" +
                        child_ctx.span.to_hex() + "'")[0]
                .at("v"),
            "NULL");

  const auto& warn_log = by_message["retrying payment 2"];
  EXPECT_EQ(warn_log.at("kind"), "log");
  EXPECT_EQ(warn_log.at("parent_span_id"), child_ctx.span.to_hex());
  EXPECT_EQ(warn_log.at("level"), "13");
  EXPECT_EQ(warn_log.at("message"), "retrying payment 2");
}

INSTANTIATE_TEST_SUITE_P(formats, sdk_export,
                         ::testing::Values(export_case{"protobuf_gzip", otlp_protocol::http_protobuf, true},
                                           export_case{"protobuf_plain", otlp_protocol::http_protobuf, false},
                                           export_case{"json", otlp_protocol::http_json, true}),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

}  // namespace
}  // namespace logfire::backend_test
