// Logfire Python's API surface in C++: with_tags / with_settings handles, warning beside warn,
// span_options.level, set_attributes, suppress_instrumentation, set_baggage / get_baggage, and
// the one warning line for a template that cannot be formatted.
#include <thread>

#include "core/core_support.hpp"
#include "logfire/handoff.hpp"

using namespace core_test;
using logfire::drop_reason;
using logfire::level;

namespace {

class python_api : public memory_sdk {};

}  // namespace

TEST_F(python_api, with_tags_adds_the_handles_tags_before_the_calls_own) {
  const auto payments = logfire::with_tags({"payments"});
  const auto slow = payments.with_tags({"slow", "payments"});
  payments.info("charged {user_id}", {{"user_id", 42}});
  { auto s = slow.span("refund {id}", {{"id", 7}}, {.tags = {"manual"}}); }
  payments.warning("declined", {}, {.tags = {"card"}});
  logfire::info("plain");
  const auto recs = flushed();
  const auto* charged = find_log(recs, "charged {user_id}");
  ASSERT_NE(charged, nullptr);
  EXPECT_EQ(string_array(*charged, "logfire.tags"), (std::vector<std::string>{"payments"}));
  EXPECT_EQ(charged->message, "charged 42");
  const auto* refund = find(recs, "refund {id}");
  ASSERT_NE(refund, nullptr);
  EXPECT_EQ(string_array(*refund, "logfire.tags"), (std::vector<std::string>{"payments", "slow", "manual"}));
  const auto* declined = find_log(recs, "declined");
  ASSERT_NE(declined, nullptr);
  EXPECT_EQ(declined->level, level::warn);
  EXPECT_EQ(string_array(*declined, "logfire.tags"), (std::vector<std::string>{"payments", "card"}));
  const auto* plain = find_log(recs, "plain");
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(plain->find("logfire.tags"), nullptr);
  // The handle outlives nothing it points to: a copy made from a temporary still works.
  logfire::handle kept = logfire::with_tags({"kept"});
  std::thread([kept] { kept.info("from a thread"); }).join();
  const auto later = flushed();
  const auto* threaded = find_log(later, "from a thread");
  ASSERT_NE(threaded, nullptr);
  EXPECT_EQ(string_array(*threaded, "logfire.tags"), (std::vector<std::string>{"kept"}));
}

TEST_F(python_api, with_settings_sets_a_default_span_level) {
  const auto db = logfire::with_settings({.tags = {"db"}, .level = level::debug});
  EXPECT_EQ(db.level(), level::debug);
  { auto s = db.span("query"); }
  { auto s = db.span("slow query", {}, {.level = level::warning}); }
  { logfire::span s("plain span", {}, {.level = level::notice}); }
  const auto recs = flushed();
  ASSERT_NE(find(recs, "query"), nullptr);
  EXPECT_EQ(find(recs, "query")->level, level::debug);
  EXPECT_EQ(int_attr(*find(recs, "query"), "logfire.level_num"), 5);
  EXPECT_EQ(find(recs, "slow query")->level, level::warn);
  EXPECT_EQ(find(recs, "plain span")->level, level::notice);
  EXPECT_EQ(string_array(*find(recs, "slow query"), "logfire.tags"), (std::vector<std::string>{"db"}));
}

TEST_F(python_api, warning_is_warn_and_set_attributes_sets_several) {
  logfire::warning("careful");
  {
    logfire::span s("load {table}");
    s.set_attributes({{"table", "orders"}, {"rows", 3}});
  }
  const auto recs = flushed();
  ASSERT_NE(find_log(recs, "careful"), nullptr);
  EXPECT_EQ(int_attr(*find_log(recs, "careful"), "logfire.level_num"), 13);
  const auto* load = find(recs, "load {table}");
  ASSERT_NE(load, nullptr);
  EXPECT_EQ(load->message, "load orders");
  EXPECT_EQ(int_attr(*load, "rows"), 3);
  EXPECT_EQ(logfire::to_string(level::warning), "warn");
  EXPECT_EQ(logfire::parse_level("warning"), level::warn);
  EXPECT_EQ(logfire::parse_level("WARN"), level::warn);
}

TEST_F(python_api, suppress_instrumentation_counts_what_it_suppresses) {
  logfire::info("before");
  {
    logfire::suppress_instrumentation quiet;
    logfire::info("suppressed log");
    logfire::span s("suppressed span");
    EXPECT_FALSE(s.is_recording());
    {
      logfire::suppress_instrumentation nested;
      logfire::info("nested");
    }
    logfire::info("still suppressed");
    // Another thread is not affected.
    std::thread([] { logfire::info("other thread"); }).join();
  }
  logfire::info("after");
  const auto recs = flushed();
  EXPECT_NE(find_log(recs, "before"), nullptr);
  EXPECT_NE(find_log(recs, "after"), nullptr);
  EXPECT_NE(find_log(recs, "other thread"), nullptr);
  EXPECT_EQ(find_log(recs, "suppressed log"), nullptr);
  EXPECT_EQ(find(recs, "suppressed span"), nullptr);
  EXPECT_EQ(find_log(recs, "still suppressed"), nullptr);
  const auto st = logfire::stats();
  EXPECT_EQ(st.dropped_by(drop_reason::suppressed), 4u) << st.summary();
  expect_accounted(st);
}

TEST_F(python_api, set_baggage_becomes_attributes_and_goes_out_with_requests) {
  {
    logfire::set_baggage bag({{"tenant", "acme"}, {"user", "7"}});
    EXPECT_EQ(logfire::get_baggage(),
              (std::vector<std::pair<std::string, std::string>>{{"tenant", "acme"}, {"user", "7"}}));
    logfire::span s("work for {tenant}");
    {
      logfire::set_baggage more({{"user", "8"}});
      logfire::info("inner", {{"tenant", "own value wins"}});
      bool found = false;
      for (const auto& [name, value] : logfire::get_context())
        if (name == "baggage")
          found = value.find("user=8") != std::string::npos && value.find("tenant=acme") != std::string::npos;
      EXPECT_TRUE(found);
    }
    EXPECT_EQ(logfire::get_baggage().back().second, "7");
  }
  EXPECT_TRUE(logfire::get_baggage().empty());
  logfire::info("outside");
  const auto recs = flushed();
  const auto* work = find(recs, "work for {tenant}");
  ASSERT_NE(work, nullptr);
  EXPECT_EQ(work->message, "work for acme");
  EXPECT_EQ(work->string_attr("user"), "7");
  const auto* inner = find_log(recs, "inner");
  ASSERT_NE(inner, nullptr);
  EXPECT_EQ(inner->string_attr("user"), "8");
  EXPECT_EQ(inner->string_attr("tenant"), "own value wins");
  const auto* outside = find_log(recs, "outside");
  ASSERT_NE(outside, nullptr);
  EXPECT_EQ(outside->find("tenant"), nullptr);
}

namespace {
class no_baggage_attributes : public memory_sdk {
  void adjust(logfire::options& o) override { o.add_baggage_to_attributes = false; }
};
}  // namespace

TEST_F(no_baggage_attributes, can_be_turned_off) {
  logfire::set_baggage bag({{"tenant", "acme"}});
  logfire::info("no baggage attributes");
  const auto recs = flushed();
  const auto* r = find_log(recs, "no baggage attributes");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->find("tenant"), nullptr);
}

TEST_F(python_api, a_broken_template_prints_one_warning_line) {
  stderr_capture capture;
  for (int i = 0; i < 5; ++i) logfire::info("charged {missing}", {{"present", i}});
  logfire::info("unbalanced {oops");
  const auto recs = flushed();
  const std::string err = capture.take();
  EXPECT_EQ(occurrences(err, "logfire: "), 1u) << err;
  EXPECT_NE(err.find("message template 'charged {missing}' could not be formatted"), std::string::npos) << err;
  EXPECT_NE(err.find("missing"), std::string::npos) << err;
  EXPECT_NE(err.find("template_errors"), std::string::npos) << err;
  EXPECT_EQ(logfire::stats().count_of(logfire::event_counter::template_errors), 6u);
  ASSERT_NE(find_log(recs, "charged {missing}"), nullptr);
  EXPECT_EQ(find_log(recs, "charged {missing}")->message, "charged {missing}");
}
