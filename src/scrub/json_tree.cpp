#include "scrub/json_tree.hpp"

#include "text/json.hpp"

namespace logfire::detail {

// Recursive descent over Python's json grammar (json/scanner.py and json/decoder.py): whitespace
// is space, tab, CR and LF; numbers match -?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?; strings may not
// contain raw control characters; escapes are \" \\ \/ \b \f \n \r \t and \uXXXX.
class json_tree::parser {
 public:
  parser(json_tree& t, std::string_view doc, std::size_t max_depth) : t_(t), doc_(doc), max_depth_(max_depth) {}

  bool run() {
    skip_space();
    if (!value(0)) return false;
    skip_space();
    return i_ == doc_.size();
  }

 private:
  bool at(char c) const noexcept { return i_ < doc_.size() && doc_[i_] == c; }
  bool literal(std::string_view word) noexcept {
    if (doc_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }
  void skip_space() noexcept {
    while (i_ < doc_.size() && (doc_[i_] == ' ' || doc_[i_] == '\t' || doc_[i_] == '\n' || doc_[i_] == '\r')) ++i_;
  }
  static bool digit(char c) noexcept { return c >= '0' && c <= '9'; }

  std::size_t add(json_node::type kind, std::size_t begin) {
    json_node n;
    n.kind = kind;
    n.raw = doc_.substr(begin, 0);
    t_.nodes_.push_back(n);
    return t_.nodes_.size() - 1;
  }
  void finish(std::size_t node, std::size_t begin) noexcept {
    t_.nodes_[node].raw = doc_.substr(begin, i_ - begin);
    t_.nodes_[node].size = static_cast<std::uint32_t>(t_.nodes_.size() - node);
  }

  bool value(std::size_t depth) {
    if (i_ >= doc_.size()) return false;
    const std::size_t begin = i_;
    const char c = doc_[i_];
    if (c == '"') return string();
    if (c == '{' || c == '[') {
      if (depth >= max_depth_) return false;
      const bool is_object = c == '{';
      const std::size_t node = add(is_object ? json_node::type::object : json_node::type::array, begin);
      ++i_;
      skip_space();
      const char close = is_object ? '}' : ']';
      std::uint32_t children = 0;
      if (at(close)) {
        ++i_;
      } else {
        for (;;) {
          if (is_object) {
            if (!at('"') || !string()) return false;
            skip_space();
            if (!at(':')) return false;
            ++i_;
            skip_space();
          }
          if (!value(depth + 1)) return false;
          ++children;
          skip_space();
          if (at(',')) {
            ++i_;
            skip_space();
            continue;
          }
          if (!at(close)) return false;
          ++i_;
          break;
        }
      }
      t_.nodes_[node].children = children;
      finish(node, begin);
      return true;
    }
    if (literal("null")) {
      finish(add(json_node::type::null, begin), begin);
      return true;
    }
    if (literal("true") || literal("false")) {
      const std::size_t node = add(json_node::type::boolean, begin);
      t_.nodes_[node].boolean = c == 't';
      finish(node, begin);
      return true;
    }
    if (literal("NaN") || literal("Infinity") || literal("-Infinity")) return number_node(begin);
    // -?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?
    if (at('-')) ++i_;
    if (at('0')) {
      ++i_;
    } else if (i_ < doc_.size() && digit(doc_[i_])) {
      while (i_ < doc_.size() && digit(doc_[i_])) ++i_;
    } else {
      return false;
    }
    if (at('.') && i_ + 1 < doc_.size() && digit(doc_[i_ + 1])) {
      i_ += 2;
      while (i_ < doc_.size() && digit(doc_[i_])) ++i_;
    }
    if (at('e') || at('E')) {
      std::size_t j = i_ + 1;
      if (j < doc_.size() && (doc_[j] == '+' || doc_[j] == '-')) ++j;
      if (j < doc_.size() && digit(doc_[j])) {
        while (j < doc_.size() && digit(doc_[j])) ++j;
        i_ = j;
      }
    }
    return number_node(begin);
  }

  bool number_node(std::size_t begin) {
    const std::size_t node = add(json_node::type::number, begin);
    t_.nodes_[node].text = doc_.substr(begin, i_ - begin);
    finish(node, begin);
    return true;
  }

  static int hex(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  bool hex4(std::size_t at, unsigned& out) const noexcept {
    if (at + 4 > doc_.size()) return false;
    out = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const int h = hex(doc_[at + k]);
      if (h < 0) return false;
      out = out * 16 + static_cast<unsigned>(h);
    }
    return true;
  }
  void put_code_point(unsigned cp) {
    std::string& d = t_.decoded_;
    if (cp < 0x80) {
      d += static_cast<char>(cp);
    } else if (cp < 0x800) {
      d += static_cast<char>(0xC0 | (cp >> 6));
      d += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      d += static_cast<char>(0xE0 | (cp >> 12));
      d += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      d += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      d += static_cast<char>(0xF0 | (cp >> 18));
      d += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      d += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      d += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool string() {
    const std::size_t begin = i_;
    ++i_;  // the opening quote
    const std::size_t content = i_;
    bool escaped = false;
    while (i_ < doc_.size() && doc_[i_] != '"') {
      const auto c = static_cast<unsigned char>(doc_[i_]);
      if (c < 0x20) return false;
      if (c == '\\') {
        escaped = true;
        i_ += 2;
      } else {
        ++i_;
      }
    }
    if (i_ >= doc_.size()) return false;
    const std::string_view body = doc_.substr(content, i_ - content);
    ++i_;  // the closing quote
    const std::size_t node = add(json_node::type::string, begin);
    if (!escaped) {
      t_.nodes_[node].text = body;
    } else {
      // Decoded text is never longer than its source, and decoded_ holds at least the whole
      // document, so earlier views into it stay valid.
      std::string& d = t_.decoded_;
      const std::size_t from = d.size();
      for (std::size_t k = 0; k < body.size();) {
        if (body[k] != '\\') {
          d += body[k++];
          continue;
        }
        if (k + 1 >= body.size()) return false;
        const char e = body[k + 1];
        k += 2;
        switch (e) {
          case '"':
          case '\\':
          case '/':
            d += e;
            break;
          case 'b':
            d += '\b';
            break;
          case 'f':
            d += '\f';
            break;
          case 'n':
            d += '\n';
            break;
          case 'r':
            d += '\r';
            break;
          case 't':
            d += '\t';
            break;
          case 'u': {
            unsigned cp = 0;
            if (!hex4(content + k, cp)) return false;
            k += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              unsigned low = 0;
              if (k + 6 <= body.size() && body[k] == '\\' && body[k + 1] == 'u' && hex4(content + k + 2, low) &&
                  low >= 0xDC00 && low <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                k += 6;
              } else {
                cp = 0xFFFD;
              }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
              cp = 0xFFFD;
            }
            put_code_point(cp);
            break;
          }
          default:
            return false;
        }
      }
      t_.nodes_[node].text = std::string_view(d).substr(from);
    }
    finish(node, begin);
    return true;
  }

  json_tree& t_;
  std::string_view doc_;
  std::size_t max_depth_;
  std::size_t i_ = 0;
};

bool json_tree::parse(std::string_view doc, std::size_t max_depth) {
  nodes_.clear();
  decoded_.clear();
  decoded_.reserve(doc.size());
  return parser(*this, doc, max_depth).run();
}

void json_tree::write(std::string& out) const {
  if (!nodes_.empty()) write_node(0, out);
}

void json_tree::write_node(std::size_t i, std::string& out) const {
  const json_node& n = nodes_[i];
  if (n.change != json_node::edit::none) {
    const bool list = n.change == json_node::edit::list_of_string;
    if (list) out += '[';
    json_append_string(out, n.replacement);
    if (list) out += ']';
    return;
  }
  switch (n.kind) {
    case json_node::type::null:
      out += "null";
      return;
    case json_node::type::boolean:
      out += n.boolean ? "true" : "false";
      return;
    case json_node::type::number:
      out += n.text;
      return;
    case json_node::type::string:
      json_append_string(out, n.text);
      return;
    case json_node::type::array:
    case json_node::type::object: {
      const bool object = n.kind == json_node::type::object;
      out += object ? '{' : '[';
      std::size_t child = i + 1;
      for (std::uint32_t k = 0; k < n.children; ++k) {
        if (k) out += ',';
        if (object) {
          json_append_string(out, nodes_[child].text);
          out += ':';
          child += 1;
        }
        write_node(child, out);
        child += nodes_[child].size;
      }
      out += object ? '}' : ']';
      return;
    }
  }
}

}  // namespace logfire::detail
