// Fuzzes UTF-8 validation and repair. Properties: the validator agrees with an independent
// reference decoder; repair output is always valid, equals the input when that was valid, is
// idempotent, and is the same whichever entry point produced it; JSON escaping of repaired text
// stays valid UTF-8 with no raw control characters.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "text/json.hpp"
#include "text/utf8.hpp"

namespace {

// Decode naively, then reject overlongs, surrogates and code points above U+10FFFF.
bool reference_valid(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    std::uint32_t cp = len == 1 ? c : c & (0x7Fu >> len);
    for (std::size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3Fu);
    }
    const std::uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace logfire::detail;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const bool valid = is_valid_utf8(in);
  if (valid != reference_valid(in)) __builtin_trap();
  if ((valid_utf8_prefix(in) == in.size()) != valid) __builtin_trap();

  std::string repaired;
  append_repaired_utf8(repaired, in);
  if (!reference_valid(repaired)) __builtin_trap();
  if (valid && repaired != in) __builtin_trap();
  if (!valid && repaired.find(k_replacement_character) == std::string::npos) __builtin_trap();

  std::string again;
  append_repaired_utf8(again, repaired);
  if (again != repaired) __builtin_trap();

  std::string appended;
  if (append_utf8(appended, in) == valid || appended != repaired) __builtin_trap();
  std::string in_place(in);
  if (repair_utf8(in_place) == valid || in_place != repaired) __builtin_trap();

  if (code_point_offset(repaired, count_code_points(repaired)) != repaired.size()) __builtin_trap();

  std::string json;
  json_append_string(json, repaired);
  if (!reference_valid(json)) __builtin_trap();
  for (const char ch : json)
    if (static_cast<unsigned char>(ch) < 0x20) __builtin_trap();
  return 0;
}
