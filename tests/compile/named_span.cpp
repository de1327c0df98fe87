// The intended forms compile without a warning under -Werror, including `configure();` on its
// own line (Logfire Python's habit).
#include "logfire/config.hpp"
#include "logfire/logfire.hpp"

void charge() {
  logfire::configure();
  logfire::span s("charge {user_id}", {{"user_id", 42}});
  logfire::info("charged");
  auto lf = logfire::configure();
  logfire::shutdown_guard guard(lf);
}
