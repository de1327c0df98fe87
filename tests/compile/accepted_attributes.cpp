// Every accepted kind of attribute value compiles cleanly under -Werror.
#include <array>
#include <chrono>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "logfire/logfire.hpp"

enum class color { red = 1 };
namespace shop {
struct point {
  int x, y;
};
void to_attribute(logfire::value_writer& w, const point& p) {
  w.value(logfire::object{{"x", p.x}, {"y", p.y}});
}
}  // namespace shop

void all(const std::map<std::string, int>& m, const std::unordered_map<int, std::vector<int>>& um,
         const std::list<double>& l, const std::set<std::string>& s, const std::vector<bool>& vb,
         const std::vector<shop::point>& pts, const std::optional<int>& o) {
  const std::array<int, 3> a{1, 2, 3};
  const char* cs = "c";
  logfire::info("x", {{"i", 1},
                      {"u", 2u},
                      {"b", true},
                      {"d", 1.5},
                      {"ld", 1.5L},
                      {"s", std::string("s")},
                      {"sv", std::string_view("v")},
                      {"cs", cs},
                      {"lit", "literal"},
                      {"nul", nullptr},
                      {"e", color::red},
                      {"dur", std::chrono::milliseconds(5)},
                      {"tp", std::chrono::system_clock::now()},
                      {"m", m},
                      {"um", um},
                      {"l", l},
                      {"set", s},
                      {"vb", vb},
                      {"pts", pts},
                      {"o", o},
                      {"a", a},
                      {"p", shop::point{1, 2}},
                      {"obj", logfire::object{{"k", 1}}},
                      {"arr", logfire::array{1, "two"}}});
}
