// Zero heap allocations on the caller's thread: a span with up to 8 scalar or short-string
// attributes and a log with 2 attributes, after warm-up. This executable replaces the global
// operator new/delete and counts allocations made by the measuring thread only.
#include <cstdlib>
#include <new>
#include <string>
#include <thread>

#include "core/core_support.hpp"
#include "support/counting_allocator.hpp"

using namespace core_test;
using counting_allocator::allocations_of;

namespace {

const std::string k_short = "short-string";  // fits any small-string buffer; passed by view

void span_with_8_attributes(int i) {
  logfire::span s("charge {user} {amount}", {{"user", "u-42"},
                                             {"amount", 12.5},
                                             {"attempt", i},
                                             {"ok", true},
                                             {"currency", "EUR"},
                                             {"card", k_short},
                                             {"count", 7u},
                                             {"ratio", 0.25f}});
}

void log_with_2_attributes(int i) {
  logfire::info("card {last4} attempt {i}", {{"last4", "4242"}, {"i", i}});
}

void nested_spans_with_tags(int i) {
  logfire::span outer("outer {i}", {{"i", i}}, {.tags = {"a", "b"}, .kind = logfire::span_kind::server});
  logfire::span inner("inner");
  inner.set_attribute("late", i);
  inner.set_level(logfire::level::warn);
  logfire::debug("inside");
}

}  // namespace

class allocations : public memory_sdk {
 protected:
  void SetUp() override {
    memory_sdk::SetUp();
    // Warm-up: the thread's state and ring, the id generator, lazy statics.
    for (int i = 0; i < 10; ++i) {
      span_with_8_attributes(i);
      log_with_2_attributes(i);
      nested_spans_with_tags(i);
    }
    ASSERT_TRUE(logfire::force_flush());
    mem->clear();
  }
};

TEST_F(allocations, the_counter_sees_allocations) {
  // The instrument works: a std::string too long for its inline buffer allocates.
  EXPECT_GE(allocations_of([] { std::string s(100, 'x'); }), 1u);
}

TEST_F(allocations, span_with_8_attributes_allocates_nothing) {
  EXPECT_EQ(allocations_of([] {
              for (int i = 0; i < 200; ++i) span_with_8_attributes(i);
            }),
            0u);
  auto recs = flushed();
  ASSERT_EQ(recs.size(), 200u);  // and they were all recorded
  EXPECT_EQ(recs[0].message, "charge u-42 12.5");
  EXPECT_EQ(recs[0].string_attr("card"), k_short);
}

TEST_F(allocations, log_with_2_attributes_allocates_nothing) {
  EXPECT_EQ(allocations_of([] {
              for (int i = 0; i < 200; ++i) log_with_2_attributes(i);
            }),
            0u);
  auto recs = flushed();
  ASSERT_EQ(recs.size(), 200u);
  EXPECT_EQ(recs[199].message, "card 4242 attempt 199");
}

TEST_F(allocations, nesting_tags_and_updates_allocate_nothing) {
  EXPECT_EQ(allocations_of([] {
              for (int i = 0; i < 100; ++i) nested_spans_with_tags(i);
            }),
            0u);
  auto recs = flushed();
  EXPECT_EQ(recs.size(), 300u);
}

TEST_F(allocations, filtered_and_unsampled_calls_allocate_nothing) {
  // Below min_level (set by reconfiguring) and not sampled: decided before any work.
  logfire::options o = quiet_options({mem});
  o.min_level = logfire::level::info;
  o.trace_sample_rate = 0.0;
  sdk_guard = logfire::configure(std::move(o));
  ASSERT_TRUE(sdk_guard);
  log_with_2_attributes(0);  // warm-up after reconfiguring
  EXPECT_EQ(allocations_of([] {
              for (int i = 0; i < 100; ++i) {
                logfire::debug("filtered {i}", {{"i", i}});
                span_with_8_attributes(i);
                log_with_2_attributes(i);
              }
            }),
            0u);
}

TEST_F(allocations, context_hand_off_allocates_nothing) {
  logfire::span parent("parent");
  EXPECT_EQ(allocations_of([] {
              for (int i = 0; i < 100; ++i) {
                const logfire::context ctx = logfire::capture_context();
                logfire::context_scope guard(ctx);
                log_with_2_attributes(i);
              }
            }),
            0u);
}
