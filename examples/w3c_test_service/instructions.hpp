// The W3C trace-context test harness's instructions: a JSON array of {"url": ..., "arguments": ...}.
// A small validating JSON reader (RFC 8259): `url` is decoded (escapes, \u surrogate pairs),
// `arguments` is kept as its exact JSON text, to be sent on verbatim as the next request's body.
//
//   auto parsed = w3c::parse_instructions(R"([{"url": "http://127.0.0.1:7777/cb", "arguments": [1]}])");
//   if (parsed.ok()) for (auto& i : parsed.items) post(i.url, i.arguments);
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace w3c {

struct instruction {
  std::string url;
  std::string arguments = "[]";  // JSON text; an empty array when the entry has none
};

struct parse_result {
  std::vector<instruction> items;
  std::string error;  // empty when the body was a valid instruction list
  [[nodiscard]] bool ok() const noexcept { return error.empty(); }
};

namespace detail {

class reader {
 public:
  explicit reader(std::string_view text) noexcept : s_(text) {}

  parse_result instructions() {
    parse_result out;
    skip_ws();
    if (!eat('[')) return fail(out, "expected a JSON array");
    skip_ws();
    if (!eat(']')) {
      for (;;) {
        instruction item;
        if (!read_instruction(item)) return fail(out, error_);
        out.items.push_back(std::move(item));
        skip_ws();
        if (eat(',')) continue;
        if (eat(']')) break;
        return fail(out, "expected ',' or ']' in the array");
      }
    }
    skip_ws();
    if (pos_ != s_.size()) return fail(out, "unexpected text after the array");
    return out;
  }

 private:
  static constexpr int k_max_depth = 128;

  parse_result& fail(parse_result& out, std::string why) {
    out.items.clear();
    out.error = std::move(why) + " (at byte " + std::to_string(pos_) + ")";
    return out;
  }
  bool error(const char* why) {
    if (error_.empty()) error_ = why;
    return false;
  }

  void skip_ws() noexcept {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool eat(char c) noexcept {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  [[nodiscard]] char peek() const noexcept { return pos_ < s_.size() ? s_[pos_] : '\0'; }

  bool read_instruction(instruction& item) {
    skip_ws();
    if (!eat('{')) return error("expected an object {\"url\", \"arguments\"}");
    bool has_url = false;
    skip_ws();
    if (!eat('}')) {
      for (;;) {
        skip_ws();
        std::string key;
        if (!read_string(&key)) return error("expected a member name");
        skip_ws();
        if (!eat(':')) return error("expected ':'");
        skip_ws();
        if (key == "url") {
          if (peek() != '"') return error("\"url\" must be a string");
          item.url.clear();
          if (!read_string(&item.url)) return false;
          has_url = true;
        } else if (key == "arguments") {
          const std::size_t start = pos_;
          if (!skip_value(0)) return false;
          item.arguments.assign(s_.substr(start, pos_ - start));
        } else if (!skip_value(0)) {
          return false;
        }
        skip_ws();
        if (eat(',')) continue;
        if (eat('}')) break;
        return error("expected ',' or '}' in an object");
      }
    }
    if (!has_url) return error("an entry has no \"url\"");
    return true;
  }

  bool skip_value(int depth) {
    if (depth > k_max_depth) return error("nested too deeply");
    switch (peek()) {
      case '"':
        return read_string(nullptr);
      case '{': {
        ++pos_;
        skip_ws();
        if (eat('}')) return true;
        for (;;) {
          skip_ws();
          if (!read_string(nullptr)) return error("expected a member name");
          skip_ws();
          if (!eat(':')) return error("expected ':'");
          skip_ws();
          if (!skip_value(depth + 1)) return false;
          skip_ws();
          if (eat(',')) continue;
          if (eat('}')) return true;
          return error("expected ',' or '}' in an object");
        }
      }
      case '[': {
        ++pos_;
        skip_ws();
        if (eat(']')) return true;
        for (;;) {
          skip_ws();
          if (!skip_value(depth + 1)) return false;
          skip_ws();
          if (eat(',')) continue;
          if (eat(']')) return true;
          return error("expected ',' or ']' in an array");
        }
      }
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }

  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return error("invalid literal");
    pos_ += word.size();
    return true;
  }

  bool digits() noexcept {
    const std::size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }

  // -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
  bool number() {
    eat('-');
    if (eat('0')) {
      // a leading zero stands alone
    } else if (peek() >= '1' && peek() <= '9') {
      digits();
    } else {
      return error("expected a value");
    }
    if (eat('.') && !digits()) return error("expected digits after '.'");
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (!eat('+')) eat('-');
      if (!digits()) return error("expected digits in the exponent");
    }
    return true;
  }

  static int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool hex4(std::uint32_t& out) {
    if (s_.size() - pos_ < 4) return error("short \\u escape");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const int v = hex_value(s_[pos_++]);
      if (v < 0) return error("invalid \\u escape");
      out = out * 16 + static_cast<std::uint32_t>(v);
    }
    return true;
  }

  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // Reads a string at pos_; decodes it into `out` unless null.
  bool read_string(std::string* out) {
    if (!eat('"')) return error("expected a string");
    while (pos_ < s_.size()) {
      const char c = s_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return error("control character in a string");
      if (c != '\\') {
        if (out) out->push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) break;
      const char e = s_[pos_++];
      char plain = 0;
      switch (e) {
        case '"':
          plain = '"';
          break;
        case '\\':
          plain = '\\';
          break;
        case '/':
          plain = '/';
          break;
        case 'b':
          plain = '\b';
          break;
        case 'f':
          plain = '\f';
          break;
        case 'n':
          plain = '\n';
          break;
        case 'r':
          plain = '\r';
          break;
        case 't':
          plain = '\t';
          break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF && s_.substr(pos_, 2) == "\\u") {
            const std::size_t save = pos_;
            pos_ += 2;
            std::uint32_t low = 0;
            if (!hex4(low)) return false;
            if (low >= 0xDC00 && low <= 0xDFFF)
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            else
              pos_ = save;  // not a pair: the high half stands alone
          }
          if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;  // a lone surrogate is no character
          if (out) append_utf8(*out, cp);
          continue;
        }
        default:
          return error("invalid escape in a string");
      }
      if (out) out->push_back(plain);
    }
    return error("unterminated string");
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::string error_;
};

}  // namespace detail

// Parses the harness's request body. On error, `items` is empty and `error` says where.
inline parse_result parse_instructions(std::string_view json) {
  return detail::reader(json).instructions();
}

}  // namespace w3c
