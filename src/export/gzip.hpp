// gzip (RFC 1952) compression of request bodies with libdeflate, for `Content-Encoding: gzip`.
// Runs where a body is encoded: the pipeline's background thread (spans), the metrics reader's
// thread, and a sender thread splitting a body after a 413. libdeflate compresses a whole
// buffer in one call; at level 1 it took about 60 % of zlib's CPU, for a body about 5 % smaller
// (docs/design/throughput.md, "gzip: libdeflate, on the background thread").
//
//   std::string body_gz;
//   if (logfire::detail::gzip_compress(body, body_gz, logfire::detail::k_default_gzip_level)) send(body_gz);
#pragma once

#include <string>
#include <string_view>

namespace logfire::detail {

// Level 1 (fastest): on OTLP bodies it keeps most of level 6's ratio for a fraction of the
// CPU, which matters most on the pipeline's background thread, which also drains every ring.
inline constexpr int k_default_gzip_level = 1;

// Replaces `out` with the gzip member holding `in` at `level` (0..9 as zlib's levels, or -1 for
// zlib's default, 6). `out`'s memory is reused. Returns false (and leaves `out` empty) when the
// compressor or the output cannot be allocated, or `level` is out of range.
[[nodiscard]] bool gzip_compress(std::string_view in, std::string& out, int level) noexcept;

}  // namespace logfire::detail
