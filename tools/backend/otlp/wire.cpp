#include "wire.hpp"

namespace logfire::backend::otlp {

bool field_reader::read_varint(std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p_ == end_) return false;
    auto b = static_cast<unsigned char>(*p_++);
    v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;  // more than 10 bytes
}

bool field_reader::next() {
  if (!ok_ || p_ == end_) return false;
  const char* start = p_;
  std::uint64_t tag = 0;
  if (!read_varint(tag) || (tag >> 3) == 0 || (tag >> 3) > 0x1FFFFFFF) {
    ok_ = false;
    return false;
  }
  number_ = static_cast<std::uint32_t>(tag >> 3);
  wire_type_ = static_cast<int>(tag & 7);
  switch (wire_type_) {
    case 0:
      if (!read_varint(varint_)) ok_ = false;
      break;
    case 1:
      if (end_ - p_ < 8) ok_ = false;
      p_ += ok_ ? 8 : 0;
      break;
    case 2: {
      std::uint64_t len = 0;
      if (!read_varint(len) || len > static_cast<std::uint64_t>(end_ - p_)) {
        ok_ = false;
        break;
      }
      bytes_ = std::string_view(p_, static_cast<std::size_t>(len));
      p_ += len;
      break;
    }
    case 5:
      if (end_ - p_ < 4) ok_ = false;
      p_ += ok_ ? 4 : 0;
      break;
    default:  // groups (3, 4) are not used by OTLP; 6 and 7 do not exist
      ok_ = false;
      break;
  }
  if (ok_) raw_ = std::string_view(start, static_cast<std::size_t>(p_ - start));
  return ok_;
}

}  // namespace logfire::backend::otlp
