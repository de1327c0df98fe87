// The message of a google.rpc.Status answer (OTLP/HTTP's error body for protobuf requests),
// decoded without libprotobuf so a 401 reads as text instead of raw bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace logfire::detail {

// "code 16: invalid token" when `body` is a google.rpc.Status (field 1: int32 code, field 2:
// string message, field 3: repeated Any details, skipped). The body may be cut short (the
// transport keeps its first bytes): a message cut at the end is returned as far as it goes,
// followed by "...". Returns nullopt for anything that does not parse as a Status with a
// printable message, so the caller falls back to showing the bytes as text.
std::optional<std::string> decode_rpc_status(std::string_view body);

}  // namespace logfire::detail
