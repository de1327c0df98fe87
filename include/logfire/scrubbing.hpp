// Scrubbing options: secrets (passwords, tokens, cookies, ...) are redacted from attributes
// before telemetry leaves the process, by Logfire's rules (docs/scrubbing.md). Patterns are
// matched case-insensitively anywhere in a key or a string value, in linear time.
//
//   logfire::configure({.scrubbing = {.extra_patterns = {"iban"},
//                                     .safe_keys = {"session_id"},
//                                     .callback = [](const logfire::scrub_match& m) {
//                                       return m.pattern == "auth" ? logfire::scrub_action::keep()
//                                                                  : logfire::scrub_action::redact();
//                                     }}});
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "logfire/record.hpp"

namespace logfire {

// One step of the path to a value, named as the Logfire UI names fields:
// ["attributes", "user", 0, "password"], ["message", "user"], ["otel_events", 0, "attributes", "k"].
struct scrub_path_segment {
  std::string_view key{};  // when !is_index
  std::size_t index = 0;   // when is_index
  bool is_index = false;
};

// What a scrubbing callback sees: one value the scrubber is about to redact.
struct scrub_match {
  std::span<const scrub_path_segment> path{};
  // The value about to go. Objects and arrays from inside a JSON string are given as their JSON
  // text (kind::string); JSON null as kind::empty.
  attribute_value value{};
  // Which pattern matched: a default's name ("password", "auth", "api_key", ...) or the text of
  // one of the extra_patterns.
  std::string_view pattern{};
  // The text the pattern matched, in the key (key_matched) or in the value.
  std::string_view matched{};
  // True when the key matched (the whole value is replaced, whatever its type).
  bool key_matched = false;
};

// A callback's answer: redact (the default), keep the value as it is, or put a string in its place.
class scrub_action {
 public:
  enum class kind : std::uint8_t { redact, keep, replace };

  [[nodiscard]] static scrub_action redact() { return scrub_action(kind::redact, {}); }
  [[nodiscard]] static scrub_action keep() { return scrub_action(kind::keep, {}); }
  [[nodiscard]] static scrub_action replace(std::string text) { return scrub_action(kind::replace, std::move(text)); }

  [[nodiscard]] kind type() const noexcept { return kind_; }
  [[nodiscard]] const std::string& text() const noexcept { return text_; }

 private:
  scrub_action(kind k, std::string text) : kind_(k), text_(std::move(text)) {}
  kind kind_;
  std::string text_;
};

// Runs on the SDK's background thread, once per match. An exception counts as redact.
using scrub_callback = std::function<scrub_action(const scrub_match&)>;

struct scrubbing_options {
  // Scrub at all. Default true; LOGFIRE_SCRUBBING (1/true/t or 0/false/f).
  std::optional<bool> enabled{};
  // Regular expressions added to the defaults, in RE2 syntax (linear-time: no lookaround, no
  // backreferences), matched case-insensitively with `.` matching newlines. A pattern RE2
  // rejects, or one that matches the empty string, makes configure() fail naming it. The
  // pattern's text names it in the replacement and in `logfire.scrubbed`.
  std::vector<std::string> extra_patterns{};
  // Default patterns to turn off, by name: password, passwd, mysql_pwd, secret, auth,
  // credential, private_key, api_key, session, cookie, social_security, credit_card,
  // logfire_token, pylf_v, csrf, xsrf, jwt, ssn (Logfire's pattern text is accepted too).
  // LOGFIRE_SCRUBBING_DISABLED_PATTERNS (comma-separated).
  std::vector<std::string> disabled_patterns{};
  // Keys kept whole, with everything under them, at any depth (added to the built-in safe
  // list). A trailing '*' makes a prefix: "myapp.*". LOGFIRE_SCRUBBING_SAFE_KEYS
  // (comma-separated).
  std::vector<std::string> safe_keys{};
  // Sees each match and decides (runs on the background thread).
  scrub_callback callback{};
  // Bytes the scrubber examines per record: keys, string values, and JSON strings parsed and
  // examined again inside. Past it, every value not yet examined is replaced (fail closed) and
  // counted under "scan_budget". Default 4 MiB.
  std::optional<std::size_t> max_scan_bytes{};
};

// Values changed by the scrubber, per pattern (for stats()).
struct scrub_count {
  std::string pattern;
  std::uint64_t values = 0;
};

}  // namespace logfire
