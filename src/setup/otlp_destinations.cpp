// Destinations and their settings, from the options and the LOGFIRE_* / OTEL_* environment.
// Runs once, inside configure(), on the caller's thread. Precedence: code > environment >
// default; an empty variable counts as unset. Every error names the variable and its value.
#include "setup/otlp_destinations.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>

#include "config/env.hpp"
#include "resource/detect.hpp"

namespace logfire::detail {
namespace {

constexpr std::string_view k_known_regions = "us, eu";

using env_text::lower;
using env_text::percent_decode;
using env_text::trim;

std::optional<std::string> get(const env_lookup& env, std::string_view name) {
  if (!env) return std::nullopt;
  auto v = env(name);
  if (v && trim(*v).empty()) return std::nullopt;  // empty = unset
  return v;
}

std::string quoted(std::string_view name, std::string_view problem, std::string_view value) {
  return std::string(name) + " " + std::string(problem) + ": '" + std::string(value) + "'";
}

// A positive integer; nullopt otherwise.
std::optional<std::uint64_t> parse_count(std::string_view v) {
  v = trim(v);
  std::uint64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
  return out;
}

// "536870912", "512MiB", "512 M", "1GiB": binary multiples.
std::optional<std::uint64_t> parse_bytes(std::string_view v) {
  v = trim(v);
  std::size_t digits = 0;
  while (digits < v.size() && v[digits] >= '0' && v[digits] <= '9') ++digits;
  auto n = parse_count(v.substr(0, digits));
  if (!n) return std::nullopt;
  auto unit = lower(trim(v.substr(digits)));
  std::uint64_t mul = 1;
  if (unit.empty() || unit == "b") {
    mul = 1;
  } else if (unit == "k" || unit == "kib" || unit == "kb") {
    mul = 1ull << 10;
  } else if (unit == "m" || unit == "mib" || unit == "mb") {
    mul = 1ull << 20;
  } else if (unit == "g" || unit == "gib" || unit == "gb") {
    mul = 1ull << 30;
  } else {
    return std::nullopt;
  }
  if (*n > (std::numeric_limits<std::uint64_t>::max() / mul)) return std::nullopt;
  return *n * mul;
}

bool is_http_url(std::string_view u) {
  auto l = lower(u.substr(0, 8));
  return (l.starts_with("http://") && u.size() > 7) || (l.starts_with("https://") && u.size() > 8);
}

std::string strip_slashes(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 0xcbf29ce484222325ull) noexcept {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

struct common_settings {
  std::chrono::milliseconds timeout{10'000};
  std::size_t max_queue_spans = 2048;
  bool spool = true;
  std::string spool_root;
  std::uint64_t spool_max_bytes = 512ull << 20;
  std::chrono::milliseconds backoff_initial{1'000};
  std::chrono::milliseconds backoff_max{128'000};
  std::string spool_notice;  // shown only when some destination exists
};

std::string resolve_common(const options& opts, const env_lookup& env, otlp_signal signal, common_settings& c) {
  const auto& o = opts.otlp;
  const bool metrics = signal == otlp_signal::metrics;
  if (o.timeout) {
    if (o.timeout->count() <= 0) return "otlp.timeout must be positive: " + std::to_string(o.timeout->count()) + " ms";
    c.timeout = *o.timeout;
  } else {
    for (std::string_view var : {metrics ? "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT" : "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
                                 "OTEL_EXPORTER_OTLP_TIMEOUT"}) {
      if (auto v = get(env, var)) {
        auto n = parse_count(*v);
        if (!n || *n == 0 || *n > 3'600'000) return quoted(var, "is not a number of milliseconds (1..3600000)", *v);
        c.timeout = std::chrono::milliseconds(*n);
        break;
      }
    }
  }
  if (metrics) {
    if (opts.metrics.max_queue_points == 0) return "metrics.max_queue_points must be positive";
    c.max_queue_spans = opts.metrics.max_queue_points;
  } else if (opts.batching.max_queue_size) {
    if (*opts.batching.max_queue_size == 0) return "batching.max_queue_size must be positive";
    c.max_queue_spans = *opts.batching.max_queue_size;
  }
  // OTEL_BSP_MAX_QUEUE_SIZE is read once, by resolve_options() into opts.batching.max_queue_size.
  if (o.spool) {
    c.spool = *o.spool;
  } else if (auto v = get(env, "LOGFIRE_SPOOL")) {
    auto b = parse_bool_value(*v);
    if (!b) return quoted("LOGFIRE_SPOOL", "is not a boolean (" + std::string(k_bool_values) + ")", *v);
    c.spool = *b;
  }
  if (o.spool_max_bytes) {
    c.spool_max_bytes = *o.spool_max_bytes;
  } else if (auto v = get(env, "LOGFIRE_SPOOL_MAX_BYTES")) {
    auto b = parse_bytes(*v);
    if (!b) return quoted("LOGFIRE_SPOOL_MAX_BYTES", "is not a size in bytes (e.g. 536870912 or 512MiB)", *v);
    c.spool_max_bytes = *b;
  }
  if (c.spool_max_bytes == 0) c.spool = false;
  if (c.spool) {
    if (o.spool_directory && !o.spool_directory->empty()) {
      c.spool_root = *o.spool_directory;
    } else if (auto v = get(env, "LOGFIRE_SPOOL_DIR")) {
      c.spool_root = std::string(trim(*v));
    } else {
      c.spool_root = default_spool_root(env);
      if (c.spool_root.empty()) {
        c.spool = false;
        c.spool_notice =
            "no disk spool: neither XDG_STATE_HOME nor HOME is set; batches that cannot be delivered are kept in "
            "memory only (set LOGFIRE_SPOOL_DIR)";
      }
    }
  }
  if (o.backoff_initial) c.backoff_initial = std::max(std::chrono::milliseconds(1), *o.backoff_initial);
  if (o.backoff_max) c.backoff_max = std::max(c.backoff_initial, *o.backoff_max);
  if (c.backoff_max < c.backoff_initial) c.backoff_max = c.backoff_initial;
  return {};
}

void apply_common(const common_settings& c, std::string_view service, otlp_exporter_config& cfg) {
  cfg.timeout = c.timeout;
  cfg.max_queue_spans = c.max_queue_spans;
  cfg.backoff_initial = c.backoff_initial;
  cfg.backoff_max = c.backoff_max;
  cfg.spool_max_bytes = c.spool_max_bytes;
  if (c.spool) cfg.spool_directory = spool_folder(c.spool_root, service, cfg.url, cfg.headers);
}

// Tokens from before the pylf_v<N>_<region>_ shape: long, letters and digits only. Anything
// else without that shape (a typo, a placeholder, another service's key) is said at configure.
bool looks_like_legacy_token(std::string_view t) noexcept {
  if (t.size() < 32) return false;
  for (char c : t)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
  return true;
}

}  // namespace

std::string logfire_base_url(std::string_view token, std::string* warning) {
  // ^pylf_v[0-9]+_([a-z]+)_
  std::string_view t = trim(token);
  std::string_view region;
  if (t.starts_with("pylf_v")) {
    std::size_t i = 6;
    std::size_t digits = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    if (i > digits && i < t.size() && t[i] == '_') {
      std::size_t start = ++i;
      while (i < t.size() && t[i] >= 'a' && t[i] <= 'z') ++i;
      if (i > start && i < t.size() && t[i] == '_') region = t.substr(start, i - start);
    }
  }
  if (region.empty() && warning != nullptr && !looks_like_legacy_token(t))
    *warning = "the Logfire token (" + std::to_string(t.size()) +
               " characters) does not look like a write token (pylf_v1_<region>_...): sending to the US "
               "region https://logfire-us.pydantic.dev, which will likely refuse it";
  if (region == "eu") return "https://logfire-eu.pydantic.dev";
  if (!region.empty() && region != "us" && warning != nullptr)
    *warning = "unknown Logfire region '" + std::string(region) +
               "' in the token (known regions: " + std::string(k_known_regions) +
               "); sending to the US region (set LOGFIRE_BASE_URL to choose)";
  return "https://logfire-us.pydantic.dev";
}

std::string parse_otlp_headers(std::string_view text, std::vector<http_header>& out) {
  std::vector<http_header> parsed;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view entry = trim(text.substr(pos, comma - pos));
    pos = comma + 1;
    if (entry.empty()) continue;
    std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos || trim(entry.substr(0, eq)).empty())
      return "entry '" + std::string(entry) + "' is not key=value";
    http_header h;
    if (!percent_decode(trim(entry.substr(0, eq)), h.name) || !percent_decode(trim(entry.substr(eq + 1)), h.value))
      return "entry '" + std::string(entry) + "' has a bad percent-encoding";
    auto bad = [](const std::string& s) {
      return std::any_of(s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
    };
    if (bad(h.name) || bad(h.value) || h.name.find(':') != std::string::npos)
      return "entry '" + std::string(entry) + "' holds characters not allowed in an HTTP header";
    parsed.push_back(std::move(h));
  }
  for (auto& h : parsed) out.push_back(std::move(h));
  return {};
}

std::string default_spool_root(const env_lookup& env) {
  if (auto xdg = get(env, "XDG_STATE_HOME"); xdg && xdg->front() == '/')
    return strip_slashes(*xdg) + "/logfire-cpp/spool";
  if (auto home = get(env, "HOME"); home && home->front() == '/')
    return strip_slashes(*home) + "/.local/state/logfire-cpp/spool";
  return {};
}

std::string spool_folder(std::string_view root, std::string_view service, std::string_view url,
                         const std::vector<http_header>& headers) {
  std::uint64_t h = fnv1a(url);
  for (const auto& hd : headers) {
    h = fnv1a("\n", h);
    h = fnv1a(lower(hd.name), h);
    h = fnv1a(":", h);
    h = fnv1a(hd.value, h);
  }
  std::string safe;
  for (char c : service.substr(0, 64))
    safe.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ? c : '_');
  if (safe.empty() || safe.front() == '.') safe.insert(safe.begin(), '_');
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return strip_slashes(std::string(root)) + "/" + safe + "-" + hex;
}

namespace {

// What both kinds of destination share while they are resolved for one signal.
struct destination_context {
  const options& opts;
  const env_lookup& env;
  otlp_signal signal;
  bool metrics;
  std::string path;     // "/v1/traces" or "/v1/metrics"
  std::string service;  // the resource's service.name (spool folder names)
  const common_settings& common;
  std::vector<otlp_exporter_config>& result;
  std::vector<std::string>& notices;
};

// One destination per Logfire token (options.tokens or LOGFIRE_TOKEN, comma-separated), each in
// its token's region unless base_url / LOGFIRE_BASE_URL says otherwise; none when
// send_to_logfire / LOGFIRE_SEND_TO_LOGFIRE is no. Returns an error naming the setting.
std::string add_logfire_destinations(const destination_context& d) {
  const options& opts = d.opts;
  const env_lookup& env = d.env;
  const bool metrics = d.metrics;
  const std::string& path = d.path;
  const std::string& service = d.service;
  const common_settings& common = d.common;
  const otlp_signal signal = d.signal;
  auto& result = d.result;
  auto& new_notices = d.notices;
  std::vector<std::string> tokens;
  if (!opts.tokens.empty()) {
    for (const auto& t : opts.tokens)
      if (!trim(t).empty()) tokens.emplace_back(trim(t));
  } else if (auto v = get(env, "LOGFIRE_TOKEN")) {
    std::string_view s = *v;
    std::size_t pos = 0;
    while (pos <= s.size()) {
      std::size_t comma = s.find(',', pos);
      if (comma == std::string_view::npos) comma = s.size();
      auto t = trim(s.substr(pos, comma - pos));
      if (!t.empty()) tokens.emplace_back(t);
      pos = comma + 1;
    }
  }
  auto send = opts.send_to_logfire;
  if (!send) {
    if (auto v = get(env, "LOGFIRE_SEND_TO_LOGFIRE")) {
      auto l = lower(trim(*v));
      if (l == "if-token-present" || l == "if_token_present") {
        send = send_to_logfire::if_token_present;
      } else if (auto b = parse_bool_value(l)) {
        send = *b ? send_to_logfire::yes : send_to_logfire::no;
      } else {
        return quoted("LOGFIRE_SEND_TO_LOGFIRE",
                      "must be a boolean (" + std::string(k_bool_values) + ") or if-token-present", *v);
      }
    }
  }
  const auto mode = send.value_or(send_to_logfire::if_token_present);
  if (mode == send_to_logfire::yes && tokens.empty())
    return "send_to_logfire is 'yes' (LOGFIRE_SEND_TO_LOGFIRE) but there is no token: set LOGFIRE_TOKEN or "
           "options.tokens (a write token from your Logfire project's settings)";
  if (mode != send_to_logfire::no) {
    std::optional<std::string> base;
    if (opts.base_url && !trim(*opts.base_url).empty()) {
      base = std::string(trim(*opts.base_url));
      if (!is_http_url(*base)) return quoted("base_url", "is not an http(s) URL", *base);
    } else if (auto v = get(env, "LOGFIRE_BASE_URL")) {
      base = std::string(trim(*v));
      if (!is_http_url(*base)) return quoted("LOGFIRE_BASE_URL", "is not an http(s) URL", *v);
    }
    bool warned = false;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      otlp_exporter_config cfg;
      std::string warning;
      std::string url_base = base ? *base : logfire_base_url(tokens[i], &warning);
      if (!warning.empty() && !warned) {
        new_notices.push_back(warning);
        warned = true;  // one warning, however many tokens share the problem
      }
      url_base = strip_slashes(url_base);
      cfg.url = url_base + path;
      cfg.name = (metrics ? "logfire metrics " : "logfire ") + url_base +
                 (tokens.size() > 1 ? " #" + std::to_string(i + 1) : "");
      cfg.headers.push_back({"Authorization", tokens[i]});  // the raw token, no "Bearer"
      cfg.format = body_format::protobuf;
      cfg.gzip = true;
      cfg.wants_pending_spans = !metrics;
      cfg.signal = signal;
      apply_common(common, service, cfg);
      result.push_back(std::move(cfg));
    }
  }
  return {};
}

// The per-signal OTLP variables: OTEL_EXPORTER_OTLP_TRACES_X or OTEL_EXPORTER_OTLP_METRICS_X.
std::string signal_var(bool metrics, std::string_view what) {
  return std::string(metrics ? "OTEL_EXPORTER_OTLP_METRICS_" : "OTEL_EXPORTER_OTLP_TRACES_") + std::string(what);
}

// The variable that sets `what` for this signal: OTEL_EXPORTER_OTLP_<SIGNAL>_<what>, else
// OTEL_EXPORTER_OTLP_<what>; its name (for error messages) and value, or nullopt.
struct env_setting {
  std::string name;
  std::string value;
};
std::optional<env_setting> signal_setting(const destination_context& d, std::string_view what) {
  std::string name = signal_var(d.metrics, what);
  if (auto v = get(d.env, name)) return env_setting{std::move(name), std::string(*v)};
  name = "OTEL_EXPORTER_OTLP_" + std::string(what);
  if (auto v = get(d.env, name)) return env_setting{std::move(name), std::string(*v)};
  return std::nullopt;
}

// The endpoint URL, "" when none is set: the signal's own endpoint as given, else the general
// endpoint with the signal's path; code before the environment.
std::string otlp_url(const destination_context& d, std::string& url) {
  const auto& o = d.opts.otlp;
  const std::string endpoint_var = signal_var(d.metrics, "ENDPOINT");
  const auto& signal_endpoint = d.metrics ? o.metrics_endpoint : o.traces_endpoint;
  if (signal_endpoint && !trim(*signal_endpoint).empty()) {
    url = std::string(trim(*signal_endpoint));
    if (!is_http_url(url))
      return quoted(d.metrics ? "otlp.metrics_endpoint" : "otlp.traces_endpoint", "is not an http(s) URL", url);
  } else if (o.endpoint && !trim(*o.endpoint).empty()) {
    url = std::string(trim(*o.endpoint));
    if (!is_http_url(url)) return quoted("otlp.endpoint", "is not an http(s) URL", url);
    url = strip_slashes(url) + d.path;
  } else if (auto v = get(d.env, endpoint_var)) {
    url = std::string(trim(*v));  // used as-is, per the OTLP exporter specification
    if (!is_http_url(url)) return quoted(endpoint_var, "is not an http(s) URL", *v);
  } else if (auto v2 = get(d.env, "OTEL_EXPORTER_OTLP_ENDPOINT")) {
    url = std::string(trim(*v2));
    if (!is_http_url(url)) return quoted("OTEL_EXPORTER_OTLP_ENDPOINT", "is not an http(s) URL", *v2);
    url = strip_slashes(url) + d.path;
  }
  return {};
}

std::string otlp_headers(const destination_context& d, otlp_exporter_config& cfg) {
  const auto& o = d.opts.otlp;
  if (!o.headers.empty()) {
    for (const auto& [k, v] : o.headers) cfg.headers.push_back({k, v});
    return {};
  }
  const auto set = signal_setting(d, "HEADERS");
  if (!set) return {};
  if (auto err = parse_otlp_headers(set->value, cfg.headers); !err.empty()) return set->name + ": " + err;
  return {};
}

std::string otlp_protocol_of(const destination_context& d, otlp_exporter_config& cfg) {
  const auto& o = d.opts.otlp;
  if (o.protocol) {
    cfg.format = *o.protocol == otlp_protocol::http_json ? body_format::json : body_format::protobuf;
    return {};
  }
  const auto set = signal_setting(d, "PROTOCOL");
  if (!set) return {};
  const auto l = lower(trim(set->value));
  if (l == "http/protobuf") {
    cfg.format = body_format::protobuf;
  } else if (l == "http/json") {
    cfg.format = body_format::json;
  } else if (l == "grpc") {
    return quoted(set->name,
                  "asks for gRPC, which logfire-cpp does not send; use http/protobuf (a Collector "
                  "listens for it on port 4318)",
                  set->value);
  } else {
    return quoted(set->name, "must be http/protobuf or http/json", set->value);
  }
  return {};
}

std::string otlp_compression(const destination_context& d, otlp_exporter_config& cfg) {
  const auto& o = d.opts.otlp;
  if (o.gzip) {
    cfg.gzip = *o.gzip;
    return {};
  }
  const auto set = signal_setting(d, "COMPRESSION");
  if (!set) return {};
  const auto l = lower(trim(set->value));
  if (l == "gzip") {
    cfg.gzip = true;
  } else if (l == "none") {
    cfg.gzip = false;
  } else {
    return quoted(set->name, "must be gzip or none", set->value);
  }
  return {};
}

// The OTLP endpoint's destination, when one is set (options.otlp, OTEL_EXPORTER_OTLP_[TRACES_|
// METRICS_]ENDPOINT), with its headers, protocol and compression. Returns an error naming the
// setting.
std::string add_otlp_destination(const destination_context& d) {
  std::string url;
  if (auto err = otlp_url(d, url); !err.empty()) return err;
  if (url.empty()) return {};
  otlp_exporter_config cfg;
  cfg.url = url;
  if (auto err = otlp_headers(d, cfg); !err.empty()) return err;
  if (auto err = otlp_protocol_of(d, cfg); !err.empty()) return err;
  if (auto err = otlp_compression(d, cfg); !err.empty()) return err;
  cfg.wants_pending_spans = false;
  if (d.metrics && cfg.format == body_format::json) {
    // Only the protobuf encoding of metrics exists; the protocol was still checked above.
    cfg.format = body_format::protobuf;
    d.notices.push_back("metrics go to " + url + " as http/protobuf (the http/json encoding is for traces only)");
  }
  cfg.signal = d.signal;
  cfg.name = (d.metrics ? "otlp metrics " : "otlp ") + url;
  apply_common(d.common, d.service, cfg);
  d.result.push_back(std::move(cfg));
  return {};
}

}  // namespace

std::string resolve_destinations(const options& opts, const resource& res, const env_lookup& env,
                                 std::vector<otlp_exporter_config>& out, std::vector<std::string>& notices,
                                 otlp_signal signal) {
  std::vector<otlp_exporter_config> result;
  std::vector<std::string> new_notices;
  common_settings common;
  if (auto err = resolve_common(opts, env, signal, common); !err.empty()) return err;
  const bool metrics = signal == otlp_signal::metrics;
  const destination_context d{
      opts,   env,    signal,     metrics, metrics ? "/v1/metrics" : "/v1/traces", res.service_name(),
      common, result, new_notices};
  if (auto err = add_logfire_destinations(d); !err.empty()) return err;
  if (auto err = add_otlp_destination(d); !err.empty()) return err;

  // The metrics destinations mirror the traces ones: their notices were given there.
  if (!result.empty() && !common.spool_notice.empty() && !metrics) new_notices.push_back(common.spool_notice);
  // With the console off too there is nowhere at all: configure() counts that loss instead.
  if (result.empty() && opts.exporters.empty() && opts.console.enabled.value_or(true) && !metrics)
    new_notices.push_back(
        "telemetry goes to the console only: set LOGFIRE_TOKEN to send it to Logfire, or "
        "OTEL_EXPORTER_OTLP_ENDPOINT for any OpenTelemetry backend");
  // OpenTelemetry's batch processor abandons an export after OTEL_BSP_EXPORT_TIMEOUT; ours
  // bounds each request (OTEL_EXPORTER_OTLP_TIMEOUT) and never drops a batch for being slow.
  if (!result.empty() && !metrics && get(env, "OTEL_BSP_EXPORT_TIMEOUT"))
    new_notices.push_back(
        "OTEL_BSP_EXPORT_TIMEOUT is not used: each request is bounded by OTEL_EXPORTER_OTLP_TIMEOUT, and a "
        "batch that fails is retried, then kept in the disk spool, never dropped for taking long");
  for (auto& c : result) out.push_back(std::move(c));
  for (auto& n : new_notices) notices.push_back(std::move(n));
  return {};
}

std::string make_otlp_destinations(const options& opts, const resource& res, const env_lookup& env,
                                   std::vector<std::shared_ptr<exporter>>& out, std::vector<std::string>& notices) {
  std::vector<otlp_exporter_config> configs;
  std::vector<std::string> new_notices;
  if (auto err = resolve_destinations(opts, res, env, configs, new_notices); !err.empty()) return err;
  std::vector<std::shared_ptr<exporter>> made;
  for (auto& c : configs) {
    std::string spool_error;
    std::string url = c.url;
    made.push_back(make_otlp_exporter(std::move(c), res, &spool_error));
    if (!spool_error.empty())
      new_notices.push_back("no disk spool for " + url + ": " + spool_error +
                            "; batches that cannot be delivered are kept in memory only (LOGFIRE_SPOOL_DIR)");
  }
  for (auto& e : made) out.push_back(std::move(e));
  for (auto& n : new_notices) notices.push_back(std::move(n));
  return {};
}

std::string make_otlp_metric_destinations(const options& opts, const resource& res, const env_lookup& env,
                                          std::vector<std::shared_ptr<metric_exporter>>& out,
                                          std::vector<std::string>& notices) {
  if (!opts.metrics.send_over_otlp) return {};
  std::vector<otlp_exporter_config> configs;
  std::vector<std::string> new_notices;
  if (auto err = resolve_destinations(opts, res, env, configs, new_notices, otlp_signal::metrics); !err.empty())
    return err;
  std::vector<std::shared_ptr<metric_exporter>> made;
  for (auto& c : configs) {
    std::string spool_error;
    std::string url = c.url;
    made.push_back(make_otlp_metric_exporter(std::move(c), &spool_error));
    if (!spool_error.empty())
      new_notices.push_back("no disk spool for " + url + ": " + spool_error +
                            "; metric bodies that cannot be delivered are kept in memory only (LOGFIRE_SPOOL_DIR)");
  }
  for (auto& e : made) out.push_back(std::move(e));
  for (auto& n : new_notices) notices.push_back(std::move(n));
  return {};
}

std::string resolve_signal_flush(const options& opts, const env_lookup& env, bool& enabled,
                                 std::chrono::milliseconds& grace) {
  enabled = false;
  grace = std::chrono::milliseconds(8'000);
  if (opts.otlp.flush_on_signal) {
    enabled = *opts.otlp.flush_on_signal;
  } else if (auto v = get(env, "LOGFIRE_FLUSH_ON_SIGNAL")) {
    auto b = parse_bool_value(*v);
    if (!b) return quoted("LOGFIRE_FLUSH_ON_SIGNAL", "is not a boolean (" + std::string(k_bool_values) + ")", *v);
    enabled = *b;
  }
  if (opts.otlp.signal_grace) {
    if (opts.otlp.signal_grace->count() < 0) return "otlp.signal_grace must not be negative";
    grace = *opts.otlp.signal_grace;
  } else if (auto v = get(env, "LOGFIRE_FLUSH_ON_SIGNAL_GRACE_MS")) {
    auto n = parse_count(*v);
    if (!n || *n > 3'600'000) return quoted("LOGFIRE_FLUSH_ON_SIGNAL_GRACE_MS", "is not a number of milliseconds", *v);
    grace = std::chrono::milliseconds(*n);
  }
  return {};
}

}  // namespace logfire::detail
