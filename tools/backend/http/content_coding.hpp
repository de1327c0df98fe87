// Content codings of request bodies (RFC 9110 8.4): gzip and deflate, decompressed with a bound
// on the output checked as it grows, so a small body that inflates to gigabytes (a "gzip bomb")
// stops at the limit, and with the output's memory taken from the shared budget.
//
//   std::string plain;
//   auto r = inflate_body(body, "gzip", 64 << 20, plain, reservation);
//   if (r == inflate_result::too_large) reply_413();
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "memory_budget.hpp"

namespace logfire::backend::http {

enum class inflate_result : std::uint8_t { ok, too_large, corrupt, no_memory };

// Whether `encoding` (a Content-Encoding value, case-insensitive) is one inflate_body() reads:
// gzip, x-gzip, deflate. Identity and empty are not codings.
[[nodiscard]] bool is_compressed(std::string_view encoding);

// Decompresses `in` into `out` (replacing its contents). Fails with too_large past `max_out`
// bytes, corrupt for data that is not the coding (or has trailing garbage), no_memory when
// `memory` cannot grow for the output. "deflate" accepts the zlib format (RFC 9110) and, as
// senders often use it by mistake, raw deflate.
inflate_result inflate_body(std::string_view in, std::string_view encoding, std::size_t max_out, std::string& out,
                            memory_budget::reservation& memory);

}  // namespace logfire::backend::http
