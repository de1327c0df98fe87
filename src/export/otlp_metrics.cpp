// ExportMetricsServiceRequest written straight into the wire format (see otlp_wire.hpp for the
// primitives). Fields go out in field-number order with proto3's omissions (zero scalars left
// out, optional and oneof fields written when set), which is how libprotobuf serializes, so the
// bytes equal libprotobuf's for the same message (checked by the tests).
//
// Nesting: request > ResourceMetrics > ScopeMetrics > Metric > Sum|Gauge|Histogram|
// ExponentialHistogram > points. Every message whose size is only known afterwards gets a
// length slot and is back-patched by pb_writer::close(), which moves the body when the canonical
// length needs another width (3-byte slots cover 2 MiB, so a 5 MiB body moves once or twice).
#include "export/otlp_metrics.hpp"

#include <bit>
#include <cstdint>
#include <limits>

#include "export/otlp_wire.hpp"

namespace logfire::detail {
namespace {

constexpr std::size_t k_outer = 3;  // length slots of the batch-wide messages
constexpr std::size_t k_point = 2;  // points are a few dozen bytes to ~1.3 KiB (160 buckets)

inline std::uint32_t zigzag32(std::int32_t v) noexcept {
  return (static_cast<std::uint32_t>(v) << 1) ^ static_cast<std::uint32_t>(v >> 31);
}

inline char* put_tag_fixed64(char* p, char tag, std::uint64_t v) noexcept {
  *p++ = tag;
  return put_fixed64(p, v);
}

inline char* put_tag_double(char* p, char tag, double v) noexcept {
  return put_tag_fixed64(p, tag, std::bit_cast<std::uint64_t>(v));
}

// The tag of Metric.data for a metric's point type.
char data_tag(metric_data_type t) noexcept {
  switch (t) {
    case metric_data_type::gauge:
      return 0x2A;  // gauge = 5
    case metric_data_type::sum:
      return 0x3A;  // sum = 7
    case metric_data_type::histogram:
      return 0x4A;  // histogram = 9
    case metric_data_type::exponential_histogram:
      break;
  }
  return 0x52;  // exponential_histogram = 10
}

void put_number_point(pb_writer& w, const number_point& p) {
  const std::size_t body = w.open(0x0A, k_point);  // data_points = 1
  char* o = w.reserve(27);
  if (p.start_unix_nano) o = put_tag_fixed64(o, 0x11, p.start_unix_nano);  // start_time_unix_nano = 2
  if (p.time_unix_nano) o = put_tag_fixed64(o, 0x19, p.time_unix_nano);    // time_unix_nano = 3
  if (p.is_double)
    o = put_tag_double(o, 0x21, p.as_double);  // as_double = 4
  else
    o = put_tag_fixed64(o, 0x31, static_cast<std::uint64_t>(p.as_int));  // as_int = 6 (sfixed64)
  w.commit(o);
  put_attributes(w, 0x3A, p.attributes);  // attributes = 7
  w.close(body, k_point);
}

void put_histogram_point(pb_writer& w, const histogram_point& p) {
  const std::size_t body = w.open(0x0A, k_point);
  const std::size_t nb = p.bucket_counts.size();
  const std::size_t ne = p.explicit_bounds.size();
  char* o = w.reserve(36 + 2 * 11 + 8 * (nb + ne));
  if (p.start_unix_nano) o = put_tag_fixed64(o, 0x11, p.start_unix_nano);
  if (p.time_unix_nano) o = put_tag_fixed64(o, 0x19, p.time_unix_nano);
  if (p.count) o = put_tag_fixed64(o, 0x21, p.count);  // count = 4
  o = put_tag_double(o, 0x29, p.sum);                  // sum = 5 (optional: always set)
  if (nb) {
    *o++ = 0x32;  // bucket_counts = 6, packed fixed64
    o = put_varint(o, 8 * nb);
    for (std::uint64_t c : p.bucket_counts) o = put_fixed64(o, c);
  }
  if (ne) {
    *o++ = 0x3A;  // explicit_bounds = 7, packed double
    o = put_varint(o, 8 * ne);
    for (double b : p.explicit_bounds) o = put_fixed64(o, std::bit_cast<std::uint64_t>(b));
  }
  w.commit(o);
  put_attributes(w, 0x4A, p.attributes);  // attributes = 9
  if (p.count) {
    o = w.reserve(18);
    o = put_tag_double(o, 0x59, p.min);  // min = 11
    o = put_tag_double(o, 0x61, p.max);  // max = 12
    w.commit(o);
  }
  w.close(body, k_point);
}

void put_exponential_point(pb_writer& w, const exponential_histogram_point& p) {
  const std::size_t body = w.open(0x0A, k_point);
  put_attributes(w, 0x0A, p.attributes);  // attributes = 1
  std::size_t counts_len = 0;
  for (std::uint64_t c : p.positive_counts) counts_len += varint_size(c);
  char* o = w.reserve(36 + 6 + 9 + 1 + 5 + 6 + 5 + counts_len + 18);
  if (p.start_unix_nano) o = put_tag_fixed64(o, 0x11, p.start_unix_nano);
  if (p.time_unix_nano) o = put_tag_fixed64(o, 0x19, p.time_unix_nano);
  if (p.count) o = put_tag_fixed64(o, 0x21, p.count);
  o = put_tag_double(o, 0x29, p.sum);  // sum = 5 (optional: always set)
  if (p.scale) {
    *o++ = 0x30;  // scale = 6, sint32
    o = put_varint(o, zigzag32(p.scale));
  }
  if (p.zero_count) o = put_tag_fixed64(o, 0x39, p.zero_count);  // zero_count = 7
  if (!p.positive_counts.empty()) {
    // positive = 8: Buckets { sint32 offset = 1; repeated uint64 bucket_counts = 2 (packed); }
    const std::size_t offset_len = p.positive_offset ? 1 + varint_size(zigzag32(p.positive_offset)) : 0;
    const std::size_t buckets_len = offset_len + 1 + varint_size(counts_len) + counts_len;
    *o++ = 0x42;
    o = put_varint(o, buckets_len);
    if (p.positive_offset) {
      *o++ = 0x08;
      o = put_varint(o, zigzag32(p.positive_offset));
    }
    *o++ = 0x12;
    o = put_varint(o, counts_len);
    for (std::uint64_t c : p.positive_counts) o = put_varint(o, c);
  }
  if (p.count) {
    o = put_tag_double(o, 0x61, p.min);  // min = 12
    o = put_tag_double(o, 0x69, p.max);  // max = 13
  }
  w.commit(o);
  w.close(body, k_point);
}

// The open messages of the body being written.
class body_writer {
 public:
  body_writer(std::string& buffer, const metric_batch& batch) : w_(buffer, 0), batch_(batch) {}

  void begin_body() {
    w_.rewind(0);
    rm_ = w_.open(0x0A, k_outer);                    // ExportMetricsServiceRequest.resource_metrics = 1
    const std::size_t res = w_.open(0x0A, k_outer);  // ResourceMetrics.resource = 1
    put_attributes(w_, 0x0A, batch_.resource);       // Resource.attributes = 1
    w_.close(res, k_outer);
    sm_ = w_.open(0x12, k_outer);                      // ResourceMetrics.scope_metrics = 2
    const std::size_t scope = w_.open(0x0A, k_outer);  // ScopeMetrics.scope = 1
    const text name = measure(batch_.scope_name);
    const text version = measure(batch_.scope_version);
    char* o = w_.reserve(12 + name.n + version.n);
    if (name.n) o = put_text_field(o, 0x0A, name);        // InstrumentationScope.name = 1
    if (version.n) o = put_text_field(o, 0x12, version);  // InstrumentationScope.version = 2
    w_.commit(o);
    w_.close(scope, k_outer);
  }

  void begin_metric(const metric_data& m) {
    metric_ = w_.open(0x12, k_outer);  // ScopeMetrics.metrics = 2
    const text name = measure(m.name);
    const text description = measure(m.description);
    const text unit = measure(m.unit);
    char* o = w_.reserve(18 + name.n + description.n + unit.n);
    if (name.n) o = put_text_field(o, 0x0A, name);                // name = 1
    if (description.n) o = put_text_field(o, 0x12, description);  // description = 2
    if (unit.n) o = put_text_field(o, 0x1A, unit);                // unit = 3
    w_.commit(o);
    data_ = w_.open(data_tag(m.type), k_outer);
  }

  void end_metric(const metric_data& m) {
    if (m.type != metric_data_type::gauge) {
      char* o = w_.reserve(4);
      if (m.temporality != aggregation_temporality::unspecified) {
        *o++ = 0x10;  // aggregation_temporality = 2
        *o++ = static_cast<char>(m.temporality);
      }
      if (m.type == metric_data_type::sum && m.monotonic) {
        *o++ = 0x18;  // Sum.is_monotonic = 3
        *o++ = 1;
      }
      w_.commit(o);
    }
    w_.close(data_, k_outer);
    w_.close(metric_, k_outer);
  }

  // Closes the body; returns its size (it starts at offset 0 of the buffer).
  std::size_t end_body() {
    w_.close(sm_, k_outer);
    w_.close(rm_, k_outer);
    return w_.pos();
  }

  pb_writer& writer() noexcept { return w_; }
  std::string_view bytes(std::size_t n) noexcept { return {w_.at(0), n}; }

 private:
  pb_writer w_;
  const metric_batch& batch_;
  std::size_t rm_ = 0, sm_ = 0, metric_ = 0, data_ = 0;
};

void put_point(pb_writer& w, const metric_data& m, std::size_t i) {
  switch (m.type) {
    case metric_data_type::sum:
    case metric_data_type::gauge:
      put_number_point(w, m.numbers[i]);
      break;
    case metric_data_type::histogram:
      put_histogram_point(w, m.histograms[i]);
      break;
    case metric_data_type::exponential_histogram:
      put_exponential_point(w, m.exponential_histograms[i]);
      break;
  }
}

}  // namespace

void encode_metrics_protobuf_split(const metric_batch& batch, std::size_t max_body_bytes, std::string& buffer,
                                   const metric_body_sink& sink) {
  if (batch.point_count() == 0) return;
  body_writer b(buffer, batch);
  pb_writer& w = b.writer();
  b.begin_body();
  std::size_t in_body = 0;
  for (const metric_data& m : batch.metrics) {
    const std::size_t n = m.point_count();
    if (n == 0) continue;
    b.begin_metric(m);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t mark = w.pos();
      put_point(w, m, i);
      // pos() bounds the finished body from above: closing only shrinks length slots or grows
      // them by a byte or two per open message (accounted for by the margin).
      if (w.pos() + 16 > max_body_bytes && in_body > 0) {
        w.rewind(mark);
        b.end_metric(m);
        sink(b.bytes(b.end_body()), in_body);
        b.begin_body();
        b.begin_metric(m);
        put_point(w, m, i);
        in_body = 0;
      }
      ++in_body;
    }
    b.end_metric(m);
  }
  sink(b.bytes(b.end_body()), in_body);
}

void encode_metrics_protobuf(const metric_batch& batch, std::string& out) {
  if (batch.point_count() == 0) {
    out.clear();  // an empty ExportMetricsServiceRequest
    return;
  }
  std::size_t size = 0;
  encode_metrics_protobuf_split(batch, std::numeric_limits<std::size_t>::max(), out,
                                [&size](std::string_view body, std::size_t) { size = body.size(); });
  out.resize(size);
}

}  // namespace logfire::detail
