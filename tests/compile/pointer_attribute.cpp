// A raw pointer is not an attribute value (it once became `true`): rejected with a message.
#include "logfire/logfire.hpp"

void count(int* n) {
  logfire::info("count {n}", {{"n", n}});
}
