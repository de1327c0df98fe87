// Splitting encoded OTLP trace and metrics requests (see otlp_split.hpp). Runs on a sender thread.
#include "export/otlp_split.hpp"

#include <zlib.h>

#include <cstdint>
#include <vector>

namespace logfire::detail {
namespace {

// ---- protobuf ----------------------------------------------------------------------------
// ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
// ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
// ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
// Fields other than the repeated children are copied as they are into every half.

bool read_varint(std::string_view b, std::size_t& pos, std::uint64_t& v) noexcept {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= b.size()) return false;
    auto c = static_cast<unsigned char>(b[pos++]);
    v |= static_cast<std::uint64_t>(c & 0x7f) << shift;
    if ((c & 0x80) == 0) return true;
  }
  return false;
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_len_field(std::string& out, std::uint32_t field, std::string_view payload) {
  put_varint(out, (static_cast<std::uint64_t>(field) << 3) | 2u);
  put_varint(out, payload.size());
  out.append(payload);
}

// Calls fn(field, whole_field_bytes, payload_for_len_fields) for each field of a message.
template <typename Fn>
bool for_each_field(std::string_view msg, Fn&& fn) {
  std::size_t pos = 0;
  while (pos < msg.size()) {
    std::size_t start = pos;
    std::uint64_t tag = 0;
    if (!read_varint(msg, pos, tag)) return false;
    auto field = static_cast<std::uint32_t>(tag >> 3);
    std::string_view payload;
    switch (tag & 7u) {
      case 0: {
        std::uint64_t ignored = 0;
        if (!read_varint(msg, pos, ignored)) return false;
        break;
      }
      case 1:
        if (msg.size() - pos < 8) return false;
        pos += 8;
        break;
      case 5:
        if (msg.size() - pos < 4) return false;
        pos += 4;
        break;
      case 2: {
        std::uint64_t len = 0;
        if (!read_varint(msg, pos, len) || len > msg.size() - pos) return false;
        payload = msg.substr(pos, static_cast<std::size_t>(len));
        pos += static_cast<std::size_t>(len);
        break;
      }
      default:
        return false;  // groups are not used by OTLP
    }
    if (field == 0) return false;
    fn(field, (tag & 7u) == 2, msg.substr(start, pos - start), payload);
  }
  return true;
}

struct pb_scope {
  std::string other;
  std::vector<std::string_view> spans;
};
struct pb_resource {
  std::string other;
  std::vector<pb_scope> scopes;
};

bool parse_pb(std::string_view body, std::vector<pb_resource>& out, std::size_t& spans) {
  spans = 0;
  bool ok = true;
  bool top_ok = for_each_field(body, [&](std::uint32_t f, bool is_len, std::string_view, std::string_view p) {
    if (f != 1 || !is_len) return;  // unknown top-level fields are dropped
    pb_resource rs;
    const bool parsed =
        for_each_field(p, [&](std::uint32_t f2, bool len2, std::string_view whole2, std::string_view p2) {
          if (f2 != 2 || !len2) {
            rs.other.append(whole2);
            return;
          }
          pb_scope ss;
          const bool scope_parsed =
              for_each_field(p2, [&](std::uint32_t f3, bool len3, std::string_view whole3, std::string_view p3) {
                if (f3 == 2 && len3) {
                  ss.spans.push_back(p3);
                  ++spans;
                } else {
                  ss.other.append(whole3);
                }
              });
          ok = ok && scope_parsed;
          rs.scopes.push_back(std::move(ss));
        });
    ok = ok && parsed;
    out.push_back(std::move(rs));
  });
  return top_ok && ok;
}

void emit_pb(const std::vector<pb_resource>& parts, std::size_t from, std::size_t to, std::string& out) {
  out.clear();
  std::size_t idx = 0;
  std::string rs_body;
  std::string ss_body;
  for (const auto& rs : parts) {
    rs_body = rs.other;
    bool any_scope = false;
    for (const auto& ss : rs.scopes) {
      ss_body = ss.other;
      bool any_span = false;
      for (auto sp : ss.spans) {
        if (idx >= from && idx < to) {
          put_len_field(ss_body, 2, sp);
          any_span = true;
        }
        ++idx;
      }
      if (any_span) {
        put_len_field(rs_body, 2, ss_body);
        any_scope = true;
      }
    }
    if (any_scope) put_len_field(out, 1, rs_body);
  }
}

// ---- OTLP/JSON ---------------------------------------------------------------------------
// {"resourceSpans":[{"resource":{...},"scopeSpans":[{"scope":{...},"spans":[{...},...]}]}]}
// The scanner records where each "spans" array's elements are; a half is the original text
// with each such array rewritten to hold only the selected elements (scopes left empty are
// valid OTLP and cost a few bytes).

struct json_array {
  std::size_t open = 0;   // index of '['
  std::size_t close = 0;  // index of ']'
  std::vector<std::pair<std::size_t, std::size_t>> elems;
};

class json_scanner {
 public:
  explicit json_scanner(std::string_view s) : s_(s) {}

  bool scan(std::vector<json_array>& arrays) {
    arrays_ = &arrays;
    skip_ws();
    if (!value(0)) return false;
    skip_ws();
    return pos_ == s_.size();
  }

 private:
  // `state` follows the path to the spans: 0 top object, 1 resourceSpans array, 2 resource
  // object, 3 scopeSpans array, 4 scope object, 5 spans array; -1 elsewhere.
  bool value(int state) {
    if (++depth_ > 200) return false;
    bool ok = false;
    if (pos_ >= s_.size()) return false;
    char c = s_[pos_];
    if (c == '{') {
      ok = object(state);
    } else if (c == '[') {
      ok = array(state);
    } else if (c == '"') {
      ok = string();
    } else {
      ok = scalar();
    }
    --depth_;
    return ok;
  }

  bool object(int state) {
    ++pos_;
    skip_ws();
    if (peek() == '}') {
      ++pos_;
      return true;
    }
    for (;;) {
      skip_ws();
      std::size_t key_start = pos_ + 1;
      if (peek() != '"' || !string()) return false;
      std::string_view key = s_.substr(key_start, pos_ - 1 - key_start);
      skip_ws();
      if (peek() != ':') return false;
      ++pos_;
      skip_ws();
      int next = -1;
      if (state == 0 && (key == "resourceSpans" || key == "resource_spans")) next = 1;
      if (state == 2 && (key == "scopeSpans" || key == "scope_spans")) next = 3;
      if (state == 4 && key == "spans") next = 5;
      if (!value(next)) return false;
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return true;
      }
      return false;
    }
  }

  bool array(int state) {
    json_array rec;
    rec.open = pos_;
    ++pos_;
    skip_ws();
    int elem_state = state == 1 ? 2 : state == 3 ? 4 : -1;
    if (peek() != ']') {
      for (;;) {
        skip_ws();
        std::size_t start = pos_;
        if (!value(elem_state)) return false;
        if (state == 5) rec.elems.emplace_back(start, pos_);
        skip_ws();
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        if (peek() == ']') break;
        return false;
      }
    }
    rec.close = pos_;
    ++pos_;
    if (state == 5) arrays_->push_back(std::move(rec));
    return true;
  }

  bool string() {
    ++pos_;  // opening quote
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '\\') {
        if (pos_ >= s_.size()) return false;
        ++pos_;
      } else if (c == '"') {
        return true;
      }
    }
    return false;
  }

  bool scalar() {
    std::size_t start = pos_;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == ',' || c == '}' || c == ']' || c == ' ' || c == '\n' || c == '\r' || c == '\t') break;
      ++pos_;
    }
    return pos_ > start;
  }

  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) ++pos_;
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }

  std::string_view s_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  std::vector<json_array>* arrays_ = nullptr;
};

void emit_json(std::string_view body, const std::vector<json_array>& arrays, std::size_t from, std::size_t to,
               std::string& out) {
  out.clear();
  std::size_t copied = 0;
  std::size_t idx = 0;
  for (const auto& a : arrays) {
    out.append(body.substr(copied, a.open + 1 - copied));
    bool first = true;
    for (auto [b, e] : a.elems) {
      if (idx >= from && idx < to) {
        if (!first) out.push_back(',');
        out.append(body.substr(b, e - b));
        first = false;
      }
      ++idx;
    }
    copied = a.close;  // the ']' and what follows are copied by the next round
  }
  out.append(body.substr(copied));
}

// ---- protobuf metrics --------------------------------------------------------------------
// ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
// ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; ... }
// ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; ... }
// Metric { name = 1; description = 2; unit = 3; one of gauge = 5, sum = 7, histogram = 9,
//          exponential_histogram = 10, summary = 11 (each: repeated points = 1, then
//          temporality and monotonicity); metadata = 12 }
// The unit is the data point: a metric whose points fall in both halves appears in both, with
// its name, unit, description and temporality repeated.

struct pb_metric {
  std::string other;  // the Metric's fields but its data
  std::uint32_t data_field = 0;
  std::string data_other;  // the data message's fields but its points
  std::vector<std::string_view> points;
};
struct pb_metric_scope {
  std::string other;
  std::vector<pb_metric> metrics;
};
struct pb_metric_resource {
  std::string other;
  std::vector<pb_metric_scope> scopes;
};

bool is_metric_data_field(std::uint32_t f) noexcept {
  return f == 5 || f == 7 || f == 9 || f == 10 || f == 11;
}

bool parse_pb_metric(std::string_view msg, pb_metric& m, std::size_t& points) {
  bool ok = true;
  bool top = for_each_field(msg, [&](std::uint32_t f, bool is_len, std::string_view whole, std::string_view p) {
    if (!is_len || !is_metric_data_field(f)) {
      m.other.append(whole);
      return;
    }
    // Two data fields in one Metric is not something an SDK writes (they are one oneof): the
    // halves could not say which points they hold, so the body does not parse.
    if (m.data_field != 0) {
      ok = false;
      return;
    }
    m.data_field = f;
    const bool parsed =
        for_each_field(p, [&](std::uint32_t f2, bool len2, std::string_view whole2, std::string_view p2) {
          if (f2 == 1 && len2) {
            m.points.push_back(p2);
            ++points;
          } else {
            m.data_other.append(whole2);
          }
        });
    ok = ok && parsed;
  });
  return top && ok;
}

bool parse_pb_metrics(std::string_view body, std::vector<pb_metric_resource>& out, std::size_t& points) {
  points = 0;
  bool ok = true;
  bool top_ok = for_each_field(body, [&](std::uint32_t f, bool is_len, std::string_view, std::string_view p) {
    if (f != 1 || !is_len) return;  // unknown top-level fields are dropped
    pb_metric_resource rm;
    const bool parsed =
        for_each_field(p, [&](std::uint32_t f2, bool len2, std::string_view whole2, std::string_view p2) {
          if (f2 != 2 || !len2) {
            rm.other.append(whole2);
            return;
          }
          pb_metric_scope sm;
          const bool scope_parsed =
              for_each_field(p2, [&](std::uint32_t f3, bool len3, std::string_view whole3, std::string_view p3) {
                if (f3 == 2 && len3) {
                  pb_metric m;
                  ok = ok && parse_pb_metric(p3, m, points);
                  sm.metrics.push_back(std::move(m));
                } else {
                  sm.other.append(whole3);
                }
              });
          ok = ok && scope_parsed;
          rm.scopes.push_back(std::move(sm));
        });
    ok = ok && parsed;
    out.push_back(std::move(rm));
  });
  return top_ok && ok;
}

void emit_pb_metrics(const std::vector<pb_metric_resource>& parts, std::size_t from, std::size_t to, std::string& out) {
  out.clear();
  std::size_t idx = 0;
  std::string rm_body;
  std::string sm_body;
  std::string m_body;
  std::string data_body;
  for (const auto& rm : parts) {
    rm_body = rm.other;
    bool any_scope = false;
    for (const auto& sm : rm.scopes) {
      sm_body = sm.other;
      bool any_metric = false;
      for (const auto& m : sm.metrics) {
        data_body.clear();
        bool any_point = false;
        for (auto pt : m.points) {
          if (idx >= from && idx < to) {
            put_len_field(data_body, 1, pt);
            any_point = true;
          }
          ++idx;
        }
        if (!any_point) continue;
        data_body.append(m.data_other);
        m_body = m.other;
        put_len_field(m_body, m.data_field, data_body);
        put_len_field(sm_body, 2, m_body);
        any_metric = true;
      }
      if (any_metric) {
        put_len_field(rm_body, 2, sm_body);
        any_scope = true;
      }
    }
    if (any_scope) put_len_field(out, 1, rm_body);
  }
}

bool split_metrics_in_halves(std::string_view body, split_halves& out) {
  std::vector<pb_metric_resource> parts;
  std::size_t total = 0;
  if (!parse_pb_metrics(body, parts, total) || total < 2) return false;
  out.first_spans = total / 2;
  out.second_spans = total - out.first_spans;
  emit_pb_metrics(parts, 0, out.first_spans, out.first);
  emit_pb_metrics(parts, out.first_spans, total, out.second);
  return true;
}

}  // namespace

bool count_request_spans(body_format format, std::string_view body, std::size_t& spans, otlp_signal signal) {
  spans = 0;
  if (signal == otlp_signal::metrics) {
    std::vector<pb_metric_resource> parts;
    return format == body_format::protobuf && parse_pb_metrics(body, parts, spans);
  }
  if (format == body_format::protobuf) {
    std::vector<pb_resource> parts;
    return parse_pb(body, parts, spans);
  }
  std::vector<json_array> arrays;
  if (!json_scanner(body).scan(arrays)) return false;
  for (const auto& a : arrays) spans += a.elems.size();
  return true;
}

bool split_request_in_halves(body_format format, std::string_view body, split_halves& out, otlp_signal signal) {
  if (signal == otlp_signal::metrics) return format == body_format::protobuf && split_metrics_in_halves(body, out);
  std::size_t total = 0;
  if (format == body_format::protobuf) {
    std::vector<pb_resource> parts;
    if (!parse_pb(body, parts, total) || total < 2) return false;
    out.first_spans = total / 2;
    out.second_spans = total - out.first_spans;
    emit_pb(parts, 0, out.first_spans, out.first);
    emit_pb(parts, out.first_spans, total, out.second);
    return true;
  }
  std::vector<json_array> arrays;
  if (!json_scanner(body).scan(arrays)) return false;
  for (const auto& a : arrays) total += a.elems.size();
  if (total < 2) return false;
  out.first_spans = total / 2;
  out.second_spans = total - out.first_spans;
  emit_json(body, arrays, 0, out.first_spans, out.first);
  emit_json(body, arrays, out.first_spans, total, out.second);
  return true;
}

bool gunzip(std::string_view in, std::string& out, std::size_t max_out) {
  out.clear();
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return false;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  char buf[64 * 1024];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    out.append(buf, sizeof buf - zs.avail_out);
    if (out.size() > max_out) {
      rc = Z_MEM_ERROR;
      break;
    }
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      rc = Z_DATA_ERROR;  // input ended before the stream did
      break;
    }
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) out.clear();
  return rc == Z_STREAM_END;
}

}  // namespace logfire::detail
