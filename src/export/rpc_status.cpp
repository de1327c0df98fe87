// Minimal protobuf reading of google.rpc.Status (see rpc_status.hpp). Bounded by the input:
// every length is checked against the bytes left before anything is read or copied.
#include "rpc_status.hpp"

#include <algorithm>
#include <cstdint>

namespace logfire::detail {
namespace {

bool read_varint(std::string_view& in, std::uint64_t& v) noexcept {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) return false;
    auto b = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

// Text a user can read on one line: no control bytes (UTF-8 continuation bytes are fine).
bool readable(std::string_view s) noexcept {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  return true;
}

}  // namespace

std::optional<std::string> decode_rpc_status(std::string_view body) {
  std::optional<std::uint64_t> code;
  std::optional<std::string> message;
  bool cut = false;
  while (!body.empty()) {
    std::uint64_t key = 0;
    if (!read_varint(body, key)) return std::nullopt;
    auto field = key >> 3;
    auto wire = key & 7;
    if (wire == 0) {
      std::uint64_t v = 0;
      if (!read_varint(body, v)) return std::nullopt;
      if (field == 1) code = v;
    } else if (wire == 2) {
      std::uint64_t len = 0;
      if (!read_varint(body, len)) return std::nullopt;
      if (field == 2) {
        if (len > body.size()) {  // the answer was cut short inside the message
          cut = true;
          len = body.size();
        }
        message.emplace(body.substr(0, static_cast<std::size_t>(len)));
      } else if (len > body.size()) {
        break;  // details cut short: the code and message are already read
      }
      body.remove_prefix(static_cast<std::size_t>(std::min<std::uint64_t>(len, body.size())));
    } else if (wire == 5 && body.size() >= 4) {
      body.remove_prefix(4);
    } else if (wire == 1 && body.size() >= 8) {
      body.remove_prefix(8);
    } else {
      return std::nullopt;
    }
    if (field != 1 && field != 2 && field != 3) return std::nullopt;  // not a Status
  }
  if (!message || message->empty() || !readable(*message)) return std::nullopt;
  std::string out;
  if (code) out = "code " + std::to_string(static_cast<std::int32_t>(*code)) + ": ";
  out += *message;
  if (cut) out += "...";
  return out;
}

}  // namespace logfire::detail
