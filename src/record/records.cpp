#include "record/records.hpp"

#include <cxxabi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "accounting/diagnostics.hpp"
#include "context/ids.hpp"
#include "formatting/message_template.hpp"
#include "record/stack_trace.hpp"
#include "record/wire.hpp"
#include "scrub/scrubber.hpp"
#include "text/bytes.hpp"
#include "text/json.hpp"
#include "text/utf8.hpp"

namespace logfire::detail {
namespace {

attribute_value str_value(std::string_view s) {
  attribute_value v;
  v.type = attribute_value::kind::string;
  v.s = s;
  return v;
}
attribute_value int_value(std::int64_t i) {
  attribute_value v;
  v.type = attribute_value::kind::int64;
  v.i = i;
  return v;
}
attribute_value bool_value(bool b) {
  attribute_value v;
  v.type = attribute_value::kind::boolean;
  v.b = b;
  return v;
}

std::string_view nonfinite_name(double d) {
  return std::isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity";
}

std::string demangle(const char* mangled) {
  if (!mangled) return "std::exception";
  int status = 0;
  char* d = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string out = (status == 0 && d) ? std::string(d) : std::string(mangled);
  std::free(d);
  return out;
}

// The scrubber writes its replacements into the batch's arena, next to the record.
class arena_sink final : public scrub_sink {
 public:
  explicit arena_sink(arena& a) : a_(a) {}
  std::string_view copy(std::string_view text) override { return a_.copy(text); }
  attribute_value* make_values(std::size_t n) override { return a_.make_array<attribute_value>(n); }

 private:
  arena& a_;
};

// Attribute arrays of events and links are built in the batch's arena by this file and only
// exposed as const spans once the record is handed over: scrubbing edits them before that.
std::span<attribute> mutable_attributes(std::span<const attribute> attrs) noexcept {
  return {const_cast<attribute*>(attrs.data()), attrs.size()};
}

}  // namespace

record_builder::record_builder(decode_counters& counters) : counters_(counters) {}
record_builder::~record_builder() = default;

void record_builder::set_scrubber(const scrubber* s, diagnostics* diag) {
  scrub_ = s ? std::make_unique<scrub_session>(*s, quiet_) : nullptr;
  scrubber_ = s;
  diag_ = diag;
}

void record_builder::scrub(std::span<attribute> attrs, std::span<link> links, std::span<const key_check> checks,
                           arena& out) {
  arena_sink sink(out);
  scrub_->begin_record();
  const scrub_path_segment attributes_root[] = {{.key = "attributes"}};
  scrub_->scrub_attributes(attributes_root, attrs, sink, checks);
  for (std::size_t i = 0; i < events_.size(); ++i) {
    const scrub_path_segment root[] = {{.key = "otel_events"}, {.index = i, .is_index = true}, {.key = "attributes"}};
    scrub_->scrub_attributes(root, mutable_attributes(events_[i].attributes), sink);
  }
  for (std::size_t i = 0; i < links.size(); ++i) {
    const scrub_path_segment root[] = {{.key = "links"}, {.index = i, .is_index = true}, {.key = "attributes"}};
    scrub_->scrub_attributes(root, mutable_attributes(links[i].attributes), sink);
  }
  if (diag_)
    for (const std::string& line : scrub_->first_scrub_lines()) diag_->notice(line);
}

std::string_view record_builder::scrubbed_notes(std::string_view tmpl, arena& out) {
  if (!scrub_ || !scrub_->scrubbed()) return {};
  fields_.clear();
  template_fields(tmpl, fields_);
  scrub_->add_message_notes(fields_);
  notes_.clear();
  scrub_->write_notes_json(notes_);
  return out.copy(notes_);
}

std::string_view record_builder::text(std::string_view s, arena& out) {
  if (is_valid_utf8(s)) [[likely]]
    return out.copy(s);
  return repaired_text(s, out);
}

std::string_view record_builder::repaired_text(std::string_view s, arena& out) {
  scratch_.clear();
  append_repaired_utf8(scratch_, s);
  ++counters_.utf8_repaired;
  return out.copy(scratch_);
}

namespace {

// One of a span's updates as the pipeline joins them to its start ([u8 kind][u32 size][body]
// each: append_update() in pipeline.cpp).
struct joined_update {
  rec kind;
  byte_reader body;
};
// The update at `r`, which moves past it.
joined_update next_update(byte_reader& r) noexcept {
  const auto kind = static_cast<rec>(r.u8());
  const std::uint32_t size = r.u32();
  const joined_update u{kind, byte_reader(r.position(), size)};
  r.skip(size);
  return u;
}
byte_reader updates_reader(std::string_view updates) noexcept {
  return {reinterpret_cast<const std::byte*>(updates.data()), updates.size()};
}

// Writes one tagged value as JSON into `json` (nested arrays and objects).
void value_to_json(byte_reader& r, std::string& json, std::string& tmp, std::atomic<std::uint64_t>& repaired) {
  auto put_string = [&](std::string_view s) {
    if (is_valid_utf8(s)) {
      json_append_string(json, s);
    } else {
      tmp.clear();
      append_repaired_utf8(tmp, s);
      ++repaired;
      json_append_string(json, tmp);
    }
  };
  switch (static_cast<vtag>(r.u8())) {
    case vtag::null:
      json_append_null(json);
      return;
    case vtag::boolean:
      json_append_bool(json, r.u8() != 0);
      return;
    case vtag::int64:
      json_append_int(json, r.pod<std::int64_t>());
      return;
    case vtag::uint64:
      json_append_uint(json, r.pod<std::uint64_t>());
      return;
    case vtag::float64:
      json_append_double(json, r.pod<double>());
      return;
    case vtag::string:
      put_string(r.str());
      return;
    case vtag::typed_array: {
      const auto elem = static_cast<vtag>(r.u8());
      const std::uint32_t n = r.u32();
      json += '[';
      for (std::uint32_t i = 0; i < n; ++i) {
        if (i) json += ',';
        switch (elem) {
          case vtag::string:
            put_string(r.str());
            break;
          case vtag::boolean:
            json_append_bool(json, r.pod<std::int64_t>() != 0);
            break;
          case vtag::uint64:
            json_append_uint(json, r.pod<std::uint64_t>());
            break;
          case vtag::float64:
            json_append_double(json, r.pod<double>());
            break;
          default:
            json_append_int(json, r.pod<std::int64_t>());
            break;
        }
      }
      json += ']';
      return;
    }
    case vtag::array: {
      const std::uint32_t n = r.u32();
      json += '[';
      for (std::uint32_t i = 0; i < n; ++i) {
        if (i) json += ',';
        value_to_json(r, json, tmp, repaired);
      }
      json += ']';
      return;
    }
    case vtag::object: {
      const std::uint32_t n = r.u32();
      json += '{';
      for (std::uint32_t i = 0; i < n; ++i) {
        if (i) json += ',';
        put_string(r.str());
        json += ':';
        value_to_json(r, json, tmp, repaired);
      }
      json += '}';
      return;
    }
  }
}

}  // namespace

void record_builder::warn_template(std::string_view tmpl, const template_problem& problem) {
  if (quiet_) return;
  const std::uint64_t errors = counters_.template_errors.load(std::memory_order_relaxed);
  const auto now = std::chrono::steady_clock::now();
  const bool first = template_warned_count_ == 0;
  if (!first && now - template_warned_at_ < std::chrono::minutes(1)) return;
  std::string line = "logfire: ";
  if (!first)
    line += std::to_string(errors - template_warned_count_) +
            " more message templates could not be formatted; the latest: ";
  line += "message template '";
  line.append(tmpl.substr(0, 200));
  if (tmpl.size() > 200) line += "...";
  line += "' could not be formatted (";
  line += to_string(problem.error);
  if (!problem.field.empty()) {
    line += ": ";
    line.append(problem.field.substr(0, 100));
  }
  line += "); the message is the template itself (counted as template_errors)\n";
  std::fputs(line.c_str(), stderr);
  template_warned_count_ = errors;
  template_warned_at_ = now;
}

span_record record_builder::build(const std::byte* start, std::size_t start_size, bool is_log, std::string_view updates,
                                  std::uint64_t end_ns, arena& out) {
  span_record rec;
  build_impl(start, start_size, is_log, updates, end_ns, false, out, rec);
  return rec;
}

span_record record_builder::build_pending(const std::byte* start, std::size_t start_size, arena& out) {
  span_record rec;
  build_impl(start, start_size, false, {}, 0, true, out, rec);
  return rec;
}

void record_builder::build(const std::byte* start, std::size_t start_size, bool is_log, std::string_view updates,
                           std::uint64_t end_ns, arena& out, span_record& rec) {
  build_impl(start, start_size, is_log, updates, end_ns, false, out, rec);
}

void record_builder::build_pending(const std::byte* start, std::size_t start_size, arena& out, span_record& rec) {
  build_impl(start, start_size, false, {}, 0, true, out, rec);
}

// An array of one scalar type (the call site's std::vector<int> & co.): element tag, count, items.
attribute_value record_builder::decode_typed_array(byte_reader& rd, arena& out) {
  const auto elem = static_cast<vtag>(rd.u8());
  const std::uint32_t n = rd.u32();
  auto* items = out.make_array<attribute_value>(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    switch (elem) {
      case vtag::string:
        items[i] = str_value(text(rd.str(), out));
        break;
      case vtag::boolean:
        items[i] = bool_value(rd.pod<std::int64_t>() != 0);
        break;
      case vtag::float64: {
        const double d = rd.pod<double>();
        if (std::isfinite(d)) {
          items[i].type = attribute_value::kind::float64;
          items[i].d = d;
        } else {
          items[i] = str_value(nonfinite_name(d));
        }
        break;
      }
      case vtag::uint64: {
        const auto u = rd.pod<std::uint64_t>();
        items[i] =
            int_value(static_cast<std::int64_t>(u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
                                                    ? std::numeric_limits<std::int64_t>::max()
                                                    : u));
        break;
      }
      default:
        items[i] = int_value(rd.pod<std::int64_t>());
        break;
    }
  }
  attribute_value v;
  v.type = attribute_value::kind::array;
  v.items = {items, n};
  return v;
}

// One tagged value from `rd` (the ring encoding of wire.hpp), materialised into `out`.
// Always inlined: in values_from_site()'s loop, what it returns besides the value (the schema, the
// null flag) then costs nothing.
[[gnu::always_inline]] inline record_builder::decoded_value record_builder::decode_value(byte_reader& rd, arena& out) {
  decoded_value dv;
  const std::byte* before = rd.position();
  const auto tag = static_cast<vtag>(*reinterpret_cast<const std::uint8_t*>(before));
  switch (tag) {
    case vtag::null:
      (void)rd.u8();
      dv.is_null = true;
      break;
    case vtag::boolean:
      (void)rd.u8();
      dv.value = bool_value(rd.u8() != 0);
      break;
    case vtag::int64:
      (void)rd.u8();
      dv.value = int_value(rd.pod<std::int64_t>());
      break;
    case vtag::uint64: {
      (void)rd.u8();
      const auto u = rd.pod<std::uint64_t>();
      if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        dv.value = int_value(static_cast<std::int64_t>(u));
      } else {  // int64 overflow goes as a string, as Logfire does
        json_.clear();
        json_append_uint(json_, u);
        dv.value = str_value(out.copy(json_));
      }
      break;
    }
    case vtag::float64: {
      (void)rd.u8();
      const double d = rd.pod<double>();
      if (std::isfinite(d)) {
        dv.value.type = attribute_value::kind::float64;
        dv.value.d = d;
      } else {
        dv.value = str_value(nonfinite_name(d));
      }
      break;
    }
    case vtag::string:
      (void)rd.u8();
      dv.value = str_value(text(rd.str(), out));
      break;
    case vtag::typed_array:
      (void)rd.u8();
      dv.value = decode_typed_array(rd, out);
      dv.schema = "{\"type\":\"array\"}";
      break;
    case vtag::array:
    case vtag::object: {
      json_.clear();
      value_to_json(rd, json_, scratch_, counters_.utf8_repaired);
      dv.value = str_value(out.copy(json_));
      dv.schema = tag == vtag::array ? "{\"type\":\"array\"}" : "{\"type\":\"object\"}";
      break;
    }
  }
  return dv;
}

// Decodes one (key, tagged value) pair from `rd` and adds it to attrs_, or replaces the value
// of the same key from `from` on. `limited`: a new key beyond max_attributes is dropped and
// counted in st.dropped_attrs. A null value is noted in null_args_ instead.
void record_builder::decode_attribute(byte_reader& rd, std::size_t from, bool limited, build_state& st, arena& out) {
  const std::string_view key = text(rd.str(), out);
  const decoded_value dv = decode_value(rd, out);
  if (dv.is_null) {
    for (auto& k : null_args_)
      if (k == key) return;
    null_args_.push_back(key);
    return;
  }
  for (std::size_t i = from; i < attrs_.size(); ++i) {
    if (attrs_[i].key == key) {
      attrs_[i].value = dv.value;
      schemas_[i] = dv.schema;
      return;
    }
  }
  if (limited && attrs_.size() >= max_attributes_) {
    ++st.dropped_attrs;
    return;
  }
  attrs_.push_back({key, dv.value});
  schemas_.push_back(dv.schema);
}

// `n` attributes decoded into a temporary slice of attrs_ and copied into `out` (events, links).
// A null value is left out of the list (OpenTelemetry's specification makes a null attribute
// value invalid, and leaving it out is a valid way to handle one): `logfire.null_args` and the
// schema describe the record's own attributes only.
std::span<const attribute> record_builder::decode_attribute_list(byte_reader& rd, std::uint32_t n, build_state& st,
                                                                 arena& out) {
  const std::size_t mark = attrs_.size();
  const std::size_t nulls = null_args_.size();
  for (std::uint32_t k = 0; k < n; ++k) decode_attribute(rd, mark, false, st, out);
  null_args_.resize(nulls);
  const std::size_t count = attrs_.size() - mark;
  attribute* list = out.copy_array(attrs_.data() + mark, count);
  attrs_.resize(mark);
  schemas_.resize(mark);
  return {list, count};
}

// Tags, deduplicated, order kept.
std::span<const std::string_view> record_builder::decode_tags(byte_reader& r, std::uint16_t n, arena& out) {
  if (n == 0) return {};
  auto* tags = out.make_array<std::string_view>(n);
  std::size_t kept = 0;
  for (std::uint16_t i = 0; i < n; ++i) {
    const std::string_view t = text(r.str(), out);
    bool dup = false;
    for (std::size_t j = 0; j < kept; ++j) dup = dup || tags[j] == t;
    if (!dup) tags[kept++] = t;
  }
  return {tags, kept};
}

link* record_builder::decode_links(byte_reader& r, std::uint16_t n, build_state& st, arena& out) {
  link* links = out.make_array<link>(n);
  for (std::uint16_t i = 0; i < n; ++i) {
    link& l = links[i];
    l.context.trace.hi = r.pod<std::uint64_t>();
    l.context.trace.lo = r.pod<std::uint64_t>();
    l.context.span.value = r.pod<std::uint64_t>();
    l.context.flags = r.u8();
    l.attributes = decode_attribute_list(r, r.u32(), st, out);
  }
  return links;
}

// An exception event, and (as Logfire Python) the error status and level it implies: an
// exception that escaped the span makes it an error; one recorded and handled is an event only;
// a log's makes it an error when the log's level is error or above.
void record_builder::add_exception(byte_reader& rd, std::uint64_t time_ns, bool escaped, build_state& st, arena& out) {
  const auto kind = static_cast<exc_type>(rd.u8());
  std::string_view type;
  if (kind == exc_type::mangled) {
    const char* mangled = rd.pod<const char*>();
    type = out.copy(demangle(mangled));
  } else {
    type = text(rd.str(), out);
  }
  const std::string_view message = text(rd.str(), out);
  std::string_view stack = text(rd.str(), out);
  // The caller's return addresses, symbolized here on the background thread (stack_trace.hpp).
  const std::uint8_t n_frames = rd.u8();
  if (n_frames > 0) {
    std::uintptr_t frames[k_max_stack_frames];
    const std::size_t n_kept = std::min<std::size_t>(n_frames, k_max_stack_frames);
    for (std::size_t i = 0; i < n_frames; ++i) {
      const auto pc = rd.pod<std::uintptr_t>();
      if (i < n_kept) frames[i] = pc;
    }
    if (stack.empty() && symbolize_) {
      scratch_.clear();
      format_stack_trace({frames, n_kept}, scratch_);
      stack = out.copy(scratch_);
    }
  }
  auto* ea = out.make_array<attribute>(4);
  std::size_t n = 0;
  ea[n++] = {"exception.type", str_value(type)};
  ea[n++] = {"exception.message", str_value(message)};
  if (!stack.empty()) ea[n++] = {"exception.stacktrace", str_value(stack)};
  ea[n++] = {"exception.escaped", bool_value(escaped)};
  events_.push_back({"exception", time_ns ? time_ns : st.start_ns, {ea, n}});
  // As Logfire Python: an exception that escaped the span makes it an error (status and
  // level); one recorded and handled is an event only; a log's makes it an error when the
  // log's level is error or above.
  const bool is_error =
      escaped || (st.is_log && static_cast<std::uint8_t>(st.lvl) >= static_cast<std::uint8_t>(level::error));
  if (!is_error) return;
  st.status = status_code::error;
  scratch_.assign(type);
  scratch_ += ": ";
  scratch_ += message;
  st.status_message = out.copy(scratch_);
  if (escaped) {
    st.lvl = level::error;
    st.level_explicit = true;
  }
}

// The updates recorded after the start ([u8 kind][u32 size][bytes] each), in order.
void record_builder::apply_updates(std::string_view updates, build_state& st, arena& out) {
  byte_reader ur = updates_reader(updates);
  while (!ur.at_end()) {
    auto [kind, body] = next_update(ur);
    const auto ref = body.pod<span_ref>();
    switch (kind) {
      case rec::set_attribute:
        decode_attribute(body, 0, true, st, out);
        break;
      case rec::set_level:
        st.lvl = static_cast<level>(ref.value);
        st.level_explicit = true;
        break;
      case rec::set_status:
        st.status = static_cast<status_code>(ref.value);
        st.status_message = text(body.str(), out);
        break;
      case rec::exception:
        add_exception(body, ref.time_ns, ref.value != 0, st, out);
        break;
      case rec::event: {
        const std::string_view name = text(body.str(), out);
        events_.push_back({name, ref.time_ns, decode_attribute_list(body, ref.count, st, out)});
        break;
      }
      default:
        break;
    }
  }
}

// logfire.json_schema over the user's attributes (attrs_ before the logfire.* ones are added)
// and the null arguments, into schema_ ("" when there are none).
void record_builder::build_json_schema() {
  const std::size_t n_user = attrs_.size();
  if (!n_user && null_args_.empty()) return;
  schema_ = "{\"type\":\"object\",\"properties\":{";
  bool first = true;
  for (std::size_t i = 0; i < n_user; ++i) {
    if (!first) schema_ += ',';
    first = false;
    json_append_string(schema_, attrs_[i].key);
    schema_ += ':';
    schema_ += schemas_[i].empty() ? std::string_view("{}") : schemas_[i];
  }
  for (auto k : null_args_) {
    if (!first) schema_ += ',';
    first = false;
    json_append_string(schema_, k);
    schema_ += ":{\"type\":\"null\"}";
  }
  schema_ += "}}";
}

namespace {

// Bounds of the call-site variant memo: entries, bytes of keys and schemas, and entries of one
// hash. The last keeps a call site whose template is built at run time (a new variant for each
// record, all of one location and mostly of a few lengths) from filling the memo and from making
// each lookup walk thousands of keys: it takes a few entries per length and no more.
constexpr std::size_t k_max_variants = 4096;
constexpr std::size_t k_max_variant_bytes = 4u << 20;
constexpr std::size_t k_max_variants_per_hash = 8;

// Writes a variant's key.
struct key_writer {
  std::string& key;
  void word(std::uint64_t v) { key.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void bytes(std::string_view s) { key.append(s); }
};

// Compares a variant's key with a stored one, without writing it. Words are compared as
// integers: memcmp on a value just stored to the stack stalls on store forwarding (measured: a
// sixth of the background thread's time when every part went through memcmp).
struct key_matcher {
  const char* p;
  const char* end;
  bool same = true;
  void word(std::uint64_t v) noexcept {
    std::uint64_t stored = 0;
    same = same && static_cast<std::size_t>(end - p) >= sizeof stored;
    if (!same) return;
    std::memcpy(&stored, p, sizeof stored);
    same = stored == v;
    p += sizeof stored;
  }
  void bytes(std::string_view s) noexcept {
    same = same && static_cast<std::size_t>(end - p) >= s.size() && same_bytes(p, s.data(), s.size());
    if (same) p += s.size();
  }
};

// The hash variants are found by: what is cheap to read (the location's pointers, type, level,
// sizes). build_from_site() computes it from the ring's counts (the start's attributes and the
// set_attribute updates), site_variant() from the decoded record's: the same for a record plain
// enough to have a layout.
std::uint64_t variant_hash(const record_fixed& fixed, record_type type, level lvl, std::uint64_t tmpl_size,
                           std::uint64_t n_attrs, std::uint64_t n_nulls, std::uint64_t n_tags) noexcept {
  std::uint64_t h = reinterpret_cast<std::uintptr_t>(fixed.file) * 0x9E3779B97F4A7C15ull;
  h ^= (h >> 29) + reinterpret_cast<std::uintptr_t>(fixed.function) + fixed.line;
  h = (h ^ (static_cast<std::uint64_t>(type) << 8 | static_cast<std::uint64_t>(lvl))) * 0xBF58476D1CE4E5B9ull;
  h ^= (tmpl_size << 32 | n_attrs << 16 | n_nulls << 8 | n_tags) + (h >> 31);
  return h;
}

// The part of a record both ways of building it fill alike: ids, times, kind, depth, the
// console's mark, the call site's dropped attributes. `rec` is as a span_record is made.
void record_head(span_record& rec, const record_fixed& fixed, record_type type, std::string_view trace_state,
                 bool is_log, bool pending, std::uint64_t end_ns) {
  rec.type = type;
  rec.context.trace = {fixed.trace_hi, fixed.trace_lo};
  rec.context.span.value = fixed.span;
  rec.context.flags = fixed.flags;
  rec.parent.value = fixed.parent;
  rec.parent_is_remote = fixed.parent_remote != 0;
  rec.trace_state = trace_state;
  rec.kind = static_cast<span_kind>(fixed.kind);
  rec.start_unix_nano = fixed.start_ns;
  // A span's two times may come from two anchors of the wall clock (context/wall_clock.hpp), which
  // can disagree by a few microseconds: a span never ends before it starts.
  rec.end_unix_nano = is_log || pending ? fixed.start_ns : std::max(end_ns, fixed.start_ns);
  rec.depth = fixed.depth;
  rec.printed_at_call = fixed.console_mark;
  rec.dropped_attributes_count = fixed.dropped_attrs;
}

}  // namespace

// The key holds everything the shared Logfire attributes are made of (add_logfire_attributes):
// the type, level, template (as the ring carries it, before any UTF-8 repair), code location,
// tags, the user's keys with their schema entries and the null arguments (from which the schema
// is built). The location's strings by address, as the ring carries them. The user's keys also
// decide the scrubber's key checks.
template <class Key>
void record_builder::variant_key(Key& k, const record_fixed& fixed, record_type type, level lvl, std::string_view tmpl,
                                 std::span<const std::string_view> tags) const {
  const auto piece = [&k](std::string_view s) {
    k.word(s.size());
    k.bytes(s);
  };
  k.word(static_cast<std::uint64_t>(type) | static_cast<std::uint64_t>(lvl) << 8 |
         static_cast<std::uint64_t>(fixed.line) << 32);
  k.word(tags.size());
  k.word(attrs_.size() | static_cast<std::uint64_t>(null_args_.size()) << 32);
  k.word(reinterpret_cast<std::uintptr_t>(fixed.file));  // static storage (wire.hpp)
  k.word(reinterpret_cast<std::uintptr_t>(fixed.function));
  piece(tmpl);
  for (std::string_view t : tags) piece(t);
  for (std::size_t i = 0; i < attrs_.size(); ++i) {
    piece(attrs_[i].key);
    piece(schemas_[i]);
  }
  for (std::string_view n : null_args_) piece(n);
}

// Variants are found by a hash of what is cheap to read (the location's pointers, type, level,
// sizes), then compared in full with the stored key.
record_builder::shared_texts record_builder::site_variant(const record_fixed& fixed, record_type type, level lvl,
                                                          std::string_view tmpl, std::span<const std::string_view> tags,
                                                          arena& out) {
  static std::atomic<std::uint64_t> next_id{0};  // unique across builders and pipelines
  const auto from_memo = [](const variant& v) {
    return shared_texts{v.id, v.name, v.schema, v.file, v.function, v.checks, v.planned ? &v.plan : nullptr};
  };
  const std::uint64_t h = variant_hash(fixed, type, lvl, tmpl.size(), attrs_.size(), null_args_.size(), tags.size());
  const auto range = variants_.equal_range(h);
  std::size_t same_hash = 0;
  for (auto it = range.first; it != range.second; ++it, ++same_hash) {
    key_matcher m{it->second.key.data(), it->second.key.data() + it->second.key.size()};
    variant_key(m, fixed, type, lvl, tmpl, tags);
    if (m.same && m.p == m.end) return from_memo(it->second);
  }

  // A new variant: its texts, repaired once.
  shared_texts sh;
  sh.name = text(tmpl, out);
  build_json_schema();
  // A record made with an empty source_location (an integration's span) carries no code.*.
  if (fixed.file && *fixed.file) {
    sh.file = text(fixed.file, out);
    if (fixed.function && *fixed.function) sh.function = text(fixed.function, out);
  }
  const auto in_arena = [&] {
    sh.schema = out.copy(schema_);
    return sh;
  };
  // Full: records of new variants are encoded attribute by attribute.
  if (variants_.size() >= k_max_variants || same_hash >= k_max_variants_per_hash) return in_arena();
  variant v;
  key_writer w{v.key};
  variant_key(w, fixed, type, lvl, tmpl, tags);
  v.name = sh.name;
  v.schema = schema_;
  v.file = sh.file;
  v.function = sh.function;
  if (scrubber_) {
    v.checks.reserve(attrs_.size());
    for (const attribute& a : attrs_) v.checks.push_back(scrubber_->check_key(a.key));
  }
  const std::size_t bytes =
      v.key.size() + v.name.size() + v.schema.size() + v.file.size() + v.function.size() + v.checks.size();
  if (variant_bytes_ + bytes > k_max_variant_bytes) return in_arena();
  v.id = next_id.fetch_add(1, std::memory_order_relaxed) + 1;
  variant& stored = variants_.emplace(h, std::move(v))->second;
  // The plan's views are into the stored name (a moved string may move its characters).
  stored.planned = make_template_plan(stored.name, attrs_, stored.plan);
  variant_bytes_ += bytes + stored.plan.pieces.size() * sizeof(template_plan::piece);
  shared_texts made = from_memo(stored);
  made.created = &stored;
  return made;
}

// Logfire's own attributes after the user's: the message, then those every record of the call
// site's variant shares (template, span type and level, tags, the schema, null arguments, the
// code location: `rec.shared`), then what was scrubbed.
std::span<const attribute_value> record_builder::add_logfire_attributes(const record_fixed& fixed,
                                                                        const shared_texts& sh, record_type type,
                                                                        std::string_view message, level lvl,
                                                                        std::span<const std::string_view> tags,
                                                                        std::size_t& shared_end, arena& out) {
  attrs_.push_back({"logfire.msg", str_value(message)});
  attrs_.push_back({"logfire.msg_template", str_value(sh.name)});
  attrs_.push_back({"logfire.span_type", str_value(to_string(type))});
  attrs_.push_back({"logfire.level_num", int_value(static_cast<std::int64_t>(lvl))});
  std::span<const attribute_value> tags_span;
  if (!tags.empty()) {
    auto* tv = out.make_array<attribute_value>(tags.size());
    for (std::size_t i = 0; i < tags.size(); ++i) tv[i] = str_value(tags[i]);
    attribute_value arr;
    arr.type = attribute_value::kind::array;
    arr.items = {tv, tags.size()};
    tags_span = arr.items;
    attrs_.push_back({"logfire.tags", arr});
  }
  if (!sh.schema.empty()) attrs_.push_back({"logfire.json_schema", str_value(sh.schema)});
  if (!null_args_.empty()) {
    auto* nv = out.make_array<attribute_value>(null_args_.size());
    for (std::size_t i = 0; i < null_args_.size(); ++i) nv[i] = str_value(null_args_[i]);
    attribute_value arr;
    arr.type = attribute_value::kind::array;
    arr.items = {nv, null_args_.size()};
    attrs_.push_back({"logfire.null_args", arr});
  }
  if (!sh.file.empty()) {
    attrs_.push_back({"code.filepath", str_value(sh.file)});
    attrs_.push_back({"code.lineno", int_value(fixed.line)});
    if (!sh.function.empty()) attrs_.push_back({"code.function", str_value(sh.function)});
  }
  shared_end = attrs_.size();
  if (const std::string_view notes = scrubbed_notes(sh.name, out); !notes.empty())
    attrs_.push_back({"logfire.scrubbed", str_value(notes)});
  return tags_span;
}

// A pending span: a new span id; the real span becomes its parent; the real parent goes in the
// attribute returned, which comes last. No status yet.
attribute record_builder::make_pending(span_record& rec, const record_fixed& fixed, arena& out) {
  rec.parent.value = fixed.span;
  rec.parent_is_remote = false;
  rec.context.span = new_span_id();
  rec.status = status_code::unset;
  rec.status_message = {};
  char hex[16];
  write_hex_u64(fixed.parent, hex);
  return {"logfire.pending_parent_id", str_value(out.copy({hex, 16}))};
}

namespace {

// The message of a plan whose fields are texts short enough to be kept whole (at most
// k_max_formatted_value_chars bytes, so as many code points or fewer) or scalars, written
// straight into `out`: append_planned_message()'s bytes for such fields. Empty (no data) for any
// other plan, and for an empty message.
std::string_view planned_texts(const template_plan& plan, std::span<const attribute> attrs, arena& out) {
  static_assert(k_max_scalar_text <= k_max_formatted_value_chars, "a scalar's text is never cut");
  std::size_t bound = 0;  // a scalar's text counted at its largest
  for (const template_plan::piece& p : plan.pieces) {
    if (p.field == template_plan::k_literal) {
      bound += p.literal.size();
      continue;
    }
    const attribute_value& v = attrs[p.field].value;
    if (v.type == attribute_value::kind::string) [[likely]] {
      if (v.s.size() > k_max_formatted_value_chars) return {};
      bound += v.s.size();
    } else if (v.type == attribute_value::kind::array) {
      return {};
    } else {
      bound += k_max_scalar_text;
    }
  }
  if (bound == 0) return {};
  char* const begin = static_cast<char*>(out.allocate(bound, 1));
  char* at = begin;
  for (const template_plan::piece& p : plan.pieces) {
    if (p.field == template_plan::k_literal) {
      if (!p.literal.empty()) at = copy_bytes(at, p.literal.data(), p.literal.size());
    } else if (const attribute_value& v = attrs[p.field].value; v.type == attribute_value::kind::string) {
      if (!v.s.empty()) at = copy_bytes(at, v.s.data(), v.s.size());
    } else {
      at = write_scalar_text(at, v);
    }
  }
  const auto n = static_cast<std::size_t>(at - begin);
  out.give_back(bound - n);
  return {begin, n};
}

// attribute_updates() of updates that are not all set_attribute.
constexpr std::size_t k_other_updates = static_cast<std::size_t>(-1);

// How many updates there are ([u8 kind][u32 size][body] each, as the pipeline appends them), when
// every one is a set_attribute; k_other_updates when any is not.
std::size_t attribute_updates(std::string_view updates) noexcept {
  std::size_t n = 0;
  for (std::size_t at = 0; at < updates.size(); ++n) {
    if (static_cast<rec>(updates[at]) != rec::set_attribute) return k_other_updates;
    std::uint32_t size = 0;
    std::memcpy(&size, updates.data() + at + 1, sizeof size);
    at += 1 + sizeof size + size;
  }
  return n;
}

}  // namespace

// The message, from the user's attributes (before the logfire.* ones are added): from the
// variant's plan, else formatted from the template.
std::string_view record_builder::message_of(std::string_view tmpl, const template_plan* plan,
                                            std::span<const attribute> attrs, arena& out) {
  if (plan) {
    if (const std::string_view m = planned_texts(*plan, attrs, out); m.data()) return m;
  }
  message_.clear();
  if (plan) {
    append_planned_message(*plan, attrs, message_);
  } else if (template_problem problem; !format_message(tmpl, attrs, message_, &problem)) [[unlikely]] {
    ++counters_.template_errors;
    warn_template(tmpl, problem);
  }
  return out.copy(message_);
}

void record_builder::build_impl(const std::byte* start, std::size_t start_size, bool is_log, std::string_view updates,
                                std::uint64_t end_ns, bool pending, arena& out, span_record& rec_out) {
  byte_reader r(start, start_size);
  const auto fixed = r.pod<record_fixed>();
  const std::string_view tmpl = r.str();
  const std::string_view trace_state = r.str();

  // A record with nothing but its start and set_attribute updates (or a log without an
  // exception), or a pending span, of a call site seen before: the short way, when the variant
  // has a layout and the record's bytes match it.
  const bool simple = fixed.n_links == 0 && !(is_log && fixed.has_exception);
  if (simple && build_from_site(fixed, r, tmpl, trace_state, updates, is_log, pending, end_ns, out, rec_out)) return;

  attrs_.clear();
  schemas_.clear();
  events_.clear();
  null_args_.clear();
  schema_.clear();

  build_state st;
  st.lvl = static_cast<level>(fixed.lvl);
  st.level_explicit = is_log || st.lvl != level::info;
  st.dropped_attrs = fixed.dropped_attrs;
  st.start_ns = fixed.start_ns;
  st.is_log = is_log;

  const byte_reader at_tags = r;
  const std::span<const std::string_view> tags = decode_tags(r, fixed.n_tags, out);
  const byte_reader at_attrs = r;
  for (std::uint16_t i = 0; i < fixed.n_attrs; ++i) decode_attribute(r, 0, false, st, out);
  link* links = decode_links(r, fixed.n_links, st, out);
  if (is_log && fixed.has_exception) add_exception(r, fixed.start_ns, false, st, out);

  const std::uint32_t dropped_at_call_site = st.dropped_attrs;
  apply_updates(updates, st, out);
  if (st.dropped_attrs != dropped_at_call_site) ++counters_.attributes_truncated;

  // Logfire's level/status rules.
  if (st.status == status_code::error && !st.level_explicit) st.lvl = level::error;
  if (static_cast<std::uint8_t>(st.lvl) >= static_cast<std::uint8_t>(level::error) && st.status != status_code::error)
    st.status = status_code::error;
  if (st.status != status_code::error) st.status_message = {};

  const record_type type = pending ? record_type::pending_span : is_log ? record_type::log : record_type::span;
  const shared_texts sh = site_variant(fixed, type, st.lvl, tmpl, tags, out);

  // Secrets go before the message is formatted, so it is formatted from the scrubbed values.
  if (scrub_) scrub(attrs_, {links, fixed.n_links}, sh.checks, out);
  const std::string_view message = message_of(sh.name, sh.plan, attrs_, out);

  const std::uint64_t site = sh.site;
  const std::size_t shared_first = attrs_.size() + 1;  // after logfire.msg
  std::size_t shared_end = 0;
  const std::span<const attribute_value> tags_span =
      add_logfire_attributes(fixed, sh, type, message, st.lvl, tags, shared_end, out);
  if (const std::size_t n_updates = sh.created && simple ? attribute_updates(updates) : k_other_updates;
      n_updates != k_other_updates && site_layouts_)
    add_site_layout(*sh.created, fixed, type, st.lvl, tmpl, at_tags, at_attrs, tags, tags_span, updates, n_updates,
                    shared_first - 1, shared_end);

  record_head(rec_out, fixed, type, out.copy(trace_state), is_log, pending, end_ns);
  rec_out.name = sh.name;
  rec_out.message = message;
  rec_out.level = st.lvl;
  rec_out.status = st.status;
  rec_out.status_message = st.status_message;
  rec_out.tags = tags_span;
  rec_out.links = {links, fixed.n_links};
  rec_out.dropped_attributes_count = st.dropped_attrs;

  if (pending) attrs_.push_back(make_pending(rec_out, fixed, out));

  attribute* attrs = out.copy_array(attrs_.data(), attrs_.size());
  rec_out.attributes = {attrs, attrs_.size()};
  if (site) {
    rec_out.shared.of = attrs;
    rec_out.shared.first = static_cast<std::uint32_t>(shared_first);
    rec_out.shared.count = static_cast<std::uint32_t>(shared_end - shared_first);
    rec_out.shared.site = site;
  }
  if (!events_.empty()) {
    rec_out.events = {out.copy_array(events_.data(), events_.size()), events_.size()};
  }
}

namespace {

// Value tags build_from_site() takes, and the bytes of their value after the tag (a text: its
// size prefix, then that many bytes).
bool scalar_or_text(vtag t) noexcept {
  return t == vtag::boolean || t == vtag::int64 || t == vtag::uint64 || t == vtag::float64 || t == vtag::string;
}
void skip_value(byte_reader& r, vtag t) noexcept {
  switch (t) {
    case vtag::boolean:
      (void)r.u8();
      break;
    case vtag::string:
      (void)r.str();
      break;
    default:
      (void)r.pod<std::uint64_t>();
      break;
  }
}

// The words of a record's call site that build_from_site() compares: the location's pointers
// (static storage, wire.hpp), and its line with the record's type and level.
std::uint64_t site_word(const record_fixed& fixed, record_type type, level lvl) noexcept {
  return static_cast<std::uint64_t>(type) | static_cast<std::uint64_t>(lvl) << 8 |
         static_cast<std::uint64_t>(fixed.line) << 32;
}

}  // namespace

std::size_t record_builder::site_layout::bytes() const noexcept {
  return sizeof(site_layout) + tmpl.size() + tags.size() + shape.size() + shape_at.size() * sizeof(std::uint32_t) +
         keys.size() + tag_texts.size() + tag_values.size() * sizeof(attribute_value) +
         attributes.size() * sizeof(attribute) + (texts.size() + scrub.texts.size()) * sizeof(std::uint32_t);
}

void record_builder::add_site_layout(variant& v, const record_fixed& fixed, record_type type, level lvl,
                                     std::string_view tmpl, const byte_reader& at_tags, const byte_reader& at_attrs,
                                     std::span<const std::string_view> tags,
                                     std::span<const attribute_value> tag_values, std::string_view updates,
                                     std::size_t n_updates, std::size_t n_user, std::size_t shared_end) noexcept {
  // Plain enough: each key and tag kept as the ring carries it (none repeated, null or repaired),
  // each update a new key (none replaced, null or beyond max_attributes).
  if (!null_args_.empty() || n_user != fixed.n_attrs + n_updates || tags.size() != fixed.n_tags) return;
  try {
    make_site_layout(v, fixed, type, lvl, tmpl, at_tags, at_attrs, tags, tag_values, updates, n_user, shared_end);
  } catch (...) {
    // Out of memory: the record was built; later ones of this variant take the long way.
  }
}

void record_builder::make_site_layout(variant& v, const record_fixed& fixed, record_type type, level lvl,
                                      std::string_view tmpl, byte_reader tr, byte_reader ar,
                                      std::span<const std::string_view> tags,
                                      std::span<const attribute_value> tag_values, std::string_view updates,
                                      std::size_t n_user, std::size_t shared_end) {
  auto layout = std::make_unique<site_layout>();
  site_layout& l = *layout;
  l.where[0] = reinterpret_cast<std::uintptr_t>(fixed.file);
  l.where[1] = reinterpret_cast<std::uintptr_t>(fixed.function);
  l.where[2] = site_word(fixed, type, lvl);
  l.tmpl.assign(tmpl);
  // `tr` is at the record's tags, `ar` at its attributes.
  const std::byte* tags_at = tr.position();
  for (std::size_t i = 0; i < tags.size(); ++i)
    if (tr.str() != tags[i]) return;  // repaired
  std::vector<std::size_t> may_be_text;
  l.tags.assign(reinterpret_cast<const char*>(tags_at), static_cast<std::size_t>(ar.position() - tags_at));
  // Attribute i's piece of the shape, from `r` at its key; false when it cannot be kept.
  const auto add_piece = [&](std::size_t i, byte_reader& r) {
    const std::byte* piece = r.position();
    if (r.str() != attrs_[i].key) return false;  // repaired
    const auto t = static_cast<vtag>(r.u8());
    if (!scalar_or_text(t)) return false;
    if (t == vtag::string) l.texts.push_back(static_cast<std::uint32_t>(i));
    // As the scrubber's plan sees it: a text, or a number that may arrive as one.
    if (t == vtag::string || t == vtag::uint64 || t == vtag::float64) may_be_text.push_back(i);
    l.shape_at.push_back(static_cast<std::uint32_t>(l.shape.size()));
    l.shape.append(reinterpret_cast<const char*>(piece), static_cast<std::size_t>(r.position() - piece));
    skip_value(r, t);
    return true;
  };
  for (std::size_t i = 0; i < fixed.n_attrs; ++i)
    if (!add_piece(i, ar)) return;
  l.n_start = fixed.n_attrs;
  // The updates' pieces, in the order they were made: the attributes they added follow the
  // start's (decode_attribute() appends a new key).
  byte_reader ur = updates_reader(updates);
  for (std::size_t i = fixed.n_attrs; i < n_user; ++i) {
    byte_reader body = next_update(ur).body;  // a set_attribute (attribute_updates())
    body.skip(sizeof(span_ref));
    if (!add_piece(i, body)) return;
  }
  l.shape_at.push_back(static_cast<std::uint32_t>(l.shape.size()));
  // The texts the layout's attributes point to, in strings that no longer change.
  for (std::size_t i = 0; i < n_user; ++i) l.keys.append(attrs_[i].key);
  for (std::string_view t : tags) l.tag_texts.append(t);
  l.attributes.assign(attrs_.begin(), attrs_.begin() + static_cast<std::ptrdiff_t>(shared_end));
  std::size_t at = 0;
  for (std::size_t i = 0; i < n_user; ++i) {
    l.attributes[i].key = std::string_view(l.keys).substr(at, attrs_[i].key.size());
    at += attrs_[i].key.size();
  }
  at = 0;
  for (const attribute_value& tv : tag_values) {
    attribute_value copy = tv;
    copy.s = std::string_view(l.tag_texts).substr(at, tv.s.size());
    at += tv.s.size();
    l.tag_values.push_back(copy);
  }
  for (std::size_t i = n_user; i < l.attributes.size(); ++i)
    if (l.attributes[i].value.type == attribute_value::kind::array && !tag_values.empty() &&
        l.attributes[i].value.items.data() == tag_values.data())
      l.attributes[i].value.items = l.tag_values;  // logfire.tags
  if (scrubber_) {
    // The plan is made for the values the site's records may bring: an unsigned number past
    // int64 and a non-finite double arrive as texts, so those are planned as texts.
    std::vector<attribute> planned(l.attributes.begin(), l.attributes.begin() + static_cast<std::ptrdiff_t>(n_user));
    for (const std::size_t i : may_be_text) planned[i].value = str_value({});
    l.scrub = scrubber_->plan_fixed(planned, v.checks);
  }
  if (variant_bytes_ + l.bytes() > k_max_variant_bytes) return;
  variant_bytes_ += l.bytes();
  v.layout = std::move(layout);
}

bool record_builder::build_from_site(const record_fixed& fixed, byte_reader r, std::string_view tmpl,
                                     std::string_view trace_state, std::string_view updates, bool is_log, bool pending,
                                     std::uint64_t end_ns, arena& out, span_record& rec) {
  const record_type type = pending ? record_type::pending_span : is_log ? record_type::log : record_type::span;
  const auto lvl = static_cast<level>(fixed.lvl);
  const std::size_t n_updates = updates.empty() ? 0 : attribute_updates(updates);
  if (n_updates == k_other_updates) return false;
  const std::size_t n_user = fixed.n_attrs + n_updates;
  const std::uint64_t hash = variant_hash(fixed, type, lvl, tmpl.size(), n_user, 0, fixed.n_tags);
  const std::uint64_t where = site_word(fixed, type, lvl);
  const std::byte* tags_at = r.position();
  for (std::uint16_t i = 0; i < fixed.n_tags; ++i) (void)r.str();
  const std::string_view tags(reinterpret_cast<const char*>(tags_at), static_cast<std::size_t>(r.position() - tags_at));

  // The variant whose location, template, tags and attribute shape the record repeats: the one
  // this hash's records matched last, else the first of the variants that share the hash (most
  // often one).
  const bool may_scrub = scrub_ != nullptr;
  attribute* attrs = nullptr;
  const auto matches = [&](const variant& candidate) {
    const site_layout* l = candidate.layout.get();
    if (!l || l->where[0] != reinterpret_cast<std::uintptr_t>(fixed.file) ||
        l->where[1] != reinterpret_cast<std::uintptr_t>(fixed.function) || l->where[2] != where ||
        l->n_start != fixed.n_attrs || l->shape_at.size() != n_user + 1 || l->tmpl.size() != tmpl.size() ||
        !same_bytes(l->tmpl.data(), tmpl.data(), tmpl.size()) || l->tags.size() != tags.size() ||
        !same_bytes(l->tags.data(), tags.data(), tags.size()))
      return false;
    // One more slot for logfire.scrubbed when the record may be scrubbed, one for a pending
    // span's parent.
    attrs = values_from_site(*l, r, updates, l->attributes.size() + (may_scrub ? 1 : 0) + (pending ? 1 : 0), out);
    return attrs != nullptr;
  };
  recent_variant& recent = recent_[hash % k_recent_variants];
  const variant* found = recent.hash == hash && recent.v && matches(*recent.v) ? recent.v : nullptr;
  if (!found) {
    const auto range = variants_.equal_range(hash);
    for (auto it = range.first; it != range.second && !found; ++it)
      if (&it->second != recent.v && matches(it->second)) found = &it->second;
    if (!found) return false;
    recent = {hash, found};
  }
  const variant& v = *found;
  const site_layout& l = *v.layout;
  const std::size_t n = l.attributes.size();
  for (const std::uint32_t i : l.texts) attrs[i].value.s = text(attrs[i].value.s, out);
  // Most records hold no secret: they are read once, and the scrubbing session is not started.
  const bool scrubbed = may_scrub && !scrubber_->leaves_alone(l.scrub, {attrs, n_user});
  if (scrubbed) {
    events_.clear();
    scrub({attrs, n_user}, {}, v.checks, out);
  }
  attrs[n_user].value = str_value(message_of(v.name, v.planned ? &v.plan : nullptr, {attrs, n_user}, out));
  std::size_t count = n;
  if (const std::string_view notes = scrubbed ? scrubbed_notes(v.name, out) : std::string_view(); !notes.empty())
    attrs[count++] = {"logfire.scrubbed", str_value(notes)};

  record_head(rec, fixed, type, out.copy(trace_state), is_log, pending, end_ns);
  rec.name = v.name;
  rec.message = attrs[n_user].value.s;
  rec.level = lvl;
  // Logfire's rule: a record at error level or above has an error status.
  if (static_cast<std::uint8_t>(lvl) >= static_cast<std::uint8_t>(level::error)) rec.status = status_code::error;
  if (pending) attrs[count++] = make_pending(rec, fixed, out);
  rec.tags = l.tag_values;
  rec.attributes = {attrs, count};
  rec.shared.of = attrs;
  rec.shared.first = static_cast<std::uint32_t>(n_user + 1);
  rec.shared.count = static_cast<std::uint32_t>(n - n_user - 1);
  rec.shared.site = v.id;
  ++site_builds_;
  return true;
}

// One attribute at `r` (at its key) against its layout piece, `n` bytes at `piece`: the key's
// size, the key and the value's tag must be the same (a key of another size stops at its size
// prefix, so nothing past the record is read); then its value into `a`. A text is left pointing
// into `r`: values_from_site()'s caller copies the texts once every attribute matched.
[[gnu::always_inline]] inline bool record_builder::value_from_piece(const char* piece, std::size_t n, byte_reader& r,
                                                                    attribute& a, arena& out) {
  const auto* at = reinterpret_cast<const char*>(r.position());
  if (at[0] != piece[0]) return false;
  std::size_t prefix = 1;
  if (static_cast<std::uint8_t>(piece[0]) == k_long_text) [[unlikely]] {  // a key of 255 bytes or more
    if (!same_bytes(at + 1, piece + 1, 4)) return false;
    prefix = 5;
  }
  if (!same_bytes(at + prefix, piece + prefix, n - prefix)) return false;
  r.skip(n - 1);  // at the value's tag
  // `a` is the layout's attribute. For a text, an int64 or a boolean its type is the one that tag
  // always decodes to, so only the value is stored: the same attribute as decode_value() makes.
  // So is a finite float64 whose layout holds one; a float64 is a text when it is not finite, an
  // uint64 one past int64: those are decoded whole.
  switch (static_cast<vtag>(piece[n - 1])) {
    case vtag::string:
      r.skip(1);
      a.value.s = r.str();
      break;
    case vtag::int64:
      r.skip(1);
      a.value.i = r.pod<std::int64_t>();
      break;
    case vtag::boolean:
      r.skip(1);
      a.value.b = r.u8() != 0;
      break;
    case vtag::float64: {
      double d;
      std::memcpy(&d, r.position() + 1, sizeof d);
      if (a.value.type == attribute_value::kind::float64 && std::isfinite(d)) [[likely]] {
        r.skip(1 + sizeof d);
        a.value.d = d;
        break;
      }
      [[fallthrough]];
    }
    default:
      a.value = decode_value(r, out).value;
      break;
  }
  return true;
}

attribute* record_builder::values_from_site(const site_layout& l, byte_reader r, std::string_view updates,
                                            std::size_t slots, arena& out) {
  auto* attrs = static_cast<attribute*>(out.allocate(sizeof(attribute) * slots, alignof(attribute)));
  std::memcpy(static_cast<void*>(attrs), l.attributes.data(), sizeof(attribute) * l.attributes.size());
  // Read once: the stores into `attrs` below would otherwise make the compiler load them again.
  const char* const shape = l.shape.data();
  const std::uint32_t* const shape_at = l.shape_at.data();
  const std::size_t n_start = l.n_start;
  for (std::size_t i = 0; i < n_start; ++i)
    if (!value_from_piece(shape + shape_at[i], shape_at[i + 1] - shape_at[i], r, attrs[i], out)) return nullptr;
  if (l.shape_at.size() - 1 > n_start) [[unlikely]]
    return update_values(l, updates, attrs, out) ? attrs : nullptr;
  return attrs;
}

// The same for the attributes of a span's set_attribute updates (build_from_site() counted
// them), into the slots after the start's.
bool record_builder::update_values(const site_layout& l, std::string_view updates, attribute* attrs, arena& out) {
  byte_reader ur = updates_reader(updates);
  for (std::size_t i = l.n_start; i + 1 < l.shape_at.size(); ++i) {
    byte_reader body = next_update(ur).body;
    body.skip(sizeof(span_ref));
    if (!value_from_piece(l.shape.data() + l.shape_at[i], l.shape_at[i + 1] - l.shape_at[i], body, attrs[i], out))
      return false;
  }
  return true;
}

}  // namespace logfire::detail
