#include "json.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "text/utf8.hpp"

namespace logfire::backend::json {
namespace {

// The library's one UTF-8 policy (src/text/utf8.hpp): at s[i], the length of a well-formed
// sequence (1 for ASCII), or minus the length of the maximal invalid subpart that one U+FFFD
// replaces.
int utf8_at(std::string_view s, std::size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data() + i);
  return *p < 0x80 ? 1 : logfire::detail::utf8_sequence(p, s.size() - i);
}

class parser {
 public:
  parser(std::string_view text, int max_depth) : s_(text), max_depth_(max_depth) {}

  // `out` may be null: then the document is only checked.
  bool document(value* out) {
    skip_ws();
    if (!parse_value(out, 0)) return false;
    skip_ws();
    return pos_ == s_.size();
  }

 private:
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }

  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  bool parse_value(value* out, int depth) {
    if (depth > max_depth_ || pos_ >= s_.size()) return false;
    char c = s_[pos_];
    if (c == '{') return parse_object(out, depth + 1);
    if (c == '[') return parse_array(out, depth + 1);
    if (c == '"') {
      std::string text;
      if (!parse_string(out ? &text : nullptr)) return false;
      if (out) {
        out->kind = value::type::string;
        out->text = std::move(text);
      }
      return true;
    }
    if (c == 't' || c == 'f') {
      bool is_true = c == 't';
      if (!literal(is_true ? "true" : "false")) return false;
      if (out) {
        out->kind = value::type::boolean;
        out->b = is_true;
      }
      return true;
    }
    if (c == 'n') {
      if (!literal("null")) return false;
      if (out) out->kind = value::type::null;
      return true;
    }
    return parse_number(out);
  }

  bool parse_number(value* out) {
    std::size_t start = pos_;
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    if (pos_ >= s_.size()) return false;
    if (s_[pos_] == '0') {
      ++pos_;
    } else if (s_[pos_] >= '1' && s_[pos_] <= '9') {
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    } else {
      return false;
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      std::size_t digits = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      if (pos_ == digits) return false;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      std::size_t digits = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      if (pos_ == digits) return false;
    }
    if (out) {
      out->kind = value::type::number;
      out->text.assign(s_.substr(start, pos_ - start));
      out->number = std::strtod(out->text.c_str(), nullptr);
    }
    return true;
  }

  static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool parse_hex4(unsigned& cp) {
    if (pos_ + 4 > s_.size()) return false;
    cp = 0;
    for (int k = 0; k < 4; ++k) {
      int d = hex_digit(s_[pos_++]);
      if (d < 0) return false;
      cp = cp * 16 + static_cast<unsigned>(d);
    }
    return true;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // The character a one-letter escape stands for (\n, \t, \", ...); 0 when it is none.
  static char simple_escape(char e) {
    static constexpr std::string_view from = "\"\\/bfnrt", to = "\"\\/\b\f\n\r\t";
    std::size_t k = from.find(e);
    return k == std::string_view::npos ? 0 : to[k];
  }

  // After "\u": the code point of the escape, or of the surrogate pair it starts; a lone
  // surrogate becomes U+FFFD.
  bool parse_unicode_escape(unsigned& cp) {
    if (!parse_hex4(cp)) return false;
    if (cp >= 0xD800 && cp <= 0xDBFF && s_.substr(pos_, 2) == "\\u") {
      std::size_t save = pos_;
      pos_ += 2;
      unsigned low = 0;
      if (parse_hex4(low) && low >= 0xDC00 && low <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
      } else {
        pos_ = save;
      }
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
    return true;
  }

  bool parse_string(std::string* out) {
    ++pos_;  // opening quote
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c == '\\') {
        if (++pos_ >= s_.size()) return false;
        char e = s_[pos_++];
        if (e == 'u') {
          unsigned cp = 0;
          if (!parse_unicode_escape(cp)) return false;
          if (out) append_utf8(*out, cp);
        } else if (char plain = simple_escape(e); plain != 0) {
          if (out) *out += plain;
        } else {
          return false;
        }
        continue;
      }
      const int n = utf8_at(s_, pos_);
      if (n < 0) return false;
      if (out) out->append(s_.substr(pos_, static_cast<std::size_t>(n)));
      pos_ += static_cast<std::size_t>(n);
    }
    return false;
  }

  bool parse_array(value* out, int depth) {
    ++pos_;
    if (out) out->kind = value::type::array;
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      return true;
    }
    while (true) {
      skip_ws();
      value item;
      if (!parse_value(out ? &item : nullptr, depth)) return false;
      if (out) out->items.push_back(std::move(item));
      skip_ws();
      if (pos_ >= s_.size()) return false;
      if (s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (s_[pos_] == ']') {
        ++pos_;
        return true;
      }
      return false;
    }
  }

  bool parse_object(value* out, int depth) {
    ++pos_;
    if (out) out->kind = value::type::object;
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      return true;
    }
    while (true) {
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != '"') return false;
      std::string key;
      if (!parse_string(out ? &key : nullptr)) return false;
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != ':') return false;
      ++pos_;
      skip_ws();
      value member;
      if (!parse_value(out ? &member : nullptr, depth)) return false;
      if (out) out->members.push_back({std::move(key), std::move(member)});
      skip_ws();
      if (pos_ >= s_.size()) return false;
      if (s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (s_[pos_] == '}') {
        ++pos_;
        return true;
      }
      return false;
    }
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  int max_depth_;
};

}  // namespace

namespace {

// A valid sequence of `n` bytes at s[i] that is written as \uXXXX although JSON allows it raw:
// C1 controls (U+0080-U+009F) and bidirectional formatting characters. Raw, they reach whatever
// shows the JSON (a terminal acts on C1 CSI; bidi overrides make text read other than it is).
// Returns the code point, or 0 when the sequence is written as is.
unsigned escaped_code_point(std::string_view s, std::size_t i, std::size_t n) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  if (n == 2) {
    unsigned cp = ((b(0) & 0x1Fu) << 6) | (b(1) & 0x3Fu);
    return (cp >= 0x80 && cp <= 0x9F) || cp == 0x61C ? cp : 0;
  }
  if (n == 3 && b(0) == 0xE2) {
    unsigned cp = ((b(0) & 0x0Fu) << 12) | ((b(1) & 0x3Fu) << 6) | (b(2) & 0x3Fu);
    bool bidi = cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
    return bidi ? cp : 0;
  }
  return 0;
}

}  // namespace

// On the decoding hot path (every attribute of every span): runs without escapes are copied in
// one append, which is why the escaping is written out here rather than split up.
void append_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  std::size_t i = 0;
  while (i < s.size()) {
    // Copy the longest run that needs no escaping in one append (the common case: all of it).
    std::size_t run = i;
    while (run < s.size()) {
      auto c = static_cast<unsigned char>(s[run]);
      if (c < 0x20 || c == '"' || c == '\\' || c == 0x7F) break;
      if (c < 0x80) {
        ++run;
        continue;
      }
      const int n = utf8_at(s, run);
      if (n < 0 || escaped_code_point(s, run, static_cast<std::size_t>(n)) != 0) break;
      run += static_cast<std::size_t>(n);
    }
    out.append(s.data() + i, run - i);
    i = run;
    if (i >= s.size()) break;
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const int n = utf8_at(s, i);
      if (n < 0) {
        out += logfire::detail::k_replacement_character;  // for the maximal invalid subpart
        i += static_cast<std::size_t>(-n);
      } else {
        unsigned cp = escaped_code_point(s, i, static_cast<std::size_t>(n));
        out += "\\u";
        for (int shift = 12; shift >= 0; shift -= 4) out += hex[(cp >> shift) & 0xF];
        i += static_cast<std::size_t>(n);
      }
      continue;
    }
    ++i;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 0xF];
    }
  }
  out += '"';
}

void append_double(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "\"NaN\"";
    return;
  }
  if (std::isinf(d)) {
    out += d > 0 ? "\"Infinity\"" : "\"-Infinity\"";
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);  // shortest round-trip form
  if (ec != std::errc{}) {
    out += "null";
    return;
  }
  out.append(buf, end);
}

void append_int(std::string& out, std::int64_t i) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, i);
  (void)ec;
  out.append(buf, end);
}

void append_uint(std::string& out, std::uint64_t u) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, u);
  (void)ec;
  out.append(buf, end);
}

const value* value::find(std::string_view key) const {
  for (const auto& [k, v] : members) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::optional<value> parse(std::string_view text, int max_depth) {
  value v;
  parser p(text, max_depth);
  if (!p.document(&v)) return std::nullopt;
  return v;
}

bool is_valid(std::string_view text, int max_depth) {
  parser p(text, max_depth);
  return p.document(nullptr);
}

}  // namespace logfire::backend::json
