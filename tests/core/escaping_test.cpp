// A span whose scope an exception leaves ends as an error: level error, status ERROR and an
// escaped `exception` event, recorded once whether or not the code recorded it itself.
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/core_support.hpp"
#include "pipeline/thread_state.hpp"

using namespace core_test;
using logfire::level;
using logfire::status_code;

namespace {

struct payment_refused : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class escaping : public memory_sdk {};

const logfire::stored_event* exception_event(const stored_record& r) {
  for (const auto& e : r.events)
    if (e.name == "exception") return &e;
  return nullptr;
}

std::size_t exception_events(const stored_record& r) {
  std::size_t n = 0;
  for (const auto& e : r.events) n += e.name == "exception" ? 1 : 0;
  return n;
}

void charge_and_fail() {
  logfire::span s("charge");
  throw payment_refused("card declined");
}

TEST_F(escaping, an_exception_leaving_the_scope_makes_the_span_an_error) {
  EXPECT_THROW(charge_and_fail(), payment_refused);
  const auto recs = flushed();
  const auto* s = find(recs, "charge");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->level, level::error);
  EXPECT_EQ(int_attr(*s, "logfire.level_num"), 17);
  EXPECT_EQ(s->status, status_code::error);
  ASSERT_EQ(exception_events(*s), 1u);
  const auto* e = exception_event(*s);
  ASSERT_TRUE(e->find("exception.escaped") && e->find("exception.escaped")->boolean());
  EXPECT_TRUE(*e->find("exception.escaped")->boolean());
  // The destructor cannot see the exception object: the type says so.
  EXPECT_EQ(*e->find("exception.type")->string(), "unknown");
  EXPECT_EQ(s->status_message, "unknown: an exception escaped the span's scope");
}

TEST_F(escaping, every_span_the_exception_crosses_is_an_error_and_its_parent_after_the_catch_is_not) {
  {
    logfire::span outer("outer");
    try {
      logfire::span middle("middle");
      logfire::span inner("inner");
      throw std::logic_error("bad");
    } catch (const std::logic_error&) {
    }
  }
  const auto recs = flushed();
  for (const char* name : {"middle", "inner"}) {
    const auto* s = find(recs, name);
    ASSERT_TRUE(s) << name;
    EXPECT_EQ(s->status, status_code::error) << name;
    EXPECT_EQ(exception_events(*s), 1u) << name;
  }
  const auto* outer = find(recs, "outer");
  ASSERT_TRUE(outer);
  EXPECT_EQ(outer->status, status_code::unset);
  EXPECT_EQ(outer->level, level::info);
  EXPECT_TRUE(outer->events.empty());
}

TEST_F(escaping, recorded_and_rethrown_is_recorded_once_with_its_type) {
  try {
    logfire::span s("rethrown");
    try {
      throw payment_refused("card declined");
    } catch (const std::exception& e) {
      s.record_exception(e, /*escaped=*/true);
      throw;
    }
  } catch (const payment_refused&) {
  }
  const auto recs = flushed();
  const auto* s = find(recs, "rethrown");
  ASSERT_TRUE(s);
  ASSERT_EQ(exception_events(*s), 1u);
  EXPECT_EQ(*exception_event(*s)->find("exception.type")->string(), "(anonymous namespace)::payment_refused");
  EXPECT_EQ(s->status_message, "(anonymous namespace)::payment_refused: card declined");
}

// Destructors that run during unwinding may start and end spans of their own: those are not
// errors, since no exception leaves them.
struct cleanup_with_span {
  ~cleanup_with_span() { logfire::span s("cleanup"); }
};

TEST_F(escaping, a_span_inside_a_destructor_run_by_unwinding_is_not_an_error) {
  try {
    cleanup_with_span c;
    throw std::runtime_error("x");
  } catch (const std::runtime_error&) {
  }
  const auto recs = flushed();
  const auto* s = find(recs, "cleanup");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->status, status_code::unset);
  EXPECT_TRUE(s->events.empty());
}

// Inside a destructor run by unwinding (one exception in flight), a span whose own scope a
// second exception leaves: two in flight at its end against one at its start.
struct cleanup_that_fails_inside {
  ~cleanup_that_fails_inside() {
    try {
      logfire::span s("failing cleanup");
      throw std::logic_error("cleanup failed");
    } catch (const std::logic_error&) {
    }
  }
};

TEST_F(escaping, a_span_left_by_a_second_exception_while_a_first_unwinds_is_an_error) {
  try {
    cleanup_that_fails_inside c;
    throw std::runtime_error("x");
  } catch (const std::runtime_error&) {
  }
  const auto recs = flushed();
  const auto* s = find(recs, "failing cleanup");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->status, status_code::error);
  EXPECT_EQ(exception_events(*s), 1u);
}

// The spans read the count of exceptions in flight from where the C++ runtime keeps it, not
// through std::uncaught_exceptions(): both must agree at every depth.
struct compares_in_flight {
  int depth;
  std::vector<std::pair<int, int>>& seen;
  ~compares_in_flight() {
    const logfire::detail::thread_state& ts = logfire::detail::this_thread_state();
    seen.emplace_back(logfire::detail::exceptions_in_flight(&ts), std::uncaught_exceptions());
    if (depth == 0) return;
    try {
      compares_in_flight inner{depth - 1, seen};
      throw std::logic_error("deeper");
    } catch (const std::logic_error&) {
    }
  }
};

TEST_F(escaping, the_count_of_exceptions_in_flight_is_the_runtimes) {
  const logfire::detail::thread_state& ts = logfire::detail::this_thread_state();
#if defined(__GLIBCXX__)
  EXPECT_NE(ts.uncaught, nullptr) << "libstdc++ keeps the Itanium C++ ABI's layout";
#endif
  EXPECT_EQ(logfire::detail::exceptions_in_flight(&ts), 0);
  std::vector<std::pair<int, int>> seen;
  try {
    compares_in_flight c{3, seen};
    throw std::runtime_error("x");
  } catch (const std::runtime_error&) {
  }
  ASSERT_EQ(seen.size(), 4u);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].first, seen[i].second) << i;
    EXPECT_EQ(seen[i].second, static_cast<int>(i) + 1) << i;
  }
}

TEST_F(escaping, a_span_ended_before_the_throw_and_a_span_alive_inside_a_catch_block_are_not_errors) {
  try {
    logfire::span done("done early");
    done.end();
    throw std::runtime_error("x");
  } catch (const std::runtime_error&) {
    logfire::span handler("handling");  // started and ended while the exception is caught, not unwinding
  }
  const auto recs = flushed();
  for (const char* name : {"done early", "handling"}) {
    const auto* s = find(recs, name);
    ASSERT_TRUE(s) << name;
    EXPECT_EQ(s->status, status_code::unset) << name;
    EXPECT_TRUE(s->events.empty()) << name;
  }
  expect_accounted(logfire::stats());
}

}  // namespace
