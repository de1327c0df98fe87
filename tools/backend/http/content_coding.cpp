#include "content_coding.hpp"

#include <zlib.h>

#include <algorithm>

#include "backend/text.hpp"

namespace logfire::backend::http {
namespace {

std::string lower_trimmed(std::string_view s) {
  return text::lower(text::trim(s));
}

class z_inflater {
 public:
  explicit z_inflater(int window_bits) { ok_ = inflateInit2(&zs_, window_bits) == Z_OK; }
  ~z_inflater() {
    if (ok_) inflateEnd(&zs_);
  }
  z_inflater(const z_inflater&) = delete;
  z_inflater& operator=(const z_inflater&) = delete;

  // Inflates all of `in`, allowing concatenated gzip members.
  inflate_result run(std::string_view in, std::size_t max_out, std::string& out, memory_budget::reservation& memory,
                     bool gzip) {
    if (!ok_) return inflate_result::no_memory;
    out.clear();
    std::size_t produced = 0;
    // Output grows geometrically; it may hold one byte over the limit, which is how "more than
    // the limit" is told apart from "exactly the limit".
    std::size_t cap_limit = max_out + 1;
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs_.avail_in = static_cast<uInt>(in.size());
    while (true) {
      if (produced == out.size()) {
        std::size_t next = std::min(cap_limit, std::max<std::size_t>(64 * 1024, out.size() * 2));
        if (next <= out.size()) return inflate_result::too_large;
        if (next > memory.bytes() && !memory.grow(next - memory.bytes())) return inflate_result::no_memory;
        out.resize(next);
      }
      zs_.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
      std::size_t room = std::min<std::size_t>(out.size() - produced, 1u << 30);
      zs_.avail_out = static_cast<uInt>(room);
      int rc = inflate(&zs_, Z_NO_FLUSH);
      produced += room - zs_.avail_out;
      if (produced > max_out) return inflate_result::too_large;
      if (rc == Z_STREAM_END) {
        if (zs_.avail_in == 0) break;
        // Another gzip member may follow (RFC 1952 2.2); anything else is garbage.
        if (!gzip || zs_.avail_in < 2 || zs_.next_in[0] != 0x1f || zs_.next_in[1] != 0x8b) {
          return inflate_result::corrupt;
        }
        if (inflateReset(&zs_) != Z_OK) return inflate_result::corrupt;
        continue;
      }
      if (rc == Z_BUF_ERROR && zs_.avail_out > 0) return inflate_result::corrupt;  // input ended early
      if (rc != Z_OK && rc != Z_BUF_ERROR)
        return rc == Z_MEM_ERROR ? inflate_result::no_memory : inflate_result::corrupt;
    }
    out.resize(produced);
    return inflate_result::ok;
  }

 private:
  z_stream zs_{};
  bool ok_ = false;
};

}  // namespace

bool is_compressed(std::string_view encoding) {
  std::string e = lower_trimmed(encoding);
  return e == "gzip" || e == "x-gzip" || e == "deflate";
}

inflate_result inflate_body(std::string_view in, std::string_view encoding, std::size_t max_out, std::string& out,
                            memory_budget::reservation& memory) {
  std::string e = lower_trimmed(encoding);
  if (in.size() > (1u << 31)) return inflate_result::too_large;
  if (e == "gzip" || e == "x-gzip") {
    z_inflater z(15 + 16);  // gzip wrapper only
    return z.run(in, max_out, out, memory, true);
  }
  inflate_result r;
  {
    z_inflater z(15);  // zlib wrapper
    r = z.run(in, max_out, out, memory, false);
  }
  if (r == inflate_result::corrupt) {
    z_inflater raw(-15);
    r = raw.run(in, max_out, out, memory, false);
  }
  return r;
}

}  // namespace logfire::backend::http
