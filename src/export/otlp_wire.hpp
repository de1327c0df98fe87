// Protobuf wire-format primitives shared by the OTLP encoders (traces in otlp_protobuf.cpp,
// metrics in otlp_metrics.cpp): varints, fixed-width fields, UTF-8-repaired strings, a growing
// buffer with back-patched message lengths, and AnyValue/KeyValue. All varints are canonical
// (minimal length), as libprotobuf writes them. Runs on the exporter's (or reader's) thread.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "export/otlp_buffer.hpp"
#include "logfire/record.hpp"
#include "text/bytes.hpp"
#include "text/utf8.hpp"

namespace logfire::detail {

// ---- wire primitives (unchecked: callers reserve room first) ----

inline std::size_t varint_size(std::uint64_t v) noexcept {
  // ceil(bits / 7) with v = 0 taking one byte, as (bits * 9 + 64) / 64 to avoid a division.
  return static_cast<std::size_t>((std::bit_width(v | 1u) * 9 + 64) >> 6);
}

inline char* put_varint(char* p, std::uint64_t v) noexcept {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

inline char* put_fixed64(char* p, std::uint64_t v) noexcept {
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  std::memcpy(p, &v, 8);
  return p + 8;
}

inline char* put_fixed32(char* p, std::uint32_t v) noexcept {
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap32(v);
  std::memcpy(p, &v, 4);
  return p + 4;
}

// Ids are big-endian byte strings on the wire.
inline char* put_be64(char* p, std::uint64_t v) noexcept {
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
  std::memcpy(p, &v, 8);
  return p + 8;
}

// A string field's text as it will be written: its source and its size after UTF-8 repair.
struct text {
  std::string_view src;
  std::size_t n;
  bool ok;
};

inline text measure(std::string_view s) noexcept {
  if (is_valid_utf8(s)) [[likely]]
    return {s, s.size(), true};
  return {s, repaired_utf8_size(s), false};
}

inline char* put_text(char* p, const text& t) noexcept {
  if (t.ok) [[likely]] {
    if (t.n) std::memcpy(p, t.src.data(), t.n);
    return p + t.n;
  }
  return write_repaired_utf8(t.src, p);
}

// Tag byte(s) + length + text; the caller reserved 1 + 5 + t.n bytes (tags below 16).
inline char* put_text_field(char* p, char tag, const text& t) noexcept {
  *p++ = tag;
  p = put_varint(p, t.n);
  return put_text(p, t);
}

inline std::size_t text_field_size(const text& t) noexcept {
  return t.n ? 1 + varint_size(t.n) + t.n : 0;
}

// ---- the growing buffer, plus back-patched message lengths ----

class pb_writer : public wire_buffer {
 public:
  using wire_buffer::wire_buffer;

  // Writes `tag` and leaves `width` bytes for the length of the message that follows;
  // returns where the message body starts.
  std::size_t open(char tag, std::size_t width) {
    char* p = reserve(1 + width);
    *p = tag;
    commit(p + 1 + width);
    return pos();
  }

  // Fills in the length of the message opened at `body` with a `width`-byte slot, moving the
  // body when its canonical varint needs a different width.
  void close(std::size_t body, std::size_t width) {
    const std::size_t len = pos() - body;
    const std::size_t need = varint_size(len);
    if (need != width) [[unlikely]] {
      if (need > width) reserve(need - width);
      char* b = at(body);
      std::memmove(b + need - width, b, len);
      rewind(pos() + need - width);
    }
    put_varint(at(body - width), len);
  }
};

// ---- AnyValue / KeyValue ----

// Size of an AnyValue message body.
inline std::size_t any_value_size(const attribute_value& v) noexcept {
  switch (v.type) {
    case attribute_value::kind::boolean:
      return 2;
    case attribute_value::kind::int64:
      return 1 + varint_size(static_cast<std::uint64_t>(v.i));
    case attribute_value::kind::float64:
      return 9;
    case attribute_value::kind::string: {
      const text t = measure(v.s);
      return 1 + varint_size(t.n) + t.n;
    }
    case attribute_value::kind::array: {
      std::size_t arr = 0;
      for (const attribute_value& item : v.items) {
        const std::size_t s = any_value_size(item);
        arr += 1 + varint_size(s) + s;
      }
      return 1 + varint_size(arr) + arr;
    }
    case attribute_value::kind::empty:
      break;
  }
  return 0;
}

// Writes an AnyValue body of any_value_size(v) bytes. Oneof members are written even when they
// hold their type's default (false, 0, ""), since presence is what tells the type.
inline char* put_any_value(char* p, const attribute_value& v) noexcept {
  switch (v.type) {
    case attribute_value::kind::boolean:
      *p++ = 0x10;
      *p++ = v.b ? 1 : 0;
      return p;
    case attribute_value::kind::int64:
      *p++ = 0x18;
      return put_varint(p, static_cast<std::uint64_t>(v.i));
    case attribute_value::kind::float64:
      *p++ = 0x21;
      return put_fixed64(p, std::bit_cast<std::uint64_t>(v.d));
    case attribute_value::kind::string:
      return put_text_field(p, 0x0A, measure(v.s));
    case attribute_value::kind::array: {
      std::size_t arr = 0;
      for (const attribute_value& item : v.items) {
        const std::size_t s = any_value_size(item);
        arr += 1 + varint_size(s) + s;
      }
      *p++ = 0x2A;  // array_value = 5 (ArrayValue { repeated AnyValue values = 1; })
      p = put_varint(p, arr);
      for (const attribute_value& item : v.items) {
        *p++ = 0x0A;
        p = put_varint(p, any_value_size(item));
        p = put_any_value(p, item);
      }
      return p;
    }
    case attribute_value::kind::empty:
      break;
  }
  return p;
}

// ---- short ASCII texts: most keys and many values ----

// A text field's text: checked and measured, or, when `Trusted` (texts the record builder made
// and repaired already, see put_span_attributes()), taken as valid UTF-8 as it is.
template <bool Trusted>
inline text text_of(std::string_view s) noexcept {
  if constexpr (Trusted)
    return {s, s.size(), true};
  else
    return measure(s);
}

// A KeyValue whose key and value are ASCII texts of at most 16 bytes (any texts of at most 16
// bytes when `Trusted`), or whose value is a number or a boolean (so every length is one byte):
// written without sizing passes. False, having written nothing, for anything else.
template <bool Trusted = false>
inline bool put_short_key_value(pb_writer& w, char tag, const attribute& a) {
  const std::string_view key = a.key;
  if (key.empty() || key.size() > 16 || (!Trusted && !is_short_ascii(key))) return false;
  char value[11];  // the AnyValue body of a number or a boolean
  std::size_t av;
  const std::string_view text = a.value.s;
  switch (a.value.type) {
    case attribute_value::kind::string:
      if (text.size() > 16 || (!Trusted && !is_short_ascii(text))) return false;
      av = 2 + text.size();
      break;
    case attribute_value::kind::int64:
    case attribute_value::kind::float64:
    case attribute_value::kind::boolean:
      av = static_cast<std::size_t>(put_any_value(value, a.value) - value);
      break;
    default:
      return false;
  }
  const std::size_t kv = 2 + key.size() + 2 + av;  // below 128: one-byte lengths throughout
  char* p = w.reserve(2 + kv);
  p[0] = tag;
  p[1] = static_cast<char>(kv);
  p[2] = 0x0A;  // key = 1
  p[3] = static_cast<char>(key.size());
  p = copy_short(p + 4, key.data(), key.size());
  p[0] = 0x12;  // value = 2
  p[1] = static_cast<char>(av);
  p += 2;
  if (a.value.type == attribute_value::kind::string) {
    p[0] = 0x0A;  // string_value = 1
    p[1] = static_cast<char>(text.size());
    p = copy_short(p + 2, text.data(), text.size());
  } else {
    p = copy_short(p, value, av);
  }
  w.commit(p);
  return true;
}

// One KeyValue as field `tag` of the enclosing message, sized up front and written in one go
// (the general case of put_key_value()).
template <bool Trusted = false>
[[gnu::noinline]] inline void put_any_key_value(pb_writer& w, char tag, const attribute& a) {
  const text key = text_of<Trusted>(a.key);
  std::size_t av;
  text sv{};
  const bool is_string = a.value.type == attribute_value::kind::string;
  if (is_string) {
    // The common case: validate the value's UTF-8 once for both sizing and writing.
    sv = text_of<Trusted>(a.value.s);
    av = 1 + varint_size(sv.n) + sv.n;
  } else {
    av = any_value_size(a.value);
  }
  const std::size_t kv = text_field_size(key) + 1 + varint_size(av) + av;
  char* p = w.reserve(1 + varint_size(kv) + kv);
  *p++ = tag;
  p = put_varint(p, kv);
  if (key.n) p = put_text_field(p, 0x0A, key);
  *p++ = 0x12;  // value = 2, always present so an empty value still reads as set
  p = put_varint(p, av);
  p = is_string ? put_text_field(p, 0x0A, sv) : put_any_value(p, a.value);
  w.commit(p);
}

template <bool Trusted = false>
inline void put_key_value(pb_writer& w, char tag, const attribute& a) {
  if (!put_short_key_value<Trusted>(w, tag, a)) put_any_key_value<Trusted>(w, tag, a);
}

template <bool Trusted = false>
inline void put_attributes(pb_writer& w, char tag, std::span<const attribute> attrs) {
  for (const attribute& a : attrs) put_key_value<Trusted>(w, tag, a);
}

}  // namespace logfire::detail
