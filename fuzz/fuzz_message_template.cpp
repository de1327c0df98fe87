// Fuzzes message templates. The input is the template; after a NUL byte, the rest is the text of
// the string attribute "s" (repaired to UTF-8 first, as the pipeline does). Properties: a failure
// leaves exactly the template, with a reason pointing into it; a template without braces is its own
// message; valid UTF-8 in gives valid UTF-8 out (cuts never split a character); appending after
// existing text gives the same message.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "formatting/message_template.hpp"
#include "logfire/record.hpp"
#include "text/utf8.hpp"

namespace {

logfire::attribute_value text(std::string_view s) {
  logfire::attribute_value v;
  v.type = logfire::attribute_value::kind::string;
  v.s = s;
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace logfire::detail;
  using kind = logfire::attribute_value::kind;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = in.find('\0');
  const std::string_view tmpl = in.substr(0, nul);
  std::string value;
  if (nul != std::string_view::npos) append_repaired_utf8(value, in.substr(nul + 1));

  logfire::attribute_value items[3];
  items[0].type = kind::int64;
  items[0].i = -7;
  items[1] = text("a\"b");
  items[2].type = kind::float64;
  items[2].d = 0.5;
  logfire::attribute_value arr;
  arr.type = kind::array;
  arr.items = items;
  logfire::attribute attrs[9];
  attrs[0] = {"s", text(value)};
  attrs[1] = {"x", items[0]};
  attrs[2].key = "n";
  attrs[2].value.type = kind::int64;
  attrs[2].value.i = INT64_MIN;
  attrs[3].key = "f";
  attrs[3].value.type = kind::float64;
  attrs[3].value.d = 1234.5678;
  attrs[4].key = "b";
  attrs[4].value.type = kind::boolean;
  attrs[4].value.b = true;
  attrs[5] = {"arr", arr};
  attrs[6] = {"http.route", text("/users/{id}")};
  attrs[7].key = "w";
  attrs[7].value.type = kind::int64;
  attrs[7].value.i = 12;
  attrs[8] = {"none", logfire::attribute_value{}};

  std::string out;
  template_problem problem;
  const bool ok = format_message(tmpl, attrs, out, &problem);
  if (!ok) {
    if (out != tmpl || problem.error == template_error::none) __builtin_trap();
    const bool inside =
        problem.field.empty() || (problem.field.data() >= tmpl.data() &&
                                  problem.field.data() + problem.field.size() <= tmpl.data() + tmpl.size());
    if (!inside) __builtin_trap();
  }
  if (is_plain_template(tmpl) && (!ok || out != tmpl)) __builtin_trap();
  if (is_valid_utf8(tmpl) && !is_valid_utf8(out)) __builtin_trap();

  std::string appended = "prefix:";
  if (append_message(tmpl, attrs, appended) != ok || appended.compare(0, 7, "prefix:") != 0 ||
      std::string_view(appended).substr(7) != out)
    __builtin_trap();
  return 0;
}
