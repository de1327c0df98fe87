// Scope guards written as temporaries do nothing (each ends at its semicolon): the compiler
// must warn about every one of them (tests/compile/CMakeLists.txt expects a warning naming
// nodiscard on each line below; keep the line numbers).
#include "logfire/config.hpp"
#include "logfire/handoff.hpp"
#include "logfire/logfire.hpp"

void guards(const logfire::context& ctx, const logfire::setup& lf) {
  logfire::context_scope{ctx};
  logfire::set_baggage({{"tenant", "acme"}});
  logfire::suppress_instrumentation{};
  logfire::shutdown_guard{lf};
  logfire::attach_context(std::vector<std::pair<std::string, std::string>>{});
}
