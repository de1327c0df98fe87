// A span written as a temporary ends at the semicolon: the compiler must warn.
#include "logfire/logfire.hpp"

void charge() {
  logfire::span("charge {user_id}", {{"user_id", 42}});
}
