// Message templates, Logfire style: "charged {user_id} {amount:.2f}" formatted from a record's
// attributes into `logfire.msg`. Python's str.format rules as the Logfire SDK applies them:
//   {name}         the attribute's value; dotted names are plain keys ({http.route})
//   {name=}        "name=value"
//   {name:spec}    Python format spec: [[fill]align][sign][z][#][0][width][,|_][.precision][type]
//   {name!r}       conversion (!r / !a quote strings like Python's repr, !s is a no-op)
//   {name:{w}}     a spec may contain fields itself (one level, no spec of their own)
//   {{ and }}      literal braces
// Each formatted value is cut to 128 code points with "..." in the middle (62 + ... + 62). A bad
// template never throws: a missing field, an unbalanced brace, an empty {} or a spec that does not
// fit the value make the whole message fall back to the raw template, as Logfire's Python SDK
// does, and the function returns false so the caller can count it.
//
//   std::string msg;
//   logfire::detail::format_message("charged {user=} {amount:.2f}", attrs, msg);
//   // "charged user=alice 12.50"
//
// Runs on the background thread; no allocation beyond growing `out`; no static state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "logfire/record.hpp"

namespace logfire::detail {

// Formatted values longer than this (in code points) are cut in the middle.
inline constexpr std::size_t k_max_formatted_value_chars = 128;

// Largest width or string precision a spec may ask for, and largest float precision; beyond
// them the template counts as malformed (the value would be cut to 128 characters anyway).
inline constexpr int k_max_spec_width = 10000;
inline constexpr int k_max_float_precision = 150;

// Why a template could not be formatted.
enum class template_error : std::uint8_t {
  none,
  unmatched_open_brace,   // "{" with no closing "}"
  unmatched_close_brace,  // a single "}" outside a field
  empty_field,            // "{}": Logfire requires a name
  missing_field,          // no attribute has that key
  bad_conversion,         // "!x" other than !r, !s, !a
  bad_spec,               // unparsable spec, or one that does not fit the value's type
};

[[nodiscard]] std::string_view to_string(template_error e) noexcept;

// Details of a failure, for the pipeline's one-line diagnostic.
struct template_problem {
  template_error error = template_error::none;
  std::string_view field;  // the offending field's text inside the template (may be empty)
};

// Replaces `out` with `tmpl` formatted from `attrs` (first attribute with a matching key wins).
// Returns false, leaving `out` == `tmpl`, when the template is malformed or a field is missing;
// `problem` (optional) then says why.
bool format_message(std::string_view tmpl, std::span<const attribute> attrs, std::string& out,
                    template_problem* problem = nullptr);

// Like format_message, but appends to `out`. On failure, what it appended is exactly `tmpl`.
bool append_message(std::string_view tmpl, std::span<const attribute> attrs, std::string& out,
                    template_problem* problem = nullptr);

// A template read once for a call site: its literal text and its plain fields ({name}: no
// "=", conversion, spec or nested field), each bound to the position of its attribute. Valid
// for attribute lists with the same keys in the same order (a call-site variant's records).
struct template_plan {
  static constexpr std::uint32_t k_literal = 0xFFFFFFFF;
  struct piece {
    std::string_view literal;  // views into the template
    std::uint32_t field = k_literal;
  };
  std::vector<piece> pieces;
};

// Reads `tmpl` into `plan` for attributes with `attrs`' keys in this order. False (and `plan`
// to be ignored) when a field is not plain or names no attribute, or the template is
// malformed: format_message formats those, and says why.
bool make_template_plan(std::string_view tmpl, std::span<const attribute> attrs, template_plan& plan);

// Appends the message of a plan made for attributes with these keys: the same bytes as
// append_message(tmpl, attrs, out).
void append_planned_message(const template_plan& plan, std::span<const attribute> attrs, std::string& out);

// Appends the attribute keys `tmpl` refers to ("{user=}" and "{x:>{width}}" give "user", "x",
// "width"), in order, repeats included. Stops at the first malformed field.
void template_fields(std::string_view tmpl, std::vector<std::string_view>& out);

// True when `tmpl` contains no brace at all, so the message is the template itself.
[[nodiscard]] bool is_plain_template(std::string_view tmpl) noexcept;

// Appends a value as a template field renders it with no spec, before truncation: strings as
// they are, ints in decimal, doubles like Python's repr (inf, -inf, nan), booleans as
// true/false, empty as null, arrays as [1, 2] / ["a", "b"] with JSON-escaped strings.
// Used by the console exporter for verbose arguments.
void append_value_text(std::string& out, const attribute_value& v);

// What append_value_text() appends for a boolean, a number or empty, written at `out` (room for
// k_max_scalar_text bytes); returns the end. Null, having written nothing, for a text or an
// array.
inline constexpr std::size_t k_max_scalar_text = 32;
char* write_scalar_text(char* out, const attribute_value& v) noexcept;

}  // namespace logfire::detail
