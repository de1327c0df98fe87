// Durations and points in time as the read commands and the JSON API take them: `search
// --since 15m`, MCP's `since`, GET /api/records?since= and GET /api/traces?since=&until=.
//
//   parse_duration("15m")                                 // 900 000 ms
//   parse_time_bound("2h", now)                           // now - 2 h, in Unix ns
//   parse_time_bound("2026-12-05T10:00:00.5+01:00", now)  // 09:00:00.5 UTC
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace logfire::backend {

// "30s", "15m", "12h", "7d", "250ms", or plain seconds, up to 100 years. nullopt when malformed
// or longer.
[[nodiscard]] std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// A point in time: a duration before `now_ns` (parse_duration), or an RFC 3339 time
// ("2026-12-05T10:00:00Z", a fraction of up to 9 digits, "Z" or an offset "+01:00"; a space for
// the "T", and no zone meaning UTC, as `start_timestamp` is stored, are accepted too).
// Unix nanoseconds; nullopt when malformed or out of range.
[[nodiscard]] std::optional<std::int64_t> parse_time_bound(std::string_view text, std::int64_t now_ns);

// The current time in Unix nanoseconds.
[[nodiscard]] std::int64_t unix_now_ns();

}  // namespace logfire::backend
