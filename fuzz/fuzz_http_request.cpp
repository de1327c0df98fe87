// Fuzzes the HTTP/1.1 request framing of `logfire-cpp serve` (tools/backend/http/request_parser):
// the bytes a client sends, as the server receives them. The first input byte picks where the
// input is split into reads (the parser must not care); the rest is the connection's bytes.
// Properties beyond "no crash":
//   - feeding the head in pieces gives the same result as feeding it at once;
//   - a complete head is within its limits and has exactly one framing; a failed one says why;
//   - a chunked body decoded in pieces equals the body decoded at once, and never exceeds its
//     limit.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "backend/http/request_parser.hpp"

namespace {

using namespace logfire::backend::http;

#define CHECK(cond)                                           \
  do {                                                        \
    if (!(cond)) {                                            \
      std::fprintf(stderr, "property violated: %s\n", #cond); \
      std::abort();                                           \
    }                                                         \
  } while (false)

constexpr head_limits kLimits{.max_request_line = 512, .max_header_bytes = 2048, .max_header_count = 16};
constexpr std::uint64_t kMaxBody = 4096;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::size_t step = 1 + data[0] % 17;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  head_parser whole(kLimits);
  parse_state at_once = whole.feed(input);
  head_parser pieces(kLimits);
  std::string buffer;
  parse_state split = parse_state::incomplete;
  for (std::size_t i = 0; i < input.size() && split == parse_state::incomplete; i += step) {
    buffer.append(input.substr(i, step));
    split = pieces.feed(buffer);
  }
  CHECK(split == at_once);
  if (at_once == parse_state::failed) {
    CHECK(whole.error() == pieces.error());
    CHECK(whole.error() != refusal::bad_request || !whole.error_detail().empty());
    return 0;
  }
  if (at_once != parse_state::complete) return 0;
  CHECK(whole.consumed() == pieces.consumed());
  CHECK(whole.consumed() <= input.size());
  const request_head& h = whole.head();
  CHECK(h.headers.size() <= kLimits.max_header_count);
  CHECK(!h.method.empty() && !h.path.empty());
  CHECK(h.framing != body_framing::chunked || h.header("content-length") == nullptr);
  if (h.framing != body_framing::chunked) return 0;

  std::string_view body = input.substr(whole.consumed());
  chunked_decoder all(kMaxBody, kLimits);
  std::string out_all;
  std::size_t used_all = all.feed(body, out_all);
  chunked_decoder part(kMaxBody, kLimits);
  std::string out_part;
  std::size_t used_part = 0;
  for (std::size_t i = 0; i < body.size() && !part.done() && !part.failed(); i += step) {
    std::string_view piece = body.substr(i, step);
    std::size_t used = part.feed(piece, out_part);
    used_part += used;
    if (used < piece.size()) break;
  }
  CHECK(all.done() == part.done());
  CHECK(all.failed() == part.failed());
  if (all.done()) {
    CHECK(out_all == out_part);
    CHECK(used_all == used_part);
  }
  CHECK(out_all.size() <= kMaxBody && out_part.size() <= kMaxBody);
  CHECK(all.decoded() == out_all.size());
  return 0;
}
