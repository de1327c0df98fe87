// The OTLP destinations implied by the options and the environment: Logfire tokens (one
// destination each, in its region), the OTLP endpoint, their headers, timeouts, compression,
// queue sizes and spool folders, resolved into the plain otlp_exporter_config each exporter
// takes. The export layer never reads logfire::options or the environment; this file does.
//
//   std::vector<otlp_exporter_config> configs;
//   std::vector<std::string> notices;
//   if (auto err = resolve_destinations(opts, res, env, configs, notices); !err.empty()) return err;
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "export/otlp_exporter.hpp"
#include "logfire/config.hpp"
#include "logfire/exporter.hpp"
#include "logfire/metric_exporter.hpp"

namespace logfire::detail {

// The exporters implied by the options and environment: one per Logfire token (when sending to
// Logfire) and one for the OTLP endpoint (when set). Appends to `out`; one-line messages for
// the user (unknown token region, spool unavailable, "console only") go to `notices`.
// Returns an error naming the option or variable and its value, leaving `out` unchanged.
[[nodiscard]] std::string make_otlp_destinations(const options& opts, const resource& res, const env_lookup& env,
                                                 std::vector<std::shared_ptr<exporter>>& out,
                                                 std::vector<std::string>& notices);

// The resolved settings behind make_otlp_destinations (exposed for tests and tools). With
// otlp_signal::metrics: the metrics URL of each destination (each token's /v1/metrics; the OTLP
// endpoint's /v1/metrics, or OTEL_EXPORTER_OTLP_METRICS_ENDPOINT as-is) and the METRICS variants
// of the OTLP variables (headers, timeout, compression); bodies are always protobuf.
[[nodiscard]] std::string resolve_destinations(const options& opts, const resource& res, const env_lookup& env,
                                               std::vector<otlp_exporter_config>& out,
                                               std::vector<std::string>& notices,
                                               otlp_signal signal = otlp_signal::traces);

// The OTLP metric exporters implied by the options and environment (none when
// options.metrics.send_over_otlp is false). Appends to `out`; notices as above.
[[nodiscard]] std::string make_otlp_metric_destinations(const options& opts, const resource& res, const env_lookup& env,
                                                        std::vector<std::shared_ptr<metric_exporter>>& out,
                                                        std::vector<std::string>& notices);

// Whether to flush on SIGTERM/SIGINT and for how long: options.otlp.flush_on_signal /
// LOGFIRE_FLUSH_ON_SIGNAL (default off) and options.otlp.signal_grace /
// LOGFIRE_FLUSH_ON_SIGNAL_GRACE_MS (default 8 s). configure() passes them to
// install_signal_flush() (export/signal_flush.hpp). Returns an error naming the variable.
[[nodiscard]] std::string resolve_signal_flush(const options& opts, const env_lookup& env, bool& enabled,
                                               std::chrono::milliseconds& grace);

// Logfire's base URL for a token: its region's URL; legacy tokens go to the US region; an
// unknown region also goes to the US and sets `warning`.
[[nodiscard]] std::string logfire_base_url(std::string_view token, std::string* warning = nullptr);

// Parses OTEL_EXPORTER_OTLP_HEADERS ("k=v,k2=v2", percent-encoded, blanks trimmed). Returns an
// error naming the bad entry, empty on success.
[[nodiscard]] std::string parse_otlp_headers(std::string_view text, std::vector<http_header>& out);

// The default parent folder of the spools: $XDG_STATE_HOME/logfire-cpp/spool, else
// $HOME/.local/state/logfire-cpp/spool; empty when neither is set.
[[nodiscard]] std::string default_spool_root(const env_lookup& env);

// The folder of one destination's spool under `root`: "<service>-<16 hex of a hash of the URL
// and the credentials>", so that different projects never replay each other's data.
[[nodiscard]] std::string spool_folder(std::string_view root, std::string_view service, std::string_view url,
                                       const std::vector<http_header>& headers);

}  // namespace logfire::detail
