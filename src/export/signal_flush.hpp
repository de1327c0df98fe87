// Opt-in flush on SIGTERM / SIGINT: platforms such as Cloud Run send SIGTERM and kill the
// process a few seconds later, so whatever is still in memory would be lost. The handler only
// wakes a dedicated thread (async-signal-safe write to a pipe); that thread flushes for up to
// the grace period, then restores the previous disposition and raises the signal again, so it
// takes its normal effect (usually: the process ends). A second signal during the flush takes
// effect at once.
//
//   logfire::detail::install_signal_flush([](auto grace) { logfire::force_flush(grace); }, 8s);
#pragma once

#include <chrono>
#include <functional>

namespace logfire::detail {

using signal_flush_function = std::function<void(std::chrono::milliseconds grace)>;

// Installs the handlers for SIGTERM and SIGINT (remembering the previous ones). `flush` runs on
// the flush thread and should return within `grace`. Returns false, changing nothing, when
// already installed or when the pipe or thread cannot be created.
bool install_signal_flush(signal_flush_function flush,
                          std::chrono::milliseconds grace = std::chrono::milliseconds(8'000)) noexcept;

// Restores the previous handlers and stops the flush thread (no-op when not installed).
void uninstall_signal_flush() noexcept;

[[nodiscard]] bool signal_flush_installed() noexcept;

}  // namespace logfire::detail
