// Turning ring records into span_records: the background thread's decoder. It joins a span's
// start with its updates and end, applies Logfire's attribute conventions, formats the
// message, builds `logfire.json_schema`, repairs invalid UTF-8, scrubs secrets (before the
// message is formatted, so it is formatted from the scrubbed values) and materialises everything
// into the batch's arena.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "formatting/message_template.hpp"
#include "logfire/record.hpp"
#include "logfire/stats.hpp"
#include "record/arena.hpp"
#include "scrub/fixed_plan.hpp"

namespace logfire::detail {

class byte_reader;
class diagnostics;
class scrubber;
struct record_fixed;
class scrub_session;
enum class key_check : std::uint8_t;  // scrubber.hpp

// Counters the decoder bumps (background thread; read by stats() from any thread).
struct decode_counters {
  std::atomic<std::uint64_t> utf8_repaired{0};
  std::atomic<std::uint64_t> template_errors{0};
  std::atomic<std::uint64_t> attributes_truncated{0};  // records whose set_attribute calls went over the limit
};

class record_builder {
 public:
  explicit record_builder(decode_counters& counters);
  ~record_builder();
  record_builder(const record_builder&) = delete;
  record_builder& operator=(const record_builder&) = delete;

  // Scrubs every record built from now on with `s` (null: no scrubbing); the first value each
  // pattern redacts is announced through `diag`. Both outlive the builder. Called once, before
  // the background thread starts.
  void set_scrubber(const scrubber* s, diagnostics* diag);

  // Attributes a record may hold; set_attribute calls adding more are dropped and counted in
  // the record's dropped_attributes_count (the call site bounds the constructor's arguments).
  void set_max_attributes(std::size_t n) noexcept { max_attributes_ = n; }

  // Prints no template warning and counts no scrubbing (a second builder of the same records:
  // the console's prompt mode; the background thread's builder warns and counts). Call before
  // set_scrubber().
  void set_quiet() noexcept { quiet_ = true; }

  // Whether exception stack traces are named (stack_trace.hpp: a module's symbol table is read
  // the first time one of its frames is named). Off, the frames are dropped: the console's
  // prompt mode, on the caller's thread, names them only when it prints them (verbose).
  void set_symbolize(bool on) noexcept { symbolize_ = on; }

  // Builds a finished span (type span) or log from a start/log body plus the updates
  // recorded for it (a sequence of [u8 kind][u32 size][bytes]) and the end time.
  span_record build(const std::byte* start, std::size_t start_size, bool is_log, std::string_view updates,
                    std::uint64_t end_ns, arena& out);

  // Builds the pending span for a span start.
  span_record build_pending(const std::byte* start, std::size_t start_size, arena& out);

  // The same into `rec`, a span_record as it is made (the pipeline builds into its batch).
  void build(const std::byte* start, std::size_t start_size, bool is_log, std::string_view updates,
             std::uint64_t end_ns, arena& out, span_record& rec);
  void build_pending(const std::byte* start, std::size_t start_size, arena& out, span_record& rec);

  // Records built from a call site's layout (build_from_site()) so far: for tests and benchmarks.
  [[nodiscard]] std::uint64_t site_builds() const noexcept { return site_builds_; }
  // Off: no layout is made, every record is built the long way (tests compare the two ways).
  void set_site_layouts(bool on) noexcept { site_layouts_ = on; }

 private:
  struct site_layout;  // below
  // One tagged value as decoded: the value, its logfire.json_schema entry, or a null.
  struct decoded_value {
    attribute_value value;
    std::string_view schema;  // "" for scalars ({})
    bool is_null = false;
  };
  // What the start, the updates and the exceptions decide together while a record is built.
  struct build_state {
    level lvl = level::info;
    bool level_explicit = false;  // a log's level, or one set explicitly: an error status does not change it
    status_code status = status_code::unset;
    std::string_view status_message;
    std::uint32_t dropped_attrs = 0;
    std::uint64_t start_ns = 0;
    bool is_log = false;
  };

  // The steps of a build, in order: tags, attributes, links, the updates (attributes, level,
  // status, exceptions, events), Logfire's level/status rules, scrubbing, the message, the
  // schema, Logfire's attributes, and the record itself, into `rec` (as a span_record is made).
  void build_impl(const std::byte* start, std::size_t start_size, bool is_log, std::string_view updates,
                  std::uint64_t end_ns, bool pending, arena& out, span_record& rec);
  // The short way for a record of a call site seen before (see site_layout): `r` is at the
  // record's tags. False, having changed nothing, when no variant's layout matches the record's
  // bytes; the record is then built the long way. `rec` is as a span_record is made.
  // `updates` are the span's: none, or set_attribute updates only, for a short way.
  bool build_from_site(const record_fixed& fixed, byte_reader r, std::string_view tmpl, std::string_view trace_state,
                       std::string_view updates, bool is_log, bool pending, std::uint64_t end_ns, arena& out,
                       span_record& rec);
  // The user's attributes of a record of layout `l` (`r` at them, then its set_attribute
  // `updates`), in `slots` attributes from `out` (the layout's array, each value decoded in its
  // place), or null when the record's keys or value types are not the layout's. Texts are left
  // pointing into `r` and `updates`: the caller copies them once every attribute has matched, so
  // a record that does not match counts nothing.
  attribute* values_from_site(const site_layout& l, byte_reader r, std::string_view updates, std::size_t slots,
                              arena& out);
  bool update_values(const site_layout& l, std::string_view updates, attribute* attrs, arena& out);
  bool value_from_piece(const char* piece, std::size_t n, byte_reader& r, attribute& a, arena& out);
  // Makes `rec` (filled from `fixed`) a pending span; returns its logfire.pending_parent_id.
  attribute make_pending(span_record& rec, const record_fixed& fixed, arena& out);
  decoded_value decode_value(byte_reader& rd, arena& out);
  attribute_value decode_typed_array(byte_reader& rd, arena& out);
  void decode_attribute(byte_reader& rd, std::size_t from, bool limited, build_state& st, arena& out);
  std::span<const attribute> decode_attribute_list(byte_reader& rd, std::uint32_t n, build_state& st, arena& out);
  std::span<const std::string_view> decode_tags(byte_reader& r, std::uint16_t n, arena& out);
  logfire::link* decode_links(byte_reader& r, std::uint16_t n, build_state& st, arena& out);
  void add_exception(byte_reader& rd, std::uint64_t time_ns, bool escaped, build_state& st, arena& out);
  void apply_updates(std::string_view updates, build_state& st, arena& out);
  void build_json_schema();
  // The texts every record of a call-site variant shares, UTF-8 repaired, and the scrubber's
  // decision for each of its user keys (check_key()). They point into the variant's memo entry
  // (kept as long as the builder: records are read only during export), or into `out` when the
  // memo is full.
  struct variant;
  struct shared_texts {
    std::uint64_t site = 0;  // the variant's id, 0 when the memo is full
    std::string_view name;   // the template
    std::string_view schema;
    std::string_view file;  // code.filepath, "" for none
    std::string_view function;
    std::span<const key_check> checks;    // empty: decided key by key
    const template_plan* plan = nullptr;  // null: the template is formatted by format_message
    variant* created = nullptr;           // the memo entry, when this record made it
  };
  // The call-site variant of the record being built (what its shared Logfire attributes depend
  // on), from the memo when it was seen before. `tmpl` as the ring carries it.
  shared_texts site_variant(const record_fixed& fixed, record_type type, level lvl, std::string_view tmpl,
                            std::span<const std::string_view> tags, arena& out);
  // Walks the variant's key through `k` (k.word(u64), k.bytes(string_view)): to write or to compare.
  template <class Key>
  void variant_key(Key& k, const record_fixed& fixed, record_type type, level lvl, std::string_view tmpl,
                   std::span<const std::string_view> tags) const;
  std::span<const attribute_value> add_logfire_attributes(const record_fixed& fixed, const shared_texts& sh,
                                                          record_type type, std::string_view message, level lvl,
                                                          std::span<const std::string_view> tags,
                                                          std::size_t& shared_end, arena& out);
  // The record's message (logfire.msg), copied into `out`: from the variant's plan when it has
  // one, else formatted from the template (a template that cannot be formatted is counted).
  std::string_view message_of(std::string_view tmpl, const template_plan* plan, std::span<const attribute> attrs,
                              arena& out);
  // `s` copied into `out`, repaired (and counted) when it is not valid UTF-8.
  inline std::string_view text(std::string_view s, arena& out);
  [[gnu::noinline]] std::string_view repaired_text(std::string_view s, arena& out);
  // Scrubs the user's attributes (attrs_), the events' and the links' attributes in place, in
  // the order Logfire lists them in `logfire.scrubbed`.
  void scrub(std::span<attribute> attrs, std::span<logfire::link> links, std::span<const key_check> checks, arena& out);
  // After the message is formatted: the `logfire.scrubbed` value, or "" when nothing was scrubbed.
  std::string_view scrubbed_notes(std::string_view tmpl, arena& out);
  // One stderr line for the first template that could not be formatted, then at most one a
  // minute while more fail (like the loss diagnostics).
  void warn_template(std::string_view tmpl, const template_problem& problem);

  decode_counters& counters_;
  std::size_t max_attributes_ = 128;
  bool quiet_ = false;
  bool symbolize_ = true;
  std::vector<attribute> attrs_;
  std::vector<std::string_view> schemas_;  // json_schema entry per attrs_ entry ("" = {})
  std::vector<event> events_;
  std::vector<std::string_view> null_args_;
  std::string scratch_;
  std::string json_;
  std::string schema_;
  std::string message_;
  std::unique_ptr<scrub_session> scrub_;  // null when scrubbing is off
  const scrubber* scrubber_ = nullptr;
  diagnostics* diag_ = nullptr;
  std::vector<std::string_view> fields_;
  std::string notes_;
  // What build_from_site() needs to build a record of a variant without decoding its keys, its
  // tags or its template, nor assembling Logfire's attributes one by one: the ring bytes that
  // must be the same (template, tags, and each attribute's key and value tag), and the record's
  // attribute array with everything but the values of the user's attributes and logfire.msg.
  // Made from the first record of a variant that is plain enough (add_site_layout()): no
  // links, exception, null argument, repeated key or tag, nor key or tag that needed repair;
  // values that are booleans, numbers or texts; updates, if any, that each set a new key (as a
  // server span sets its status code), whose keys and value types the layout then fixes too.
  struct site_layout {
    std::uint64_t where[3];               // file, function, and line with type and level: compared, not only hashed
    std::string tmpl;                     // as the ring carries it
    std::string tags;                     // the ring bytes of the tags
    std::string shape;                    // per user attribute: [u32 key size][key][u8 value tag]
    std::vector<std::uint32_t> shape_at;  // where each attribute's piece of `shape` starts, then its end
    std::uint32_t n_start = 0;            // the start's attributes; the pieces after them are set_attribute updates
    std::string keys;                     // the user's keys, which `attributes` points to
    std::string tag_texts;                // the tags' texts, which `tag_values` points to
    std::vector<attribute_value> tag_values;
    std::vector<attribute> attributes;  // user's (values per record), logfire.msg (per record), shared
    std::vector<std::uint32_t> texts;   // the user's attributes with a text value
    fixed_scrub_plan scrub;             // what the user's keys and value types decide (with a scrubber)
    [[nodiscard]] std::size_t bytes() const noexcept;
  };
  // Call-site variants seen so far, by a hash of their location and sizes (see site_variant()):
  // id, full key (variant_key()) and what its records share (shared_texts). Never emptied (at
  // most k_max_variants), and a node never moves: records point into it.
  struct variant {
    std::uint64_t id;
    std::string key;
    std::string name;
    std::string schema;
    std::string file;
    std::string function;
    std::vector<key_check> checks;
    template_plan plan;  // views into `name`
    bool planned = false;
    std::unique_ptr<site_layout> layout;  // null: its records are built the long way
  };
  // Adds the layout to `v`, made from the record just built the long way (attrs_ holds its
  // attributes up to `shared_end`; `at_tags` and `at_attrs` read its ring bytes from its tags and
  // from its attributes; `updates` are its updates, `n_updates` set_attribute and nothing else),
  // when the record is plain enough and the memo has room.
  void add_site_layout(variant& v, const record_fixed& fixed, record_type type, level lvl, std::string_view tmpl,
                       const byte_reader& at_tags, const byte_reader& at_attrs, std::span<const std::string_view> tags,
                       std::span<const attribute_value> tag_values, std::string_view updates, std::size_t n_updates,
                       std::size_t n_user, std::size_t shared_end) noexcept;
  // The layout itself; may throw (out of memory), which add_site_layout() keeps from the record.
  void make_site_layout(variant& v, const record_fixed& fixed, record_type type, level lvl, std::string_view tmpl,
                        byte_reader tr, byte_reader ar, std::span<const std::string_view> tags,
                        std::span<const attribute_value> tag_values, std::string_view updates, std::size_t n_user,
                        std::size_t shared_end);
  std::unordered_multimap<std::uint64_t, variant> variants_;
  // The variant whose layout a record matched last, per slot of its hash's low bits: most
  // records find their call site here without the memo's lookup, whose bucket is the hash
  // modulo a prime (a 64-bit division: about half of the lookup's time, perf cpu-clock
  // samples). A hint only: the record is checked against the layout as before, and when it does
  // not match, the memo is searched. Variants never move and are never removed.
  struct recent_variant {
    std::uint64_t hash = 0;
    const variant* v = nullptr;
  };
  static constexpr std::size_t k_recent_variants = 64;
  std::array<recent_variant, k_recent_variants> recent_{};
  std::uint64_t site_builds_ = 0;  // records built by build_from_site()
  bool site_layouts_ = true;
  std::size_t variant_bytes_ = 0;
  std::uint64_t template_warned_count_ = 0;  // template errors when the last line was printed
  std::chrono::steady_clock::time_point template_warned_at_{};
};

}  // namespace logfire::detail
