// The OTLP span kind and status code, as the call site sets them (logfire::span_options::kind,
// logfire::span::set_status) and exporters read them (logfire/record.hpp).
#pragma once

#include <cstdint>

namespace logfire {

// OTLP wire values: UNSPECIFIED 0, INTERNAL 1, SERVER 2, CLIENT 3, PRODUCER 4, CONSUMER 5.
enum class span_kind : std::uint8_t {
  unspecified = 0,
  internal = 1,
  server = 2,
  client = 3,
  producer = 4,
  consumer = 5
};

// OTLP wire values: UNSET 0, OK 1, ERROR 2.
enum class status_code : std::uint8_t { unset = 0, ok = 1, error = 2 };

}  // namespace logfire
