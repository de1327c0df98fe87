// Cloud platform detection from environment variables, and the resource attributes each
// platform implies (OpenTelemetry semantic conventions). Detection reads the environment only;
// the GCP metadata server (project, region, instance id) is asked separately, off the hot path,
// by gcp_metadata_lookup (gcp_metadata.hpp).
//
//   auto p = detect_platform(process_environment());
//   add_platform_attributes(p, process_environment(), res);
//   if (platform_injects_trace_headers(p)) { /* a remote "not sampled" flag is the platform's */ }
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "resource/resource.hpp"

namespace logfire::detail {

// An environment: returns the value of a variable, or nullopt when it is unset. Detection
// treats an empty value as unset.
using env_lookup = std::function<std::optional<std::string>(std::string_view name)>;

// The one boolean parser for every environment variable: 1/true/t/yes/y/on and
// 0/false/f/no/n/off, case-insensitive, spaces around ignored; nullopt for anything else.
[[nodiscard]] std::optional<bool> parse_bool_value(std::string_view text) noexcept;
// What parse_bool_value accepts, for error messages: "true/false, 1/0, yes/no or on/off".
inline constexpr std::string_view k_bool_values = "true/false, 1/0, yes/no or on/off";

// The real process environment (std::getenv). Safe to call from any thread as long as nobody
// calls setenv concurrently.
[[nodiscard]] env_lookup process_environment();

enum class platform : std::uint8_t {
  none,
  gcp_cloud_run,        // K_SERVICE (without FUNCTION_TARGET)
  gcp_cloud_run_job,    // CLOUD_RUN_JOB
  gcp_cloud_functions,  // FUNCTION_TARGET (+ K_SERVICE), or FUNCTION_NAME (1st gen)
  gcp_app_engine,       // GAE_SERVICE
  aws_lambda,           // AWS_LAMBDA_FUNCTION_NAME
  azure_functions,      // FUNCTIONS_EXTENSION_VERSION + WEBSITE_SITE_NAME
  azure_app_service,    // WEBSITE_SITE_NAME
  fly_io,               // FLY_APP_NAME
  heroku,               // DYNO
  kubernetes,           // KUBERNETES_SERVICE_HOST (checked last: the others may run on it)
};

// The platform this environment describes, most specific first.
[[nodiscard]] platform detect_platform(const env_lookup& env);

// The process's own platform, detected once from the process environment (thread-safe).
[[nodiscard]] platform detected_platform();

// "Google Cloud Run", "AWS Lambda", ... ("" for none): for diagnostics.
[[nodiscard]] std::string_view platform_display_name(platform p) noexcept;

// Whether the platform's front end puts its own trace headers (traceparent and
// X-Cloud-Trace-Context) on every request and samples them itself: Cloud Run services and
// jobs, Cloud Functions, App Engine. A remote "not sampled" flag there is the platform's
// decision, not the caller's.
[[nodiscard]] bool platform_injects_trace_headers(platform p) noexcept;
// The same for the process's own platform.
[[nodiscard]] bool platform_injects_trace_headers();

[[nodiscard]] bool is_gcp(platform p) noexcept;

// Sets the attributes the environment gives for `p`: cloud.provider, cloud.platform, faas.name,
// faas.version, faas.instance, cloud.region, cloud.account.id, k8s.*, fly.*, heroku.* (see
// docs/propagation.md for the table). Existing attributes with the same keys are replaced.
void add_platform_attributes(platform p, const env_lookup& env, resource& r);

}  // namespace logfire::detail
