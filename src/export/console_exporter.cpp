#include "export/console_exporter.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "formatting/message_template.hpp"
#include "scrub/scrubber.hpp"
#include "text/ascii.hpp"
#include "text/utf8.hpp"

namespace logfire::detail {
namespace {

// ANSI SGR sequences, as Rich's "standard" colour system writes them for Logfire's console.
constexpr std::string_view k_reset = "\x1b[0m";
constexpr std::string_view k_green = "\x1b[32m";
constexpr std::string_view k_red = "\x1b[31m";
constexpr std::string_view k_yellow = "\x1b[33m";
constexpr std::string_view k_blue = "\x1b[34m";
constexpr std::string_view k_cyan = "\x1b[36m";
constexpr std::string_view k_bold_red = "\x1b[1;31m";
constexpr std::string_view k_dim = "\x1b[2m";
constexpr std::string_view k_bar = "\xe2\x94\x82";  // U+2502 BOX DRAWINGS LIGHT VERTICAL

// len("12:34:56.789 ")
constexpr std::size_t k_timestamp_width = 13;
// Deeper nesting is printed at this depth (keeps a runaway recursion readable).
constexpr std::uint32_t k_max_indent_depth = 64;

// Copies text meant for a terminal, showing control characters other than newline and tab
// as \xNN so that data cannot move the cursor or change colours.
void append_terminal_text(std::string& out, std::string_view s) {
  constexpr char hex[] = "0123456789abcdef";
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if ((c >= 0x20 && c != 0x7F) || c == '\n' || c == '\t') [[likely]]
      continue;
    out.append(s.data() + run, i - run);
    const char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 0xF]};
    out.append(e, 4);
    run = i + 1;
  }
  out.append(s.data() + run, s.size() - run);
}

void append_colored(std::string& out, bool colors, std::string_view color, std::string_view text) {
  if (colors && !color.empty()) out.append(color);
  append_terminal_text(out, text);
  if (colors && !color.empty()) out.append(k_reset);
}

// "│ " in blue, after the indentation.
void append_bar(std::string& out, bool colors, std::string_view indent) {
  out.append(indent);
  if (colors) out.append(k_blue);
  out.append(k_bar);
  out.push_back(' ');
  if (colors) out.append(k_reset);
}

bool starts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && std::memcmp(s.data(), prefix.data(), prefix.size()) == 0;
}

const event* find_exception(const span_record& r) noexcept {
  for (const event& e : r.events)
    if (e.name == "exception") return &e;
  return nullptr;
}

std::string_view find_string(std::span<const attribute> attrs, std::string_view key) noexcept {
  for (const attribute& a : attrs)
    if (a.key == key && a.value.type == attribute_value::kind::string) return a.value.s;
  return {};
}

}  // namespace

bool console_should_color(console_colors mode, std::FILE* f) noexcept {
  if (mode == console_colors::always) return true;
  if (mode == console_colors::never) return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color && *no_color) return false;
  const char* term = std::getenv("TERM");
  if (term && std::strcmp(term, "dumb") == 0) return false;
  return console_is_terminal(f);
}

bool console_is_terminal(std::FILE* f) noexcept {
  if (!f) f = stdout;
  const int fd = fileno(f);
  return fd >= 0 && isatty(fd) == 1;
}

console_exporter::console_exporter(console_settings settings)
    : settings_(settings), out_(settings.output ? settings.output : stdout) {}

void console_exporter::append_time(std::uint64_t unix_nano, std::string& out) {
  const auto second = static_cast<std::int64_t>(unix_nano / 1'000'000'000u);
  if (second != cached_second_) {
    const auto t = static_cast<std::time_t>(second);
    std::tm tm{};
    // UTC, as Logfire's console (datetime.fromtimestamp(start, tz=timezone.utc)).
    if (!gmtime_r(&t, &tm)) tm = std::tm{};
    const int parts[3] = {tm.tm_hour, tm.tm_min, tm.tm_sec};
    for (int k = 0; k < 3; ++k) {
      cached_hms_[k * 3] = static_cast<char>('0' + parts[k] / 10 % 10);
      cached_hms_[k * 3 + 1] = static_cast<char>('0' + parts[k] % 10);
      if (k < 2) cached_hms_[k * 3 + 2] = ':';
    }
    cached_second_ = second;
  }
  const auto ms = static_cast<unsigned>(unix_nano / 1'000'000u % 1000u);
  const char frac[4] = {'.', static_cast<char>('0' + ms / 100), static_cast<char>('0' + ms / 10 % 10),
                        static_cast<char>('0' + ms % 10)};
  if (settings_.colors) out.append(k_green);
  out.append(cached_hms_, 8);
  out.append(frac, 4);
  if (settings_.colors) out.append(k_reset);
  out.push_back(' ');
}

void console_exporter::format_record(const span_record& r, std::uint64_t time_unix_nano, bool at_end,
                                     std::string& out) {
  const bool colors = settings_.colors;
  const std::uint32_t depth =
      settings_.span_style == console_span_style::simple ? 0 : std::min(r.depth, k_max_indent_depth);

  // The line itself: time, indentation, message in the level's colour, tags.
  if (settings_.include_timestamps) append_time(time_unix_nano, out);
  out.append(2 * std::size_t{depth}, ' ');
  const std::string_view msg = r.message.empty() ? r.name : r.message;
  const std::string_view color = r.level >= level::error  ? k_red
                                 : r.level >= level::warn ? k_yellow
                                                          : std::string_view{};
  append_colored(out, colors, color, msg);
  if (settings_.include_tags && !r.tags.empty()) {
    out.push_back(' ');
    if (colors) out.append(k_cyan);
    out.push_back('[');
    bool first = true;
    for (const attribute_value& t : r.tags) {
      if (t.type != attribute_value::kind::string) continue;
      if (!first) out.push_back(',');
      first = false;
      append_terminal_text(out, t.s);
    }
    out.push_back(']');
    if (colors) out.append(k_reset);
  }
  out.push_back('\n');

  // Detail lines line up under the message.
  const std::size_t indent_width = (settings_.include_timestamps ? k_timestamp_width : 0) + 2 * std::size_t{depth};
  char spaces[k_timestamp_width + 2 * k_max_indent_depth];
  std::memset(spaces, ' ', indent_width);
  const std::string_view indent(spaces, indent_width);

  if (settings_.verbose && !at_end) {
    // "│ file:line level"
    const std::string_view file = find_string(r.attributes, "code.filepath");
    out.append(indent);
    if (colors) out.append(k_blue);
    out.append(k_bar);
    if (colors) out.append(k_reset);
    if (!file.empty()) {
      if (colors) out.append(k_cyan);
      out.push_back(' ');
      append_terminal_text(out, file);
      for (const attribute& a : r.attributes) {
        if (a.key != "code.lineno") continue;
        out.push_back(':');
        append_value_text(out, a.value);
        break;
      }
      if (colors) out.append(k_reset);
    }
    out.push_back(' ');
    out.append(to_string(r.level));
    out.push_back('\n');

    // "│ key=value" for the call's own arguments; continuation lines align after "key=".
    for (const attribute& a : r.attributes) {
      if (starts_with(a.key, "logfire.") || starts_with(a.key, "code.")) continue;
      out.append(indent);
      if (colors) out.append(k_blue);
      out.append(k_bar);
      out.push_back(' ');
      append_terminal_text(out, a.key);
      out.push_back('=');
      if (colors) out.append(k_reset);
      scratch_.clear();
      append_value_text(scratch_, a.value);
      std::string_view value = scratch_;
      for (std::size_t nl; (nl = value.find('\n')) != std::string_view::npos; value.remove_prefix(nl + 1)) {
        append_terminal_text(out, value.substr(0, nl));
        out.push_back('\n');
        out.append(indent);
        if (colors) out.append(k_blue);
        out.append(k_bar);
        if (colors) out.append(k_reset);
        out.append(count_code_points(a.key) + 2, ' ');
      }
      append_terminal_text(out, value);
      out.push_back('\n');
    }
  }

  // "│ Type: message", then the stack trace in verbose mode.
  if (const event* ex = find_exception(r)) {
    append_bar(out, colors, indent);
    if (colors) out.append(k_bold_red);
    append_terminal_text(out, find_string(ex->attributes, "exception.type"));
    out.append(": ");
    if (colors) out.append(k_reset);
    append_terminal_text(out, find_string(ex->attributes, "exception.message"));
    out.push_back('\n');
    std::string_view trace = find_string(ex->attributes, "exception.stacktrace");
    while (settings_.verbose && !trace.empty()) {
      const std::size_t nl = trace.find('\n');
      append_bar(out, colors, indent);
      append_terminal_text(out, trace.substr(0, nl));
      out.push_back('\n');
      trace = nl == std::string_view::npos ? std::string_view{} : trace.substr(nl + 1);
    }
  }
}

namespace {
bool console_disabled(const span_record& r) noexcept {
  for (const attribute& a : r.attributes)
    if (a.key == "logfire.disable_console_log" && a.value.type == attribute_value::kind::boolean && a.value.b)
      return true;
  return false;
}

// The real parent of a pending span (`logfire.pending_parent_id`, 16 hex digits; 0 for a root).
std::uint64_t pending_parent(const span_record& r) noexcept {
  const std::string_view hex = find_string(r.attributes, "logfire.pending_parent_id");
  std::uint64_t v = 0;
  for (const char c : hex.substr(0, 16)) {
    const int d = ascii::hex_value(c);
    if (d < 0) return 0;
    v = v << 4 | static_cast<std::uint64_t>(d);
  }
  return v;
}
}  // namespace

void console_exporter::track_parents(const entry& e, bool printed, std::string& out) {
  const span_record& r = *e.record;
  if (e.silent && r.type == record_type::span) {  // an end: the span can no longer be a parent
    spans_.erase(r.context.span.value);
    if (!chain_.empty() && chain_.back() == r.context.span.value) chain_.pop_back();
    return;
  }
  // The span this line opens (none for a log) and the parent it sits in.
  std::uint64_t self = 0;
  std::uint64_t parent = r.parent.value;
  if (r.type == record_type::pending_span) {
    self = r.parent.value;
    parent = pending_parent(r);
  } else if (r.type == record_type::span) {
    self = r.context.span.value;
  }
  if (spans_.size() >= k_max_open_spans) {
    spans_.clear();
    chain_.clear();
  }
  const std::string_view msg = r.message.empty() ? r.name : r.message;
  if (!printed) {  // hidden, yet a parent of what follows: known, never reprinted
    if (self) spans_[self] = known_span{parent, r.depth, false, std::string(msg)};
    return;
  }
  // Walk up from the parent until a span of the printed chain; what lies between is missing.
  missing_.clear();
  std::size_t keep = 0;
  for (std::uint64_t p = parent; p != 0 && missing_.size() < k_max_indent_depth;) {
    const auto on_chain = std::find(chain_.begin(), chain_.end(), p);
    if (on_chain != chain_.end()) {
      keep = static_cast<std::size_t>(on_chain - chain_.begin()) + 1;
      break;
    }
    const auto known = spans_.find(p);
    if (known == spans_.end()) break;  // a parent never seen (remote, or before this console)
    missing_.emplace_back(p, &known->second);
    p = known->second.parent;
  }
  chain_.resize(keep);
  for (auto it = missing_.rbegin(); it != missing_.rend(); ++it) {
    chain_.push_back(it->first);
    const known_span& k = *it->second;
    if (!k.shown) continue;
    out.append(
        (settings_.include_timestamps ? k_timestamp_width : 0) + 2 * std::size_t{std::min(k.depth, k_max_indent_depth)},
        ' ');
    append_colored(out, settings_.colors, k_dim, k.line);
    out.push_back('\n');
  }
  if (self) {
    spans_[self] = known_span{parent, r.depth, true, std::string(msg)};
    chain_.push_back(self);
  }
}

void console_exporter::format_batch(std::span<const span_record> records, std::string& out) {
  const bool parents = settings_.span_style == console_span_style::show_parents;
  entries_.clear();
  for (const span_record& r : records) {
    switch (r.type) {
      case record_type::pending_span:
        if (started_.size() >= k_max_open_spans) started_.clear();
        started_.insert(r.parent.value);
        if (r.printed_at_call != 0) break;  // shown (or attempted) at the call, parents tracked there
        if (r.level >= settings_.min_level)
          entries_.push_back({r.start_unix_nano, &r, false, false});
        else if (parents)
          entries_.push_back({r.start_unix_nano, &r, false, true});
        break;
      case record_type::log:
        if (r.printed_at_call != 0) break;
        if (r.level >= settings_.min_level) entries_.push_back({r.start_unix_nano, &r, false, false});
        break;
      case record_type::span: {
        const bool was_started = started_.erase(r.context.span.value) != 0;
        if (r.level >= settings_.min_level) {
          if (!was_started) {
            // Its start was never shown: show it now, at its start time.
            entries_.push_back({r.start_unix_nano, &r, false, false});
          } else if (find_exception(r)) {
            entries_.push_back({r.end_unix_nano, &r, true, false});
          }
        }
        if (parents) entries_.push_back({r.end_unix_nano, &r, false, true});
        break;
      }
    }
  }
  // The pipeline drains one thread's ring after another, so a batch from several threads is
  // not in time order; a reader wants it to be. Stable: equal times keep their ring order, so a
  // span's start stays before the logs inside it. Already-ordered batches (one thread) cost a scan.
  const auto by_time = [](const entry& a, const entry& b) { return a.time_unix_nano < b.time_unix_nano; };
  if (!std::is_sorted(entries_.begin(), entries_.end(), by_time))
    std::stable_sort(entries_.begin(), entries_.end(), by_time);
  for (const entry& e : entries_) {
    const bool hidden = e.silent || console_disabled(*e.record);
    if (parents && !e.at_end) track_parents(e, !hidden, out);
    if (!hidden) format_record(*e.record, e.time_unix_nano, e.at_end, out);
  }
}

bool console_exporter::write_buffer(int& error) noexcept {
  if (buffer_.empty()) return true;
  errno = 0;
  bool ok = std::fwrite(buffer_.data(), 1, buffer_.size(), out_) == buffer_.size();
  ok = std::fflush(out_) == 0 && ok;
  error = errno;
  return ok;
}

void console_exporter::export_batch(std::span<const span_record> records) noexcept {
  if (records.empty()) return;
  // Finished spans and logs this console shows (a span by its start line or now) and those it
  // does not print (below its min level, or marked logfire.disable_console_log). Pending spans
  // are previews and are not counted. A record printed at the call (prompt mode) counts by what
  // that write did.
  std::uint64_t shown = 0;
  std::uint64_t not_printed = 0;
  std::uint64_t failed_at_call = 0;
  for (const span_record& r : records) {
    if (r.type == record_type::pending_span) continue;
    if (r.printed_at_call == static_cast<std::uint8_t>(console_mark::failed))
      ++failed_at_call;
    else if (r.level >= settings_.min_level && !console_disabled(r))
      ++shown;
    else
      ++not_printed;
  }
  bool ok = true;
  int error = 0;
  {
    std::lock_guard lock(mutex_);
    try {
      buffer_.clear();
      format_batch(records, buffer_);
      ok = write_buffer(error);
    } catch (...) {  // std::bad_alloc: telemetry never throws into the host
      ok = false;
      error = ENOMEM;
    }
    if (buffer_.capacity() > (1u << 20)) std::string().swap(buffer_);  // one huge batch must not pin memory
  }
  if (!counter_) return;
  if (not_printed) counter_->dropped(drop_reason::below_console_level, not_printed);
  if (failed_at_call)
    counter_->dropped(drop_reason::console_write_failed, failed_at_call, "writing to the console failed");
  if (ok) {
    counter_->delivered(shown);
  } else if (shown) {
    std::string detail = "writing to the console failed";
    try {
      if (error != 0) detail += std::string(": ") + std::strerror(error);
    } catch (...) {
    }
    counter_->dropped(drop_reason::console_write_failed, shown, detail);
  }
}

console_mark console_exporter::print_now(const span_record& r) noexcept {
  std::lock_guard lock(mutex_);
  return print_locked(r);
}

console_mark console_exporter::print_locked(const span_record& r) noexcept {
  const bool parents = settings_.span_style == console_span_style::show_parents;
  const bool hidden = r.level < settings_.min_level || console_disabled(r);
  if (hidden && !(parents && r.type == record_type::pending_span)) return console_mark::none;
  try {
    buffer_.clear();
    const entry e{r.start_unix_nano, &r, false, false};
    if (hidden) {  // not shown, yet the parent of lines printed before the background sees it
      track_parents(e, false, buffer_);
      return console_mark::none;
    }
    if (r.type == record_type::pending_span) {
      if (started_.size() >= k_max_open_spans) started_.clear();
      started_.insert(r.parent.value);
    }
    if (parents) track_parents(e, true, buffer_);
    format_record(r, r.start_unix_nano, false, buffer_);
  } catch (...) {  // out of memory: nothing written, the background console prints it later
    return console_mark::none;
  }
  int error = 0;
  const bool ok = write_buffer(error);
  if (buffer_.capacity() > (1u << 20)) std::string().swap(buffer_);
  return ok ? console_mark::printed : console_mark::failed;
}

void console_exporter::enable_prompt(std::shared_ptr<const scrubber> scrub, std::size_t max_attributes) {
  auto p = std::make_unique<prompt_state>();
  p->scrub = std::move(scrub);
  p->builder.set_quiet();                            // the background builder warns and counts,
  p->builder.set_scrubber(p->scrub.get(), nullptr);  // and announces the first scrubbed value
  p->builder.set_max_attributes(max_attributes);
  p->builder.set_symbolize(settings_.verbose);  // on the caller's thread: only when printed
  std::lock_guard lock(mutex_);
  prompt_ = std::move(p);
}

namespace {
// Set while this thread prints at a call: a record made meanwhile (a scrubbing callback that
// logs) is left to the background console instead of taking the mutex again.
thread_local bool t_printing = false;
}  // namespace

console_mark console_exporter::print_record(bool is_log, const std::byte* body, std::size_t size) noexcept {
  if (t_printing || !prompt_) return console_mark::none;
  t_printing = true;
  console_mark mark = console_mark::none;
  {
    std::lock_guard lock(mutex_);
    try {
      prompt_->records.reset();
      const span_record r = is_log ? prompt_->builder.build(body, size, true, {}, 0, prompt_->records)
                                   : prompt_->builder.build_pending(body, size, prompt_->records);
      mark = print_locked(r);
    } catch (...) {  // out of memory: not printed here, the background console prints it later
      mark = console_mark::none;
    }
  }
  t_printing = false;
  return mark;
}

bool console_exporter::force_flush(clock::time_point) noexcept {
  return std::fflush(out_) == 0;
}

}  // namespace logfire::detail
