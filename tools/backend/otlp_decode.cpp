#include "otlp_decode.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/json_util.h>

#include <array>
#include <ctime>
#include <limits>

#include "json.hpp"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "otlp/json_scan.hpp"
#include "otlp/rows.hpp"
#include "otlp/values.hpp"
#include "otlp/wire.hpp"
#include "text.hpp"

namespace logfire::backend {
namespace {

namespace pb_trace = otlp::pb_trace;
namespace pb_logs = otlp::pb_logs;
namespace pb_metrics = otlp::pb_metrics;
namespace pb_common = otlp::pb_common;
namespace pb_resource = otlp::pb_resource;
using otlp::append_base64;
using otlp::is_hex;

constexpr std::array<std::string_view, 3> kRequestNames = {"ExportTraceServiceRequest", "ExportLogsServiceRequest",
                                                           "ExportMetricsServiceRequest"};

// OTLP/JSON field names of the three layers, in the protobuf JSON mapping's two spellings.
struct json_name {
  std::string_view camel, snake;
  [[nodiscard]] bool is(std::string_view key) const { return key == camel || key == snake; }
};
struct signal_layout {
  json_name resources, scopes, items;
  std::string_view item;  // for messages: "span", "log record", "metric"
};
constexpr std::array<signal_layout, 3> kLayouts = {{
    {{"resourceSpans", "resource_spans"}, {"scopeSpans", "scope_spans"}, {"spans", "spans"}, "span"},
    {{"resourceLogs", "resource_logs"}, {"scopeLogs", "scope_logs"}, {"logRecords", "log_records"}, "log record"},
    {{"resourceMetrics", "resource_metrics"}, {"scopeMetrics", "scope_metrics"}, {"metrics", "metrics"}, "metric"},
}};

// The data fields of Metric (a oneof) and the JSON names of each.
struct metric_data_field {
  std::uint32_t number;
  otlp::metric_kind kind;
  json_name name;
};
constexpr std::array<metric_data_field, 5> kMetricData = {{
    {5, otlp::metric_kind::gauge, {"gauge", "gauge"}},
    {7, otlp::metric_kind::sum, {"sum", "sum"}},
    {9, otlp::metric_kind::histogram, {"histogram", "histogram"}},
    {10, otlp::metric_kind::exponential_histogram, {"exponentialHistogram", "exponential_histogram"}},
    {11, otlp::metric_kind::summary, {"summary", "summary"}},
}};

std::int64_t clock_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Which walk over the request this is (see run()).
enum class pass : std::uint8_t { count, validate, decode };

// One request, walked up to three times: `count` checks the outer framing and counts the rows to
// come; `validate` (requests larger than one chunk only) parses every item so that a malformed
// one refuses the request before any chunk is stored; `decode` builds rows and hands them over.
// Messages are reused from item to item, so their allocations are too.
class request_decoder {
 public:
  request_decoder(signal sig, body_format format, std::string_view body, const decode_options& options, row_sink& sink)
      : sig_(sig), format_(format), body_(body), options_(options), sink_(sink), layout_(kLayouts[index(sig)]) {
    int nesting = std::clamp(options.max_nesting, 1, 1000);
    // The parsers' own depth bounds leave room for the deepest value max_nesting allows: message
    // levels item -> event -> KeyValue -> AnyValue, then up to three per nesting level (AnyValue
    // -> KeyValueList -> KeyValue -> AnyValue); JSON adds an array per level. value_depth() then
    // checks the nesting itself, the same for arrays and maps.
    recursion_limit_ = 6 + 3 * nesting;
    json_item_depth_ = 8 + 4 * nesting;
    rules_.now_ns = options.now_ns ? options.now_ns : clock_ns();
    rules_.max_future_ns = options.max_future_ns;
  }

  decode_result run() {
    if (!walk(pass::count)) return result_;
    if (expected_rows_ > options_.max_rows) {
      static constexpr std::array<std::string_view, 3> kRows = {"spans", "log records", "metric data points"};
      fail(decode_result::status::too_many, "request holds " + std::to_string(expected_rows_) + " " +
                                                std::string(kRows[index(sig_)]) + ", more than the limit of " +
                                                std::to_string(options_.max_rows) +
                                                " per request; split the export or raise --max-request-rows");
      return result_;
    }
    multi_ = expected_rows_ > options_.chunk_rows || body_.size() > options_.chunk_bytes / 4;
    if (multi_ && !walk(pass::validate)) return result_;
    if (!sink_.begin(multi_)) {
      fail(decode_result::status::no_memory, "");
      return result_;
    }
    std::size_t rows = std::min(expected_rows_, options_.chunk_rows);
    if (sig_ == signal::metrics) {
      metrics_.reserve(rows);
    } else {
      records_.reserve(rows);
    }
    if (!walk(pass::decode)) return result_;
    flush(true);
    return result_;
  }

 private:
  static std::size_t index(signal s) { return static_cast<std::size_t>(s); }

  bool fail(decode_result::status s, std::string error) {
    if (result_.outcome == decode_result::status::ok) {
      result_.outcome = s;
      result_.error = std::move(error);
    }
    return false;
  }
  bool malformed(const std::string& what) {
    return fail(decode_result::status::malformed,
                std::string(format_ == body_format::json ? "malformed JSON body" : "malformed protobuf body") +
                    ": not a valid " + std::string(kRequestNames[index(sig_)]) + " (" + what + ")");
  }
  // A failure of the JSON scanner (not of a callback, which records its own).
  bool scan_failed(const std::string& error) {
    if (result_.outcome != decode_result::status::ok) return false;
    if (error == "nested too deeply") return too_deep();
    return malformed(error);
  }
  bool too_deep() {
    return fail(decode_result::status::too_deep,
                "attribute values nested deeper than " + std::to_string(options_.max_nesting) + " levels in a " +
                    std::string(layout_.item) + " (raise --max-nesting to accept them)");
  }
  void reject(std::string why) {
    if (result_.rejected++ == 0) result_.rejected_message = std::move(why);
  }

  // ---- walking -------------------------------------------------------------------------------

  bool walk(pass p) {
    pass_ = p;
    item_index_ = 0;
    if (format_ == body_format::protobuf) {
      otlp::field_reader f(body_);
      while (f.next()) {
        if (f.number() == 1 && f.is_bytes() && !pb_resource(f.bytes())) return false;
      }
      return f.ok() || malformed(std::to_string(body_.size()) + " bytes");
    }
    std::string error;
    bool ok = otlp::json_scan::members(
        body_, json_item_depth_ + 6,
        [&](std::string_view key, std::string_view value) {
          if (!layout_.resources.is(key) || otlp::json_scan::is_null(value)) return true;
          std::string inner;
          return otlp::json_scan::elements(
                     value, json_item_depth_ + 5, [&](std::string_view rs) { return json_resource(rs); }, inner) ||
                 scan_failed(inner);
        },
        error);
    return ok || scan_failed(error);
  }

  bool pb_resource(std::string_view bytes) {
    if (pass_ != pass::count) {
      resource_msg_.Clear();
      otlp::field_reader f(bytes);
      while (f.next()) {
        if (f.number() == 1 && f.is_bytes() && !parse_pb(f.bytes(), resource_msg_, true, "a resource")) return false;
      }
      if (otlp::value_depth(resource_msg_.attributes(), options_.max_nesting) > options_.max_nesting) return too_deep();
      if (pass_ == pass::decode) resource_ = otlp::make_resource(resource_msg_);
    }
    otlp::field_reader f(bytes);
    while (f.next()) {
      if (f.number() == 2 && f.is_bytes() && !pb_scope(f.bytes())) return false;
    }
    return f.ok() || malformed("a resource group is cut short");
  }

  bool pb_scope(std::string_view bytes) {
    if (pass_ != pass::count) {
      scope_msg_.Clear();
      otlp::field_reader f(bytes);
      while (f.next()) {
        if (f.number() == 1 && f.is_bytes() && !parse_pb(f.bytes(), scope_msg_, true, "a scope")) return false;
      }
      if (pass_ == pass::decode) scope_ = otlp::make_scope(scope_msg_);
    }
    otlp::field_reader f(bytes);
    while (f.next()) {
      if (f.number() == 2 && f.is_bytes() && !item(f.bytes())) return false;
    }
    return f.ok() || malformed("a scope group is cut short");
  }

  bool json_resource(std::string_view text) {
    std::string error;
    if (pass_ != pass::count) {
      resource_msg_.Clear();
      bool ok = otlp::json_scan::members(
          text, json_item_depth_ + 3,
          [&](std::string_view key, std::string_view value) {
            return key != "resource" || otlp::json_scan::is_null(value) ||
                   parse_json(value, resource_msg_, "a resource");
          },
          error);
      if (!ok) return scan_failed(error);
      if (otlp::value_depth(resource_msg_.attributes(), options_.max_nesting) > options_.max_nesting) return too_deep();
      if (pass_ == pass::decode) resource_ = otlp::make_resource(resource_msg_);
    }
    bool ok = otlp::json_scan::members(
        text, json_item_depth_ + 3,
        [&](std::string_view key, std::string_view value) {
          if (!layout_.scopes.is(key) || otlp::json_scan::is_null(value)) return true;
          std::string inner;
          return otlp::json_scan::elements(
                     value, json_item_depth_ + 2, [&](std::string_view ss) { return json_scope(ss); }, inner) ||
                 scan_failed(inner);
        },
        error);
    return ok || scan_failed(error);
  }

  bool json_scope(std::string_view text) {
    std::string error;
    if (pass_ != pass::count) {
      scope_msg_.Clear();
      bool ok = otlp::json_scan::members(
          text, json_item_depth_ + 1,
          [&](std::string_view key, std::string_view value) {
            return key != "scope" || otlp::json_scan::is_null(value) || parse_json(value, scope_msg_, "a scope");
          },
          error);
      if (!ok) return scan_failed(error);
      if (pass_ == pass::decode) scope_ = otlp::make_scope(scope_msg_);
    }
    bool ok = otlp::json_scan::members(
        text, json_item_depth_ + 1,
        [&](std::string_view key, std::string_view value) {
          if (!layout_.items.is(key) || otlp::json_scan::is_null(value)) return true;
          std::string inner;
          return otlp::json_scan::elements(
                     value, json_item_depth_, [&](std::string_view it) { return item(it); }, inner) ||
                 scan_failed(inner);
        },
        error);
    return ok || scan_failed(error);
  }

  // One span, log record or metric, as protobuf bytes or JSON text.
  bool item(std::string_view raw) {
    ++item_index_;
    if (pass_ == pass::count) {
      ++result_.items;
      if (sig_ != signal::metrics) {
        ++expected_rows_;
        return true;
      }
      return count_points(raw);
    }
    switch (sig_) {
      case signal::traces:
        return span_item(raw);
      case signal::logs:
        return log_item(raw);
      case signal::metrics:
        return format_ == body_format::protobuf ? pb_metric(raw) : json_metric(raw);
    }
    return false;
  }

  // ---- parsing one message -------------------------------------------------------------------

  template <typename Message>
  bool parse_pb(std::string_view bytes, Message& msg, bool merge, const char* what) {
    if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) return malformed(what);
    if (!merge) msg.Clear();
    google::protobuf::io::CodedInputStream in(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                              static_cast<int>(bytes.size()));
    in.SetRecursionLimit(recursion_limit_);
    if (msg.MergeFromCodedStream(&in) && in.ConsumedEntireMessage()) return true;
    // Too deep, or malformed? A deeper limit tells them apart (the stack allows it: it only
    // runs once, on a request that is refused either way).
    Message probe;
    google::protobuf::io::CodedInputStream again(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                                 static_cast<int>(bytes.size()));
    again.SetRecursionLimit(recursion_limit_ + 900);
    if (probe.MergeFromCodedStream(&again) && again.ConsumedEntireMessage()) return too_deep();
    return malformed(std::string(what) + " " + std::to_string(item_index_) + " of the request");
  }

  template <typename Message>
  bool parse_json(std::string_view text, Message& msg, const char* what) {
    google::protobuf::util::JsonParseOptions json_options;
    json_options.ignore_unknown_fields = true;  // OTLP/JSON receivers must accept newer fields
    scratch_ = rewrite_hex_ids(text);
    msg.Clear();
    auto status = google::protobuf::util::JsonStringToMessage(scratch_, &msg, json_options);
    if (status.ok()) return true;
    // The parser's reason may quote the body; only its first words are kept, made printable.
    std::string why(status.message());
    why = why.substr(0, why.find_first_of("\n:"));
    return malformed(std::string(what) + " " + (pass_ == pass::count ? "" : std::to_string(item_index_) + " ") +
                     "of the request: " + text::printable(why, 80));
  }

  template <typename Message>
  bool parse_item(std::string_view raw, Message& msg) {
    return format_ == body_format::protobuf ? parse_pb(raw, msg, false, layout_.item.data())
                                            : parse_json(raw, msg, layout_.item.data());
  }

  // ---- rows ----------------------------------------------------------------------------------

  bool span_item(std::string_view raw) {
    if (!parse_item(raw, span_)) return false;
    int depth = otlp::value_depth(span_.attributes(), options_.max_nesting);
    for (const auto& ev : span_.events())
      depth = std::max(depth, otlp::value_depth(ev.attributes(), options_.max_nesting));
    for (const auto& l : span_.links())
      depth = std::max(depth, otlp::value_depth(l.attributes(), options_.max_nesting));
    if (depth > options_.max_nesting) return too_deep();
    if (pass_ != pass::decode) return true;
    record_row row;
    if (auto why = otlp::span_to_row(span_, rules_, row); !why.empty()) {
      reject(std::move(why));
      return true;
    }
    return keep(std::move(row));
  }

  bool log_item(std::string_view raw) {
    if (!parse_item(raw, log_)) return false;
    if (std::max(otlp::value_depth(log_.attributes(), options_.max_nesting),
                 otlp::value_depth(log_.body(), options_.max_nesting)) > options_.max_nesting) {
      return too_deep();
    }
    if (pass_ != pass::decode) return true;
    record_row row;
    if (auto why = otlp::log_to_row(log_, item_index_ - 1, rules_, row); !why.empty()) {
      reject(std::move(why));
      return true;
    }
    return keep(std::move(row));
  }

  bool keep(record_row&& row) {
    row.resource = resource_;
    row.scope = scope_;
    std::size_t bytes = otlp::approx_bytes(row);
    if (!sink_.reserve(bytes)) return fail(decode_result::status::no_memory, "");
    records_.push_back(std::move(row));
    return after_keep(bytes);
  }

  bool keep(metric_row&& row) {
    row.resource = resource_;
    row.scope = scope_;
    std::size_t bytes = otlp::approx_bytes(row);
    if (!sink_.reserve(bytes)) return fail(decode_result::status::no_memory, "");
    metrics_.push_back(std::move(row));
    return after_keep(bytes);
  }

  bool after_keep(std::size_t bytes) {
    chunk_bytes_ += bytes;
    std::size_t rows = records_.size() + metrics_.size();
    if (multi_ && (rows >= options_.chunk_rows || chunk_bytes_ >= options_.chunk_bytes)) return flush(false);
    return true;
  }

  bool flush(bool last) {
    std::size_t records = records_.size(), points = metrics_.size();
    if (!sink_.flush(records_, metrics_, last)) return fail(decode_result::status::stopped, "");
    result_.records += records;
    result_.metric_points += points;
    if (records + points > 0) ++result_.chunks;
    records_.clear();
    metrics_.clear();
    chunk_bytes_ = 0;
    return true;
  }

  // ---- metrics -------------------------------------------------------------------------------

  // Count pass: data points of one metric (each becomes a row).
  bool count_points(std::string_view raw) {
    if (format_ == body_format::protobuf) {
      otlp::field_reader f(raw);
      while (f.next()) {
        if (!f.is_bytes() || data_field(f.number()) == nullptr) continue;
        otlp::field_reader d(f.bytes());
        while (d.next()) expected_rows_ += d.number() == 1 && d.is_bytes() ? 1 : 0;
        if (!d.ok()) return malformed("a metric's data is cut short");
      }
      return f.ok() || malformed("a metric is cut short");
    }
    std::string error;
    bool ok = otlp::json_scan::members(
        raw, json_item_depth_,
        [&](std::string_view key, std::string_view value) {
          if (json_data_field(key) == nullptr || otlp::json_scan::is_null(value)) return true;
          std::string inner;
          return otlp::json_scan::members(
                     value, json_item_depth_,
                     [&](std::string_view k, std::string_view points) {
                       if ((k != "dataPoints" && k != "data_points") || otlp::json_scan::is_null(points)) return true;
                       std::string e;
                       return otlp::json_scan::elements(
                                  points, json_item_depth_,
                                  [&](std::string_view) {
                                    ++expected_rows_;
                                    return true;
                                  },
                                  e) ||
                              scan_failed(e);
                     },
                     inner) ||
                 scan_failed(inner);
        },
        error);
    return ok || scan_failed(error);
  }

  static const metric_data_field* data_field(std::uint32_t number) {
    for (const auto& d : kMetricData) {
      if (d.number == number) return &d;
    }
    return nullptr;
  }
  static const metric_data_field* json_data_field(std::string_view key) {
    for (const auto& d : kMetricData) {
      if (d.name.is(key)) return &d;
    }
    return nullptr;
  }

  // A metric in protobuf, point by point: the fields other than its data form the header.
  bool pb_metric(std::string_view raw) {
    header_bytes_.clear();
    const metric_data_field* data = nullptr;
    otlp::field_reader f(raw);
    while (f.next()) {
      const metric_data_field* d = f.is_bytes() ? data_field(f.number()) : nullptr;
      if (d != nullptr) {
        data = d;  // a oneof: the last one set wins
      } else {
        header_bytes_.append(f.raw());
      }
    }
    if (!f.ok()) return malformed("metric " + std::to_string(item_index_) + " is cut short");
    if (!parse_pb(header_bytes_, metric_, false, "metric")) return false;
    if (data == nullptr) {
      if (pass_ == pass::decode) reject("metric '" + text::printable(metric_.name()) + "' has no data");
      return true;
    }
    otlp::metric_header h{&metric_, data->kind, std::nullopt, std::nullopt};
    // Scalars of the data message first (they may follow the points on the wire).
    for (otlp::field_reader m(raw); m.next();) {
      if (m.number() != data->number || !m.is_bytes()) continue;
      for (otlp::field_reader d(m.bytes()); d.next();) {
        if (d.number() == 2 && d.is_varint() && data->kind != otlp::metric_kind::gauge &&
            data->kind != otlp::metric_kind::summary) {
          h.temporality = otlp::temporality_name(static_cast<pb_metrics::AggregationTemporality>(d.varint() & 0xFF));
        } else if (d.number() == 3 && d.is_varint() && data->kind == otlp::metric_kind::sum) {
          h.monotonic = d.varint() != 0;
        }
      }
    }
    for (otlp::field_reader m(raw); m.next();) {
      if (m.number() != data->number || !m.is_bytes()) continue;
      otlp::field_reader d(m.bytes());
      while (d.next()) {
        if (d.number() != 1 || !d.is_bytes()) continue;
        if (!pb_point(h, d.bytes())) return false;
      }
      if (!d.ok()) return malformed("metric " + std::to_string(item_index_) + "'s data is cut short");
    }
    return true;
  }

  bool pb_point(const otlp::metric_header& h, std::string_view bytes) {
    switch (h.kind) {
      case otlp::metric_kind::gauge:
      case otlp::metric_kind::sum:
        return parse_pb(bytes, number_, false, "data point") && point(h, number_);
      case otlp::metric_kind::histogram:
        return parse_pb(bytes, histogram_, false, "data point") && point(h, histogram_);
      case otlp::metric_kind::exponential_histogram:
        return parse_pb(bytes, exponential_, false, "data point") && point(h, exponential_);
      case otlp::metric_kind::summary:
        return parse_pb(bytes, summary_, false, "data point") && point(h, summary_);
    }
    return false;
  }

  // A metric in JSON: parsed whole (its points are one array of the body's text, bounded by it).
  bool json_metric(std::string_view raw) {
    if (!parse_json(raw, metric_, "metric")) return false;
    if (pass_ != pass::decode) return true;
    otlp::metric_header h{&metric_, otlp::metric_kind::gauge, std::nullopt, std::nullopt};
    auto each = [&](const auto& points) {
      for (const auto& p : points) {
        if (!point(h, p)) return false;
      }
      return true;
    };
    switch (metric_.data_case()) {
      case pb_metrics::Metric::kGauge:
        return each(metric_.gauge().data_points());
      case pb_metrics::Metric::kSum:
        h.kind = otlp::metric_kind::sum;
        h.temporality = otlp::temporality_name(metric_.sum().aggregation_temporality());
        h.monotonic = metric_.sum().is_monotonic();
        return each(metric_.sum().data_points());
      case pb_metrics::Metric::kHistogram:
        h.kind = otlp::metric_kind::histogram;
        h.temporality = otlp::temporality_name(metric_.histogram().aggregation_temporality());
        return each(metric_.histogram().data_points());
      case pb_metrics::Metric::kExponentialHistogram:
        h.kind = otlp::metric_kind::exponential_histogram;
        h.temporality = otlp::temporality_name(metric_.exponential_histogram().aggregation_temporality());
        return each(metric_.exponential_histogram().data_points());
      case pb_metrics::Metric::kSummary:
        h.kind = otlp::metric_kind::summary;
        return each(metric_.summary().data_points());
      default:
        reject("metric '" + text::printable(metric_.name()) + "' has no data");
        return true;
    }
  }

  template <typename Point>
  bool point(const otlp::metric_header& h, const Point& p) {
    if (otlp::value_depth(p.attributes(), options_.max_nesting) > options_.max_nesting) return too_deep();
    if (pass_ != pass::decode) return true;
    metric_row row;
    if (auto why = otlp::point_to_row(h, p, rules_, row); !why.empty()) {
      reject(std::move(why));
      return true;
    }
    return keep(std::move(row));
  }

  signal sig_;
  body_format format_;
  std::string_view body_;
  decode_options options_;
  row_sink& sink_;
  const signal_layout& layout_;
  int recursion_limit_ = 100;
  int json_item_depth_ = 132;
  otlp::time_rules rules_;
  pass pass_ = pass::count;
  bool multi_ = false;
  decode_result result_;
  std::size_t expected_rows_ = 0;
  std::size_t item_index_ = 0;
  std::size_t chunk_bytes_ = 0;
  std::shared_ptr<const resource_info> resource_;
  std::shared_ptr<const scope_info> scope_;
  pb_resource::Resource resource_msg_;
  pb_common::InstrumentationScope scope_msg_;
  pb_trace::Span span_;
  pb_logs::LogRecord log_;
  pb_metrics::Metric metric_;
  pb_metrics::NumberDataPoint number_;
  pb_metrics::HistogramDataPoint histogram_;
  pb_metrics::ExponentialHistogramDataPoint exponential_;
  pb_metrics::SummaryDataPoint summary_;
  std::vector<record_row> records_;
  std::vector<metric_row> metrics_;
  std::string scratch_;
  std::string header_bytes_;
};

// Keeps everything (decoded_request).
class collecting_sink : public row_sink {
 public:
  explicit collecting_sink(decoded_request& out) : out_(out) {}
  bool reserve(std::size_t) override { return true; }
  bool flush(std::vector<record_row>& records, std::vector<metric_row>& metrics, bool) override {
    if (out_.records.empty()) {
      out_.records.swap(records);
      out_.metrics.swap(metrics);
      return true;
    }
    for (auto& r : records) out_.records.push_back(std::move(r));
    for (auto& m : metrics) out_.metrics.push_back(std::move(m));
    return true;
  }

 private:
  decoded_request& out_;
};

std::string hex_to_bytes(std::string_view hex) {
  std::string out;
  out.reserve(hex.size() / 2);
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return c - 'A' + 10;
  };
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>((nibble(hex[i]) << 4) | nibble(hex[i + 1]));
  }
  return out;
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

}  // namespace

std::string_view signal_name(signal s) {
  switch (s) {
    case signal::traces:
      return "traces";
    case signal::logs:
      return "logs";
    case signal::metrics:
      return "metrics";
  }
  return "traces";
}

decode_result decode_request(signal sig, body_format format, std::string_view body, const decode_options& options,
                             row_sink& sink) {
  request_decoder d(sig, format, body, options, sink);
  return d.run();
}

bool decode_request(signal sig, body_format format, std::string_view body, decoded_request& out, std::string& error) {
  collecting_sink sink(out);
  decode_options options;
  options.chunk_rows = std::numeric_limits<std::size_t>::max();
  options.chunk_bytes = std::numeric_limits<std::size_t>::max();
  decode_result r = decode_request(sig, format, body, options, sink);
  out.rejected = r.rejected;
  out.rejected_message = r.rejected_message;
  if (!r.ok()) error = r.error;
  return r.ok();
}

std::string encode_export_response(signal sig, body_format format, std::int64_t rejected, std::string_view message) {
  static constexpr std::array<std::string_view, 3> json_count_field = {"rejectedSpans", "rejectedLogRecords",
                                                                       "rejectedDataPoints"};
  if (format == body_format::json) {
    if (rejected == 0) return "{}";
    std::string out = "{\"partialSuccess\":{\"";
    out += json_count_field[static_cast<std::size_t>(sig)];
    out += "\":\"";
    json::append_int(out, rejected);
    out += "\",\"errorMessage\":";
    json::append_string(out, message);
    out += "}}";
    return out;
  }
  if (rejected == 0) return {};
  // Every Export<Signal>PartialSuccess has the same layout: 1 = int64 count, 2 = message.
  std::string partial;
  partial += '\x08';
  put_varint(partial, static_cast<std::uint64_t>(rejected));
  partial += '\x12';
  put_varint(partial, message.size());
  partial.append(message);
  std::string out;
  out += '\x0a';  // field 1 (partial_success), length-delimited
  put_varint(out, partial.size());
  out += partial;
  return out;
}

std::string encode_status(body_format format, int grpc_code, std::string_view message) {
  if (format == body_format::json) {
    std::string out = "{\"code\":";
    json::append_int(out, grpc_code);
    out += ",\"message\":";
    json::append_string(out, message);
    out += '}';
    return out;
  }
  std::string out;
  out += '\x08';  // google.rpc.Status: 1 = int32 code, 2 = string message
  put_varint(out, static_cast<std::uint64_t>(grpc_code));
  out += '\x12';
  put_varint(out, message.size());
  out.append(message);
  return out;
}

std::string rewrite_hex_ids(std::string_view in) {
  static constexpr std::array<std::string_view, 6> id_keys = {"traceId",  "spanId",  "parentSpanId",
                                                              "trace_id", "span_id", "parent_span_id"};
  std::string out;
  out.reserve(in.size() + 16);
  std::size_t i = 0;
  // The last string seen and whether it is followed by ':' decides whether the next string is
  // an id value. Strings are skipped as units, so braces or keys inside values never confuse it.
  bool next_is_id_value = false;
  while (i < in.size()) {
    char c = in[i];
    if (c != '"') {
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ':') next_is_id_value = false;
      out += c;
      ++i;
      continue;
    }
    std::size_t end = i + 1;
    bool escaped = false;
    while (end < in.size() && in[end] != '"') {
      if (in[end] == '\\') {
        escaped = true;
        ++end;
      }
      ++end;
    }
    if (end >= in.size()) {  // unterminated: leave the rest for the JSON parser to reject
      out.append(in.substr(i));
      break;
    }
    std::string_view content = in.substr(i + 1, end - i - 1);
    std::size_t after = end + 1;
    std::size_t k = after;
    while (k < in.size() && (in[k] == ' ' || in[k] == '\t' || in[k] == '\n' || in[k] == '\r')) ++k;
    bool is_key = k < in.size() && in[k] == ':';
    if (next_is_id_value && !is_key && !escaped && (content.size() == 32 || content.size() == 16) && is_hex(content)) {
      out += '"';
      append_base64(out, hex_to_bytes(content));
      out += '"';
    } else {
      out.append(in.substr(i, after - i));
    }
    next_is_id_value = is_key && !escaped && std::find(id_keys.begin(), id_keys.end(), content) != id_keys.end();
    i = after;
  }
  return out;
}

void silence_protobuf_logging() {
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int, const std::string&) {});
}

}  // namespace logfire::backend
