// Tiny JSON writers for the scrubber (JSON written back, logfire.scrubbed), the pipeline
// (logfire.json_schema, nested values) and the exporters (OTLP/JSON). They append to a
// caller-owned buffer that is reused across records, so the steady state allocates nothing.
// Runs on the background thread.
//
//   std::string out;
//   detail::json_append_string(out, "say \"hi\"");  // "say \"hi\""
//   out += ':';
//   detail::json_append_double(out, 0.1);            // 0.1
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace logfire::detail {

// Appends `s` as a quoted JSON string. `"` and `\` are escaped, \b \f \n \r \t get their short
// forms and the other control characters (< 0x20) become \u00XX. `s` must already be valid UTF-8
// (the pipeline repairs strings first); bytes >= 0x80 are copied as they are.
void json_append_string(std::string& out, std::string_view s);

// The same escaping without the quotes, for callers assembling a string from parts.
void json_append_escaped(std::string& out, std::string_view s);

// The same escaping written at `out`, for encoders that reserve room first (at most 6 bytes per
// input byte), and with invalid UTF-8 repaired by the library's one policy (text/utf8.hpp)
// instead of trusted: the OTLP/JSON encoder's strings. Returns the end. No allocation.
char* json_write_escaped_utf8(std::string_view s, char* out) noexcept;

void json_append_int(std::string& out, std::int64_t v);
void json_append_uint(std::string& out, std::uint64_t v);

// Shortest representation that reads back to the same double, laid out like Python's repr()
// (which is what Logfire's SDK emits): 3.0, 0.1, 1e+20, 1e-05, -0.0. NaN and infinities are not
// JSON numbers and are written as the JSON strings "NaN", "Infinity" and "-Infinity", as
// Logfire does.
void json_append_double(std::string& out, double v);

void json_append_bool(std::string& out, bool v);
void json_append_null(std::string& out);

// Largest output of write_double_repr, in bytes.
inline constexpr std::size_t k_double_repr_max = 32;

// Writes the Python repr() of a finite double to `first` (at least k_double_repr_max bytes) and
// returns the end. Fixed notation when the decimal exponent is in [-4, 16), always with a
// fractional part ("3.0"); scientific otherwise with at least two exponent digits ("1e+20").
// Shared by JSON writing and message templates.
char* write_double_repr(char* first, double v) noexcept;

}  // namespace logfire::detail
