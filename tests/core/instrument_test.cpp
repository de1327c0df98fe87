// logfire/instrument.hpp: the one-line macro and the function wrapper, as a user of Logfire
// Python's @logfire.instrument expects them: a span per call named by the template, the named
// arguments as attributes, and an escaping exception recorded on the span.
#include "logfire/instrument.hpp"

#include <stdexcept>
#include <string>
#include <vector>

#include "core/core_support.hpp"

using namespace core_test;
using logfire::level;
using logfire::status_code;

namespace {

struct out_of_stock : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class instrument : public memory_sdk {};

double charge(int user_id, double amount, const std::string& currency) {
  LOGFIRE_INSTRUMENT("charge {user_id} {amount:.2f} {currency}", user_id, amount, currency);
  logfire::info("inside");
  return amount * 2;
}

struct order {
  std::string id;
  std::vector<int> items;
};

void ship(const order& o) {
  LOGFIRE_INSTRUMENT("ship {o.id}", o.id, o.items);
  if (o.items.empty()) throw out_of_stock("nothing to ship");
}

void no_arguments() {
  LOGFIRE_INSTRUMENT("housekeeping");
}

TEST_F(instrument, the_macro_opens_a_span_named_by_the_template_with_the_arguments_as_attributes) {
  logfire::span_context caller;
  {
    logfire::span outer("request");
    caller = outer.context();
    EXPECT_DOUBLE_EQ(charge(42, 10.5, "EUR"), 21.0);
    no_arguments();
  }
  const auto recs = flushed();
  const auto* s = find(recs, "charge {user_id} {amount:.2f} {currency}");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->message, "charge 42 10.50 EUR");
  EXPECT_EQ(int_attr(*s, "user_id"), 42);
  EXPECT_DOUBLE_EQ(*s->find("amount")->float64(), 10.5);
  EXPECT_EQ(s->string_attr("currency"), "EUR");
  EXPECT_EQ(s->parent, caller.span);
  EXPECT_EQ(s->string_attr("code.function"), "charge");
  EXPECT_EQ(s->status, status_code::unset);
  // The function's own logs nest under the span.
  const auto* log = find_log(recs, "inside");
  ASSERT_TRUE(log);
  EXPECT_EQ(log->parent, s->context.span);
  const auto* bare = find(recs, "housekeeping");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->string_attr("logfire.json_schema"), "");  // no arguments, no schema
}

TEST_F(instrument, the_macro_records_an_escaping_exception) {
  EXPECT_THROW(ship(order{"A-1", {}}), out_of_stock);
  ship(order{"A-2", {7, 8}});
  const auto recs = flushed();
  std::vector<const stored_record*> spans;
  for (const auto& r : recs)
    if (r.name == "ship {o.id}") spans.push_back(&r);
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0]->message, "ship A-1");
  EXPECT_EQ(spans[0]->string_attr("o.id"), "A-1");
  EXPECT_EQ(spans[0]->status, status_code::error);
  EXPECT_EQ(spans[0]->lvl, level::error);
  ASSERT_EQ(spans[0]->events.size(), 1u);
  EXPECT_EQ(*spans[0]->events[0].find("exception.type")->string(), "unknown");
  EXPECT_EQ(spans[1]->status, status_code::unset);
  ASSERT_TRUE(spans[1]->find("o.items") && spans[1]->find("o.items")->array());
  EXPECT_EQ(spans[1]->find("o.items")->array()->size(), 2u);
}

int reserve_impl(const std::string& sku, int quantity) {
  if (quantity > 10) throw out_of_stock("only 10 left of " + sku);
  return quantity;
}

TEST_F(instrument, the_function_form_names_the_arguments_and_records_the_exception_type_and_message) {
  auto reserve =
      logfire::instrument("reserve {quantity} of {sku}", {"sku", "quantity"}, reserve_impl, {.record_return = true});
  EXPECT_EQ(reserve("B-7", 3), 3);
  EXPECT_THROW(reserve("B-7", 11), out_of_stock);
  const auto recs = flushed();
  std::vector<const stored_record*> spans;
  for (const auto& r : recs)
    if (r.name == "reserve {quantity} of {sku}") spans.push_back(&r);
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0]->message, "reserve 3 of B-7");
  EXPECT_EQ(int_attr(*spans[0], "return"), 3);
  EXPECT_EQ(spans[0]->status, status_code::unset);

  const auto& failed = *spans[1];
  EXPECT_EQ(failed.message, "reserve 11 of B-7");
  EXPECT_EQ(failed.find("return"), nullptr);
  EXPECT_EQ(failed.status, status_code::error);
  EXPECT_EQ(failed.lvl, level::error);
  ASSERT_EQ(failed.events.size(), 1u);  // recorded once: not again by the unwinding span
  const auto& ev = failed.events[0];
  EXPECT_EQ(*ev.find("exception.type")->string(), "(anonymous namespace)::out_of_stock");
  EXPECT_EQ(*ev.find("exception.message")->string(), "only 10 left of B-7");
  EXPECT_TRUE(*ev.find("exception.escaped")->boolean());
  EXPECT_EQ(failed.status_message, "(anonymous namespace)::out_of_stock: only 10 left of B-7");
}

TEST_F(instrument, the_function_form_wraps_lambdas_void_functions_and_non_standard_exceptions) {
  int calls = 0;
  auto tick = logfire::instrument("tick", [&calls] { ++calls; });
  tick();
  tick();
  auto fail = logfire::instrument("legacy {code}", {"code"}, [](int code) {
    if (code) throw code;  // not a std::exception
  });
  EXPECT_THROW(fail(7), int);
  EXPECT_EQ(calls, 2);
  const auto recs = flushed();
  std::size_t ticks = 0;
  for (const auto& r : recs) ticks += r.name == "tick" ? 1 : 0;
  EXPECT_EQ(ticks, 2u);
  const auto* legacy = find(recs, "legacy {code}");
  ASSERT_TRUE(legacy);
  ASSERT_EQ(legacy->events.size(), 1u);
  EXPECT_EQ(*legacy->events[0].find("exception.type")->string(), "int");
  EXPECT_EQ(legacy->status, status_code::error);
  expect_accounted(logfire::stats());
}

TEST_F(instrument, references_pass_through_and_arguments_are_not_copied) {
  std::vector<int> big(1000, 1);
  auto first = logfire::instrument("first", [](std::vector<int>& v) -> int& { return v.front(); });
  int& r = first(big);
  r = 5;
  EXPECT_EQ(big.front(), 5);
}

}  // namespace
