#include "export/gzip.hpp"

#include <libdeflate.h>

#include <new>

namespace logfire::detail {
namespace {

// Frees a compressor on every way out.
struct compressor_ref {
  libdeflate_compressor* c;
  ~compressor_ref() { libdeflate_free_compressor(c); }
};

}  // namespace

bool gzip_compress(std::string_view in, std::string& out, int level) noexcept {
  out.clear();
  if (level < -1 || level > 9) return false;  // zlib's range (libdeflate goes on to 12)
  // A compressor holds its hash tables (a few hundred KiB at level 1); one per body, whose
  // compression costs far more than the allocation.
  const compressor_ref c{libdeflate_alloc_compressor(level == -1 ? 6 : level)};
  if (c.c == nullptr) return false;
  try {
    // The bound covers the whole output, gzip header and trailer included.
    out.resize(libdeflate_gzip_compress_bound(c.c, in.size()));
  } catch (const std::bad_alloc&) {
    out.clear();
    return false;
  }
  const std::size_t n = libdeflate_gzip_compress(c.c, in.data(), in.size(), out.data(), out.size());
  out.resize(n);  // 0 (cannot happen within the bound): empty, and false
  return n != 0;
}

}  // namespace logfire::detail
