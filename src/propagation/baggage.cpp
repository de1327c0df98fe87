// W3C Baggage. Runs on the caller's thread per request. Values are percent-decoded on extract
// and encoded on inject; the limits (64 members, 8192 bytes) are measured on the canonical
// encoding so that whatever extract keeps, inject can send again.
#include <cstdint>

#include "propagation/parse.hpp"

namespace logfire::detail {
namespace {

// Byte classes for the baggage grammar, looked up once per byte.
enum : std::uint8_t {
  k_tchar = 1,  // RFC 7230 token character (keys)
  k_octet = 2,  // baggage-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E (values)
  k_plain = 4,  // sent as is on inject; everything else (and '%' itself) is percent-encoded
};
struct class_table {
  std::uint8_t v[256] = {};
  constexpr class_table() {
    for (int c = 0x21; c <= 0x7E; ++c) {
      const bool octet = c != '"' && c != ',' && c != ';' && c != '\\';
      v[c] = static_cast<std::uint8_t>((octet ? k_octet : 0) | (octet && c != '%' ? k_plain : 0));
    }
    for (int c = 'a'; c <= 'z'; ++c) v[c] |= k_tchar;
    for (int c = 'A'; c <= 'Z'; ++c) v[c] |= k_tchar;
    for (int c = '0'; c <= '9'; ++c) v[c] |= k_tchar;
    for (const char c : {'!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~'})
      v[static_cast<unsigned char>(c)] |= k_tchar;
  }
};
constexpr class_table k_classes;

constexpr bool is_tchar(char c) noexcept {
  return k_classes.v[static_cast<unsigned char>(c)] & k_tchar;
}
constexpr bool is_baggage_octet(unsigned char c) noexcept {
  return k_classes.v[c] & k_octet;
}
constexpr bool is_plain_octet(unsigned char c) noexcept {
  return k_classes.v[c] & k_plain;
}

constexpr int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr char k_upper_hex[] = "0123456789ABCDEF";

std::size_t encoded_size(std::string_view value) noexcept {
  std::size_t n = 0;
  for (const char ch : value) n += is_plain_octet(static_cast<unsigned char>(ch)) ? 1 : 3;
  return n;
}

bool all_baggage_octets(std::string_view s) noexcept {
  for (const char ch : s)
    if (!is_baggage_octet(static_cast<unsigned char>(ch))) return false;
  return true;
}

// Percent-decodes `raw` (baggage-octets only) into `out`. False on a malformed escape.
// Percent-decodes `raw` into `out` and sets `encoded` to the length inject will write for it.
// False on a byte outside baggage-octet or a malformed escape.
bool decode_value(std::string_view raw, std::string& out, std::size_t& encoded) {
  bool escaped = false;
  for (const char c : raw) {
    if (!is_baggage_octet(static_cast<unsigned char>(c))) return false;
    escaped |= c == '%';
  }
  if (!escaped) {  // the common case: one copy, and inject writes it back unchanged
    out.assign(raw);
    encoded = raw.size();
    return true;
  }
  out.resize(raw.size());
  char* w = out.data();
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '%') {
      *w++ = raw[i];
      continue;
    }
    if (i + 2 >= raw.size()) return false;
    const int hi = hex_digit(raw[i + 1]);
    const int lo = hex_digit(raw[i + 2]);
    if (hi < 0 || lo < 0) return false;
    *w++ = static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  out.resize(static_cast<std::size_t>(w - out.data()));
  encoded = encoded_size(out);
  return true;
}

// One property, "key OWS = OWS value" or "key", appended canonically to `out`.
bool append_property(std::string_view prop, std::string& out) {
  prop = trim_ows(prop);
  const std::size_t eq = prop.find('=');
  const std::string_view key = trim_ows(prop.substr(0, eq));
  if (!is_token(key)) return false;
  if (!out.empty()) out.push_back(';');
  out.append(key);
  if (eq != std::string_view::npos) {
    const std::string_view value = trim_ows(prop.substr(eq + 1));
    if (!all_baggage_octets(value)) return false;
    out.push_back('=');
    out.append(value);
  }
  return true;
}

// Canonical properties text as produced by extract: "tok[=octets](;tok[=octets])*".
bool valid_canonical_properties(std::string_view props) noexcept {
  std::size_t pos = 0;
  while (pos <= props.size()) {
    std::size_t semi = props.find(';', pos);
    if (semi == std::string_view::npos) semi = props.size();
    const std::string_view prop = props.substr(pos, semi - pos);
    const std::size_t eq = prop.find('=');
    if (!is_token(prop.substr(0, eq))) return false;
    if (eq != std::string_view::npos && !all_baggage_octets(prop.substr(eq + 1))) return false;
    pos = semi + 1;
  }
  return true;
}

void merge(std::vector<baggage_member>& into, baggage_member&& m) {
  for (auto& existing : into) {
    if (existing.key == m.key) {
      existing.value.swap(m.value);
      existing.properties.swap(m.properties);
      return;
    }
  }
  into.push_back(std::move(m));
}

}  // namespace

bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (const char c : s)
    if (!is_tchar(c)) return false;
  return true;
}

bool baggage_budget::take(std::size_t member_bytes) noexcept {
  const std::size_t with_comma = member_bytes + (members == 0 ? 0 : 1);
  if (members >= baggage_max_members || bytes + with_comma > baggage_max_bytes) return false;
  ++members;
  bytes += with_comma;
  return true;
}

std::size_t baggage_member_encoded_size(const baggage_member& m) noexcept {
  if (!is_token(m.key)) return 0;
  std::size_t n = m.key.size() + 1 + encoded_size(m.value);
  if (!m.properties.empty() && valid_canonical_properties(m.properties)) n += 1 + m.properties.size();
  return n;
}

void parse_baggage(std::string_view value, std::vector<baggage_member>& into, baggage_budget& budget) {
  std::size_t pos = 0;
  while (pos <= value.size()) {
    std::size_t comma = value.find(',', pos);
    if (comma == std::string_view::npos) comma = value.size();
    const std::string_view member = trim_ows(value.substr(pos, comma - pos));
    pos = comma + 1;
    if (member.empty()) continue;

    // key OWS "=" OWS value *( OWS ";" OWS property )
    std::size_t semi = member.find(';');
    const std::string_view pair = member.substr(0, semi);
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = trim_ows(pair.substr(0, eq));
    const std::string_view raw_value = trim_ows(pair.substr(eq + 1));
    if (!is_token(key)) continue;

    baggage_member m;
    std::size_t value_size = 0;
    if (!decode_value(raw_value, m.value, value_size)) continue;
    bool ok = true;
    while (ok && semi != std::string_view::npos) {
      const std::size_t next = member.find(';', semi + 1);
      ok = append_property(
          member.substr(semi + 1, next == std::string_view::npos ? std::string_view::npos : next - semi - 1),
          m.properties);
      semi = next;
    }
    if (!ok) continue;
    // Properties were rebuilt canonically above, so this is the size inject will write.
    const std::size_t size = key.size() + 1 + value_size + (m.properties.empty() ? 0 : 1 + m.properties.size());
    if (!budget.take(size)) continue;
    m.key.assign(key);
    merge(into, std::move(m));
  }
}

void format_baggage(const std::vector<baggage_member>& members, std::string& out) {
  baggage_budget budget;
  for (const auto& m : members) {
    if (!is_token(m.key)) continue;
    const std::size_t value_size = encoded_size(m.value);
    const bool with_properties = !m.properties.empty() && valid_canonical_properties(m.properties);
    const std::size_t size = m.key.size() + 1 + value_size + (with_properties ? 1 + m.properties.size() : 0);
    if (!budget.take(size)) continue;
    if (budget.members > 1) out.push_back(',');
    out.append(m.key);
    out.push_back('=');
    if (value_size == m.value.size()) {  // nothing to escape: one copy
      out.append(m.value);
    } else {
      const std::size_t at = out.size();
      out.resize(at + value_size);
      char* w = out.data() + at;
      for (const char ch : m.value) {
        const auto c = static_cast<unsigned char>(ch);
        if (is_plain_octet(c)) {
          *w++ = ch;
        } else {
          *w++ = '%';
          *w++ = k_upper_hex[c >> 4];
          *w++ = k_upper_hex[c & 0xF];
        }
      }
    }
    if (with_properties) {
      out.push_back(';');
      out.append(m.properties);
    }
  }
}

}  // namespace logfire::detail

namespace logfire {

namespace {
constexpr std::string_view k_baggage = "baggage";
constexpr std::string_view k_baggage_fields[] = {k_baggage};
}  // namespace

void baggage_propagator::extract(const carrier& from, propagation_context& into) const noexcept {
  try {
    detail::baggage_budget budget;
    from.get_all(k_baggage, [&](std::string_view v) { detail::parse_baggage(v, into.baggage, budget); });
  } catch (...) {
    // Keep the members parsed so far; never throw into the host.
  }
}

void baggage_propagator::inject(const propagation_context& ctx, carrier& to) const noexcept {
  if (ctx.baggage.empty()) return;
  try {
    // Per-thread buffer: steady-state injection does not allocate.
    thread_local std::string buf;
    buf.clear();
    detail::format_baggage(ctx.baggage, buf);
    if (!buf.empty()) to.set(k_baggage, buf);
  } catch (...) {
  }
}

std::span<const std::string_view> baggage_propagator::fields() const noexcept {
  return k_baggage_fields;
}

}  // namespace logfire
