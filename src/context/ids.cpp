#include "context/ids.hpp"

#include <pthread.h>
#include <sys/random.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>

namespace logfire::detail {
namespace {

// Bumped in the child after fork(); each thread reseeds when it sees a new value.
std::atomic<std::uint32_t> g_fork_generation{1};

void on_fork_child() noexcept {
  g_fork_generation.fetch_add(1, std::memory_order_relaxed);
}

struct rng_state {
  std::uint64_t s = 0;
  std::uint32_t generation = 0;
};
thread_local rng_state t_rng;

[[gnu::noinline]] void reseed(rng_state& r) noexcept {
  static const bool registered = [] {
    pthread_atfork(nullptr, nullptr, on_fork_child);
    return true;
  }();
  (void)registered;
  std::uint64_t seed = 0;
  if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof seed)) {
    // No entropy available yet: mix the clock, pid and this thread's address.
    seed = static_cast<std::uint64_t>(std::chrono::high_resolution_clock::now().time_since_epoch().count()) ^
           (static_cast<std::uint64_t>(getpid()) << 32) ^ reinterpret_cast<std::uintptr_t>(&r);
  }
  r.s = seed;
  r.generation = g_fork_generation.load(std::memory_order_relaxed);
}

constexpr char k_hex[] = "0123456789abcdef";

inline int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::uint64_t random_u64() noexcept {
  rng_state& r = t_rng;
  if (r.generation != g_fork_generation.load(std::memory_order_relaxed)) [[unlikely]]
    reseed(r);
  // wyrand: one multiply, passes BigCrush; period 2^64 per thread.
  r.s += 0xa0761d6478bd642fULL;
  const __uint128_t m = static_cast<__uint128_t>(r.s) * (r.s ^ 0xe7037ed1a0b428dbULL);
  return static_cast<std::uint64_t>(m >> 64) ^ static_cast<std::uint64_t>(m);
}

void write_hex_u64(std::uint64_t v, char* out16) noexcept {
  for (int i = 15; i >= 0; --i) {
    out16[i] = k_hex[v & 0xF];
    v >>= 4;
  }
}

bool parse_hex_u64(const char* in16, std::uint64_t& out) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < 16; ++i) {
    const int d = hex_value(in16[i]);
    if (d < 0) return false;
    v = (v << 4) | static_cast<std::uint64_t>(d);
  }
  out = v;
  return true;
}

}  // namespace logfire::detail

namespace logfire {

using detail::parse_hex_u64;
using detail::write_hex_u64;

void trace_id::write_hex(char* out32) const noexcept {
  write_hex_u64(hi, out32);
  write_hex_u64(lo, out32 + 16);
}

std::string trace_id::to_hex() const {
  std::string s(32, '0');
  write_hex(s.data());
  return s;
}

trace_id trace_id::from_hex(std::string_view hex) noexcept {
  trace_id id;
  if (hex.size() != 32 || !parse_hex_u64(hex.data(), id.hi) || !parse_hex_u64(hex.data() + 16, id.lo)) return {};
  return id;
}

void trace_id::write_bytes(unsigned char* out16) const noexcept {
  for (int i = 0; i < 8; ++i) {
    out16[i] = static_cast<unsigned char>(hi >> (56 - 8 * i));
    out16[8 + i] = static_cast<unsigned char>(lo >> (56 - 8 * i));
  }
}

void span_id::write_hex(char* out16) const noexcept {
  write_hex_u64(value, out16);
}

std::string span_id::to_hex() const {
  std::string s(16, '0');
  write_hex(s.data());
  return s;
}

span_id span_id::from_hex(std::string_view hex) noexcept {
  span_id id;
  if (hex.size() != 16 || !parse_hex_u64(hex.data(), id.value)) return {};
  return id;
}

void span_id::write_bytes(unsigned char* out8) const noexcept {
  for (int i = 0; i < 8; ++i) out8[i] = static_cast<unsigned char>(value >> (56 - 8 * i));
}

}  // namespace logfire
