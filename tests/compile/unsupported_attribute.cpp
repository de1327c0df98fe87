// A type with no conversion: the error names it and lists what is accepted.
#include "logfire/logfire.hpp"

struct widget {
  int size;
};

void make(const widget& w) {
  logfire::info("made {w}", {{"w", w}});
}
