// When an OTLP exporter sends a body again: what an answer means (delivered, split it for a
// 413, rejected for good, or retry), and how long to wait before the retry: the server's
// Retry-After when it gives one (capped), else exponential backoff with jitter. The sender
// thread's; not thread-safe (it owns the random generator).
//
//   retry_backoff backoff(cfg.backoff_initial, cfg.backoff_max, cfg.retry_after_max);
//   if (classify(r) == outcome::retry) wait = backoff.server_wait(r).value_or(backoff.after(streak));
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

#include "net/http_transport.hpp"

namespace logfire::detail {

enum class outcome : std::uint8_t { delivered, split, rejected, retry };

// 2xx delivered; 413 split; no answer, 408, 429 and 5xx retry; any other status is rejected
// (other 4xx and odd 1xx/3xx answers: sending the same body again cannot help).
[[nodiscard]] outcome classify(const http_response& r) noexcept;

class retry_backoff {
 public:
  retry_backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
                std::chrono::milliseconds retry_after_max);

  // The wait the server asked for (Retry-After, seconds or an HTTP date), at most
  // retry_after_max; nullopt when it asked for none or the header is unreadable.
  [[nodiscard]] std::optional<std::chrono::steady_clock::duration> server_wait(const http_response& r) const;

  // After `failures` failed attempts in a row: `initial` doubling up to `max`, each wait scaled
  // by a random factor in [0.8, 1.2] so that processes recovering from one outage do not retry
  // in lockstep (and never above `max`).
  [[nodiscard]] std::chrono::steady_clock::duration after(int failures);

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds retry_after_max_;
  std::mt19937_64 rng_;
};

}  // namespace logfire::detail
