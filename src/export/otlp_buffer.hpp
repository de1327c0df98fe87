// The output buffer of the OTLP encoders: a caller-owned std::string whose current size is
// treated as scratch capacity, so a buffer reused from batch to batch neither reallocates nor
// zero-fills memory once it has reached its working size. Writes go through raw pointers after
// one capacity check per group of fields. Runs on the exporter's thread.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>

namespace logfire::detail {

class wire_buffer {
 public:
  // Writing starts at `pos`; bytes of `buf` beyond it are overwritten freely.
  wire_buffer(std::string& buf, std::size_t pos) noexcept : buf_(buf), base_(buf.data()), pos_(pos), cap_(buf.size()) {}

  // Room for `n` more bytes; returns where to write them. Follow with commit().
  char* reserve(std::size_t n) {
    if (pos_ + n > cap_) [[unlikely]]
      grow(n);
    return base_ + pos_;
  }
  void commit(char* end) noexcept { pos_ = static_cast<std::size_t>(end - base_); }
  [[nodiscard]] std::size_t pos() const noexcept { return pos_; }
  void rewind(std::size_t pos) noexcept { pos_ = pos; }
  [[nodiscard]] char* at(std::size_t off) noexcept { return base_ + off; }

 private:
  [[gnu::noinline]] void grow(std::size_t n) {
    // resize() zero-fills the bytes it adds. Within the string's capacity (a buffer reused
    // from batch to batch) add a bounded step; beyond it, double.
    const std::size_t need = pos_ + n;
    const std::size_t step = std::max<std::size_t>(need - cap_, 64 * 1024);
    const std::size_t want = need <= buf_.capacity() ? std::min(buf_.capacity(), cap_ + step)
                                                     : std::max({cap_ * 2, need + 4096, cap_ + step});
    buf_.resize(want);
    base_ = buf_.data();
    cap_ = buf_.size();
  }

  std::string& buf_;
  char* base_;
  std::size_t pos_;
  std::size_t cap_;
};

}  // namespace logfire::detail
