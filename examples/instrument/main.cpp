// logfire/instrument.hpp: spans for whole functions in one line, as Logfire Python's
// @logfire.instrument gives them. The console shows the tree; an exception leaving a function is
// recorded on its span.
#include <cstdio>
#include <stdexcept>
#include <string>

#include "logfire/config.hpp"
#include "logfire/instrument.hpp"
#include "logfire/stats.hpp"

namespace {

struct out_of_stock : std::runtime_error {
  using std::runtime_error::runtime_error;
};

int reserve_impl(const std::string& sku, int quantity) {
  if (quantity > 5) throw out_of_stock("only 5 left of " + sku);
  return quantity;
}
// The function form: the exception's type and message are recorded, then it propagates.
const auto reserve = logfire::instrument("reserve {quantity} x {sku}", {"sku", "quantity"}, reserve_impl);

double price(const std::string& sku, int quantity) {
  LOGFIRE_INSTRUMENT("price {sku}", sku, quantity);  // one line: a span until the function returns
  logfire::debug("looking up the catalogue");
  return 9.5 * quantity;
}

void order(int order_id, const std::string& sku, int quantity) {
  LOGFIRE_INSTRUMENT("order {order_id}", order_id);
  reserve(sku, quantity);
  logfire::info("order {order_id} costs {total:.2f}", {{"order_id", order_id}, {"total", price(sku, quantity)}});
}

}  // namespace

int main() {
  auto lf = logfire::configure({.service_name = "instrument-example"});
  if (!lf) {
    std::fprintf(stderr, "configure failed: %s\n", lf.error().c_str());
    return 1;
  }
  order(1, "A-7", 2);
  try {
    order(2, "B-3", 9);
  } catch (const out_of_stock& e) {
    std::printf("order 2 failed: %s\n", e.what());
  }
  logfire::force_flush();
  std::printf("%s\n", logfire::stats().summary().c_str());
  return 0;
}
