// Exporters and measurements shared by the whole-cost benchmarks (bench_sustained,
// bench_burst). Every record ends as delivered or dropped with a reason, so stats() keeps
// produced == exported + dropped:
//   discard_exporter     counts the batch and discards it (the pipeline's own cost alone);
//   otlp_bytes_exporter  encodes the batch with the SDK's own OTLP protobuf encoder, as the OTLP
//                        exporter does on the background thread, then discards the bytes: the
//                        cost from ring to request bytes, without gzip or HTTP;
//   make_otlp_exporter_without_network()  the SDK's OTLP exporter itself, default settings
//                        (gzip on the background thread, a queue of 2,048 spans, its sender
//                        thread), over a transport that answers 200 at once: the whole path but
//                        the network.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "export/otlp_encoder.hpp"
#include "export/otlp_exporter.hpp"
#include "logfire/config.hpp"
#include "logfire/exporter.hpp"
#include "logfire/logfire.hpp"
#include "logfire/stats.hpp"
#include "resource/resource.hpp"

namespace bench {

class discard_exporter final : public logfire::exporter {
 public:
  std::string name() const override { return "discard"; }
  void export_batch(std::span<const logfire::span_record> records) noexcept override {
    if (counter_) counter_->delivered(records.size());
  }
};

// The resource configure() gives a service.
inline logfire::detail::resource service_resource() {
  logfire::detail::resource res;
  res.set("service.name", std::string("checkout"));
  res.set("service.version", std::string("1.4.2"));
  res.set("deployment.environment.name", std::string("production"));
  res.set("service.instance.id", std::string("0af7651916cd43dd8448eb211c80319c"));
  res.set("telemetry.sdk.name", std::string("logfire-cpp"));
  res.set("telemetry.sdk.language", std::string("cpp"));
  res.set("telemetry.sdk.version", std::string("0.1.0"));
  res.set("process.pid", std::int64_t{4242});
  res.set("host.name", std::string("checkout-7d9f8c6b5-x2x4q"));
  return res;
}

class otlp_bytes_exporter final : public logfire::exporter {
 public:
  otlp_bytes_exporter() : res_(service_resource()) {}
  std::string name() const override { return "otlp protobuf"; }
  void export_batch(std::span<const logfire::span_record> records) noexcept override {
    try {
      logfire::detail::encode_traces_protobuf_split(
          records, res_, logfire::detail::k_max_request_body_bytes, buffer_,
          [&](std::string_view body, std::size_t, std::size_t) { body_bytes_ += body.size(); }, &shared_);
    } catch (...) {
      if (counter_) counter_->dropped(logfire::drop_reason::export_failed, records.size(), "encoding failed");
      return;
    }
    if (counter_) counter_->delivered(records.size());
  }

 private:
  logfire::detail::resource res_;
  std::string buffer_;
  logfire::detail::shared_attribute_bytes shared_;
  std::uint64_t body_bytes_ = 0;  // the sink's work, so that the encoding cannot be left out
};

// Answers 200 at once to every request, and keeps nothing: the OTLP exporter's whole path
// without a network.
class answering_transport final : public logfire::detail::http_transport {
 public:
  logfire::detail::http_response post(const logfire::detail::http_request&) noexcept override {
    logfire::detail::http_response r;
    r.status = 200;
    r.request_sent = true;
    return r;
  }
};

// The SDK's OTLP exporter with its default settings (gzip, queue, sender thread) over
// answering_transport.
inline std::shared_ptr<logfire::exporter> make_otlp_exporter_without_network() {
  logfire::detail::otlp_exporter_config cfg;
  cfg.name = "otlp (transport answers 200)";
  cfg.url = "http://127.0.0.1:9/v1/traces";
  cfg.make_transport = [] { return std::make_unique<answering_transport>(); };
  return logfire::detail::make_otlp_exporter(std::move(cfg), service_resource());
}

// "discard", "otlp" or "otlp_gzip"; null for anything else.
inline std::shared_ptr<logfire::exporter> make_exporter(std::string_view kind) {
  if (kind == "discard") return std::make_shared<discard_exporter>();
  if (kind == "otlp") return std::make_shared<otlp_bytes_exporter>();
  if (kind == "otlp_gzip") return make_otlp_exporter_without_network();
  return nullptr;
}

// The default settings, as a service gets them, with the console off and `exp` as the only
// exporter.
inline logfire::options default_options(std::shared_ptr<logfire::exporter> exp) {
  logfire::options o;
  o.read_environment = false;
  o.console.enabled = false;
  o.exporters = {std::move(exp)};
  return o;
}

// The span every whole-cost benchmark produces: a template and 4 attributes (string, double,
// int, bool), as bench_core's span row. With `update`, it also sets one attribute after it
// started, as a server span sets its response's status code: a record with an update
// (bench_sustained and bench_burst --updates=1).
inline void span_4_attributes(std::int64_t i, bool update = false) noexcept {
  logfire::span s("charge {user}", {{"user", "u-42"}, {"amount", 12.5}, {"attempt", i}, {"ok", true}});
  if (update) s.set_attribute("http.response.status_code", 200);
}

// CPU time (user + system) in ns: of the process (RUSAGE_SELF, all threads) or of the calling
// thread (RUSAGE_THREAD).
inline std::uint64_t cpu_ns(int who) noexcept {
  rusage ru{};
  ::getrusage(who, &ru);
  auto ns = [](const timeval& t) {
    return static_cast<std::uint64_t>(t.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(t.tv_usec) * 1000u;
  };
  return ns(ru.ru_utime) + ns(ru.ru_stime);
}

// A field of /proc/self/status in KiB ("VmRSS", "VmHWM"); 0 if unreadable.
inline std::uint64_t status_kib(const char* field) noexcept {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  std::uint64_t v = 0;
  const std::size_t n = std::strlen(field);
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, field, n) == 0 && line[n] == ':') {
      v = std::strtoull(line + n + 1, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return v;
}

// "dropped.ring_full=12 dropped.not_sampled=3": the reasons with a non-zero count.
inline std::string dropped_by_reason(const logfire::pipeline_stats& s) {
  std::string out;
  for (std::size_t i = 0; i < logfire::drop_reason_count; ++i) {
    if (!s.dropped[i]) continue;
    if (!out.empty()) out += ' ';
    out += "dropped.";
    out += logfire::to_string(static_cast<logfire::drop_reason>(i));
    out += '=';
    out += std::to_string(s.dropped[i]);
  }
  return out;
}

}  // namespace bench
