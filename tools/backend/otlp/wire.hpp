// Walking protobuf wire format without materializing messages: the outer layers of an OTLP
// export request (resource -> scope -> item) are stepped through field by field, so each span,
// log record or data point is parsed on its own and a 64 MiB request never becomes one
// multi-gigabyte message tree.
#pragma once

#include <cstdint>
#include <string_view>

namespace logfire::backend::otlp {

// The fields of one message, in wire order.
//   field_reader f(bytes);
//   while (f.next()) if (f.number() == 2 && f.is_bytes()) use(f.bytes());
//   if (!f.ok()) malformed();
class field_reader {
 public:
  explicit field_reader(std::string_view message) : p_(message.data()), end_(message.data() + message.size()) {}

  // Advances to the next field; false at the end or on malformed data (then ok() is false).
  bool next();
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] std::uint32_t number() const { return number_; }
  [[nodiscard]] bool is_bytes() const { return wire_type_ == 2; }  // length-delimited
  [[nodiscard]] bool is_varint() const { return wire_type_ == 0; }
  [[nodiscard]] std::string_view bytes() const { return bytes_; }  // is_bytes()
  [[nodiscard]] std::uint64_t varint() const { return varint_; }   // is_varint()
  [[nodiscard]] std::string_view raw() const { return raw_; }      // the whole field, tag included

 private:
  bool read_varint(std::uint64_t& v);
  const char* p_;
  const char* end_;
  bool ok_ = true;
  std::uint32_t number_ = 0;
  int wire_type_ = 0;
  std::string_view bytes_;
  std::uint64_t varint_ = 0;
  std::string_view raw_;
};

}  // namespace logfire::backend::otlp
