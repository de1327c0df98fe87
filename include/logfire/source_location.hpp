// The call site of a span or log, captured by a defaulted argument: the caller writes nothing.
// Same interface as std::source_location, built on the __builtin_FILE/LINE/FUNCTION builtins
// that both g++ 12 and clang 14 provide (clang 14 cannot compile libstdc++'s
// std::source_location, which needs __builtin_source_location from clang 15).
//
//   void where(logfire::source_location loc = logfire::source_location::current());
#pragma once

#include <cstdint>

namespace logfire {

class source_location {
 public:
  static constexpr source_location current(const char* file = __builtin_FILE(), std::uint32_t line = __builtin_LINE(),
                                           const char* function = __builtin_FUNCTION()) noexcept {
    source_location loc;
    loc.file_ = file;
    loc.line_ = line;
    loc.function_ = function;
    return loc;
  }
  constexpr source_location() noexcept = default;

  // Both strings have static storage duration.
  [[nodiscard]] constexpr const char* file_name() const noexcept { return file_; }
  [[nodiscard]] constexpr const char* function_name() const noexcept { return function_; }
  [[nodiscard]] constexpr std::uint32_t line() const noexcept { return line_; }

 private:
  const char* file_ = "";
  const char* function_ = "";
  std::uint32_t line_ = 0;
};

}  // namespace logfire
