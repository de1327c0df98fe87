#include "metrics/attribute_set.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "context/ids.hpp"

namespace logfire::detail {
namespace {

constexpr std::uint64_t k_mul = 0x9E3779B97F4A7C15ull;

inline std::uint64_t mix(std::uint64_t x) noexcept {
  x ^= x >> 32;
  x *= 0xD6E8FEB86659FD93ull;
  x ^= x >> 32;
  x *= 0xD6E8FEB86659FD93ull;
  x ^= x >> 32;
  return x;
}

// A per-process seed, so that colliding attribute values cannot be prepared in advance (a table
// probe chain is what an attacker choosing attribute values could lengthen).
std::uint64_t seed() noexcept {
  static const std::uint64_t s = random_u64() | 1;
  return s;
}

enum : std::uint64_t { tag_bool = 0x1B00, tag_int = 0x2100, tag_double = 0x3D00, tag_string = 0x4500 };

// -0.0 and 0.0 are one value, and every NaN is the same NaN.
inline std::uint64_t canonical_bits(double d) noexcept {
  if (d == 0) return 0;
  if (std::isnan(d)) return 0x7FF8000000000000ull;
  return std::bit_cast<std::uint64_t>(d);
}

// One multiply and a shift: enough per element, since the set's hash is fully mixed at the end.
inline std::uint64_t fold(std::uint64_t x) noexcept {
  x *= k_mul;
  return x ^ (x >> 29);
}

inline std::uint64_t hash_bytes_seeded(const char* p, std::size_t n, std::uint64_t sd) noexcept {
  // Whole 8-byte words, then the tail read with at most two overlapping loads (never byte by
  // byte: a word assembled from single-byte stores stalls the load that reads it back).
  std::uint64_t h = sd ^ (static_cast<std::uint64_t>(n) * k_mul);
  auto load64 = [](const char* q) {
    std::uint64_t w;
    std::memcpy(&w, q, 8);
    return w;
  };
  auto load32 = [](const char* q) {
    std::uint32_t w;
    std::memcpy(&w, q, 4);
    return static_cast<std::uint64_t>(w);
  };
  std::uint64_t w = 0;
  if (n >= 8) {
    const char* const end = p + n;
    while (end - p > 8) {
      h = (h ^ load64(p)) * k_mul;
      h ^= h >> 29;
      p += 8;
    }
    w = load64(end - 8);
  } else if (n >= 4) {
    w = (load32(p) << 32) | load32(p + n - 4);
  } else if (n > 0) {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    w = (static_cast<std::uint64_t>(u[0]) << 16) | (static_cast<std::uint64_t>(u[n >> 1]) << 8) | u[n - 1];
  }
  return fold(h ^ w);
}

inline std::uint64_t value_hash(const attribute_value& v, std::uint64_t sd) noexcept {
  switch (v.type) {
    case attribute_value::kind::boolean:
      return fold(static_cast<std::uint64_t>(v.b) ^ tag_bool ^ sd);
    case attribute_value::kind::int64:
      return fold(static_cast<std::uint64_t>(v.i) ^ tag_int ^ sd);
    case attribute_value::kind::float64:
      return fold(canonical_bits(v.d) ^ tag_double ^ sd);
    case attribute_value::kind::string:
      return hash_bytes_seeded(v.s.data(), v.s.size(), sd) ^ tag_string;
    default:
      return 0;
  }
}

inline std::uint64_t pair_hash(std::string_view key, std::uint64_t value_h, std::uint64_t sd) noexcept {
  return fold(hash_bytes_seeded(key.data(), key.size(), sd) + std::rotl(value_h, 23));
}

inline std::uint64_t finish_hash(std::uint64_t sum, std::size_t n) noexcept {
  return mix(sum ^ (static_cast<std::uint64_t>(n) * k_mul));
}

// A caller's value in wire form, when it is a plain scalar or string (false otherwise: null,
// arrays, objects, unsigned values beyond int64).
inline bool plain_value(const value_ref& v, attribute_value& out) noexcept {
  switch (v.type()) {
    case value_ref::kind::boolean:
      out.type = attribute_value::kind::boolean;
      out.b = v.as_bool();
      return true;
    case value_ref::kind::int64:
      out.type = attribute_value::kind::int64;
      out.i = v.as_int64();
      return true;
    case value_ref::kind::uint64:
      if (v.as_uint64() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return false;
      out.type = attribute_value::kind::int64;
      out.i = static_cast<std::int64_t>(v.as_uint64());
      return true;
    case value_ref::kind::float64:
      out.type = attribute_value::kind::float64;
      out.d = v.as_double();
      return true;
    case value_ref::kind::string:
      out.type = attribute_value::kind::string;
      out.s = v.as_string();
      return true;
    default:
      return false;
  }
}

inline bool same_value(const attribute_value& a, const attribute_value& b) noexcept {
  if (a.type != b.type) return false;
  switch (a.type) {
    case attribute_value::kind::boolean:
      return a.b == b.b;
    case attribute_value::kind::int64:
      return a.i == b.i;
    case attribute_value::kind::float64:
      return canonical_bits(a.d) == canonical_bits(b.d);
    case attribute_value::kind::string:
      return a.s == b.s;
    default:
      return false;
  }
}

}  // namespace

std::uint64_t hash_bytes(const char* p, std::size_t n) noexcept {
  return hash_bytes_seeded(p, n, seed());
}

attribute_set& attribute_set::operator=(const attribute_set& o) {
  if (this == &o) return *this;
  attrs_ = o.attrs_;
  strings_ = {};
  finish();
  return *this;
}

attribute_set attribute_set::from_args(std::span<const arg> args, std::uint64_t& dropped) {
  attribute_set s;
  s.attrs_.reserve(args.size());
  std::vector<std::string> numbers;  // unsigned values beyond int64, as decimal text
  numbers.reserve(args.size());
  for (const arg& a : args) {
    attribute_value v;
    if (plain_value(a.value, v)) {
      s.attrs_.push_back({a.key, v});
    } else if (a.value.type() == value_ref::kind::uint64) {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, a.value.as_uint64());
      numbers.emplace_back(buf, r.ptr);
      v.type = attribute_value::kind::string;
      v.s = numbers.back();
      s.attrs_.push_back({a.key, v});
    } else {
      ++dropped;
    }
  }
  s.finish();
  return s;
}

attribute_set attribute_set::from_attributes(std::span<const attribute> attrs) {
  attribute_set s;
  s.attrs_.assign(attrs.begin(), attrs.end());
  s.finish();
  return s;
}

void attribute_set::finish() {
  // Sort by key, keeping the caller's order among equal keys, then keep the last of each run.
  std::stable_sort(attrs_.begin(), attrs_.end(), [](const attribute& a, const attribute& b) { return a.key < b.key; });
  std::vector<attribute> unique;
  unique.reserve(attrs_.size());
  for (std::size_t i = 0; i < attrs_.size(); ++i) {
    if (i + 1 < attrs_.size() && attrs_[i + 1].key == attrs_[i].key) continue;
    unique.push_back(attrs_[i]);
  }
  // Copy every key and string value into owned storage. strings_ is sized first so that no
  // reallocation moves a string after a view into it was taken (short strings live inline).
  std::size_t owned = 0;
  for (const attribute& a : unique) owned += 1 + (a.value.type == attribute_value::kind::string ? 1 : 0);
  strings_.clear();
  strings_.reserve(owned);
  std::uint64_t sum = 0;
  const std::uint64_t sd = seed();
  for (attribute& a : unique) {
    strings_.emplace_back(a.key);
    a.key = strings_.back();
    if (a.value.type == attribute_value::kind::string) {
      strings_.emplace_back(a.value.s);
      a.value.s = strings_.back();
    }
    sum += pair_hash(a.key, value_hash(a.value, sd), sd);
  }
  attrs_ = std::move(unique);
  hash_ = finish_hash(sum, attrs_.size());
}

bool attribute_set::operator==(const attribute_set& o) const noexcept {
  if (hash_ != o.hash_ || attrs_.size() != o.attrs_.size()) return false;
  for (std::size_t i = 0; i < attrs_.size(); ++i)
    if (attrs_[i].key != o.attrs_[i].key || !same_value(attrs_[i].value, o.attrs_[i].value)) return false;
  return true;
}

const attribute_set& overflow_attributes() {
  static const attribute_set s = [] {
    attribute a;
    a.key = "otel.metric.overflow";
    a.value.type = attribute_value::kind::boolean;
    a.value.b = true;
    return attribute_set::from_attributes(std::span<const attribute>(&a, 1));
  }();
  return s;
}

bool hash_args(std::span<const arg> args, std::uint64_t& hash) noexcept {
  if (args.size() > 32) return false;
  std::uint64_t sum = 0;
  const std::uint64_t sd = seed();
  for (const arg& a : args) {
    attribute_value v;
    if (!plain_value(a.value, v)) return false;
    sum += pair_hash(a.key, value_hash(v, sd), sd);
  }
  hash = finish_hash(sum, args.size());
  return true;
}

bool keys_distinct(std::span<const arg> args) noexcept {
  for (std::size_t i = 1; i < args.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (args[j].key == args[i].key) return false;
  return true;
}

bool args_equal(std::span<const arg> args, const attribute_set& set) noexcept {
  const std::span<const attribute> attrs = set.view();
  if (args.size() != attrs.size()) return false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    attribute_value v;
    if (!plain_value(args[i].value, v)) return false;
    const attribute* found = nullptr;
    for (const attribute& a : attrs)
      if (a.key == args[i].key) {
        found = &a;
        break;
      }
    if (!found || !same_value(found->value, v)) return false;
    // With equal sizes and every argument found, distinct argument keys make it a bijection.
    for (std::size_t j = 0; j < i; ++j)
      if (args[j].key == args[i].key) return false;
  }
  return true;
}

}  // namespace logfire::detail
