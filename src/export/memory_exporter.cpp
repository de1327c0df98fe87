#include "logfire/memory_exporter.hpp"

#include <algorithm>

#include "export/memory_copy.hpp"

namespace logfire {
namespace detail {

stored_value copy_value(const attribute_value& v) {
  stored_value out;
  switch (v.type) {
    case attribute_value::kind::empty:
      break;
    case attribute_value::kind::boolean:
      out.v = v.b;
      break;
    case attribute_value::kind::int64:
      out.v = v.i;
      break;
    case attribute_value::kind::float64:
      out.v = v.d;
      break;
    case attribute_value::kind::string:
      out.v = std::string(v.s);
      break;
    case attribute_value::kind::array: {
      std::vector<stored_value> items;
      items.reserve(v.items.size());
      for (const auto& item : v.items) items.push_back(copy_value(item));
      out.v = std::move(items);
      break;
    }
  }
  return out;
}

std::vector<std::pair<std::string, stored_value>> copy_attributes(std::span<const attribute> attrs) {
  std::vector<std::pair<std::string, stored_value>> out;
  out.reserve(attrs.size());
  for (const auto& a : attrs) out.emplace_back(std::string(a.key), copy_value(a.value));
  return out;
}

const stored_value* find_in(const std::vector<std::pair<std::string, stored_value>>& attrs, std::string_view key) {
  for (const auto& [k, v] : attrs)
    if (k == key) return &v;
  return nullptr;
}

}  // namespace detail

using detail::copy_attributes;
using detail::find_in;

const stored_value* stored_event::find(std::string_view key) const noexcept {
  return find_in(attributes, key);
}
const stored_value* stored_record::find(std::string_view key) const noexcept {
  return find_in(attributes, key);
}

std::string stored_record::string_attr(std::string_view key) const {
  const stored_value* v = find(key);
  const std::string* s = v ? v->string() : nullptr;
  return s ? *s : std::string();
}

void memory_exporter::export_batch(std::span<const span_record> records) noexcept {
  try {
    std::vector<stored_record> copies;
    copies.reserve(records.size());
    for (const span_record& r : records) {
      stored_record s;
      s.type = r.type;
      s.context = r.context;
      s.parent = r.parent;
      s.parent_is_remote = r.parent_is_remote;
      s.trace_state = r.trace_state;
      s.name = r.name;
      s.message = r.message;
      s.kind = r.kind;
      s.level = r.level;
      s.start_unix_nano = r.start_unix_nano;
      s.end_unix_nano = r.end_unix_nano;
      s.attributes = copy_attributes(r.attributes);
      for (const auto& e : r.events)
        s.events.push_back({std::string(e.name), e.time_unix_nano, copy_attributes(e.attributes)});
      for (const auto& l : r.links) s.links.push_back({l.context, copy_attributes(l.attributes)});
      s.status = r.status;
      s.status_message = r.status_message;
      s.depth = r.depth;
      s.otlp_flags = r.otlp_flags();
      s.dropped_attributes_count = r.dropped_attributes_count;
      copies.push_back(std::move(s));
    }
    std::size_t delivered = 0;
    {
      std::lock_guard lock(mutex_);
      // All or nothing: room first (growing geometrically), then moves that cannot fail.
      const std::size_t needed = records_.size() + copies.size();
      if (records_.capacity() < needed) records_.reserve(std::max(needed, 2 * records_.capacity()));
      for (auto& c : copies) {
        if (c.type != record_type::pending_span) ++delivered;
        records_.push_back(std::move(c));
      }
    }
    if (counter_) counter_->delivered(delivered);
  } catch (...) {
    std::size_t finished = 0;
    for (const span_record& r : records) finished += r.type == record_type::pending_span ? 0 : 1;
    if (counter_) counter_->dropped(drop_reason::export_failed, finished, "memory exporter: out of memory");
  }
}

std::vector<stored_record> memory_exporter::records() const {
  std::lock_guard lock(mutex_);
  return records_;
}

std::size_t memory_exporter::size() const {
  std::lock_guard lock(mutex_);
  return records_.size();
}

void memory_exporter::clear() {
  std::lock_guard lock(mutex_);
  records_.clear();
}

}  // namespace logfire
