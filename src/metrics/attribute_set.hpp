// Attribute sets of metric series: the identity of a point. A set is unordered and keys are
// unique, so sets are stored sorted by key (duplicate keys: the last value wins) and hashed with
// an order-independent hash that can also be computed straight from the caller's arguments, so
// that looking up an existing series neither sorts nor allocates.
//
// Metric attribute values are scalars and strings; null values, arrays and objects are dropped
// (counted). Unsigned values beyond int64 become decimal strings, as on spans.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "logfire/attributes.hpp"
#include "logfire/record.hpp"

namespace logfire::detail {

// A 64-bit hash of bytes (short keys and values: a few multiplies).
std::uint64_t hash_bytes(const char* p, std::size_t n) noexcept;

// An owned, canonical attribute set. `view()` gives the attributes as exporters read them; the
// views point into this object's own storage and stay valid while it lives (moves included).
class attribute_set {
 public:
  attribute_set() = default;
  attribute_set(const attribute_set& o) { *this = o; }
  attribute_set& operator=(const attribute_set& o);
  attribute_set(attribute_set&&) noexcept = default;
  attribute_set& operator=(attribute_set&&) noexcept = default;

  // Canonicalizes `args`; `dropped` counts values that metrics do not take.
  static attribute_set from_args(std::span<const arg> args, std::uint64_t& dropped);
  // A set from attributes already in wire form (any order, duplicates allowed: last wins).
  static attribute_set from_attributes(std::span<const attribute> attrs);

  [[nodiscard]] std::span<const attribute> view() const noexcept { return attrs_; }
  [[nodiscard]] std::size_t size() const noexcept { return attrs_.size(); }
  [[nodiscard]] std::uint64_t hash() const noexcept { return hash_; }
  [[nodiscard]] bool operator==(const attribute_set& o) const noexcept;

 private:
  void finish();  // sorts, removes duplicate keys, rebases views into strings_, hashes

  std::vector<attribute> attrs_;
  std::vector<std::string> strings_;  // owned keys and string values (views point here)
  std::uint64_t hash_ = 0;
};

// {otel.metric.overflow = true}: the set of the point that aggregates what the cardinality limit
// kept apart from its own series.
const attribute_set& overflow_attributes();

// The hash attribute_set gives the same set, computed from the caller's arguments without
// allocating. Returns false when the arguments need canonicalizing first (a value that is not a
// plain scalar or string, or more than 32 of them); duplicate keys give a different hash, which
// simply sends the lookup to the canonicalizing path.
bool hash_args(std::span<const arg> args, std::uint64_t& hash) noexcept;

// Whether no key repeats among the arguments.
bool keys_distinct(std::span<const arg> args) noexcept;

// Whether the caller's arguments name exactly this set (keys distinct, same values). Only for
// arguments hash_args() accepted.
bool args_equal(std::span<const arg> args, const attribute_set& set) noexcept;

}  // namespace logfire::detail
