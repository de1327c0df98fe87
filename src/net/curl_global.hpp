// libcurl's process-wide initialisation, run exactly once for every user of libcurl in the
// library (the OTLP transport in export/, the GCP metadata client in resource/).
#pragma once

namespace logfire::detail {

// Calls curl_global_init(CURL_GLOBAL_DEFAULT) the first time, from whichever thread comes first
// (it is not thread-safe in every libcurl build, hence std::call_once); returns whether it
// succeeded. Never cleaned up: libcurl counts its users, and other users of libcurl in the
// process must not lose it when we stop.
[[nodiscard]] bool curl_global_init_once() noexcept;

}  // namespace logfire::detail
