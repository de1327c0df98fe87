// The byte layout of records in a thread's ring, shared by the writer (the caller's thread)
// and the reader (the background thread). Values are copied, never referenced: once a
// record is committed the caller's memory can change freely.
//
// Each record: ring_record_header, then a fixed part (record_fixed / span_ref), then a
// variable part of length-prefixed strings and tagged values. A string's length takes one byte
// below 255 (nearly every key, template and short value), else the byte 255 and a u32: three
// bytes fewer per string than a u32 each time, so more records fit a ring and fewer of its
// cache lines travel between the caller's core and the background thread's.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include "logfire/attributes.hpp"
#include "text/bytes.hpp"

namespace logfire::detail {

enum class rec : std::uint8_t {
  padding = 0,
  span_start = 1,
  log = 2,
  span_end = 3,
  set_attribute = 4,
  set_level = 5,
  set_status = 6,
  exception = 7,
  event = 8,
};

// Fixed part of span_start and log records.
struct record_fixed {
  std::uint64_t trace_hi;
  std::uint64_t trace_lo;
  std::uint64_t span;
  std::uint64_t parent;
  std::uint64_t start_ns;
  const char* file;  // source_location strings have static storage duration
  const char* function;
  std::uint32_t line;
  std::uint32_t depth;
  std::uint8_t flags;
  std::uint8_t parent_remote;
  std::uint8_t kind;
  std::uint8_t lvl;
  std::uint16_t n_tags;
  std::uint16_t n_attrs;
  std::uint16_t n_links;
  std::uint8_t has_exception;   // logs only
  std::uint8_t console_mark;    // console_mark (record/prompt.hpp): printed at the call?
  std::uint32_t dropped_attrs;  // attributes beyond max_attributes at the call site
  // then: template, trace_state, tags, attrs, links, [exception]
  // exception: u8 exc_type, type (mangled: the typeid name's pointer; text: a string), message,
  // stack trace text (may be empty), u8 frame count, that many return addresses (uintptr_t)
};
static_assert(sizeof(record_fixed) == 80, "record_fixed grew: it is copied for every span and log");

// Fixed part of records that update an open span (end, attribute, level, status, ...).
struct span_ref {
  std::uint64_t span;
  std::uint64_t time_ns;
  // set_level: the level; set_status: the status code; exception: escaped (0/1); span_end: 1 when
  // every record of the span is in the end's ring, before it (span_state::crossed); else 0
  std::uint32_t value;
  std::uint32_t count;  // event: its attributes; set_attribute: 1; else 0
};

// Value tags in the variable part.
enum class vtag : std::uint8_t {
  null = 0,
  boolean = 1,
  int64 = 2,
  uint64 = 3,
  float64 = 4,
  string = 5,
  typed_array = 6,  // element vtag, u32 count, elements (numbers 8 bytes, strings as texts)
  array = 7,        // u32 count, tagged values
  object = 8,       // u32 count, (string key, tagged value) pairs
};

// Exception type encodings.
enum class exc_type : std::uint8_t { text = 0, mangled = 1 };

// A string's length prefix: one byte below k_long_text, else k_long_text and a u32.
inline constexpr std::uint8_t k_long_text = 255;
// The bytes a string of `n` bytes takes, its prefix included.
[[nodiscard]] constexpr std::size_t str_bytes(std::size_t n) noexcept {
  return n + (n < k_long_text ? 1 : 5);
}
// Writes `s`, its length prefix first, with `w`'s u8, u32 and raw (byte_writer below, and the
// caller's encoder of custom values).
template <typename Writer>
void put_text(Writer& w, std::string_view s) noexcept {
  if (s.size() < k_long_text) [[likely]] {
    w.u8(static_cast<std::uint8_t>(s.size()));
  } else {
    w.u8(k_long_text);
    w.u32(static_cast<std::uint32_t>(s.size()));
  }
  w.raw(s.data(), s.size());
}

// Appends bytes to reserved space (byte_sizer below computes its size first). Texts of up to
// 16 bytes, most keys and many values, are copied without a call (text/bytes.hpp).
class byte_writer {
 public:
  explicit byte_writer(std::byte* out) noexcept : p_(out) {}

  void raw(const void* src, std::size_t n) noexcept {
    // An empty view may have a null data(): copy_bytes reads nothing then.
    copy_bytes(reinterpret_cast<char*>(p_ + size_), static_cast<const char*>(src), n);
    size_ += n;
  }
  template <typename T>
  void pod(const T& v) noexcept {
    raw(&v, sizeof v);
  }
  void u8(std::uint8_t v) noexcept { pod(v); }
  void u32(std::uint32_t v) noexcept { pod(v); }
  void str(std::string_view s) noexcept { put_text(*this, s); }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::byte* data() noexcept { return p_; }

 private:
  std::byte* p_ = nullptr;
  std::size_t size_ = 0;
};

// Counts the bytes a record will take, with the same interface as byte_writer (the encoders
// are templates over both, so sizing compiles to additions).
class byte_sizer {
 public:
  void raw(const void*, std::size_t n) noexcept { size_ += n; }
  template <typename T>
  void pod(const T&) noexcept {
    size_ += sizeof(T);
  }
  void u8(std::uint8_t) noexcept { size_ += 1; }
  void u32(std::uint32_t) noexcept { size_ += 4; }
  void str(std::string_view s) noexcept { size_ += str_bytes(s.size()); }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  std::size_t size_ = 0;
};

class byte_reader {
 public:
  byte_reader(const std::byte* p, std::size_t n) noexcept : p_(p), end_(p + n) {}
  template <typename T>
  T pod() noexcept {
    T v;
    std::memcpy(&v, p_, sizeof v);
    p_ += sizeof v;
    return v;
  }
  std::uint8_t u8() noexcept { return pod<std::uint8_t>(); }
  std::uint32_t u32() noexcept { return pod<std::uint32_t>(); }
  std::string_view str() noexcept {
    std::size_t n = u8();
    if (n == k_long_text) [[unlikely]]
      n = u32();
    std::string_view s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }
  void skip(std::size_t n) noexcept { p_ += n; }
  [[nodiscard]] const std::byte* position() const noexcept { return p_; }
  [[nodiscard]] bool at_end() const noexcept { return p_ >= end_; }

 private:
  const std::byte* p_;
  const std::byte* end_;
};

}  // namespace logfire::detail
