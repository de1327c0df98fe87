// The exporters implied by the options and environment (Logfire tokens, OTLP endpoints).
#include "export/signal_flush.hpp"
#include "logfire/logfire.hpp"
#include "setup/configure_env.hpp"
#include "setup/otlp_destinations.hpp"

namespace logfire::detail {

std::vector<std::shared_ptr<exporter>> make_destination_exporters(const options& o, const resource& res,
                                                                  const env_lookup& env, std::string& error,
                                                                  std::vector<std::string>& notices) {
  std::vector<std::shared_ptr<exporter>> out;
  bool flush_on_signal = false;
  std::chrono::milliseconds grace{};
  error = resolve_signal_flush(o, env, flush_on_signal, grace);
  if (error.empty()) error = make_otlp_destinations(o, res, env, out, notices);
  if (!error.empty()) return {};
  // Process-wide and kept across reconfiguration (a second install is a no-op).
  if (flush_on_signal) install_signal_flush([](std::chrono::milliseconds g) { logfire::force_flush(g); }, grace);
  return out;
}

}  // namespace logfire::detail
