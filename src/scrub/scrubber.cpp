#include "scrub/scrubber.hpp"

#include <re2/re2.h>

#include <charconv>

#include "text/json.hpp"

namespace logfire::detail {
namespace {

constexpr std::uint16_t k_defaults = static_cast<std::uint16_t>(k_default_patterns.size());

// Logfire's SAFE_KEYS (scrubbing.py) that are not under the two safe prefixes below, including
// the Python frameworks' own keys, so that data from any Logfire SDK is treated alike.
constexpr std::string_view k_safe_keys[] = {
    "code.filepath",
    "code.lineno",
    "code.function",
    "error.type",
    "http.method",
    "http.status_code",
    "http.scheme",
    "http.url",
    "http.target",
    "http.route",
    "db.statement",
    "db.query.text",
    "db.plan",
    "fastapi.route.name",
    "fastapi.route.operation_id",
    "url.full",
    "url.path",
    "url.query",
    "event.name",
    "agent_session_id",
    "do_not_scrub",
    "binary_content",
    "pydantic_ai.all_messages",
    "rpc.method",
    "model_request_parameters",
    "langsmith.metadata.session_id",
    "langsmith.trace.session_name",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
    "gen_ai.tool.name",
    "gen_ai.tool.call.id",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.raw",
    "gen_ai.conversation.id",
    "gen_ai.system",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
};
// Logfire's own attributes (msg, msg_template, json_schema, tags, level_num, span_type,
// scrubbed, ...) and the exception event's.
constexpr std::string_view k_safe_prefixes[] = {"logfire.", "exception."};

std::string quoted(std::string_view s) {
  std::string out;
  append_python_repr(out, s);
  return out;
}

std::string default_pattern_names() {
  std::string names;
  for (const auto& p : k_default_patterns) {
    if (!names.empty()) names += ", ";
    names += p.name;
  }
  return names;
}

// Whether `re` can match an empty string somewhere: such a pattern would scrub every value.
// Zero-width assertions depend only on the neighbouring characters (text edges, line breaks,
// word and non-word characters), and these probes put every pair of them around some position.
bool matches_empty(const re2::RE2& re) {
  static constexpr std::string_view k_probes[] = {"", "a", " ", "\n", "a a", "a\na", " \n ", "aa  \n\naa", "_a_"};
  for (const auto probe : k_probes) {
    const re2::StringPiece text(probe.data(), probe.size());
    for (std::size_t at = 0; at <= probe.size(); ++at)
      if (re.Match(text, at, at, RE2::ANCHOR_BOTH, nullptr, 0)) return true;
  }
  return false;
}

void append_path_json(std::string& out, std::span<const scrub_path_segment> path) {
  out += '[';
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (i) out += ',';
    if (path[i].is_index)
      json_append_uint(out, path[i].index);
    else
      json_append_string(out, path[i].key);
  }
  out += ']';
}

attribute_value string_value(std::string_view s) noexcept {
  attribute_value v;
  v.type = attribute_value::kind::string;
  v.s = s;
  return v;
}

// A JSON node as the callback sees it.
attribute_value callback_view(const json_node& n) noexcept {
  attribute_value v;
  switch (n.kind) {
    case json_node::type::null:
      break;
    case json_node::type::boolean:
      v.type = attribute_value::kind::boolean;
      v.b = n.boolean;
      break;
    case json_node::type::number: {
      const char* first = n.text.data();
      const char* last = first + n.text.size();
      std::int64_t i = 0;
      if (auto [p, ec] = std::from_chars(first, last, i); ec == std::errc() && p == last) {
        v.type = attribute_value::kind::int64;
        v.i = i;
      } else {
        v.type = attribute_value::kind::float64;
        (void)std::from_chars(first, last, v.d);
      }
      break;
    }
    case json_node::type::string:
      v = string_value(n.text);
      break;
    case json_node::type::array:
    case json_node::type::object:
      v = string_value(n.raw);
      break;
  }
  return v;
}

// What a JSON text can start with (after whitespace); anything else is not worth parsing.
bool may_be_json(std::string_view s) noexcept {
  for (const char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    return c == '{' || c == '[' || c == '"' || c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n' ||
           c == 'N' || c == 'I';
  }
  return false;
}

}  // namespace

void append_python_repr(std::string& out, std::string_view s) {
  static constexpr char k_hex[] = "0123456789abcdef";
  const char quote = s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos ? '"' : '\'';
  out += quote;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == quote || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      out += "\\x";
      out += k_hex[c >> 4];
      out += k_hex[c & 0xF];
    } else {
      out += ch;
    }
  }
  out += quote;
}

std::string first_scrub_line(std::string_view pattern, bool default_pattern, bool key_matched,
                             std::span<const scrub_path_segment> path, std::size_t max_scan_bytes) {
  std::string line = "logfire: ";
  if (pattern == k_scan_budget) {
    line += "a record needed more than " + std::to_string(max_scan_bytes) +
            " bytes of scrubbing; values past that were replaced with \"";
    line += k_budget_replacement;
    line += "\" (counted as scan_budget); raise options.scrubbing.max_scan_bytes";
    return line;
  }
  line += "scrubbed ";
  append_path_json(line, path);
  line += key_matched ? " (its key matched " : " (its value matched ";
  line += default_pattern ? "default pattern " : "extra pattern ";
  line += quoted(pattern);
  line += "); if it is not a secret, ";
  std::string_view key;
  for (auto it = path.rbegin(); it != path.rend() && key.empty(); ++it)
    if (!it->is_index && it != path.rend() - 1) key = it->key;  // the root ("attributes") is no key
  if (!key.empty()) {
    line += "add ";
    json_append_string(line, key);
    line += " to options.scrubbing.safe_keys (LOGFIRE_SCRUBBING_SAFE_KEYS) or ";
  }
  if (default_pattern) {
    line += "disable the pattern with options.scrubbing.disabled_patterns (LOGFIRE_SCRUBBING_DISABLED_PATTERNS=";
    line += pattern;
    line += ')';
  } else {
    line += "keep it with options.scrubbing.callback";
  }
  return line;
}

// ---------------------------------------------------------------------------------------------
// scrubber: configure time, then shared read-only.

scrubber::~scrubber() = default;

std::unique_ptr<scrubber> scrubber::create(const scrubbing_options& options, std::string& error) {
  std::unique_ptr<scrubber> s(new scrubber);

  std::uint32_t enabled = k_all_default_patterns;
  for (const auto& name : options.disabled_patterns) {
    bool known = false;
    for (std::size_t i = 0; i < k_default_patterns.size(); ++i) {
      if (name == k_default_patterns[i].name || name == k_default_patterns[i].source) {
        enabled &= ~(1u << i);
        known = true;
      }
    }
    if (!known) {
      error = "options.scrubbing.disabled_patterns (LOGFIRE_SCRUBBING_DISABLED_PATTERNS): " + quoted(name) +
              " is not one of the default patterns (" + default_pattern_names() + ")";
      return nullptr;
    }
  }
  s->keywords_ = keyword_matcher(enabled);

  RE2::Options re_options;
  re_options.set_case_sensitive(false);  // Logfire compiles its patterns with re.IGNORECASE | re.DOTALL
  re_options.set_dot_nl(true);
  re_options.set_log_errors(false);
  if (options.extra_patterns.size() > k_max_extra_patterns) {
    error = "options.scrubbing.extra_patterns has " + std::to_string(options.extra_patterns.size()) +
            " patterns; at most " + std::to_string(k_max_extra_patterns) + " (combine them with |)";
    return nullptr;
  }
  std::string combined;
  for (std::size_t i = 0; i < options.extra_patterns.size(); ++i) {
    const std::string& p = options.extra_patterns[i];
    const std::string which = "options.scrubbing.extra_patterns[" + std::to_string(i) + "] " + quoted(p);
    auto re = std::make_unique<re2::RE2>(p, re_options);
    if (!re->ok()) {
      error = which +
              " is not a pattern RE2 accepts (matching runs in linear time, so lookarounds and backreferences "
              "are not available): " +
              re->error();
      return nullptr;
    }
    if (matches_empty(*re)) {
      error = which + " can match an empty string, so it would scrub every value; make it match at least one character";
      return nullptr;
    }
    if (!combined.empty()) combined += '|';
    combined += "(?:" + p + ")";
    s->extra_each_.push_back(std::move(re));
    s->extra_sources_.push_back(p);
  }
  if (!combined.empty()) {
    RE2::Options o = re_options;
    o.set_never_capture(true);  // the user's groups (even named twice across patterns) play no part
    s->extras_ = std::make_unique<re2::RE2>(combined, o);
    if (!s->extras_->ok()) {
      error = "options.scrubbing.extra_patterns cannot be combined into one alternation: " + s->extras_->error();
      return nullptr;
    }
  }

  for (const auto k : k_safe_keys) s->safe_exact_.emplace(k);
  for (const auto p : k_safe_prefixes) s->safe_prefixes_.emplace_back(p);
  for (const auto& k : options.safe_keys) {
    if (k.empty()) continue;
    if (k.back() == '*')
      s->safe_prefixes_.push_back(k.substr(0, k.size() - 1));
    else
      s->safe_exact_.insert(k);
  }

  for (const auto& k : s->safe_exact_) {
    const std::size_t bit = safe_filter_bit(k);
    s->safe_filter_[bit / 64] |= std::uint64_t{1} << (bit % 64);
  }

  if (options.max_scan_bytes) {
    if (*options.max_scan_bytes == 0) {
      error = "options.scrubbing.max_scan_bytes must be positive";
      return nullptr;
    }
    s->max_scan_bytes_ = *options.max_scan_bytes;
  }
  s->callback_ = options.callback;
  const std::size_t counters = std::size_t{s->budget_pattern()} + 1;
  s->counts_ = std::make_unique<std::atomic<std::uint64_t>[]>(counters);
  s->announced_ = std::make_unique<std::atomic<bool>[]>(counters);
  return s;
}

std::vector<scrub_count> scrubber::counts() const {
  std::vector<scrub_count> out;
  for (std::uint16_t p = 0; p <= budget_pattern(); ++p) {
    const std::uint64_t n = counts_[p].load(std::memory_order_relaxed);
    if (n) out.push_back({std::string(pattern_name(p)), n});
  }
  return out;
}

std::string_view scrubber::pattern_name(std::uint16_t pattern) const noexcept {
  if (pattern < k_defaults) return k_default_patterns[pattern].name;
  if (pattern < budget_pattern()) return extra_sources_[pattern - k_defaults];
  return k_scan_budget;
}

void scrubber::count(std::uint16_t pattern) const noexcept {
  counts_[pattern].fetch_add(1, std::memory_order_relaxed);
}

bool scrubber::first_time(std::uint16_t pattern) const noexcept {
  return !announced_[pattern].exchange(true, std::memory_order_relaxed);
}

std::size_t scrubber::safe_filter_bit(std::string_view key) noexcept {
  const auto first = static_cast<unsigned char>(key.front()), last = static_cast<unsigned char>(key.back());
  return (key.size() * 31 + first * 7 + last) % (64 * std::tuple_size_v<decltype(safe_filter_)>);
}

bool scrubber::is_safe(std::string_view key) const noexcept {
  if (key.empty()) return false;
  for (const auto& prefix : safe_prefixes_)
    if (!prefix.empty() && key[0] == prefix[0] && key.starts_with(prefix)) return true;
  // Most keys are not safe: one bit (length, first and last byte) says so before any hashing.
  const std::size_t bit = safe_filter_bit(key);
  if (!(safe_filter_[bit / 64] >> (bit % 64) & 1u)) return false;
  return safe_exact_.find(key) != safe_exact_.end();
}

key_check scrubber::check_key(std::string_view key) const noexcept {
  if (is_safe(key)) return key_check::safe;
  return find(key).found ? key_check::matches : key_check::plain;
}

scrubber::match scrubber::find(std::string_view text) const noexcept {
  match best;
  if (const keyword_match k = keywords_.find(text); k.found) best = {true, k.pattern, k.start, k.end};
  if (!extras_ || (best.found && best.start == 0)) return best;
  // Python searches one alternation of every pattern, defaults first: the leftmost match wins,
  // a default on a tie. The combined RE2 finds where the leftmost extra match starts; the first
  // extra pattern matching there is the alternative Python's `re` would have taken.
  const re2::StringPiece t(text.data(), text.size());
  re2::StringPiece m;
  if (!extras_->Match(t, 0, t.size(), RE2::UNANCHORED, &m, 1)) return best;
  const auto start = static_cast<std::size_t>(m.data() - t.data());
  if (best.found && best.start <= start) return best;
  for (std::size_t k = 0; k < extra_each_.size(); ++k) {
    re2::StringPiece mk;
    if (extra_each_[k]->Match(t, start, t.size(), RE2::ANCHOR_START, &mk, 1))
      return {true, static_cast<std::uint16_t>(k_defaults + k), start, start + mk.size()};
  }
  return {true, k_defaults, start, start + m.size()};  // not reached: one alternative matched there
}

// ---------------------------------------------------------------------------------------------
// scrub_session: the background thread, one record at a time.

scrub_session::scrub_session(const scrubber& s, bool silent) : silent_(silent), s_(s), path_(32) {}

// The path stack's rare growth, out of line so that pushing a segment stays small.
void scrub_session::grow_path() {
  path_.resize(path_.size() * 2);
}

// Fields are written one by one: a segment passed whole through memory made the stores and the
// next loads miss store forwarding, a visible cost per attribute.
void scrub_session::push_key(std::string_view key) {
  if (path_len_ == path_.size()) [[unlikely]]
    grow_path();
  scrub_path_segment& seg = path_[path_len_++];
  seg.key = key;
  seg.index = 0;
  seg.is_index = false;
}

void scrub_session::push_index(std::size_t index) {
  if (path_len_ == path_.size()) [[unlikely]]
    grow_path();
  scrub_path_segment& seg = path_[path_len_++];
  seg.key = {};
  seg.index = index;
  seg.is_index = true;
}

void scrub_session::set_root(std::span<const scrub_path_segment> root) {
  path_len_ = 0;
  for (const auto& seg : root) seg.is_index ? push_index(seg.index) : push_key(seg.key);
}

std::span<const scrub_path_segment> scrub_session::path() const noexcept {
  return {path_.data(), path_len_};
}

void scrub_session::begin_record() noexcept {
  notes_.clear();
  message_notes_ = 0;
  omitted_notes_ = 0;
  lines_.clear();
  if (!held_.empty()) held_.clear();  // a deque's clear() costs something even when empty
  scanned_ = 0;
  exhausted_ = false;
}

[[gnu::always_inline]] inline scrubber::plain_kind scrubber::classify(key_check check,
                                                                      attribute_value::kind type) noexcept {
  if (check == key_check::safe) return plain_kind::skipped;
  if (check != key_check::plain) return plain_kind::not_plain;
  switch (type) {
    case attribute_value::kind::string:
      return plain_kind::key_and_text;
    case attribute_value::kind::array:
      return plain_kind::not_plain;
    default:  // a number or a boolean: only the key is read
      return plain_kind::key;
  }
}

// Always inlined: it is the loop body of scrub_attributes.
[[gnu::always_inline]] inline std::size_t scrubber::plain_bytes(const attribute& a, key_check check,
                                                                std::size_t budget) const noexcept {
  switch (classify(check, a.value.type)) {
    case plain_kind::skipped:
      return 0;
    case plain_kind::key_and_text: {
      // Charged as the full path charges it (the key, then a non-empty value), which takes every
      // other case, a text that matches included (searched again there).
      const std::string_view v = a.value.s;
      const std::size_t bytes = a.key.size() + v.size();
      return bytes <= budget && (v.empty() || !find(v).found) ? bytes : k_not_plain;
    }
    case plain_kind::key:
      return a.key.size() <= budget ? a.key.size() : k_not_plain;
    case plain_kind::not_plain:
      break;
  }
  return k_not_plain;
}

void scrub_session::scrub_attributes(std::span<const scrub_path_segment> root, std::span<attribute> attrs,
                                     scrub_sink& sink, std::span<const key_check> checks) noexcept {
  try {
    set_root(root);
    for (std::size_t i = 0; i < attrs.size(); ++i) {
      attribute& a = attrs[i];
      const key_check check = i < checks.size() ? checks[i] : s_.check_key(a.key);
      if (check == key_check::safe) continue;
      // Most values are skipped after a key check and at most one search (plain_bytes()); past
      // the scan budget, or for anything else, the full path below.
      if (!exhausted_) {
        if (const std::size_t bytes = s_.plain_bytes(a, check, s_.max_scan_bytes_ - scanned_);
            bytes != scrubber::k_not_plain) {
          scanned_ += bytes;
          continue;
        }
      }
      push_key(a.key);
      scrub_keyed(a.key, check, a.value, sink);
      --path_len_;
    }
  } catch (...) {
    fail_closed(attrs);
  }
}

fixed_scrub_plan scrubber::plan_fixed(std::span<const attribute> attrs, std::span<const key_check> checks) const {
  fixed_scrub_plan plan;
  for (std::size_t i = 0; i < attrs.size(); ++i) {
    const key_check check = i < checks.size() ? checks[i] : check_key(attrs[i].key);
    switch (classify(check, attrs[i].value.type)) {
      case plain_kind::skipped:
        break;
      case plain_kind::not_plain:
        plan.never_alone = true;
        break;
      case plain_kind::key_and_text:
        plan.texts.push_back(static_cast<std::uint32_t>(i));
        [[fallthrough]];
      case plain_kind::key:
        plan.key_bytes += attrs[i].key.size();
        break;
    }
  }
  return plan;
}

bool scrubber::leaves_alone(const fixed_scrub_plan& plan, std::span<const attribute> attrs) const noexcept {
  if (plan.never_alone) return false;
  // The budget as a whole: scrub_attributes charges attribute by attribute, and no charge is
  // negative, so every step fits when the sum does. One pass: the sum passing the budget and a
  // text that matches both answer no.
  std::size_t bytes = plan.key_bytes;
  for (const std::uint32_t i : plan.texts) {
    const attribute_value& v = attrs[i].value;
    if (v.type != attribute_value::kind::string || v.s.empty()) continue;
    bytes += v.s.size();
    if (bytes > max_scan_bytes_) return false;
    // Most values are short and hold no keyword's first letters: no search is started for them.
    if ((extras_ || keywords_.may_hold(v.s)) && find(v.s).found) return false;
  }
  return bytes <= max_scan_bytes_;
}

void scrub_session::scrub_value(std::span<const scrub_path_segment> root, attribute_value& value,
                                scrub_sink& sink) noexcept {
  try {
    set_root(root);
    scrub_any(value, sink);
  } catch (...) {
    attribute a{{}, value};  // no key: nothing makes it safe
    fail_closed({&a, 1});
    value = a.value;
  }
}

void scrub_session::fail_closed(std::span<attribute> attrs) noexcept {
  // Nothing here allocates: the replacement and its one-element list are static.
  static const attribute_value k_failed = string_value(k_failure_replacement);
  if (!silent_) s_.failures_.fetch_add(1, std::memory_order_relaxed);
  for (attribute& a : attrs) {
    if (!a.key.empty() && s_.is_safe(a.key)) continue;
    if (a.value.type == attribute_value::kind::array)
      a.value.items = {&k_failed, 1};
    else
      a.value = k_failed;
  }
}

bool scrub_session::charge(std::size_t bytes) noexcept {
  if (exhausted_) return false;
  if (bytes > s_.max_scan_bytes_ - scanned_) {
    exhausted_ = true;
    return false;
  }
  scanned_ += bytes;
  return true;
}

std::string_view scrub_session::hold(std::string text) {
  return held_.emplace_back(std::move(text));
}

void scrub_session::scrub_keyed(std::string_view key, key_check check, attribute_value& value, scrub_sink& sink) {
  if (check == key_check::safe) return;
  if (!charge(key.size())) {
    replace_keyed(value, over_budget().text, sink);
    return;
  }
  if (check == key_check::matches) {
    if (const string_result r = decide(value, s_.find(key), key, true); r.changed) replace_keyed(value, r.text, sink);
    return;
  }
  scrub_any(value, sink);
}

void scrub_session::replace_keyed(attribute_value& value, std::string_view text, scrub_sink& sink) {
  const attribute_value replacement = string_value(sink.copy(text));
  if (value.type == attribute_value::kind::array) {  // Logfire keeps a list a list
    attribute_value* items = sink.make_values(1);
    items[0] = replacement;
    value.items = {items, 1};
  } else {
    value = replacement;
  }
}

void scrub_session::scrub_any(attribute_value& value, scrub_sink& sink) {
  if (value.type == attribute_value::kind::string) {
    if (const string_result r = scrub_string(value.s, 0, 0); r.changed) value.s = sink.copy(r.text);
    return;
  }
  if (value.type != attribute_value::kind::array) return;  // numbers and booleans carry no text
  attribute_value* copy = nullptr;
  for (std::size_t i = 0; i < value.items.size(); ++i) {
    if (value.items[i].type != attribute_value::kind::string) continue;
    push_index(i);
    const string_result r = scrub_string(value.items[i].s, 0, 0);
    --path_len_;
    if (!r.changed) continue;
    if (!copy) {
      copy = sink.make_values(value.items.size());
      for (std::size_t k = 0; k < value.items.size(); ++k) copy[k] = value.items[k];
    }
    copy[i] = string_value(sink.copy(r.text));
  }
  if (copy) value.items = {copy, value.items.size()};
}

scrub_session::string_result scrub_session::scrub_string(std::string_view s, std::size_t depth, std::size_t level) {
  if (s.empty()) return {};
  if (!charge(s.size())) return over_budget();
  const scrubber::match m = s_.find(s);
  if (!m.found) return {};
  // A value that is nothing but the keyword ("password") says nothing secret.
  if (m.start == 0 && m.end == s.size()) return {};
  if (depth < k_max_json_depth && may_be_json(s) && charge(s.size())) {
    while (trees_.size() <= level) trees_.push_back(std::make_unique<json_tree>());
    json_tree& tree = *trees_[level];
    if (tree.parse(s, k_max_json_depth - depth)) {
      if (!scrub_json(tree, 0, depth, level)) return {};  // nothing inside to scrub: the text stays as written
      std::string out;
      out.reserve(s.size() + 32);
      tree.write(out);
      return {true, hold(std::move(out))};
    }
  }
  return decide(string_value(s), m, s, false);
}

bool scrub_session::scrub_json(json_tree& tree, std::size_t node, std::size_t depth, std::size_t level) {
  json_node& n = tree.node(node);
  switch (n.kind) {
    case json_node::type::string: {
      // A string inside JSON may be JSON again; it is parsed with the next tree.
      const string_result r = scrub_string(n.text, depth + 1, level + 1);
      if (!r.changed) return false;
      n.change = json_node::edit::string;
      n.replacement = r.text;
      return true;
    }
    case json_node::type::array: {
      bool changed = false;
      std::size_t child = node + 1;
      for (std::uint32_t k = 0; k < n.children; ++k) {
        push_index(k);
        changed |= scrub_json(tree, child, depth + 1, level);
        --path_len_;
        child += tree.node(child).size;
      }
      return changed;
    }
    case json_node::type::object: {
      bool changed = false;
      std::size_t key = node + 1;
      for (std::uint32_t k = 0; k < n.children; ++k) {
        const std::size_t value = key + 1;
        push_key(tree.node(key).text);
        changed |= scrub_json_member(tree, key, value, depth + 1, level);
        --path_len_;
        key = value + tree.node(value).size;
      }
      return changed;
    }
    default:
      return false;  // numbers, booleans and null carry no text
  }
}

bool scrub_session::scrub_json_member(json_tree& tree, std::size_t key_node, std::size_t value_node, std::size_t depth,
                                      std::size_t level) {
  const std::string_view key = tree.node(key_node).text;
  if (s_.is_safe(key)) return false;
  json_node& value = tree.node(value_node);
  string_result r;
  if (!charge(key.size())) {
    r = over_budget();
  } else if (const scrubber::match m = s_.find(key); m.found) {
    r = decide(callback_view(value), m, key, true);
  } else {
    return scrub_json(tree, value_node, depth, level);
  }
  if (!r.changed) return false;
  value.change = value.kind == json_node::type::array ? json_node::edit::list_of_string : json_node::edit::string;
  value.replacement = r.text;
  return true;
}

scrub_session::string_result scrub_session::decide(const attribute_value& value, const scrubber::match& m,
                                                   std::string_view matched_in, bool key_matched) {
  const std::string_view name = s_.pattern_name(m.pattern);
  const std::string_view matched = matched_in.substr(m.start, m.end - m.start);
  if (s_.callback_) {
    scrub_match sm;
    sm.path = path();
    sm.value = value;
    sm.pattern = name;
    sm.matched = matched;
    sm.key_matched = key_matched;
    try {
      scrub_action action = s_.callback_(sm);
      if (action.type() == scrub_action::kind::keep) return {};
      if (action.type() == scrub_action::kind::replace) {
        if (!silent_) s_.count(m.pattern);
        return {true, hold(action.text())};
      }
    } catch (...) {
      if (!silent_) s_.callback_errors_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  // Logfire's reason: the keyword a default pattern matched (only the keyword: the pattern
  // admits nothing else), or an extra pattern's own text (its match may be the secret).
  const std::string_view reason = m.pattern < k_defaults ? matched : name;
  add_note(reason);
  if (!silent_) {
    s_.count(m.pattern);
    if (s_.first_time(m.pattern)) announce(m.pattern, key_matched);
  }
  std::string text = "[Scrubbed due to ";
  append_python_repr(text, reason);
  text += ']';
  return {true, hold(std::move(text))};
}

scrub_session::string_result scrub_session::over_budget() {
  add_note(k_scan_budget);
  const std::uint16_t budget = s_.budget_pattern();
  if (!silent_) {
    s_.count(budget);
    if (s_.first_time(budget)) announce(budget, false);
  }
  return {true, k_budget_replacement};
}

void scrub_session::add_note(std::string_view reason) {
  if (notes_.size() >= k_max_notes) {
    ++omitted_notes_;
    return;
  }
  note& n = notes_.emplace_back();
  n.reason = reason;
  n.path.reserve(path_len_);
  for (const auto& seg : path()) n.path.push_back({std::string(seg.key), seg.index, seg.is_index});
}

void scrub_session::announce(std::uint16_t pattern, bool key_matched) {
  lines_.push_back(
      first_scrub_line(s_.pattern_name(pattern), pattern < k_defaults, key_matched, path(), s_.max_scan_bytes_));
}

void scrub_session::add_message_notes(std::span<const std::string_view> fields) {
  std::vector<note> added;
  for (const std::string_view field : fields) {
    for (std::size_t i = message_notes_; i < notes_.size(); ++i) {
      const note& n = notes_[i];
      if (n.path.size() < 2 || n.path[0].is_index || n.path[0].key != "attributes" || n.path[1].is_index ||
          n.path[1].key != field)
        continue;
      note& copy = added.emplace_back(n);
      copy.path[0].key = "message";
    }
  }
  const std::size_t room = notes_.size() < k_max_notes ? k_max_notes - notes_.size() : 0;
  if (added.size() > room) {
    omitted_notes_ += added.size() - room;
    added.resize(room);
  }
  notes_.insert(notes_.begin() + static_cast<std::ptrdiff_t>(message_notes_), std::make_move_iterator(added.begin()),
                std::make_move_iterator(added.end()));
  message_notes_ += added.size();
}

void scrub_session::write_notes_json(std::string& out) const {
  out += '[';
  bool first = true;
  std::vector<scrub_path_segment> view;
  for (const note& n : notes_) {
    if (!first) out += ',';
    first = false;
    view.clear();
    for (const auto& seg : n.path) view.push_back({seg.key, seg.index, seg.is_index});
    out += "{\"path\":";
    append_path_json(out, view);
    out += ",\"matched_substring\":";
    json_append_string(out, n.reason);
    out += '}';
  }
  if (omitted_notes_) {
    if (!first) out += ',';
    out += "{\"path\":[],\"matched_substring\":";
    std::string more = std::to_string(omitted_notes_);  // (GCC 12 warns, wrongly, on "(" + string)
    more.insert(0, 1, '(');
    more += " more not listed)";
    json_append_string(out, more);
    out += '}';
  }
  out += ']';
}

}  // namespace logfire::detail
