#include "request_parser.hpp"

#include <algorithm>

#include "backend/text.hpp"

namespace logfire::backend::http {
namespace {

using text::iequals;
using text::lower;
using text::printable;
using text::trim;

// RFC 9110 5.6.2: tchar.
bool is_tchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_tchar(static_cast<unsigned char>(c)); });
}

// A field value may hold HTAB, SP, visible ASCII and obs-text (RFC 9110 5.5); nothing else.
bool is_field_value(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7F);
  });
}

// Splits a comma-separated header value into trimmed, lowercased elements (empty ones kept, so
// "chunked," is not mistaken for "chunked").
std::vector<std::string> list_elements(std::string_view value) {
  std::vector<std::string> out;
  while (true) {
    auto comma = value.find(',');
    out.push_back(lower(trim(value.substr(0, comma))));
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return out;
}

constexpr std::size_t kMaxEmptyLinesBeforeRequest = 8;
constexpr std::size_t kMaxChunkSizeLine = 4096;

}  // namespace

int status_of(refusal r) {
  switch (r) {
    case refusal::bad_request:
      return 400;
    case refusal::request_line_too_long:
      return 414;
    case refusal::header_too_large:
    case refusal::too_many_headers:
      return 431;
    case refusal::body_too_large:
      return 413;
    case refusal::header_timeout:
    case refusal::body_timeout:
      return 408;
    case refusal::not_implemented:
      return 501;
    case refusal::version_not_supported:
      return 505;
    case refusal::expectation_failed:
      return 417;
    case refusal::too_many_connections:
    case refusal::shutting_down:
      return 503;
    case refusal::memory_exhausted:
      return 429;
  }
  return 400;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

const std::string* request_head::header(std::string_view lowercase_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lowercase_name) return &value;
  }
  return nullptr;
}

std::string request_head::header_or_empty(std::string_view lowercase_name) const {
  const std::string* v = header(lowercase_name);
  return v ? *v : std::string();
}

std::string_view request_head::query_param(std::string_view name, bool* found) const {
  std::string_view q = query;
  if (found) *found = false;
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      if (found) *found = true;
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return {};
}

void head_parser::reset() {
  head_ = request_head{};
  state_ = parse_state::incomplete;
  error_ = refusal::bad_request;
  detail_.clear();
  pos_ = scan_ = empty_lines_ = 0;
  have_request_line_ = started_ = false;
}

parse_state head_parser::fail(refusal r, std::string detail) {
  state_ = parse_state::failed;
  error_ = r;
  detail_ = std::move(detail);
  return state_;
}

parse_state head_parser::feed(std::string_view buffer) {
  // The limits are checked on a partial line as soon as it is certain to break them, and on a
  // complete line before its contents: so the answer does not depend on how the bytes were split
  // into reads.
  while (state_ == parse_state::incomplete) {
    auto nl = buffer.find('\n', scan_);
    if (nl == std::string_view::npos) {
      scan_ = buffer.size();
      std::size_t partial = buffer.size() - pos_;
      if (partial > 0 && !(partial == 1 && buffer[pos_] == '\r')) started_ = true;
      // One more byte may be the CR of the line's end.
      bool line_over =
          partial > limits_.max_request_line + 1 || (partial == limits_.max_request_line + 1 && buffer.back() != '\r');
      if (!have_request_line_ && line_over) return fail(refusal::request_line_too_long, "");
      if (have_request_line_ && buffer.size() > limits_.max_header_bytes + empty_lines_ * 2) {
        return fail(refusal::header_too_large, "");
      }
      return state_;
    }
    std::string_view text = buffer.substr(pos_, nl - pos_);
    pos_ = scan_ = nl + 1;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (!have_request_line_ && text.size() > limits_.max_request_line) {
      return fail(refusal::request_line_too_long, "");
    }
    // Header bytes are counted without the empty lines allowed before the request line.
    if (have_request_line_ && pos_ > limits_.max_header_bytes + empty_lines_ * 2) {
      return fail(refusal::header_too_large, "");
    }
    if (text.find('\r') != std::string_view::npos) {
      return fail(refusal::bad_request, "a bare CR (carriage return without line feed) in the request head");
    }
    line(text);
  }
  return state_;
}

parse_state head_parser::line(std::string_view text) {
  if (!have_request_line_) {
    if (text.empty()) {
      if (++empty_lines_ > kMaxEmptyLinesBeforeRequest) return fail(refusal::bad_request, "empty lines, no request");
      return state_;
    }
    started_ = true;
    if (text.size() > limits_.max_request_line) return fail(refusal::request_line_too_long, "");
    return request_line(text);
  }
  if (text.empty()) return finish();
  return header_line(text);
}

parse_state head_parser::request_line(std::string_view text) {
  have_request_line_ = true;
  auto sp1 = text.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : text.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || text.find(' ', sp2 + 1) != std::string_view::npos) {
    return fail(refusal::bad_request, "the request line is not `METHOD target HTTP/1.1`");
  }
  std::string_view method = text.substr(0, sp1);
  std::string_view target = text.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = text.substr(sp2 + 1);
  if (!is_token(method)) return fail(refusal::bad_request, "the method is not a token");
  if (target.empty() || !std::all_of(target.begin(), target.end(), [](char c) {
        return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7F;
      })) {
    return fail(refusal::bad_request, "the request target is empty or holds spaces, control or non-ASCII bytes");
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' || version[5] < '0' ||
      version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return fail(refusal::bad_request, "the request line does not end in an HTTP version such as HTTP/1.1");
  }
  if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) {
    return fail(refusal::version_not_supported, std::string(version));
  }
  head_.method = std::string(method);
  head_.target = std::string(target);
  head_.minor_version = version[7] - '0';
  if (target.find('#') != std::string_view::npos) {
    return fail(refusal::bad_request, "the request target holds a fragment ('#')");
  }
  std::string_view path_and_query = target;
  if (target.front() != '/') {
    if (target == "*" && method == "OPTIONS") {
      head_.path = "*";
      return state_;
    }
    // absolute-form (RFC 9112 3.2.2): servers must accept it; keep only the path and query.
    std::string scheme = lower(target.substr(0, std::min<std::size_t>(target.size(), 8)));
    std::size_t skip = scheme.rfind("http://", 0) == 0 ? 7 : scheme.rfind("https://", 0) == 0 ? 8 : 0;
    if (skip == 0) return fail(refusal::bad_request, "the request target is not a path (origin-form)");
    auto slash = target.find_first_of("/?", skip);
    path_and_query = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  auto q = path_and_query.find('?');
  head_.path = std::string(path_and_query.substr(0, q));
  if (head_.path.empty()) head_.path = "/";
  if (q != std::string_view::npos) head_.query = std::string(path_and_query.substr(q + 1));
  return state_;
}

parse_state head_parser::header_line(std::string_view text) {
  if (text.front() == ' ' || text.front() == '\t') {
    return fail(refusal::bad_request, "header folding (a line starting with whitespace) is not accepted");
  }
  auto colon = text.find(':');
  if (colon == std::string_view::npos) return fail(refusal::bad_request, "a header line without a colon");
  std::string_view name = text.substr(0, colon);
  if (!is_token(name)) {
    bool space = name.find_first_of(" \t") != std::string_view::npos;
    return fail(refusal::bad_request, space ? "whitespace between a header name and its colon"
                                            : "a header name that is empty or not a token");
  }
  std::string_view value = trim(text.substr(colon + 1));
  if (!is_field_value(value)) {
    return fail(refusal::bad_request, "control characters in the value of header '" + printable(name) + "'");
  }
  if (head_.headers.size() >= limits_.max_header_count) return fail(refusal::too_many_headers, "");
  head_.headers.emplace_back(lower(name), std::string(value));
  return state_;
}

// The head is complete: the rules that need all of it (Host, framing, connection, Expect), in
// one pass over the fields; long because each rule is a few lines of RFC 9112.
parse_state head_parser::finish() {
  std::size_t hosts = 0, lengths = 0;
  std::string length_value;
  std::vector<std::string> codings;
  bool close = false, keep_alive = false;
  for (const auto& [name, value] : head_.headers) {
    if (name == "host") {
      ++hosts;
    } else if (name == "content-length") {
      ++lengths;
      length_value = value;
    } else if (name == "transfer-encoding") {
      for (auto& c : list_elements(value)) codings.push_back(std::move(c));
    } else if (name == "connection") {
      for (const auto& token : list_elements(value)) {
        if (token == "close") close = true;
        if (token == "keep-alive") keep_alive = true;
      }
    } else if (name == "expect") {
      if (!iequals(value, "100-continue")) return fail(refusal::expectation_failed, printable(value));
      head_.expect_continue = head_.minor_version == 1;
    }
  }
  if (head_.minor_version == 1 && hosts == 0) return fail(refusal::bad_request, "an HTTP/1.1 request without Host");
  if (hosts > 1) return fail(refusal::bad_request, "more than one Host header");
  if (lengths > 1) return fail(refusal::bad_request, "more than one Content-Length header");
  if (lengths == 1 && !codings.empty()) {
    return fail(refusal::bad_request, "both Content-Length and Transfer-Encoding (ambiguous framing)");
  }
  if (!codings.empty()) {
    if (head_.minor_version == 0) return fail(refusal::bad_request, "Transfer-Encoding in an HTTP/1.0 request");
    for (const auto& c : codings) {
      if (c != "chunked" && !c.empty()) {
        return fail(refusal::not_implemented, "transfer coding '" + printable(c) + "' (only chunked is supported)");
      }
    }
    if (codings.size() != 1 || codings[0] != "chunked") {
      return fail(refusal::bad_request, "Transfer-Encoding must be exactly `chunked`");
    }
    head_.framing = body_framing::chunked;
  } else if (lengths == 1) {
    if (length_value.empty() ||
        !std::all_of(length_value.begin(), length_value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return fail(refusal::bad_request, "Content-Length '" + printable(length_value) + "' is not a number");
    }
    std::uint64_t n = 0;
    for (char c : length_value) {
      auto digit = static_cast<std::uint64_t>(c - '0');
      if (n > (UINT64_MAX - digit) / 10) {
        n = UINT64_MAX;  // larger than any limit: refused as too large by the caller
        break;
      }
      n = n * 10 + digit;
    }
    head_.content_length = n;
    head_.framing = n > 0 ? body_framing::length : body_framing::none;
  }
  head_.keep_alive = head_.minor_version == 1 ? !close : (keep_alive && !close);
  state_ = parse_state::complete;
  return state_;
}

std::size_t chunked_decoder::fail(refusal r, std::string detail, std::size_t consumed) {
  state_ = state::failed;
  error_ = r;
  detail_ = std::move(detail);
  return consumed;
}

bool chunked_decoder::size_line(std::string_view text) {
  std::size_t i = 0;
  std::uint64_t size = 0;
  bool overflow = false;
  while (i < text.size()) {
    char c = text[i];
    int digit = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
    if (digit < 0) break;
    if (size >> 60) overflow = true;
    size = (size << 4) | static_cast<std::uint64_t>(digit);
    ++i;
  }
  if (i == 0) {
    fail(refusal::bad_request, "a chunk size that is not hexadecimal", 0);
    return false;
  }
  // Only a chunk extension may follow: BWS ";" ... (RFC 9112 7.1.1), printable.
  std::string_view rest = text.substr(i);
  std::string_view ext = trim(rest);
  if (!rest.empty() && (ext.empty() || ext.front() != ';' || !is_field_value(ext))) {
    fail(refusal::bad_request, "a malformed chunk size line", 0);
    return false;
  }
  if (overflow || size > max_body_ - std::min(max_body_, decoded_)) {
    fail(refusal::body_too_large, "", 0);
    return false;
  }
  remaining_ = size;
  state_ = size == 0 ? state::trailer : state::data;
  return true;
}

// A state machine over the bytes (size line, data, CRLF, trailer): one switch, so that where a
// read ends never matters.
std::size_t chunked_decoder::feed(std::string_view in, std::string& out) {
  std::size_t i = 0;
  while (i < in.size()) {
    switch (state_) {
      case state::size_line:
      case state::trailer: {
        auto nl = in.find('\n', i);
        std::string_view piece = in.substr(i, nl == std::string_view::npos ? std::string_view::npos : nl - i);
        std::size_t bound = state_ == state::size_line ? kMaxChunkSizeLine : limits_.max_header_bytes;
        // Counted the same however the bytes were split into reads: the line's bytes, and its LF.
        if (state_ == state::trailer) trailer_bytes_ += piece.size() + (nl == std::string_view::npos ? 0 : 1);
        if (line_.size() + piece.size() > bound || trailer_bytes_ > limits_.max_header_bytes) {
          return state_ == state::trailer ? fail(refusal::header_too_large, "trailer fields", i)
                                          : fail(refusal::bad_request, "a chunk size line longer than 4096 bytes", i);
        }
        line_.append(piece);
        if (nl == std::string_view::npos) return in.size();
        i = nl + 1;
        if (line_.empty() || line_.back() != '\r') {
          return fail(refusal::bad_request, "a chunk line not ended by CRLF", i);
        }
        line_.pop_back();
        if (line_.find('\r') != std::string::npos) return fail(refusal::bad_request, "a bare CR in a chunk line", i);
        if (state_ == state::size_line) {
          if (!size_line(line_)) return i;
        } else if (line_.empty()) {
          state_ = state::done;
          line_.clear();
          return i;
        } else if (!is_field_value(line_) || line_.find(':') == std::string::npos) {
          return fail(refusal::bad_request, "a malformed trailer field", i);
        }
        line_.clear();
        break;
      }
      case state::data: {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - i));
        out.append(in.data() + i, n);
        i += n;
        remaining_ -= n;
        decoded_ += n;
        if (remaining_ == 0) state_ = state::data_cr;
        break;
      }
      case state::data_cr:
        if (in[i] != '\r') return fail(refusal::bad_request, "chunk data not followed by CRLF", i);
        ++i;
        state_ = state::data_lf;
        break;
      case state::data_lf:
        if (in[i] != '\n') return fail(refusal::bad_request, "chunk data not followed by CRLF", i);
        ++i;
        state_ = state::size_line;
        break;
      case state::done:
      case state::failed:
        return i;
    }
  }
  return i;
}

}  // namespace logfire::backend::http
