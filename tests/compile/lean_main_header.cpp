// logfire/logfire.hpp is whole on its own and stays lean: it is included by every file that
// logs, so it must not bring in the heavy standard headers (docs/architecture.md, "The public
// headers"). The guards checked are libstdc++'s; other libraries skip that part.
#include "logfire/logfire.hpp"

#if defined(__GLIBCXX__)
#if defined(_GLIBCXX_ATOMIC) || defined(_GLIBCXX_MEMORY) || defined(_GLIBCXX_VECTOR) || defined(_GLIBCXX_OPTIONAL) || \
    defined(_GLIBCXX_SPAN) || defined(_GLIBCXX_CHRONO) || defined(_GLIBCXX_RANGES) || defined(_BASIC_STRING_H)
#error "logfire/logfire.hpp includes a heavy standard header again"
#endif
#endif

int main() {
  logfire::span s("work {n}", {{"n", 1}}, {.level = logfire::level::debug, .kind = logfire::span_kind::server});
  s.set_status(logfire::status_code::ok);
  logfire::info("done {ok}", {{"ok", true}, {"list", logfire::array{1, "two"}}});
  const auto db = logfire::with_settings({.tags = {"db"}, .level = logfire::level::notice});
  db.warn("slow");
  const logfire::context ctx = logfire::capture_context();
  logfire::context_scope scope(ctx);
  const logfire::optional_level lvl = logfire::parse_level("warning");
  return lvl && *lvl == logfire::level::warn && !logfire::trace_id::from_hex("xyz").valid() ? 0 : 1;
}
