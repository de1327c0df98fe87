#include "values.hpp"

#include <algorithm>

#include "backend/json.hpp"

namespace logfire::backend::otlp {

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    auto b = static_cast<unsigned char>(bytes[i]);
    out[2 * i] = digits[b >> 4];
    out[2 * i + 1] = digits[b & 0xF];
  }
  return out;
}

bool is_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); });
}

bool all_zero(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

bool valid_id(std::string_view bytes, std::size_t size) {
  return bytes.size() == size && !all_zero(bytes);
}

void append_base64(std::string& out, std::string_view bytes) {
  static constexpr char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
    out += table[v & 63];
  }
  std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    unsigned v = byte(i) << 16;
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8);
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
    out += '=';
  }
}

namespace {

void append_kvlist(std::string& out, const key_values& kvs, int depth) {
  out += '{';
  bool first = true;
  for (const auto& kv : kvs) {
    if (!first) out += ',';
    first = false;
    json::append_string(out, kv.key());
    out += ':';
    append_any(out, kv.value(), depth + 1);
  }
  out += '}';
}

}  // namespace

void append_any(std::string& out, const common::AnyValue& v, int depth) {
  if (depth > kMaxValueDepth) {
    out += "null";
    return;
  }
  switch (v.value_case()) {
    case common::AnyValue::kStringValue:
      json::append_string(out, v.string_value());
      break;
    case common::AnyValue::kBoolValue:
      out += v.bool_value() ? "true" : "false";
      break;
    case common::AnyValue::kIntValue:
      json::append_int(out, v.int_value());
      break;
    case common::AnyValue::kDoubleValue:
      json::append_double(out, v.double_value());
      break;
    case common::AnyValue::kArrayValue: {
      out += '[';
      bool first = true;
      for (const auto& item : v.array_value().values()) {
        if (!first) out += ',';
        first = false;
        append_any(out, item, depth + 1);
      }
      out += ']';
      break;
    }
    case common::AnyValue::kKvlistValue:
      append_kvlist(out, v.kvlist_value().values(), depth);
      break;
    case common::AnyValue::kBytesValue: {
      out += '"';
      append_base64(out, v.bytes_value());
      out += '"';
      break;
    }
    default:
      out += "null";
      break;
  }
}

int value_depth(const common::AnyValue& v, int limit) {
  if (limit < 0) return 1;
  switch (v.value_case()) {
    case common::AnyValue::kArrayValue: {
      int deepest = 0;
      for (const auto& item : v.array_value().values()) {
        deepest = std::max(deepest, value_depth(item, limit - 1));
        if (deepest >= limit) break;
      }
      return 1 + deepest;
    }
    case common::AnyValue::kKvlistValue:
      return 1 + value_depth(v.kvlist_value().values(), limit - 1);
    default:
      return 0;
  }
}

int value_depth(const key_values& kvs, int limit) {
  int deepest = 0;
  for (const auto& kv : kvs) {
    if (kv.value().value_case() != common::AnyValue::kArrayValue &&
        kv.value().value_case() != common::AnyValue::kKvlistValue) {
      continue;  // the common case: a scalar
    }
    deepest = std::max(deepest, value_depth(kv.value(), limit));
    if (deepest > limit) break;
  }
  return deepest;
}

std::string any_to_json(const common::AnyValue& v) {
  std::string out;
  append_any(out, v, 0);
  return out;
}

std::string any_to_text(const common::AnyValue& v) {
  if (v.value_case() == common::AnyValue::kStringValue) return v.string_value();
  return any_to_json(v);
}

std::optional<std::int64_t> any_to_int(const common::AnyValue& v) {
  switch (v.value_case()) {
    case common::AnyValue::kIntValue:
      return v.int_value();
    case common::AnyValue::kDoubleValue: {
      double d = v.double_value();
      if (d >= -9.2e18 && d <= 9.2e18) return static_cast<std::int64_t>(d);
      return std::nullopt;
    }
    case common::AnyValue::kStringValue: {
      const std::string& s = v.string_value();
      if (s.empty() || s.size() > 18) return std::nullopt;
      std::int64_t r = 0;
      bool neg = s[0] == '-';
      if (neg && s.size() == 1) return std::nullopt;
      for (std::size_t i = neg ? 1 : 0; i < s.size(); ++i) {
        if (s[i] < '0' || s[i] > '9') return std::nullopt;
        r = r * 10 + (s[i] - '0');
      }
      return neg ? -r : r;
    }
    default:
      return std::nullopt;
  }
}

const common::AnyValue* attribute_view::get(std::string_view key) const {
  const common::AnyValue* found = nullptr;
  for (const auto& kv : kvs_) {
    if (kv.key() == key) found = &kv.value();
  }
  return found;
}

std::optional<std::string> attribute_view::text(std::string_view key) const {
  const auto* v = get(key);
  if (v == nullptr || v->value_case() == common::AnyValue::VALUE_NOT_SET) return std::nullopt;
  return any_to_text(*v);
}

std::optional<std::int64_t> attribute_view::integer(std::string_view key) const {
  const auto* v = get(key);
  return v ? any_to_int(*v) : std::nullopt;
}

std::optional<std::string> attribute_view::first_text(std::initializer_list<std::string_view> keys) const {
  for (auto k : keys) {
    if (auto t = text(k)) return t;
  }
  return std::nullopt;
}

std::optional<std::int64_t> attribute_view::first_integer(std::initializer_list<std::string_view> keys) const {
  for (auto k : keys) {
    if (auto t = integer(k)) return t;
  }
  return std::nullopt;
}

std::vector<std::string> structured_properties(const attribute_view& attrs) {
  std::vector<std::string> names;
  const auto* schema_value = attrs.get("logfire.json_schema");
  if (schema_value == nullptr || schema_value->value_case() != common::AnyValue::kStringValue) return names;
  // Spans from one call site repeat one schema: remember the last one parsed on this thread.
  thread_local std::string last_schema;
  thread_local std::vector<std::string> last_names;
  const std::string& text = schema_value->string_value();
  if (text == last_schema) return last_names;
  auto schema = json::parse(text, 16);
  last_schema = text;
  last_names.clear();
  if (!schema) return names;
  const json::value* props = schema->find("properties");
  if (props == nullptr || props->kind != json::value::type::object) return names;
  for (const auto& [name, prop] : props->members) {
    const json::value* type = prop.find("type");
    if (type != nullptr && type->is_string() && (type->text == "object" || type->text == "array")) {
      names.push_back(name);
    }
  }
  last_names = names;
  return names;
}

std::string attributes_to_json(const key_values& kvs, const std::vector<std::string>& structured) {
  std::string out;
  out.reserve(static_cast<std::size_t>(kvs.size()) * 48 + 2);
  out += '{';
  bool first = true;
  for (const auto& kv : kvs) {
    if (!first) out += ',';
    first = false;
    json::append_string(out, kv.key());
    out += ':';
    const auto& v = kv.value();
    if (v.value_case() == common::AnyValue::kStringValue && !structured.empty() &&
        std::find(structured.begin(), structured.end(), kv.key()) != structured.end() &&
        json::is_valid(v.string_value())) {
      out += v.string_value();  // validated above: embedding it keeps the object valid JSON
    } else {
      append_any(out, v, 0);
    }
  }
  out += '}';
  return out;
}

std::string tags_json(const attribute_view& attrs) {
  const auto* v = attrs.get("logfire.tags");
  if (v == nullptr) return "[]";
  std::string out = "[";
  if (v->value_case() == common::AnyValue::kArrayValue) {
    bool first = true;
    for (const auto& item : v->array_value().values()) {
      if (!first) out += ',';
      first = false;
      json::append_string(out, any_to_text(item));
    }
  } else if (v->value_case() == common::AnyValue::kStringValue) {
    const std::string& s = v->string_value();
    auto parsed = json::parse(s, 4);
    if (parsed && parsed->kind == json::value::type::array) {
      bool first = true;
      for (const auto& item : parsed->items) {
        if (!first) out += ',';
        first = false;
        json::append_string(out, item.text);
      }
    } else if (!s.empty()) {
      json::append_string(out, s);
    }
  }
  out += ']';
  return out;
}

}  // namespace logfire::backend::otlp
