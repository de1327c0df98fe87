#include "export/retry.hpp"

#include <unistd.h>

#include <algorithm>

namespace logfire::detail {

outcome classify(const http_response& r) noexcept {
  if (r.status >= 200 && r.status < 300) return outcome::delivered;
  if (r.status == 413) return outcome::split;
  if (r.status == 0 || r.status == 408 || r.status == 429 || r.status >= 500) return outcome::retry;
  return outcome::rejected;
}

retry_backoff::retry_backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
                             std::chrono::milliseconds retry_after_max)
    : initial_(initial), max_(max), retry_after_max_(retry_after_max) {
  rng_.seed(std::random_device{}() ^ static_cast<std::uint64_t>(::getpid()));
}

std::optional<std::chrono::steady_clock::duration> retry_backoff::server_wait(const http_response& r) const {
  if (!r.retry_after) return std::nullopt;
  auto w = parse_retry_after(*r.retry_after);
  if (!w) return std::nullopt;
  return std::min<std::chrono::steady_clock::duration>(*w, retry_after_max_);
}

std::chrono::steady_clock::duration retry_backoff::after(int failures) {
  const int shift = std::clamp(failures - 1, 0, 30);
  auto base = initial_ * (std::int64_t{1} << shift);
  if (base > max_ || base.count() < 0) base = max_;
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  auto w = std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(base.count()) * jitter(rng_)));
  return std::min<std::chrono::steady_clock::duration>(w, max_);
}

}  // namespace logfire::detail
