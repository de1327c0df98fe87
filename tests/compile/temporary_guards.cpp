// Scope guards written as temporaries do nothing: the compiler must warn.
#include "logfire/logfire.hpp"

void guards(const logfire::context& ctx) {
  logfire::attach{ctx};
}
