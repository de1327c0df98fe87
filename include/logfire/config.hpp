// Setup: configure() once with an options struct; every unset option is read from the
// LOGFIRE_* / OTEL_* environment, then from defaults. Errors are returned, never thrown.
//
//   logfire::configure({.service_name = "checkout"});  // configured until exit, as in Python
//   auto lf = logfire::configure({.console = {.verbose = true}});  // or look at the result:
//   if (!lf) { std::fprintf(stderr, "%s\n", lf.error().c_str()); }  // (unchecked errors print)
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "logfire/context.hpp"
#include "logfire/exporter.hpp"
#include "logfire/levels.hpp"
#include "logfire/metric_exporter.hpp"
#include "logfire/record.hpp"
#include "logfire/scrubbing.hpp"
#include "logfire/stats.hpp"

namespace logfire {

enum class send_to_logfire : std::uint8_t { if_token_present, yes, no };
enum class console_colors : std::uint8_t { automatic, always, never };
// How the console lays out nested spans, as Logfire's ConsoleOptions.span_style.
enum class console_span_style : std::uint8_t {
  simple,        // a flat list, no indentation
  indented,      // two spaces per nesting level
  show_parents,  // indented; a line whose parents are not the ones printed last gets them
                 // reprinted above it (dimmed), so interleaved threads can be told apart
};

// What to do with trace context arriving from other processes (see docs/distributed-tracing.md).
enum class distributed_tracing : std::uint8_t {
  unset,  // continue, warn once; on Cloud Run & co. a remote "not sampled" flag does not drop our spans
  on,     // standard OpenTelemetry: continue and obey the remote sampled flag, silently
  off,    // ignore incoming context and baggage; outgoing requests still carry ours
  link,   // start a new trace per incoming request, linked to the incoming context
};

struct console_options {
  std::optional<bool> enabled{};           // default true; LOGFIRE_CONSOLE
  std::optional<console_colors> colors{};  // default automatic (a terminal, no NO_COLOR); LOGFIRE_CONSOLE_COLORS
  // Default show_parents, as in Logfire; LOGFIRE_CONSOLE_SPAN_STYLE (simple, indented, show-parents).
  std::optional<console_span_style> span_style{};
  optional_level min_level{};                // default info; LOGFIRE_CONSOLE_MIN_LOG_LEVEL
  std::optional<bool> include_timestamps{};  // default true; LOGFIRE_CONSOLE_INCLUDE_TIMESTAMP
  std::optional<bool> include_tags{};        // default true
  std::optional<bool> verbose{};             // default false; LOGFIRE_CONSOLE_VERBOSE
  // Default stdout. Must stay open until shutdown() returned true (or the process exits): after
  // a shutdown() whose deadline passed, the background thread may still be writing a batch.
  std::FILE* output = nullptr;
  // Prompt mode: print a span's line when it starts and a log's when it is made, on the calling
  // thread, as Logfire Python does, so the lines land in order with the program's own output
  // (same FILE). Default: on when `output` is a terminal, off otherwise (lines are then printed
  // by the background thread with each batch, within 100-500 ms); LOGFIRE_CONSOLE_IMMEDIATE.
  // Cost and details: docs/console.md.
  std::optional<bool> immediate{};
};

struct batch_options {
  // Time a record may wait before its batch is exported: 100 ms for the first batch, then
  // this value. Default 500 ms; OTEL_BSP_SCHEDULE_DELAY (ms).
  std::optional<std::chrono::milliseconds> schedule_delay{};
  // Default 512; OTEL_BSP_MAX_EXPORT_BATCH_SIZE.
  std::optional<std::size_t> max_export_batch_size{};
  // Records an exporter may hold in memory waiting for delivery. Default 2048;
  // OTEL_BSP_MAX_QUEUE_SIZE.
  std::optional<std::size_t> max_queue_size{};
  // No export_timeout: a request is bounded by otlp.timeout, and a batch that fails is retried
  // and then spooled, never dropped for taking long (OTEL_BSP_EXPORT_TIMEOUT is said to be
  // unused at configure; docs/export.md).
};

// What a call does when its thread's ring is full (docs/architecture.md, "Overflow policy").
enum class overflow_policy : std::uint8_t {
  drop,   // drop the record and count it (ring_full): the caller never waits. The default.
  block,  // wait up to overflow_block_timeout for ring space, then drop and count it (ring_full)
};

struct limits {
  // Bytes of each thread's ring (records waiting for the background thread), and of each
  // segment it adds in a burst (max_ring_bytes). Default 1 MiB. A thread's ring is sized at its
  // first instrumentation call.
  std::optional<std::size_t> ring_bytes{};
  // When a thread's ring is full, the call adds a segment of ring_bytes instead of dropping,
  // up to this many bytes for the thread's ring in all; the background thread frees each added
  // segment once it has read it. Default 32 MiB (a burst of 100,000 spans fits even when the
  // background thread cannot run meanwhile); LOGFIRE_MAX_RING_BYTES. At most ring_bytes: no
  // growth.
  std::optional<std::size_t> max_ring_bytes{};
  // Bytes of added segments for all threads together. Default 64 MiB;
  // LOGFIRE_RING_GROWTH_BUDGET. The most the rings hold: threads x ring_bytes + this.
  std::optional<std::size_t> ring_growth_budget{};
  // Default drop. LOGFIRE_OVERFLOW ("drop", "block"). With block, a call never waits on the
  // SDK's background thread or once shutdown has begun (it drops and counts instead).
  std::optional<overflow_policy> overflow{};
  // How long a call waits for ring space under overflow_policy::block. Default 1000 ms;
  // LOGFIRE_OVERFLOW_BLOCK_MS.
  std::optional<std::chrono::milliseconds> overflow_block_timeout{};
  // Spans open at once that the background thread keeps track of; a span started beyond it is
  // dropped (counted as open_spans_full). Default 65536.
  std::optional<std::size_t> max_open_spans{};
  // Attributes per record beyond which the rest are dropped (counted). Default 128;
  // OTEL_ATTRIBUTE_COUNT_LIMIT.
  std::optional<std::size_t> max_attributes{};
  // Bytes per string value beyond which it is cut (counted). Default 16384;
  // OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT.
  std::optional<std::size_t> max_value_length{};
};

// OTLP/HTTP export to Logfire and to any OTLP backend, retries and the disk spool
// (docs/export.md). Each option's default, unit and environment variable are given.
enum class otlp_protocol : std::uint8_t { http_protobuf, http_json };

struct otlp_options {
  // Base URL of any OTLP/HTTP backend; "/v1/traces" is appended. OTEL_EXPORTER_OTLP_ENDPOINT.
  std::optional<std::string> endpoint{};
  // Full traces URL, used as-is (wins over endpoint). OTEL_EXPORTER_OTLP_TRACES_ENDPOINT.
  std::optional<std::string> traces_endpoint{};
  // Full metrics URL, used as-is (wins over endpoint for metrics; "/v1/metrics" is appended to
  // endpoint otherwise). OTEL_EXPORTER_OTLP_METRICS_ENDPOINT.
  std::optional<std::string> metrics_endpoint{};
  // Request headers for that backend. OTEL_EXPORTER_OTLP_HEADERS ("k=v,k2=v2", percent-encoded).
  std::vector<std::pair<std::string, std::string>> headers{};
  // Default http/protobuf. OTEL_EXPORTER_OTLP_PROTOCOL ("http/protobuf", "http/json").
  std::optional<otlp_protocol> protocol{};
  // gzip request bodies. Default true. OTEL_EXPORTER_OTLP_COMPRESSION ("gzip", "none").
  std::optional<bool> gzip{};
  // Limit per request, for every destination. Default 10 s. OTEL_EXPORTER_OTLP_TIMEOUT (ms).
  std::optional<std::chrono::milliseconds> timeout{};
  // Keep batches that cannot be delivered on disk and send them later, also from the next
  // process of the same service. Default true. LOGFIRE_SPOOL.
  std::optional<bool> spool{};
  // Parent of the per-destination spool folders. Default $XDG_STATE_HOME/logfire-cpp/spool,
  // else ~/.local/state/logfire-cpp/spool. LOGFIRE_SPOOL_DIR.
  std::optional<std::string> spool_directory{};
  // Bytes per destination; the oldest batches are dropped beyond it. Default 512 MiB.
  // LOGFIRE_SPOOL_MAX_BYTES (bytes, or with a KiB/MiB/GiB suffix).
  std::optional<std::uint64_t> spool_max_bytes{};
  // Delay before the first retry, doubled (with jitter) per failure up to backoff_max.
  // Defaults 1 s and 128 s.
  std::optional<std::chrono::milliseconds> backoff_initial{};
  std::optional<std::chrono::milliseconds> backoff_max{};
  // On SIGTERM/SIGINT, flush for up to signal_grace, then let the signal take its normal
  // effect. Default false. LOGFIRE_FLUSH_ON_SIGNAL.
  std::optional<bool> flush_on_signal{};
  // Default 8 s (Cloud Run kills 10 s after SIGTERM). LOGFIRE_FLUSH_ON_SIGNAL_GRACE_MS (ms).
  std::optional<std::chrono::milliseconds> signal_grace{};
};

// Metrics (docs/metrics.md): the reader that collects every instrument on its own thread and
// hands each collection to the metric exporters (also at force_flush() and shutdown()).
struct metrics_options {
  // Time between collections. Default 60 s; OTEL_METRIC_EXPORT_INTERVAL (ms).
  std::optional<std::chrono::milliseconds> export_interval{};
  // How long a periodic collection waits for the exporters' delivery (their force_flush()).
  // Default 30 s; OTEL_METRIC_EXPORT_TIMEOUT (ms).
  std::optional<std::chrono::milliseconds> export_timeout{};
  // Temporality per instrument kind. Default delta (Logfire's: delta for counters, observable
  // counters and histograms, cumulative for the rest);
  // OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE (cumulative, delta, lowmemory).
  std::optional<metric_temporality> temporality{};
  // Send collections to the OTLP destinations (each Logfire token's /v1/metrics, the OTLP
  // endpoint's /v1/metrics or OTEL_EXPORTER_OTLP_METRICS_ENDPOINT) through the export engine
  // (retries, gzip, body splitting, disk spool). Default true.
  bool send_over_otlp = true;
  // Data points waiting in memory per OTLP destination while its backend is slow or down; beyond
  // it, bodies go to the spool, or are dropped as export_queue_full without one. Default 16384.
  std::size_t max_queue_points = 16384;
  // Further metric exporters (e.g. logfire::memory_metric_exporter). Without any exporter nor
  // OTLP destination no reader runs, and measurements stay aggregated in memory (bounded by each
  // instrument's limit).
  std::vector<std::shared_ptr<metric_exporter>> exporters{};
};

// Input to a custom sampler hook (runs on the caller's thread: keep it cheap, noexcept).
struct sampling_input {
  trace_id trace;
  span_context parent;  // invalid for a root
  std::string_view name{};
  logfire::level level;
  bool is_log;
};
using sampler_hook = std::function<bool(const sampling_input&)>;

// Tail sampling (docs/sampling.md): what the callback sees about one record of a buffered
// trace. Runs on the SDK's background thread, never the caller's.
enum class tail_event : std::uint8_t { span_start, span_end, log };
struct tail_span_info {
  const span_record& record;  // the span (pending at its start, finished at its end) or the log
  tail_event event;
  // From the trace's first span start to this event (the record's start or end time).
  std::chrono::nanoseconds duration;
  level max_level;  // the highest level among the trace's records so far, this one included
  // The trace's records buffered so far (pending spans only when an exporter wants them).
  std::span<const span_record> trace;
};
// Returns the probability, in [0, 1], of keeping the trace. The decision is drawn from the
// trace id (as the head sampler's ratio test), so every process deciding on a trace agrees.
using tail_callback = std::function<double(const tail_span_info&)>;

struct sampling_options {
  // Head sampling rate in [0, 1] (the same as trace_sample_rate; set only one of them).
  std::optional<double> head{};
  // Tail sampling callback; empty = no tail sampling.
  tail_callback tail{};
  // The rate `tail` returns for traces that meet no criterion, when known (level_or_duration
  // sets it): configure() checks it is not above the head rate.
  std::optional<double> background_rate{};
  // Bounds of the tail buffer. When one is reached the oldest buffered trace is decided at once
  // by its records so far (or dropped, see drop_on_bound); records not kept are counted as
  // tail_bound. Defaults: 2048 traces, 16 MiB, 30 s; LOGFIRE_TAIL_MAX_TRACES,
  // LOGFIRE_TAIL_MAX_BYTES (bytes), LOGFIRE_TAIL_MAX_AGE_MS.
  std::optional<std::size_t> max_traces{};
  std::optional<std::size_t> max_bytes{};
  std::optional<std::chrono::milliseconds> max_age{};
  // Decisions remembered for spans and logs arriving after their trace was decided. Default
  // 16384 traces; LOGFIRE_TAIL_DECISION_CACHE.
  std::optional<std::size_t> decision_cache{};
  // On a bound, drop the oldest trace instead of deciding it by its records so far. Default
  // false; LOGFIRE_TAIL_DROP_ON_BOUND.
  std::optional<bool> drop_on_bound{};
  // Buffer traces continued from a remote parent too. Default: no (the caller's system
  // decided), except where the platform injects its own trace headers (Cloud Run & co.) in the
  // default distributed-tracing mode; LOGFIRE_TAIL_BUFFER_REMOTE.
  std::optional<bool> buffer_remote{};
};

// Logfire's ready-made tail sampling: keep a trace when any of its records reaches
// `level_threshold` or it lasts `duration_threshold` (from its first span to now), and a
// `background_rate` share of the others. configure() fails when background_rate > head.
[[nodiscard]] sampling_options level_or_duration(double head = 1.0, level level_threshold = level::notice,
                                                 std::chrono::nanoseconds duration_threshold = std::chrono::seconds(5),
                                                 double background_rate = 0.0);

struct options {
  std::optional<std::string> service_name{};     // default "unknown_service"; LOGFIRE_SERVICE_NAME, OTEL_SERVICE_NAME
  std::optional<std::string> service_version{};  // LOGFIRE_SERVICE_VERSION, OTEL_SERVICE_VERSION
  std::optional<std::string> environment{};      // deployment.environment.name; LOGFIRE_ENVIRONMENT
  std::optional<logfire::send_to_logfire> send_to_logfire{};  // default if_token_present; LOGFIRE_SEND_TO_LOGFIRE
  std::vector<std::string> tokens{};                          // one exporter per token; LOGFIRE_TOKEN (comma-separated)
  std::optional<std::string> base_url{};                      // derived from the token's region; LOGFIRE_BASE_URL
  console_options console{};
  optional_level min_level{};  // records below are dropped at the call site; LOGFIRE_MIN_LEVEL
  // Added to the resource; LOGFIRE_RESOURCE_ATTRIBUTES, OTEL_RESOURCE_ATTRIBUTES (k=v,k2=v2).
  std::vector<std::pair<std::string, std::string>> resource_attributes{};
  // Head sampling ratio in [0, 1]. Default 1; LOGFIRE_TRACE_SAMPLE_RATE, OTEL_TRACES_SAMPLER_ARG.
  std::optional<double> trace_sample_rate{};
  std::optional<logfire::distributed_tracing> distributed_tracing{};  // LOGFIRE_DISTRIBUTED_TRACING
  // Propagators by name: tracecontext, baggage, xcloudtrace, none (comma-separated). Default
  // "tracecontext,baggage"; OTEL_PROPAGATORS.
  std::optional<std::string> propagators{};
  sampler_hook sampler{};  // called for roots after the ratio test; false drops the trace
  // Head and tail sampling (docs/sampling.md).
  sampling_options sampling{};
  // W3C baggage of the current context (logfire::set_baggage, an incoming request) becomes
  // attributes of the spans and logs started in it, as in Logfire Python. Default true.
  std::optional<bool> add_baggage_to_attributes{};
  // Exception events carry `exception.stacktrace`: the calling thread's stack where the exception
  // was recorded (a catch block, logfire::exception, or the scope an exception left), captured
  // with backtrace() and symbolized on the background thread (docs/exceptions.md). Default true;
  // LOGFIRE_STACK_TRACES.
  std::optional<bool> stack_traces{};
  batch_options batching{};
  logfire::limits limits{};
  // Redaction of secrets by Logfire's rules (logfire/scrubbing.hpp, docs/scrubbing.md).
  scrubbing_options scrubbing{};
  otlp_options otlp{};
  // Exporters added to the ones the options imply (console, Logfire, OTLP endpoint).
  std::vector<std::shared_ptr<exporter>> exporters{};
  metrics_options metrics{};
  // Read LOGFIRE_* / OTEL_* variables for unset options. Default true.
  bool read_environment = true;
};

// The result of configure(): whether it worked, and why not. Keeping it is optional: like
// `logfire.configure()` in Python, a successful configure() stays in force until shutdown() or
// normal process exit (which flushes), so `logfire::configure();` on its own line is right. An
// error that nobody looked at (ok(), operator bool or error()) is printed on stderr when the
// result is destroyed, so a failed configure() is never silent. For shutdown at the end of a
// scope, keep a logfire::shutdown_guard.
class setup {
 public:
  setup() = default;
  explicit setup(std::string error) : error_(std::move(error)) {}
  setup(setup&& other) noexcept
      : error_(std::move(other.error_)),
        generation_(std::exchange(other.generation_, 0)),
        checked_(std::exchange(other.checked_, true)) {}
  setup& operator=(setup&& other) noexcept;
  setup(const setup&) = delete;
  setup& operator=(const setup&) = delete;
  ~setup();

  [[nodiscard]] explicit operator bool() const noexcept { return ok(); }
  [[nodiscard]] bool ok() const noexcept {
    checked_ = true;
    return error_.empty();
  }
  // Names the option or variable and the value, e.g.
  // "LOGFIRE_TRACE_SAMPLE_RATE is not a number: 'abc'".
  [[nodiscard]] const std::string& error() const noexcept {
    checked_ = true;
    return error_;
  }

 private:
  friend setup configure(options opts);
  friend class shutdown_guard;
  std::string error_{};
  // The configuration this result started (a configure() count; 0 = none).
  std::uint64_t generation_ = 0;
  mutable bool checked_ = false;
};

// Shuts the SDK down (flushing everything) when it goes out of scope, for programs and tests
// that want the SDK's lifetime bound to a scope rather than to the process:
//
//   auto lf = logfire::configure({...});
//   logfire::shutdown_guard guard(lf);  // shutdown() when main returns, before static destructors
//
// A guard bound to a configuration that a later configure() replaced leaves the newer one
// running. Move-only.
class shutdown_guard {
 public:
  // Binds to the configuration active now (none: the guard does nothing).
  [[nodiscard]] shutdown_guard() noexcept;
  // Binds to the configuration `s` started (a failed configure(): the guard does nothing).
  [[nodiscard]] explicit shutdown_guard(const setup& s) noexcept : generation_(s.generation_) {}
  shutdown_guard(shutdown_guard&& other) noexcept : generation_(std::exchange(other.generation_, 0)) {}
  shutdown_guard& operator=(shutdown_guard&& other) noexcept;
  shutdown_guard(const shutdown_guard&) = delete;
  shutdown_guard& operator=(const shutdown_guard&) = delete;
  ~shutdown_guard();

  // Stop shutting down at scope exit; the SDK then stays until shutdown() or process exit.
  void release() noexcept { generation_ = 0; }

 private:
  std::uint64_t generation_ = 0;
};

// Starts the SDK (or reconfigures it: the previous pipeline is shut down first). The SDK stays
// configured until shutdown() or normal process exit; the result need not be kept.
// Returns an error, changing nothing, when an option or environment variable is invalid.
setup configure(options opts = {});

// Delivers everything produced before the call, waiting until `timeout` at most.
// Returns true when every record reached its destinations (or was counted as dropped
// by design: filtered or not sampled).
bool force_flush(std::chrono::milliseconds timeout = std::chrono::seconds{5}) noexcept;

// Flushes, stops the background thread and the exporters. Prints one summary line if
// anything was lost. Instrumentation calls afterwards are cheap no-ops.
bool shutdown(std::chrono::milliseconds timeout = std::chrono::seconds{5}) noexcept;

// Whether configure() succeeded and shutdown() has not run.
[[nodiscard]] bool is_configured() noexcept;

// The SDK's version, "0.1.0".
[[nodiscard]] std::string_view version() noexcept;

}  // namespace logfire
