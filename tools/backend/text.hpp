// Small text helpers shared by the local backend and its CLI: ASCII case and whitespace, and the
// two ways text from outside is made safe to show: `printable` for messages and logs (bytes a
// request sent are never echoed raw), `for_terminal` for everything printed to a terminal (no
// escape sequence from telemetry ever reaches it).
#pragma once

#include <string>
#include <string_view>

namespace logfire::backend::text {

[[nodiscard]] std::string lower(std::string_view s);  // ASCII only
[[nodiscard]] bool iequals(std::string_view a, std::string_view b);
// Without leading and trailing spaces and tabs (HTTP's OWS).
[[nodiscard]] std::string_view trim(std::string_view s);

// Bytes from a request as printable ASCII: control characters, backslash and non-ASCII bytes
// as \xNN, cut to `max` bytes (then "...").
[[nodiscard]] std::string printable(std::string_view bytes, std::size_t max = 64);

// Text for a terminal: valid UTF-8 is kept, except what a terminal would act on — C0 controls
// (ESC, BEL, CR, backspace...), DEL, C1 controls (U+0080-U+009F, which include the one-byte CSI
// and OSC), and the bidirectional overrides that can make text display other than it reads —
// which are shown as visible escapes (\e, \x07, \u009b, \u202e). Invalid UTF-8 bytes become
// \xNN. With `keep_newlines`, '\n' and '\t' pass through (multi-line cells, stack traces).
[[nodiscard]] std::string for_terminal(std::string_view s, bool keep_newlines = false);

}  // namespace logfire::backend::text
