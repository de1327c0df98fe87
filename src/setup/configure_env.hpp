// Option resolution for configure(): code > environment > default. The environment is read
// through a lookup function so tests can supply their own.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "logfire/config.hpp"
#include "resource/detect.hpp"
#include "resource/resource.hpp"

namespace logfire::detail {

// env_lookup and process_environment() come from resource/detect.hpp: a variable's value, or
// nullopt when unset or empty (an empty variable counts as unset).

// Fills every unset option from the environment. Returns "" or an error naming the variable
// and the value ("LOGFIRE_TRACE_SAMPLE_RATE is not a number: 'abc'").
std::string resolve_options(options& o, const env_lookup& env);

// service.*, telemetry.sdk.*, process.pid, host.name, os.type, the platform's attributes and
// the user's attributes. service.name: code > LOGFIRE_SERVICE_NAME/OTEL_SERVICE_NAME >
// a service.name resource attribute > "unknown_service".
resource build_resource(const options& o, const env_lookup& env, platform plat);

// The exporters implied by tokens and OTLP endpoints (Logfire and any OTLP backend). Sets
// `error` for invalid settings; adds one-line notices to `notices`.
std::vector<std::shared_ptr<exporter>> make_destination_exporters(const options& o, const resource& res,
                                                                  const env_lookup& env, std::string& error,
                                                                  std::vector<std::string>& notices);

}  // namespace logfire::detail
