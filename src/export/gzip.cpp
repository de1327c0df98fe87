#include "export/gzip.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <new>

namespace logfire::detail {

bool gzip_compress(std::string_view in, std::string& out, int level) noexcept {
  out.clear();
  z_stream zs{};
  // windowBits 15 + 16 = zlib deflate with a gzip header and trailer; memLevel 8 is zlib's default.
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
  bool ok = true;
  try {
    // deflateBound covers the whole output (gzip header and trailer included) for one call.
    out.resize(deflateBound(&zs, static_cast<uLong>(in.size())));
  } catch (const std::bad_alloc&) {
    ok = false;
  }
  if (ok) {
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    std::size_t in_left = in.size();
    std::size_t out_left = out.size();
    int rc = Z_OK;
    // zlib counts in 32-bit uInt: feed bodies beyond 4 GiB in pieces.
    while (rc == Z_OK) {
      const auto in_now = static_cast<uInt>(std::min<std::size_t>(in_left, UINT_MAX));
      const auto out_now = static_cast<uInt>(std::min<std::size_t>(out_left, UINT_MAX));
      zs.avail_in = in_now;
      zs.avail_out = out_now;
      rc = deflate(&zs, in_now == in_left ? Z_FINISH : Z_NO_FLUSH);
      in_left -= in_now - zs.avail_in;
      out_left -= out_now - zs.avail_out;
      if (rc == Z_BUF_ERROR) rc = Z_OK;                   // no progress possible this round: feed the next piece
      if (rc == Z_OK && out_left == 0) rc = Z_BUF_ERROR;  // cannot happen within deflateBound
    }
    ok = rc == Z_STREAM_END;
    out.resize(ok ? out.size() - out_left : 0);
  } else {
    out.clear();
  }
  deflateEnd(&zs);
  return ok;
}

}  // namespace logfire::detail
