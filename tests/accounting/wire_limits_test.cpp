// Attributes beyond max_attributes are dropped and said so on the wire: OTLP's
// Span.dropped_attributes_count, decoded by libprotobuf at a real receiver.
#include "accounting/accounting_support.hpp"
#include "support/otlp_receiver.hpp"

using namespace accounting_test;

TEST(wire_limits, dropped_attributes_count_reaches_the_backend) {
  logfire::test::otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  logfire::options o;
  o.console.enabled = false;
  o.read_environment = false;
  o.otlp.endpoint = rx.endpoint();
  o.otlp.spool = false;
  o.limits.max_attributes = 3;
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  logfire::info("six {a}", {{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}, {"e", 5}, {"f", 6}});
  {
    logfire::span s("grows {a}", {{"a", 1}, {"b", 2}});
    s.set_attribute("c", 3);
    s.set_attribute("d", 4);   // over the limit
    s.set_attribute("e", 5);   // over the limit
    s.set_attribute("a", 10);  // replaces: not over the limit
  }
  logfire::info("within {a}", {{"a", 1}});
  ASSERT_TRUE(logfire::force_flush(10s));
  ASSERT_TRUE(rx.wait_for_spans(3, 10s));
  const auto six = rx.span_named("six {a}");
  const auto grows = rx.span_named("grows {a}");
  const auto within = rx.span_named("within {a}");
  ASSERT_TRUE(six && grows && within);
  EXPECT_EQ(six->dropped_attributes_count(), 3u);
  EXPECT_EQ(grows->dropped_attributes_count(), 2u);
  EXPECT_EQ(within->dropped_attributes_count(), 0u);
  EXPECT_EQ(logfire::test::find_attribute(*grows, "a")->int_value(), 10);
  EXPECT_EQ(logfire::test::find_attribute(*grows, "d"), nullptr);
  const auto st = logfire::stats();
  EXPECT_EQ(st.count_of(logfire::event_counter::attributes_truncated), 2u) << st.summary();
  expect_balanced(st);
}
