#include <gtest/gtest.h>

#include "logfire/config.hpp"
#include "logfire/logfire.hpp"
#include "logfire/memory_exporter.hpp"

TEST(smoke, span_and_log_reach_memory_exporter) {
  auto mem = std::make_shared<logfire::memory_exporter>();
  auto lf = logfire::configure({.console = {.enabled = false}, .exporters = {mem}});
  ASSERT_TRUE(lf) << lf.error();
  {
    logfire::span s("charge {user_id}", {{"user_id", 42}});
    logfire::info("card {last4}", {{"last4", "4242"}});
  }
  ASSERT_TRUE(logfire::force_flush());
  auto recs = mem->records();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].message, "card 4242");
  EXPECT_EQ(recs[1].message, "charge 42");
  EXPECT_EQ(recs[0].parent, recs[1].context.span);
  auto st = logfire::stats();
  EXPECT_EQ(st.produced, 2u);
  EXPECT_EQ(st.exported, 2u);
}
