// configure(), shutdown(), force_flush() and stats(): option resolution (code > environment
// > default), the resource, the exporters, and the pipeline's lifetime including fork() and
// process exit. Runs on the application's thread that calls setup, never on the hot path.
#include <pthread.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "config/env.hpp"
#include "context/ids.hpp"
#include "export/console_exporter.hpp"
#include "logfire/config.hpp"
#include "logfire/logfire.hpp"
#include "metrics/reader.hpp"
#include "pipeline/barrier.hpp"
#include "pipeline/pipeline.hpp"
#include "pipeline/thread_state.hpp"
#include "resource/gcp_metadata.hpp"
#include "scrub/scrubber.hpp"
#include "setup/configure_env.hpp"
#include "setup/otlp_destinations.hpp"

namespace logfire {
namespace detail {

std::uint64_t not_configured_count() noexcept;   // api.cpp
void side_queue_after_fork_in_child() noexcept;  // api.cpp
extern std::atomic<bool> g_shut_down;            // api.cpp: a pipeline was shut down (for the not-configured line)

namespace {

std::mutex g_configure_mutex;
std::uint64_t g_generation = 0;                        // successful configure() calls, guarded by g_configure_mutex
std::unique_ptr<pipeline> g_last_pipeline;             // the last pipeline shut down, for stats()
std::shared_ptr<metric_reader> g_metric_reader;        // when metric exporters are configured
std::weak_ptr<gcp_metadata_lookup> g_metadata_lookup;  // the active pipeline's, owned by it
// Kept alive (callers may still read them) and never destroyed, so they stay reachable
// after static destruction (a leak checker must not report them).
std::vector<control*>& g_retired_controls = *new std::vector<control*>;
// Pipelines whose background thread did not stop by shutdown's deadline (it still uses them),
// and, in a forked child, a pipeline whose background thread was busy at the fork: never freed.
std::vector<pipeline*>& g_abandoned_pipelines = *new std::vector<pipeline*>;
pipeline* g_last_abandoned = nullptr;  // when the last pipeline shut down was abandoned, for stats()

using env_text::lower;
using env_text::trim;

}  // namespace

std::string parse_bool(const env_lookup& env, std::string_view name, std::optional<bool>& out) {
  if (out) return {};
  auto v = env(name);
  if (!v) return {};
  out = parse_bool_value(*v);
  if (!out) return std::string(name) + " is not a boolean (" + std::string(k_bool_values) + "): '" + *v + "'";
  return {};
}

std::string parse_level_var(const env_lookup& env, std::string_view name, optional_level& out) {
  if (out) return {};
  auto v = env(name);
  if (!v) return {};
  auto l = parse_level(*v);
  if (!l)
    return std::string(name) + " is not a level (trace, debug, info, notice, warn, error, fatal or 1-24): '" + *v + "'";
  out = l;
  return {};
}

std::string parse_double_var(const env_lookup& env, std::string_view name, std::optional<double>& out) {
  if (out) return {};
  auto v = env(name);
  if (!v) return {};
  char* end = nullptr;
  errno = 0;
  const double d = std::strtod(v->c_str(), &end);
  if (end == v->c_str() || *end != '\0' || errno == ERANGE || !std::isfinite(d))
    return std::string(name) + " is not a number: '" + *v + "'";
  out = d;
  return {};
}

std::string parse_size_var(const env_lookup& env, std::string_view name, std::optional<std::size_t>& out) {
  if (out) return {};
  auto v = env(name);
  if (!v) return {};
  std::size_t n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || p != v->data() + v->size() || n == 0)
    return std::string(name) + " is not a positive integer: '" + *v + "'";
  out = n;
  return {};
}

std::string parse_ms_var(const env_lookup& env, std::string_view name, std::optional<std::chrono::milliseconds>& out) {
  if (out) return {};
  std::optional<std::size_t> n;
  if (auto err = parse_size_var(env, name, n); !err.empty()) return err;
  if (n) out = std::chrono::milliseconds(static_cast<std::int64_t>(*n));
  return {};
}

// One of a few words, in any case (LOGFIRE_OVERFLOW=drop|block & co.); the error lists them.
template <typename E>
std::string parse_word_var(const env_lookup& env, std::string_view name, std::optional<E>& out,
                           std::initializer_list<std::pair<std::string_view, E>> words) {
  if (out) return {};
  const auto v = env(name);
  if (!v) return {};
  const std::string l = lower(*v);
  for (const auto& [word, value] : words) {
    if (l == word) {
      out = value;
      return {};
    }
  }
  std::string list;
  std::size_t i = 0;
  for (const auto& w : words) {
    if (i > 0) list += i + 1 == words.size() ? " or " : ", ";
    list += w.first;
    ++i;
  }
  return std::string(name) + " is not " + list + ": '" + *v + "'";
}

// Tail sampling's bounds from the environment, and the background rate against the head rate
// (after both are resolved).
std::string parse_tail_sampling(const env_lookup& env, options& o) {
  std::string err;
  sampling_options& t = o.sampling;
  if (!(err = parse_size_var(env, "LOGFIRE_TAIL_MAX_TRACES", t.max_traces)).empty()) return err;
  if (!(err = parse_size_var(env, "LOGFIRE_TAIL_MAX_BYTES", t.max_bytes)).empty()) return err;
  if (!(err = parse_ms_var(env, "LOGFIRE_TAIL_MAX_AGE_MS", t.max_age)).empty()) return err;
  if (!(err = parse_size_var(env, "LOGFIRE_TAIL_DECISION_CACHE", t.decision_cache)).empty()) return err;
  if (!(err = parse_bool(env, "LOGFIRE_TAIL_DROP_ON_BOUND", t.drop_on_bound)).empty()) return err;
  if (!(err = parse_bool(env, "LOGFIRE_TAIL_BUFFER_REMOTE", t.buffer_remote)).empty()) return err;
  if (t.max_traces && *t.max_traces == 0) return "options.sampling.max_traces must be at least 1";
  if (t.max_age && t.max_age->count() <= 0) return "options.sampling.max_age must be positive";
  const double head = o.trace_sample_rate.value_or(1.0);
  if (t.background_rate && !(*t.background_rate >= 0.0 && *t.background_rate <= head))
    return "options.sampling: the tail background rate (" + std::to_string(*t.background_rate) +
           ") must be between 0 and the head rate (" + std::to_string(head) +
           "): a trace the head sampler dropped never reaches the tail (level_or_duration(head, ..., background_rate))";
  return {};
}

std::string parse_resource_attributes(std::string_view name, std::string_view text,
                                      std::vector<std::pair<std::string, std::string>>& out) {
  std::vector<std::pair<std::string, std::string>> parsed;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = trim(text.substr(pos, comma - pos));
    pos = comma + 1;
    if (item.empty()) continue;
    const auto eq = item.find('=');
    const std::string_view key = trim(item.substr(0, eq == std::string_view::npos ? 0 : eq));
    if (eq == std::string_view::npos || key.empty())
      return std::string(name) + " has an entry that is not key=value: '" + std::string(item) + "'";
    // The OpenTelemetry resource SDK reads this variable in the W3C Baggage format: ',' and '='
    // inside a key or value arrive percent-encoded, and any byte may. A broken escape is an error
    // for the whole variable (nothing of it is applied), as for OTEL_EXPORTER_OTLP_HEADERS.
    std::string k, v;
    if (!env_text::percent_decode(key, k) || !env_text::percent_decode(trim(item.substr(eq + 1)), v))
      return std::string(name) + " has an entry with a bad percent-encoding: '" + std::string(item) + "'";
    parsed.emplace_back(std::move(k), std::move(v));
  }
  for (auto& kv : parsed) out.push_back(std::move(kv));
  return {};
}

// "a, b,,c" -> {"a", "b", "c"}: entries trimmed of spaces, empty ones skipped.
void parse_comma_list(std::string_view text, std::vector<std::string>& out) {
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = trim(text.substr(pos, comma - pos));
    pos = comma + 1;
    if (!item.empty()) out.emplace_back(item);
  }
}

// Every option the environment can set, in one place: code wins, then the variables in the
// order listed, then the default (applied where the option is used). Long on purpose: one line
// per variable, in the README's order, reads as the table it is; the groups with logic of their
// own (tail sampling, resource attributes, service name) are functions of their own.
std::string resolve_options(options& o, const env_lookup& env) {
  std::string err;
  auto first_of = [&](std::optional<std::string>& field, std::initializer_list<std::string_view> names) {
    if (field) return;
    for (auto n : names)
      if (auto v = env(n)) {
        field = *v;
        return;
      }
  };
  first_of(o.service_name, {"LOGFIRE_SERVICE_NAME", "OTEL_SERVICE_NAME"});
  first_of(o.service_version, {"LOGFIRE_SERVICE_VERSION", "OTEL_SERVICE_VERSION"});
  first_of(o.environment, {"LOGFIRE_ENVIRONMENT"});
  if (!(err = parse_bool(env, "LOGFIRE_CONSOLE", o.console.enabled)).empty()) return err;
  if (!(err = parse_word_var(env, "LOGFIRE_CONSOLE_COLORS", o.console.colors,
                             {{"auto", console_colors::automatic},
                              {"always", console_colors::always},
                              {"never", console_colors::never}}))
           .empty())
    return err;
  // show_parents as well: the option's own spelling in code.
  if (!(err = parse_word_var(env, "LOGFIRE_CONSOLE_SPAN_STYLE", o.console.span_style,
                             {{"simple", console_span_style::simple},
                              {"indented", console_span_style::indented},
                              {"show-parents", console_span_style::show_parents},
                              {"show_parents", console_span_style::show_parents}}))
           .empty())
    return err;
  if (!(err = parse_level_var(env, "LOGFIRE_CONSOLE_MIN_LOG_LEVEL", o.console.min_level)).empty()) return err;
  if (!(err = parse_bool(env, "LOGFIRE_CONSOLE_INCLUDE_TIMESTAMP", o.console.include_timestamps)).empty()) return err;
  if (!(err = parse_bool(env, "LOGFIRE_CONSOLE_VERBOSE", o.console.verbose)).empty()) return err;
  if (!(err = parse_bool(env, "LOGFIRE_CONSOLE_IMMEDIATE", o.console.immediate)).empty()) return err;
  if (!(err = parse_level_var(env, "LOGFIRE_MIN_LEVEL", o.min_level)).empty()) return err;
  if (o.sampling.head) {
    if (!(*o.sampling.head >= 0.0 && *o.sampling.head <= 1.0))
      return "options.sampling.head must be between 0 and 1: '" + std::to_string(*o.sampling.head) + "'";
    if (o.trace_sample_rate && *o.trace_sample_rate != *o.sampling.head)
      return "options.sampling.head and options.trace_sample_rate are both set and differ; set only one";
    o.trace_sample_rate = o.sampling.head;
  }
  const bool rate_from_code = o.trace_sample_rate.has_value();
  if (!(err = parse_double_var(env, "LOGFIRE_TRACE_SAMPLE_RATE", o.trace_sample_rate)).empty()) return err;
  if (!(err = parse_double_var(env, "OTEL_TRACES_SAMPLER_ARG", o.trace_sample_rate)).empty()) return err;
  if (o.trace_sample_rate && !(*o.trace_sample_rate >= 0.0 && *o.trace_sample_rate <= 1.0)) {
    // Name where the value came from, with the text as written.
    if (!rate_from_code)
      for (const char* n : {"LOGFIRE_TRACE_SAMPLE_RATE", "OTEL_TRACES_SAMPLER_ARG"})
        if (auto v = env(n)) return std::string(n) + " must be between 0 and 1: '" + *v + "'";
    return "options.trace_sample_rate must be between 0 and 1: '" + std::to_string(*o.trace_sample_rate) + "'";
  }
  if (!o.distributed_tracing) {
    if (auto v = env("LOGFIRE_DISTRIBUTED_TRACING")) {
      if (auto b = parse_bool_value(*v))
        o.distributed_tracing = *b ? distributed_tracing::on : distributed_tracing::off;
      else if (lower(*v) == "link")
        o.distributed_tracing = distributed_tracing::link;
      else
        return "LOGFIRE_DISTRIBUTED_TRACING is not a boolean (" + std::string(k_bool_values) + ") or link: '" + *v +
               "'";
    }
  }
  if (!o.propagators) {
    if (auto v = env("OTEL_PROPAGATORS")) o.propagators = *v;
  }
  if (o.resource_attributes.empty()) {
    for (auto n : {"OTEL_RESOURCE_ATTRIBUTES", "LOGFIRE_RESOURCE_ATTRIBUTES"})
      if (auto v = env(n))
        if (!(err = parse_resource_attributes(n, *v, o.resource_attributes)).empty()) return err;
  }
  if (!(err = parse_ms_var(env, "OTEL_BSP_SCHEDULE_DELAY", o.batching.schedule_delay)).empty()) return err;
  if (!(err = parse_size_var(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", o.batching.max_export_batch_size)).empty())
    return err;
  if (!(err = parse_size_var(env, "OTEL_BSP_MAX_QUEUE_SIZE", o.batching.max_queue_size)).empty()) return err;
  if (!(err = parse_size_var(env, "OTEL_ATTRIBUTE_COUNT_LIMIT", o.limits.max_attributes)).empty()) return err;
  if (!(err = parse_word_var(env, "LOGFIRE_OVERFLOW", o.limits.overflow,
                             {{"drop", overflow_policy::drop}, {"block", overflow_policy::block}}))
           .empty())
    return err;
  if (!(err = parse_ms_var(env, "LOGFIRE_OVERFLOW_BLOCK_MS", o.limits.overflow_block_timeout)).empty()) return err;
  if (!(err = parse_size_var(env, "LOGFIRE_MAX_RING_BYTES", o.limits.max_ring_bytes)).empty()) return err;
  if (!(err = parse_size_var(env, "LOGFIRE_RING_GROWTH_BUDGET", o.limits.ring_growth_budget)).empty()) return err;
  if (!(err = parse_ms_var(env, "OTEL_METRIC_EXPORT_INTERVAL", o.metrics.export_interval)).empty()) return err;
  if (!(err = parse_ms_var(env, "OTEL_METRIC_EXPORT_TIMEOUT", o.metrics.export_timeout)).empty()) return err;
  if (!(err = parse_word_var(env, "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", o.metrics.temporality,
                             {{"cumulative", metric_temporality::cumulative},
                              {"delta", metric_temporality::delta},
                              {"lowmemory", metric_temporality::low_memory}}))
           .empty())
    return err;
  if (!(err = parse_size_var(env, "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", o.limits.max_value_length)).empty()) return err;
  if (!(err = parse_tail_sampling(env, o)).empty()) return err;
  if (!(err = parse_bool(env, "LOGFIRE_SCRUBBING", o.scrubbing.enabled)).empty()) return err;
  if (!(err = parse_bool(env, "LOGFIRE_STACK_TRACES", o.stack_traces)).empty()) return err;
  if (auto v = env("LOGFIRE_SCRUBBING_SAFE_KEYS"); v && o.scrubbing.safe_keys.empty())
    parse_comma_list(*v, o.scrubbing.safe_keys);
  if (auto v = env("LOGFIRE_SCRUBBING_DISABLED_PATTERNS"); v && o.scrubbing.disabled_patterns.empty())
    parse_comma_list(*v, o.scrubbing.disabled_patterns);
  return {};
}

resource build_resource(const options& o, const env_lookup& env, platform plat) {
  resource r;
  // service.name: .service_name in code, then LOGFIRE_SERVICE_NAME / OTEL_SERVICE_NAME (both
  // resolved into o.service_name), then a service.name among the resource attributes
  // (OTEL_RESOURCE_ATTRIBUTES or code), then the default; set here and again after the
  // attributes so that the attributes cannot override a name given explicitly.
  r.set("service.name", o.service_name.value_or("unknown_service"));
  if (o.service_version) r.set("service.version", *o.service_version);
  if (o.environment) r.set("deployment.environment.name", *o.environment);
  r.set("service.instance.id", trace_id{random_u64(), random_u64()}.to_hex());
  r.set("telemetry.sdk.name", std::string("logfire-cpp"));
  r.set("telemetry.sdk.language", std::string("cpp"));
  r.set("telemetry.sdk.version", std::string(LOGFIRE_VERSION));
  r.set("process.pid", static_cast<std::int64_t>(getpid()));
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) r.set("host.name", std::string(host));
  r.set("os.type", std::string("linux"));
  add_platform_attributes(plat, env, r);
  for (const auto& [k, v] : o.resource_attributes) r.set(k, v);
  if (o.service_name) r.set("service.name", *o.service_name);
  return r;
}

namespace {

// fork(): the prepare handler takes every lock of the SDK, in the order the SDK's threads take
// them (configure, the metric readers, then the pipeline's work/control/resource/diagnostics/exporter locks, then
// the rings' consumer lock, the registry, the side queue and the metric registries), so that the child never inherits
// one held by a thread that does not exist there. Each is released once the state it protects is fit for the child.
void on_fork_prepare() {
  g_configure_mutex.lock();
  // Metric readers after the configure lock (whose holders may wait for a reader) and before
  // the records' locks (a collection's callbacks may log and read stats()): see instruments.hpp.
  metric_readers_before_fork();
  if (g_active_pipeline) g_active_pipeline->before_fork();
  consumer_mutex().lock();
  thread_registry::instance().mutex().lock();
  side_queue_mutex().lock();
  metric_registries_before_fork();
}
void on_fork_parent() {
  metric_registries_after_fork_in_parent();
  side_queue_mutex().unlock();
  thread_registry::instance().mutex().unlock();
  consumer_mutex().unlock();
  if (g_active_pipeline) g_active_pipeline->after_fork_in_parent();
  metric_readers_after_fork_in_parent();
  g_configure_mutex.unlock();
}
void on_fork_child() {
  metric_registries_after_fork_in_child();
  side_queue_after_fork_in_child();
  thread_registry::instance().after_fork_in_child(this_thread_state_if_any());
  consumer_mutex().unlock();
  if (pipeline* p = g_active_pipeline) {
    p->after_fork_in_child();
    if (p->abandoned()) {
      // The parent's background thread was stuck in an exporter at the fork: the child goes
      // without telemetry rather than inherit a half-built batch.
      if (control* c = publish_control(nullptr)) g_retired_controls.push_back(c);
      g_abandoned_pipelines.push_back(p);
      g_active_pipeline = nullptr;
      std::fputs(
          "logfire: fork() happened while the background thread was stuck in an exporter; this child process "
          "runs without telemetry (its calls count as not_configured)\n",
          stderr);
    }
  }
  metric_readers_after_fork_in_child();  // restarts the reader thread
  g_configure_mutex.unlock();
}

void at_exit_flush() {
  // Normal process exit: deliver what is in memory. This is how a configuration that nobody
  // keeps a guard for ends; one bound to a live shutdown_guard is flushed here too (the guard's
  // destructor, if it runs later, finds nothing to do).
  logfire::shutdown(std::chrono::milliseconds(5000));
}

void install_process_hooks() {
  static const bool once = [] {
    // The metrics layer's handlers are registered before ours, so that our prepare step runs
    // first; from then on ours run the metrics layer's steps between our locks (whichever
    // registered first, a fork always takes the locks in one order).
    install_metrics_fork_handlers();
    pthread_atfork(on_fork_prepare, on_fork_parent, on_fork_child);
    metrics_fork_handled_by_caller();
    std::atexit(at_exit_flush);
    return true;
  }();
  (void)once;
}

// Stops the active pipeline. Caller holds g_configure_mutex. Every wait is bounded by
// `deadline` (plus the pipeline's k_stop_grace for a stuck background thread).
bool stop_active(clock::time_point deadline) {
  // Metrics first: their last collection may run callbacks that log.
  bool metrics_ok = true;
  if (g_metric_reader) metrics_ok = g_metric_reader->shutdown(deadline);
  g_metric_reader.reset();
  pipeline* p = g_active_pipeline;
  if (!p) return metrics_ok;
  // No new call starts with this pipeline; calls in progress finish their push before the
  // final drain (see pipeline/barrier.hpp), unless they take longer than the deadline.
  control* c = publish_control(nullptr);
  if (c) g_retired_controls.push_back(c);
  heavy_barrier();
  const bool callers_done = thread_registry::instance().wait_for_callers(deadline);
  __atomic_store_n(&g_min_level, std::uint8_t{0}, __ATOMIC_RELAXED);
  // A process that stops before the metadata server answered (a short Cloud Run job) would send
  // its last batches without cloud.account.id, cloud.region and faas.instance: wait for the
  // answer, at most a quarter of the time left (the lookup itself gives up after 1 s).
  if (auto lookup = g_metadata_lookup.lock()) {
    const auto now = clock::now();
    if (deadline > now) (void)lookup->wait_until_done(now + (deadline - now) / 4);
  }
  const bool ok = p->shutdown(deadline, !callers_done) && metrics_ok;
  g_active_pipeline = nullptr;
  g_shut_down.store(true, std::memory_order_relaxed);
  if (p->abandoned()) {
    // Its background thread still runs: the object must outlive it. Its closed ledger is
    // what stats() reports until the next configure().
    g_abandoned_pipelines.push_back(p);
    g_last_pipeline.reset();
    g_last_abandoned = p;
  } else {
    g_last_pipeline.reset(p);
    g_last_abandoned = nullptr;
  }
  return ok && callers_done;
}

// A shutdown_guard ends: shut down only if its configuration is still the active one.
void shutdown_generation(std::uint64_t generation) noexcept {
  std::lock_guard lock(g_configure_mutex);
  if (g_active_pipeline && generation == g_generation) stop_active(clock::now() + std::chrono::seconds(5));
}

}  // namespace

}  // namespace detail

using namespace detail;

setup& setup::operator=(setup&& other) noexcept {
  if (this != &other) {
    error_ = std::move(other.error_);
    generation_ = std::exchange(other.generation_, 0);
    checked_ = std::exchange(other.checked_, true);
  }
  return *this;
}

setup::~setup() {
  // `logfire::configure();` with an invalid option: say so, since nobody else will.
  if (!checked_ && !error_.empty())
    std::fprintf(stderr, "logfire: configure() failed, nothing changed: %s\n", error_.c_str());
}

shutdown_guard::shutdown_guard() noexcept {
  std::lock_guard lock(g_configure_mutex);
  if (g_active_pipeline) generation_ = g_generation;
}

shutdown_guard& shutdown_guard::operator=(shutdown_guard&& other) noexcept {
  if (this != &other) {
    if (generation_) shutdown_generation(generation_);
    generation_ = std::exchange(other.generation_, 0);
  }
  return *this;
}

shutdown_guard::~shutdown_guard() {
  if (generation_) shutdown_generation(generation_);
}

namespace {

// The environment configure() reads: the process's, or none (options::read_environment). An
// empty variable counts as unset.
env_lookup environment_for(const options& opts) {
  if (!opts.read_environment) return env_lookup([](std::string_view) { return std::optional<std::string>(); });
  return env_lookup([raw = process_environment()](std::string_view n) -> std::optional<std::string> {
    auto v = raw(n);
    if (v && v->empty()) return std::nullopt;
    return v;
  });
}

// The pipeline's settings from the resolved options: scrubbing, limits, sampling, batching,
// propagation. An invalid scrubbing pattern or propagator name is the error returned.
std::string fill_pipeline_settings(const options& opts, pipeline_settings& s) {
  // Built once here, so an invalid pattern or name fails configure() with its message; the
  // background thread applies it to every record.
  if (opts.scrubbing.enabled.value_or(true)) {
    std::string err;
    s.scrub = scrubber::create(opts.scrubbing, err);
    if (!s.scrub) return err;
  }
  if (opts.limits.ring_bytes) s.ring_bytes = *opts.limits.ring_bytes;
  if (opts.limits.max_ring_bytes) s.ring_growth.max_bytes = *opts.limits.max_ring_bytes;
  if (opts.limits.ring_growth_budget) s.ring_growth.budget = *opts.limits.ring_growth_budget;
  if (opts.limits.overflow) s.overflow = *opts.limits.overflow;
  if (opts.limits.overflow_block_timeout) s.block_timeout = *opts.limits.overflow_block_timeout;
  if (opts.limits.max_attributes) s.max_attributes = *opts.limits.max_attributes;
  if (opts.limits.max_value_length) s.max_value_length = *opts.limits.max_value_length;
  if (opts.limits.max_open_spans) s.max_open_spans = *opts.limits.max_open_spans;
  s.head.ratio = ratio_sampler(opts.trace_sample_rate.value_or(1.0));
  s.head.hook = opts.sampler;
  if (opts.sampling.tail) {
    tail_settings t;
    t.callback = opts.sampling.tail;
    if (opts.sampling.max_traces) t.max_traces = *opts.sampling.max_traces;
    if (opts.sampling.max_bytes) t.max_bytes = *opts.sampling.max_bytes;
    if (opts.sampling.max_age) t.max_age = *opts.sampling.max_age;
    if (opts.sampling.decision_cache) t.decision_cache = *opts.sampling.decision_cache;
    t.drop_on_bound = opts.sampling.drop_on_bound.value_or(false);
    s.tail = std::make_shared<const tail_settings>(std::move(t));
  }
  if (opts.batching.schedule_delay) s.schedule_delay = *opts.batching.schedule_delay;
  s.first_delay = std::min(s.first_delay, s.schedule_delay);
  if (opts.batching.max_export_batch_size) s.max_batch = *opts.batching.max_export_batch_size;
  s.tracing_mode = opts.distributed_tracing.value_or(logfire::distributed_tracing::unset);
  s.baggage_attributes = opts.add_baggage_to_attributes.value_or(true);
  s.stack_traces = opts.stack_traces.value_or(true);
  auto sel = propagators_from_names(opts.propagators.value_or("tracecontext,baggage"),
                                    opts.propagators ? "OTEL_PROPAGATORS" : "propagators");
  if (!sel.ok()) return std::move(sel.error);
  s.propagator = std::move(sel.value);
  return {};
}

// What the platform changes: whether it injects its own trace headers (Cloud Run & co.), and
// then whether tail sampling buffers traces with an incoming parent.
void apply_platform(const options& opts, platform plat, pipeline_settings& s) {
  s.platform_injects = platform_injects_trace_headers(plat);
  s.platform_name = std::string(platform_display_name(plat));
  if (!s.tail) return;
  auto t = std::make_shared<tail_settings>(*s.tail);
  // Where the platform injects its own trace headers and the default mode does not obey them,
  // an incoming parent is the platform's, not a caller's decision.
  t->buffer_remote = opts.sampling.buffer_remote.has_value()
                         ? *opts.sampling.buffer_remote
                         : s.platform_injects && s.tracing_mode == logfire::distributed_tracing::unset;
  s.tail = std::move(t);
}

// The console, or null when it is off; in prompt mode it also prints at the call (s.prompt).
std::shared_ptr<console_exporter> make_console(const options& opts, pipeline_settings& s) {
  if (!opts.console.enabled.value_or(true)) return nullptr;
  console_settings cs;
  cs.output = opts.console.output ? opts.console.output : stdout;
  cs.colors = console_should_color(opts.console.colors.value_or(console_colors::automatic), cs.output);
  cs.min_level = opts.console.min_level.value_or(level::info);
  cs.include_timestamps = opts.console.include_timestamps.value_or(true);
  cs.include_tags = opts.console.include_tags.value_or(true);
  cs.verbose = opts.console.verbose.value_or(false);
  cs.span_style = opts.console.span_style.value_or(console_span_style::show_parents);
  s.console_min_level = std::string(to_string(cs.min_level));
  auto console = std::make_shared<console_exporter>(cs);
  if (opts.console.immediate.value_or(console_is_terminal(cs.output))) {
    console->enable_prompt(s.scrub, s.max_attributes);
    s.prompt = std::make_shared<console_prompt>(console);
  }
  return console;
}

// The metric reader over `exporters`, or null when there is none.
std::shared_ptr<metric_reader> make_metric_reader(const options& opts, const resource& res,
                                                  std::vector<std::shared_ptr<metric_exporter>> exporters) {
  if (exporters.empty()) return nullptr;
  metric_reader_settings ms;
  if (opts.metrics.export_interval) ms.interval = *opts.metrics.export_interval;
  if (opts.metrics.export_timeout) ms.timeout = *opts.metrics.export_timeout;
  ms.preference = opts.metrics.temporality.value_or(metric_temporality::delta);
  ms.res = res;
  ms.exporters = std::move(exporters);
  return std::make_shared<metric_reader>(std::move(ms));
}

// On GCP, project, region and instance id come from the metadata server, off the hot path and
// without blocking startup: they reach the exporters when the lookup answers. Under
// g_configure_mutex.
void start_metadata_lookup(pipeline& p, const std::shared_ptr<metric_reader>& metrics, platform plat,
                           const env_lookup& env) {
  pipeline* raw = &p;
  std::weak_ptr<metric_reader> weak_metrics = metrics;
  auto on_metadata = [raw, weak_metrics](const gcp_metadata& m) {
    resource additions;
    if (!m.project_id.empty()) additions.set("cloud.account.id", m.project_id);
    if (!m.region.empty()) additions.set("cloud.region", m.region);
    if (!m.instance_id.empty()) additions.set("faas.instance", m.instance_id);
    if (additions.attributes.empty()) return;
    if (auto r = weak_metrics.lock()) r->add_resource_attributes(additions);
    raw->add_resource_attributes(std::move(additions));
  };
  g_metadata_lookup.reset();
  if (auto lookup = gcp_metadata_lookup::start_if_gcp(plat, env, on_metadata)) {
    std::shared_ptr<gcp_metadata_lookup> owned(std::move(lookup));
    g_metadata_lookup = owned;
    p.own_lookup(std::move(owned));
  }
}

}  // namespace

// Reads as the steps of a configuration: options, pipeline settings, resource and platform,
// exporters (console, destinations, the user's), metrics; then, under the configuration lock,
// the previous pipeline stopped and the new one started.
setup configure(options opts) {
  // A metric callback runs on the reader's thread, which reconfiguring would have to stop.
  if (on_metric_reader_thread()) return setup("logfire::configure cannot be called from a metric callback");
  try {
    const env_lookup env = environment_for(opts);
    if (auto err = resolve_options(opts, env); !err.empty()) return setup(std::move(err));
    pipeline_settings s;
    if (auto err = fill_pipeline_settings(opts, s); !err.empty()) return setup(std::move(err));
    const platform plat = detect_platform(env);  // once: it reads a dozen variables
    resource res = build_resource(opts, env, plat);
    apply_platform(opts, plat, s);

    std::vector<std::shared_ptr<exporter>> exporters;
    if (auto console = make_console(opts, s)) exporters.push_back(std::move(console));
    std::string err;
    std::vector<std::string> notices;
    auto destinations = make_destination_exporters(opts, res, env, err, notices);
    if (!err.empty()) return setup(std::move(err));
    // Metrics go to the same destinations' /v1/metrics (docs/metrics.md).
    std::vector<std::shared_ptr<metric_exporter>> metric_exporters;
    if (err = make_otlp_metric_destinations(opts, res, env, metric_exporters, notices); !err.empty())
      return setup(std::move(err));
    for (auto& e : opts.metrics.exporters) metric_exporters.push_back(e);
    for (const auto& n : notices) std::fprintf(stderr, "logfire: %s\n", n.c_str());
    for (auto& d : destinations) exporters.push_back(std::move(d));
    for (auto& e : opts.exporters) exporters.push_back(e);
    std::shared_ptr<metric_reader> metrics = make_metric_reader(opts, res, std::move(metric_exporters));

    std::lock_guard lock(g_configure_mutex);
    install_process_hooks();
    stop_active(clock::now() + std::chrono::seconds(5));
    __atomic_store_n(&g_min_level, opts.min_level ? static_cast<std::uint8_t>(*opts.min_level) : std::uint8_t{0},
                     __ATOMIC_RELAXED);
    auto p = std::make_unique<pipeline>(std::move(s), std::move(res), std::move(exporters));
    p->start();
    start_metadata_lookup(*p, metrics, plat, env);
    g_active_pipeline = p.release();
    if (metrics) {
      metrics->start();
      g_metric_reader = std::move(metrics);
    }
    setup result;
    result.generation_ = ++g_generation;
    return result;
  } catch (const std::exception& e) {
    return setup(std::string("logfire::configure failed: ") + e.what());
  }
}

bool force_flush(std::chrono::milliseconds timeout) noexcept {
  // From a metric callback: the collection in progress delivers; waiting here for the reader
  // (which waits for this callback) would never end.
  if (on_metric_reader_thread()) return true;
  std::lock_guard lock(g_configure_mutex);
  if (!g_active_pipeline) return true;
  const auto deadline = clock::now() + timeout;
  const bool metrics_ok = g_metric_reader ? g_metric_reader->force_flush(deadline) : true;
  return g_active_pipeline->flush(deadline) && metrics_ok;
}

bool shutdown(std::chrono::milliseconds timeout) noexcept {
  if (on_metric_reader_thread()) return false;  // a callback cannot stop the thread running it
  std::lock_guard lock(g_configure_mutex);
  if (!g_active_pipeline) return true;
  return stop_active(clock::now() + timeout);
}

bool is_configured() noexcept {
  return g_control.load(std::memory_order_acquire) != nullptr;
}

std::string_view version() noexcept {
  return LOGFIRE_VERSION;
}

pipeline_stats stats() noexcept {
  pipeline_stats s;
  try {
    // A metric callback reads without the lock: configure(), shutdown() and force_flush() hold
    // it while they wait for the collection running the callback (or run it on their own
    // thread), and change no pipeline until that collection has ended.
    std::unique_lock lock(g_configure_mutex, std::defer_lock);
    if (!on_metric_reader_thread()) lock.lock();
    if (g_active_pipeline)
      g_active_pipeline->fill_stats(s);
    else if (g_last_pipeline)
      g_last_pipeline->fill_stats(s);
    else if (g_last_abandoned)
      g_last_abandoned->fill_stats(s);
    else {  // never configured: only calls made too early, each one lost
      s.produced = not_configured_count();
      s.dropped[static_cast<std::size_t>(drop_reason::not_configured)] = s.produced;
    }
  } catch (...) {
  }
  return s;
}

}  // namespace logfire
