#include "json_scan.hpp"

#include "backend/json.hpp"

namespace logfire::backend::otlp::json_scan {

std::size_t skip_ws(std::string_view text, std::size_t pos) {
  while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n' || text[pos] == '\r')) {
    ++pos;
  }
  return pos;
}

std::string_view trim(std::string_view v) {
  std::size_t b = skip_ws(v, 0);
  std::size_t e = v.size();
  while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t' || v[e - 1] == '\n' || v[e - 1] == '\r')) --e;
  return v.substr(b, e - b);
}

namespace {

// Position after the string literal at text[pos], or npos. Escapes are checked for shape only;
// the item parser validates contents.
std::size_t skip_string(std::string_view text, std::size_t pos) {
  if (pos >= text.size() || text[pos] != '"') return std::string_view::npos;
  for (std::size_t i = pos + 1; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '"') return i + 1;
    if (c < 0x20) return std::string_view::npos;
    if (c == '\\') {
      if (++i >= text.size()) return std::string_view::npos;
    }
  }
  return std::string_view::npos;
}

// Position after `"name" :` and the spaces that follow (an object member's name), or npos.
std::size_t skip_member_name(std::string_view text, std::size_t pos) {
  std::size_t i = skip_string(text, pos);
  if (i == std::string_view::npos) return i;
  i = skip_ws(text, i);
  if (i >= text.size() || text[i] != ':') return std::string_view::npos;
  return skip_ws(text, i + 1);
}

// Position after the string, literal or number at text[pos], or npos.
std::size_t skip_scalar(std::string_view text, std::size_t pos) {
  char c = text[pos];
  if (c == '"') return skip_string(text, pos);
  if (c == 't' || c == 'f' || c == 'n') {
    std::string_view word = c == 't' ? "true" : c == 'f' ? "false" : "null";
    return text.substr(pos, word.size()) == word ? pos + word.size() : std::string_view::npos;
  }
  std::size_t i = pos;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '-' || text[i] == '+' || text[i] == '.' ||
                             text[i] == 'e' || text[i] == 'E')) {
    ++i;
  }
  return i == pos || (c != '-' && (c < '0' || c > '9')) ? std::string_view::npos : i;
}

}  // namespace

std::size_t read_key(std::string_view text, std::size_t pos, std::string& key) {
  std::size_t end = skip_string(text, pos);
  if (end == std::string_view::npos) return end;
  std::string_view raw = text.substr(pos + 1, end - pos - 2);
  if (raw.find('\\') == std::string_view::npos) {
    key.assign(raw);
  } else {
    auto v = json::parse(text.substr(pos, end - pos), 1);
    if (!v) return std::string_view::npos;
    key = std::move(v->text);
  }
  return end;
}

std::size_t skip_value(std::string_view text, std::size_t pos, int base_depth, int max_depth, int& deepest,
                       bool& too_deep) {
  // Iterative, so hostile nesting cannot exhaust the stack, and therefore one loop rather than a
  // function per grammar rule; `kinds` holds the open containers ('o' object, 'a' array) so that
  // each closing bracket must match the one it closes.
  std::string kinds;
  std::size_t i = skip_ws(text, pos);
  bool expect_value = true;
  while (i < text.size()) {
    char c = text[i];
    if (expect_value) {
      if (c == '{' || c == '[') {
        kinds.push_back(c == '{' ? 'o' : 'a');
        int depth = base_depth + static_cast<int>(kinds.size()) - 1;
        if (depth > deepest) deepest = depth;
        if (depth > max_depth) {
          too_deep = true;
          return std::string_view::npos;
        }
        i = skip_ws(text, i + 1);
        if (i < text.size() && text[i] == (c == '{' ? '}' : ']')) {
          kinds.pop_back();
          ++i;
          expect_value = false;
        } else if (c == '{') {
          i = skip_member_name(text, i);  // then its value
          if (i == std::string_view::npos) return i;
        }
        if (!expect_value && kinds.empty()) return i;
        continue;
      }
      i = skip_scalar(text, i);
      if (i == std::string_view::npos) return i;
      expect_value = false;
      if (kinds.empty()) return i;
      continue;
    }
    // After a value inside a container: ',' or the container's end.
    i = skip_ws(text, i);
    if (i >= text.size()) return std::string_view::npos;
    c = text[i];
    if (c == ',') {
      i = skip_ws(text, i + 1);
      if (kinds.back() == 'o') {
        i = skip_member_name(text, i);
        if (i == std::string_view::npos) return i;
      }
      expect_value = true;
      continue;
    }
    if ((c == '}' && kinds.back() == 'o') || (c == ']' && kinds.back() == 'a')) {
      kinds.pop_back();
      ++i;
      if (kinds.empty()) return i;
      continue;
    }
    return std::string_view::npos;
  }
  return std::string_view::npos;
}

}  // namespace logfire::backend::otlp::json_scan
