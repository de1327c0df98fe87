// The scrubbing engine: Logfire's rules (logfire/_internal/scrubbing.py) over decoded attribute
// values, without echoing what it hides and in time linear in the text it reads.
//
//  * A key matching a pattern replaces its value whatever the type (a list becomes a
//    one-element list). A string value matching a pattern is replaced, unless the match is the
//    whole string; a string that parses as JSON is scrubbed inside and written back instead.
//  * Safe keys (logfire.*, exception.*, http.method, ...) are kept whole with all under them.
//  * The replacement is "[Scrubbed due to '<reason>']": for a default pattern the keyword that
//    matched (never more of the value), for an extra pattern the pattern's own text.
//  * What was scrubbed is listed for `logfire.scrubbed`, paths named as the Logfire UI names them.
//
//   std::string err;
//   auto s = scrubber::create(opts.scrubbing, err);     // configure time; nullptr + err if invalid
//   scrub_session session(*s);                          // one per background thread
//   session.begin_record();
//   const scrub_path_segment root[] = {{.key = "attributes"}};
//   session.scrub_attributes(root, attrs, sink);        // in place; new values go to the sink
//   if (session.scrubbed()) session.write_notes_json(json);  // the logfire.scrubbed value
//
// A scrubber is immutable after create() (its counters are atomics): sessions on any number of
// threads share it. A session belongs to one thread.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "logfire/record.hpp"
#include "logfire/scrubbing.hpp"
#include "scrub/fixed_plan.hpp"
#include "scrub/json_tree.hpp"
#include "scrub/keywords.hpp"

namespace re2 {
class RE2;
}

namespace logfire::detail {

// Default of options.scrubbing.max_scan_bytes.
inline constexpr std::size_t k_default_max_scan_bytes = std::size_t{4} << 20;
// Arrays and objects nested in one value, JSON strings inside JSON strings included. A string
// nested deeper is not parsed: if it matched a pattern it is redacted whole.
inline constexpr std::size_t k_max_json_depth = 64;
// Extra patterns accepted (each is one alternative of one RE2 program).
inline constexpr std::size_t k_max_extra_patterns = 1024;
// Entries of `logfire.scrubbed` per record; one last entry says how many more there were.
inline constexpr std::size_t k_max_notes = 128;
// The pseudo-pattern values past the scan budget are counted under.
inline constexpr std::string_view k_scan_budget = "scan_budget";
inline constexpr std::string_view k_budget_replacement = "[Scrubbed: scan budget exceeded]";
inline constexpr std::string_view k_failure_replacement = "[Scrubbed: scrubbing failed]";

// What the scrubber makes of an attribute's key alone: kept whole with all under it (a safe
// key), replaced whatever the value (a key matching a pattern), or neither, so the value is
// read. It depends on the key and the options only: the record builder decides it once per
// call-site variant and hands the decisions to scrub_attributes.
enum class key_check : std::uint8_t { safe, plain, matches };

// Where the scrubber puts the values it writes (replacements, JSON written back, new lists).
// They must live as long as the record; the pipeline passes its batch arena.
class scrub_sink {
 public:
  virtual std::string_view copy(std::string_view text) = 0;
  virtual attribute_value* make_values(std::size_t n) = 0;

 protected:
  ~scrub_sink() = default;
};

class scrubber {
 public:
  // Compiles the options (at configure time). Returns nullptr and sets `error` to a message
  // naming the option and the value when a pattern or a name is not acceptable.
  [[nodiscard]] static std::unique_ptr<scrubber> create(const scrubbing_options& options, std::string& error);
  ~scrubber();
  scrubber(const scrubber&) = delete;
  scrubber& operator=(const scrubber&) = delete;

  // Values changed so far, per pattern with a non-zero count: defaults in Logfire's order, then
  // extra patterns, then "scan_budget". Any thread.
  [[nodiscard]] std::vector<scrub_count> counts() const;
  // Callbacks that threw (their values were redacted) and records whose scrubbing failed
  // (every value not safe was replaced). Any thread.
  [[nodiscard]] std::uint64_t callback_errors() const noexcept {
    return callback_errors_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t failures() const noexcept { return failures_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::size_t max_scan_bytes() const noexcept { return max_scan_bytes_; }
  // The decision scrub_attributes takes for `key` before it reads the value. Counts nothing.
  [[nodiscard]] key_check check_key(std::string_view key) const noexcept;
  // Whether scrub_attributes would leave a record's attributes as they are, say so in no note
  // and count nothing: no key matches, no text matches, and the scan budget is not reached; a
  // record for which it says false is scrubbed in full. For attributes whose keys and value
  // types repeat record after record (a call site's layout): plan_fixed() decides once what the
  // keys and types decide (`checks` as scrub_attributes takes them), and leaves_alone() then
  // reads only the texts, each at most once. Give plan_fixed() as a text (kind::string) every
  // value that may arrive as one: a planned text that is not a text in a record is charged as a
  // number is (its key only).
  [[nodiscard]] fixed_scrub_plan plan_fixed(std::span<const attribute> attrs, std::span<const key_check> checks) const;
  [[nodiscard]] bool leaves_alone(const fixed_scrub_plan& plan, std::span<const attribute> attrs) const noexcept;

 private:
  friend class scrub_session;
  struct match {
    bool found = false;
    std::uint16_t pattern = 0;  // < k_default_patterns.size(): a default; then the extra patterns
    std::size_t start = 0;
    std::size_t end = 0;
  };
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };

  scrubber() = default;
  [[nodiscard]] match find(std::string_view text) const noexcept;
  // What scrub_attributes skips without a session's work, within `budget` bytes of the scan
  // budget: a safe key (0 bytes), or a key that matches nothing over a number, a boolean or a
  // text that matches nothing either (the key's bytes, and the text's). k_not_plain: anything
  // else, which the full path takes.
  static constexpr std::size_t k_not_plain = static_cast<std::size_t>(-1);
  // plain_bytes()'s rules by key and value type, before any text is read.
  enum class plain_kind : std::uint8_t { skipped, not_plain, key, key_and_text };
  [[nodiscard]] static plain_kind classify(key_check check, attribute_value::kind type) noexcept;
  [[nodiscard]] std::size_t plain_bytes(const attribute& a, key_check check, std::size_t budget) const noexcept;
  [[nodiscard]] bool is_safe(std::string_view key) const noexcept;
  [[nodiscard]] static std::size_t safe_filter_bit(std::string_view key) noexcept;
  [[nodiscard]] std::string_view pattern_name(std::uint16_t pattern) const noexcept;
  [[nodiscard]] std::uint16_t budget_pattern() const noexcept {
    return static_cast<std::uint16_t>(k_default_patterns.size() + extra_sources_.size());
  }
  // Counts one value changed under `pattern`.
  void count(std::uint16_t pattern) const noexcept;
  // True once per pattern: the first redaction, which prints the first-scrub line.
  bool first_time(std::uint16_t pattern) const noexcept;

  keyword_matcher keywords_;
  std::unique_ptr<re2::RE2> extras_;                   // every extra pattern as one alternation
  std::vector<std::unique_ptr<re2::RE2>> extra_each_;  // to tell which alternative matched
  std::vector<std::string> extra_sources_;
  std::unordered_set<std::string, string_hash, std::equal_to<>> safe_exact_;
  std::vector<std::string> safe_prefixes_;
  std::array<std::uint64_t, 16> safe_filter_{};  // a bit per (length, first, last byte) of the exact safe keys
  scrub_callback callback_;
  std::size_t max_scan_bytes_ = k_default_max_scan_bytes;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // one per pattern, then the budget
  std::unique_ptr<std::atomic<bool>[]> announced_;        // likewise
  mutable std::atomic<std::uint64_t> callback_errors_{0};
  mutable std::atomic<std::uint64_t> failures_{0};
};

// One thread's scrubbing state, reused across records: the notes for `logfire.scrubbed`, the scan
// budget, the first-scrub lines, the scratch trees for JSON strings.
class scrub_session {
 public:
  // `silent`: counts nothing and announces nothing (a second pass over records the background
  // thread scrubs and counts: the console's prompt mode).
  explicit scrub_session(const scrubber& s, bool silent = false);

  // Starts a record: forgets the previous one's notes and lines, restores the scan budget.
  void begin_record() noexcept;

  // Scrubs `attrs` in place. `root` names where they sit, for paths: {"attributes"},
  // {"otel_events", i, "attributes"} or {"links", i, "attributes"}. `checks` (optional) holds
  // check_key() of the first keys, decided earlier for the same keys: those keys are not read
  // again. Never throws: if scrubbing itself fails (memory), every value not under a safe key
  // is replaced.
  void scrub_attributes(std::span<const scrub_path_segment> root, std::span<attribute> attrs, scrub_sink& sink,
                        std::span<const key_check> checks = {}) noexcept;

  // Scrubs one value with no key in place (a log body: root {"log_body"}).
  void scrub_value(std::span<const scrub_path_segment> root, attribute_value& value, scrub_sink& sink) noexcept;

  // Logfire lists what it scrubbed from a message's fields under ["message", field, ...] as well
  // as under ["attributes", field, ...]. After scrub_attributes with root {"attributes"}, this
  // adds the first from the second for each field the template uses (the message must be
  // formatted from the scrubbed attributes, so no secret reaches `logfire.msg`).
  void add_message_notes(std::span<const std::string_view> fields);

  // Whether this record has anything for `logfire.scrubbed`.
  [[nodiscard]] bool scrubbed() const noexcept { return !notes_.empty() || omitted_notes_ > 0; }

  // Appends the `logfire.scrubbed` value: [{"path":[...],"matched_substring":"..."}, ...],
  // message notes first, as Logfire orders them.
  void write_notes_json(std::string& out) const;

  // Lines to print once each (the first value any pattern scrubbed since configure); the
  // background thread hands them to the diagnostics.
  [[nodiscard]] std::span<const std::string> first_scrub_lines() const noexcept { return lines_; }

  // Bytes examined in this record so far.
  [[nodiscard]] std::size_t scanned_bytes() const noexcept { return scanned_; }

 private:
  bool silent_ = false;
  struct owned_segment {
    std::string key;
    std::size_t index = 0;
    bool is_index = false;
  };
  struct note {
    std::vector<owned_segment> path;
    std::string reason;
  };
  // What happened to one string: kept, or replaced by `text` (valid until the next record).
  struct string_result {
    bool changed = false;
    std::string_view text;
  };

  void scrub_keyed(std::string_view key, key_check check, attribute_value& value, scrub_sink& sink);
  void scrub_any(attribute_value& value, scrub_sink& sink);
  // `depth`: arrays and objects around the string (bounded by k_max_json_depth); `level`: JSON
  // documents around it (which of trees_ parses it).
  string_result scrub_string(std::string_view s, std::size_t depth, std::size_t level);
  bool scrub_json(json_tree& tree, std::size_t node, std::size_t depth, std::size_t level);
  bool scrub_json_member(json_tree& tree, std::size_t key_node, std::size_t value_node, std::size_t depth,
                         std::size_t level);

  // Asks the callback (if any) about a match and records the outcome. Returns the text to put in
  // the value's place, or nothing when the value is kept.
  string_result decide(const attribute_value& value, const scrubber::match& m, std::string_view matched_in,
                       bool key_matched);
  string_result over_budget();
  void replace_keyed(attribute_value& value, std::string_view text, scrub_sink& sink);
  bool charge(std::size_t bytes) noexcept;
  // The path to the value at hand: a stack that only grows (no allocation once warm).
  void push_key(std::string_view key);
  [[gnu::noinline]] void grow_path();
  void push_index(std::size_t index);
  void set_root(std::span<const scrub_path_segment> root);
  [[nodiscard]] std::span<const scrub_path_segment> path() const noexcept;
  std::string_view hold(std::string text);
  void add_note(std::string_view reason);
  void announce(std::uint16_t pattern, bool key_matched);
  void fail_closed(std::span<attribute> attrs) noexcept;

  const scrubber& s_;
  std::vector<scrub_path_segment> path_;
  std::size_t path_len_ = 0;
  std::vector<note> notes_;
  std::size_t message_notes_ = 0;  // notes_ starts with this many ["message", ...] notes
  std::size_t omitted_notes_ = 0;
  std::vector<std::string> lines_;
  std::deque<std::string> held_;                   // replacement texts and JSON written back, until the next record
  std::vector<std::unique_ptr<json_tree>> trees_;  // one per level of JSON inside JSON
  std::size_t scanned_ = 0;
  bool exhausted_ = false;
};

// Python's repr() of a string, as Logfire writes the reason in "[Scrubbed due to 'reason']".
void append_python_repr(std::string& out, std::string_view s);

// The first-scrub line for `pattern` (its name) at `path`.
[[nodiscard]] std::string first_scrub_line(std::string_view pattern, bool default_pattern, bool key_matched,
                                           std::span<const scrub_path_segment> path, std::size_t max_scan_bytes);

}  // namespace logfire::detail
