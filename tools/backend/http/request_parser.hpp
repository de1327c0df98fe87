// HTTP/1.1 request framing for `logfire-cpp serve` (RFC 9112): an incremental parser of the request
// head (request line and header fields) and a decoder of chunked bodies, both with limits checked
// before anything is stored. Pure functions of their input, no I/O: the server feeds them bytes
// as they arrive, and the fuzzer (fuzz/fuzz_http_request.cpp) drives them directly.
//
// Framing is strict where a lenient reading lets two parsers disagree about where a request ends
// (request smuggling behind a proxy): a Content-Length that is not digits, two Content-Lengths,
// Content-Length together with Transfer-Encoding, a transfer coding other than `chunked`, header
// folding, a space before the colon, bare CR, control characters — each is a 400 with its reason.
//
//   head_parser p(limits);
//   std::size_t used = p.feed(bytes_so_far);   // call again with more bytes while incomplete
//   if (p.state() == parse_state::complete) use(p.head());
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace logfire::backend::http {

// Why the HTTP layer refuses a request (or a connection) by itself. The application words the
// answer (server.hpp's `refusal_reply`); the status is fixed by the kind.
enum class refusal : std::uint8_t {
  bad_request,            // 400: malformed request line, header field or framing (detail says which)
  request_line_too_long,  // 414: request line over max_request_line
  header_too_large,       // 431: request line + header fields over max_header_bytes
  too_many_headers,       // 431: more than max_header_count header fields
  body_too_large,         // 413: body (as sent) over the limit for its route
  header_timeout,         // 408: the head did not arrive within header_timeout
  body_timeout,           // 408: the body did not arrive within body_timeout
  not_implemented,        // 501: a transfer coding other than chunked
  version_not_supported,  // 505: not HTTP/1.0 or HTTP/1.1
  expectation_failed,     // 417: an Expect other than 100-continue
  too_many_connections,   // 503: max_connections open already
  memory_exhausted,       // 429: bodies in flight would exceed the memory budget
  shutting_down,          // 503: the server is stopping
};

[[nodiscard]] int status_of(refusal r);
[[nodiscard]] std::string_view reason_phrase(int status);

struct head_limits {
  std::size_t max_request_line = 8 * 1024;   // bytes of "METHOD target HTTP/1.1"
  std::size_t max_header_bytes = 64 * 1024;  // request line and every header line together
  std::size_t max_header_count = 100;
};

enum class body_framing : std::uint8_t { none, length, chunked };

struct request_head {
  std::string method;  // as sent (case-sensitive, RFC 9110)
  std::string target;  // as sent
  std::string path;    // origin-form path without the query (absolute-form reduced to its path)
  std::string query;   // after '?', without it
  int minor_version = 1;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercase, values trimmed
  body_framing framing = body_framing::none;
  std::uint64_t content_length = 0;  // framing == length
  bool keep_alive = true;
  bool expect_continue = false;

  // The first value of a header (name in lowercase), or null.
  [[nodiscard]] const std::string* header(std::string_view lowercase_name) const;
  [[nodiscard]] std::string header_or_empty(std::string_view lowercase_name) const;
  // A query parameter's raw value (no percent-decoding), or null.
  [[nodiscard]] std::string_view query_param(std::string_view name, bool* found = nullptr) const;
};

enum class parse_state : std::uint8_t { incomplete, complete, failed };

// Parses one request head from a buffer that only grows while the head is incomplete: feed()
// gets the whole buffer each time and resumes where it stopped, so a head sent a byte at a time
// costs linear work. Limits are checked on partial lines too, so an endless line is refused
// as soon as it passes its limit, not when it ends.
class head_parser {
 public:
  explicit head_parser(const head_limits& limits) : limits_(limits) {}

  // Returns the state; when complete, consumed() is the length of the head in `buffer`.
  parse_state feed(std::string_view buffer);
  [[nodiscard]] parse_state state() const { return state_; }
  [[nodiscard]] std::size_t consumed() const { return pos_; }
  [[nodiscard]] refusal error() const { return error_; }
  [[nodiscard]] const std::string& error_detail() const { return detail_; }
  [[nodiscard]] request_head& head() { return head_; }
  // Whether any byte of a request arrived (empty lines before a request do not count).
  [[nodiscard]] bool started() const { return started_; }
  void reset();

 private:
  parse_state fail(refusal r, std::string detail);
  parse_state line(std::string_view text);
  parse_state request_line(std::string_view text);
  parse_state header_line(std::string_view text);
  parse_state finish();

  head_limits limits_;
  request_head head_;
  parse_state state_ = parse_state::incomplete;
  refusal error_ = refusal::bad_request;
  std::string detail_;
  std::size_t pos_ = 0;          // bytes of the buffer already parsed (whole lines)
  std::size_t scan_ = 0;         // where to look for the next '\n'
  std::size_t empty_lines_ = 0;  // before the request line (RFC 9112 2.2 allows some)
  bool have_request_line_ = false;
  bool started_ = false;
};

// Decodes a chunked body (RFC 9112 7.1) incrementally. Chunk-size lines and trailers must end in
// CRLF; chunk extensions are skipped, trailer fields ignored; both are bounded.
class chunked_decoder {
 public:
  chunked_decoder(std::uint64_t max_body, const head_limits& limits) : max_body_(max_body), limits_(limits) {}

  // Consumes bytes of `in`, appending decoded data to `out`; returns how many were consumed.
  // Stops at the end of the body (done()) or at an error (failed()).
  std::size_t feed(std::string_view in, std::string& out);
  [[nodiscard]] bool done() const { return state_ == state::done; }
  [[nodiscard]] bool failed() const { return state_ == state::failed; }
  [[nodiscard]] refusal error() const { return error_; }
  [[nodiscard]] const std::string& error_detail() const { return detail_; }
  [[nodiscard]] std::uint64_t decoded() const { return decoded_; }

 private:
  enum class state : std::uint8_t { size_line, data, data_cr, data_lf, trailer, done, failed };
  bool size_line(std::string_view text);
  std::size_t fail(refusal r, std::string detail, std::size_t consumed);

  std::uint64_t max_body_;
  head_limits limits_;
  state state_ = state::size_line;
  std::string line_;  // the current size or trailer line (bounded)
  std::uint64_t remaining_ = 0;
  std::uint64_t decoded_ = 0;
  std::size_t trailer_bytes_ = 0;
  refusal error_ = refusal::bad_request;
  std::string detail_;
};

}  // namespace logfire::backend::http
