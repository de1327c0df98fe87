// A steady_clock time point has no calendar meaning: rejected, with the advice to pass a duration.
#include <chrono>

#include "logfire/logfire.hpp"

void at() {
  logfire::info("at {t}", {{"t", std::chrono::steady_clock::now()}});
}
