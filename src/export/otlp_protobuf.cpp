// ExportTraceServiceRequest written straight into the wire format, without libprotobuf.
// Runs on the exporter's thread. Bytes go into a caller-owned std::string reused from batch to
// batch: its current size is treated as scratch capacity, so steady-state batches neither
// allocate nor zero-fill memory, and no object is created per span.
//
// Length prefixes: a KeyValue's length is computed before it is written (string sizes are
// known), so attributes are written in one go. Messages whose size is only known afterwards
// (Span, Event, Link, Resource) reserve a length slot of typical width and are back-patched;
// when the width turns out different the message body moves by a byte or two. The
// ResourceSpans and ScopeSpans lengths, which cover the whole batch, get 5-byte slots and the
// small header (resource + scope) is slid forward against the first span once the batch is
// done. All varints are canonical (minimal length), as libprotobuf writes them.
//
// Invalid UTF-8 in any string field (a caller breaking the pipeline's promise) is replaced,
// byte by byte, by U+FFFD rather than sent as is, since receivers reject the whole request.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <variant>

#include "export/otlp_encoder.hpp"
#include "export/otlp_wire.hpp"
#include "text/bytes.hpp"

#ifndef LOGFIRE_VERSION
#define LOGFIRE_VERSION "0.0.0"
#endif

namespace logfire::detail {
namespace {

// ---- Span ----

inline char* put_ids(char* p, const span_context& c) noexcept {
  *p++ = 0x0A;  // trace_id = 1
  *p++ = 16;
  p = put_be64(p, c.trace.hi);
  p = put_be64(p, c.trace.lo);
  *p++ = 0x12;  // span_id = 2
  *p++ = 8;
  return put_be64(p, c.span.value);
}

// OTLP flags of a linked span context: W3C flags + has-is-remote + is-remote.
inline std::uint32_t link_flags(const span_context& c) noexcept {
  return static_cast<std::uint32_t>(c.flags & trace_flags::known) | 0x100u | (c.is_remote ? 0x200u : 0u);
}

void put_event(pb_writer& w, const event& e) {
  const std::size_t body = w.open(0x5A, 2);  // Span.events = 11
  const text name = measure(e.name);
  char* p = w.reserve(9 + 6 + name.n);
  if (e.time_unix_nano) {
    *p++ = 0x09;  // time_unix_nano = 1 (fixed64)
    p = put_fixed64(p, e.time_unix_nano);
  }
  if (name.n) p = put_text_field(p, 0x12, name);
  w.commit(p);
  put_attributes(w, 0x1A, e.attributes);  // attributes = 3
  w.close(body, 2);
}

void put_link(pb_writer& w, const link& l) {
  const std::size_t body = w.open(0x6A, 1);  // Span.links = 13
  const text ts = measure(l.trace_state);
  char* p = w.reserve(28 + 6 + ts.n);
  p = put_ids(p, l.context);
  if (ts.n) p = put_text_field(p, 0x1A, ts);  // trace_state = 3
  w.commit(p);
  put_attributes(w, 0x22, l.attributes);  // attributes = 4
  p = w.reserve(5);
  *p++ = 0x35;  // flags = 6 (fixed32)
  p = put_fixed32(p, link_flags(l.context));
  w.commit(p);
  w.close(body, 1);
}

// The largest kept key field put_known_key_value() takes.
constexpr std::size_t k_max_known_field = 100;

// A KeyValue as Span.attributes, its key field kept by the variant (`field`, n <=
// k_max_known_field bytes: the key's tag, length and text), its value a number, a boolean or a
// text of at most 23 bytes: the same bytes as put_key_value<true>() writes. The KeyValue stays
// below 128 bytes, so its two lengths take one byte each and are written after the value.
// False, having written nothing, for other values.
bool put_known_key_value(pb_writer& w, const char* field, std::size_t n, const attribute_value& v) {
  char* const kv = w.reserve(2 + n + 2 + 2 + 23) + 1;
  char* p = copy_bytes(kv + 1, field, n);
  p[0] = 0x12;  // value = 2
  char* const av = p + 1;
  p += 2;
  switch (v.type) {
    case attribute_value::kind::boolean:
      *p++ = 0x10;
      *p++ = v.b ? 1 : 0;
      break;
    case attribute_value::kind::int64:
      *p++ = 0x18;
      p = put_varint(p, static_cast<std::uint64_t>(v.i));
      break;
    case attribute_value::kind::float64:
      *p++ = 0x21;
      p = put_fixed64(p, std::bit_cast<std::uint64_t>(v.d));
      break;
    case attribute_value::kind::string:
      if (v.s.size() > 23) return false;
      *p++ = 0x0A;
      *p++ = static_cast<char>(v.s.size());
      p = copy_bytes(p, v.s.data(), v.s.size());
      break;
    default:
      return false;  // nothing committed
  }
  kv[-1] = 0x4A;
  *av = static_cast<char>(p - av - 1);
  *kv = static_cast<char>(p - kv - 1);
  w.commit(p);
  return true;
}

// Span.attributes = 9, for a record whose variant `s` is known: the attributes before the shared
// ones after the key fields the variant keeps, the shared ones copied as bytes, the rest one by
// one. Those records' attribute arrays are the record builder's own (span_record::shared),
// whose keys and texts it repaired as it made them: their UTF-8 is not checked a second time.
// The encoding without `shared` checks everything and must give the same bytes
// (otlp_shared_attributes_test).
void put_site_attributes(pb_writer& w, const span_record& r, const shared_attribute_bytes::site& s) {
  const std::span<const attribute> own = r.attributes.first(r.shared.first);
  const std::size_t known = std::min(own.size(), s.keys.size());
  const shared_attribute_bytes::site::key* keys = s.keys.data();
  const char* fields = s.key_fields.data();
  for (std::size_t i = 0; i < known; ++i) {
    const attribute& a = own[i];
    // The key's size guards what the variant promises: the same keys in the same places.
    if (keys[i].size > k_max_known_field || keys[i].key_size != a.key.size() ||
        !put_known_key_value(w, fields + keys[i].at, keys[i].size, a.value))
      put_key_value<true>(w, 0x4A, a);
  }
  put_attributes<true>(w, 0x4A, own.subspan(known));
  char* p = w.reserve(s.bytes.size());
  std::memcpy(p, s.bytes.data(), s.bytes.size());
  w.commit(p + s.bytes.size());
  put_attributes<true>(w, 0x4A, r.attributes.subspan(r.shared.first + r.shared.count));
}

// Span.attributes = 9.
void put_span_attributes(pb_writer& w, const span_record& r, shared_attribute_bytes* shared) {
  if (const shared_attribute_bytes::site* s = shared ? shared->find(r) : nullptr)
    put_site_attributes(w, r, *s);
  else
    put_attributes(w, 0x4A, r.attributes);
}

void put_span(pb_writer& w, const span_record& r, shared_attribute_bytes* shared) {
  // Most spans with Logfire's attributes are 128..16383 bytes: a 2-byte length slot.
  const std::size_t body = w.open(0x12, 2);  // ScopeSpans.spans = 2
  const text ts = measure(r.trace_state);
  const text name = measure(r.name);
  char* p = w.reserve(28 + 10 + 2 + 18 + 12 + ts.n + name.n);
  p = put_ids(p, r.context);
  if (ts.n) p = put_text_field(p, 0x1A, ts);  // trace_state = 3
  if (r.parent.valid()) {
    *p++ = 0x22;  // parent_span_id = 4
    *p++ = 8;
    p = put_be64(p, r.parent.value);
  }
  if (name.n) p = put_text_field(p, 0x2A, name);  // name = 5
  if (r.kind != span_kind::unspecified) {
    *p++ = 0x30;  // kind = 6
    *p++ = static_cast<char>(r.kind);
  }
  if (r.start_unix_nano) {
    *p++ = 0x39;  // start_time_unix_nano = 7 (fixed64)
    p = put_fixed64(p, r.start_unix_nano);
  }
  if (r.end_unix_nano) {
    *p++ = 0x41;  // end_time_unix_nano = 8 (fixed64)
    p = put_fixed64(p, r.end_unix_nano);
  }
  w.commit(p);

  put_span_attributes(w, r, shared);
  if (r.dropped_attributes_count) {
    p = w.reserve(6);
    *p++ = 0x50;  // dropped_attributes_count = 10
    w.commit(put_varint(p, r.dropped_attributes_count));
  }
  for (const event& e : r.events) put_event(w, e);
  for (const link& l : r.links) put_link(w, l);

  const text msg = measure(r.status_message);
  const std::size_t status_len = text_field_size(msg) + (r.status != status_code::unset ? 2 : 0);
  p = w.reserve(1 + 5 + status_len + 6);
  if (status_len) {
    *p++ = 0x7A;  // status = 15
    p = put_varint(p, status_len);
    if (msg.n) p = put_text_field(p, 0x12, msg);  // Status.message = 2
    if (r.status != status_code::unset) {
      *p++ = 0x18;  // Status.code = 3
      *p++ = static_cast<char>(r.status);
    }
  }
  *p++ = static_cast<char>(0x85);  // flags = 16 (fixed32): tag 133 as a two-byte varint
  *p++ = 0x01;
  p = put_fixed32(p, r.otlp_flags());
  w.commit(p);
  w.close(body, 2);
}

// ---- request framing ----

// Where the parts of one request body sit while its spans are being written:
//   [0x0A][5-byte slot] [resource field] [0x12][5-byte slot] [scope field] [spans...]
// finish_body() writes the two batch-wide lengths and slides the header up against the spans.
struct body_frame {
  std::size_t start;
  std::size_t resource_field;
  std::size_t resource_field_size;
  std::size_t scope_field;
  std::size_t spans;
};

constexpr std::size_t k_slot = 5;  // a varint slot large enough for any 32-bit length

void put_resource_attribute(pb_writer& w, const resource_attribute& a) {
  attribute kv{a.key, {}};
  std::visit(
      [&kv](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          kv.value.type = attribute_value::kind::string;
          kv.value.s = v;
        } else if constexpr (std::is_same_v<T, bool>) {
          kv.value.type = attribute_value::kind::boolean;
          kv.value.b = v;
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          kv.value.type = attribute_value::kind::int64;
          kv.value.i = v;
        } else {
          kv.value.type = attribute_value::kind::float64;
          kv.value.d = v;
        }
      },
      a.value);
  put_key_value(w, 0x0A, kv);  // Resource.attributes = 1
}

body_frame begin_body(pb_writer& w, const resource& res) {
  body_frame f{};
  f.start = w.pos();
  char* p = w.reserve(1 + k_slot);
  *p = 0x0A;  // ExportTraceServiceRequest.resource_spans = 1
  w.commit(p + 1 + k_slot);

  f.resource_field = w.pos();
  const std::size_t res_body = w.open(0x0A, 2);  // ResourceSpans.resource = 1
  for (const resource_attribute& a : res.attributes) put_resource_attribute(w, a);
  w.close(res_body, 2);
  f.resource_field_size = w.pos() - f.resource_field;

  p = w.reserve(1 + k_slot);
  *p = 0x12;  // ResourceSpans.scope_spans = 2
  w.commit(p + 1 + k_slot);

  f.scope_field = w.pos();
  static constexpr std::string_view version = LOGFIRE_VERSION;
  const std::size_t scope_len = 2 + k_scope_name.size() + 2 + version.size();
  p = w.reserve(2 + scope_len);
  *p++ = 0x0A;  // ScopeSpans.scope = 1
  *p++ = static_cast<char>(scope_len);
  *p++ = 0x0A;  // InstrumentationScope.name = 1
  *p++ = static_cast<char>(k_scope_name.size());
  std::memcpy(p, k_scope_name.data(), k_scope_name.size());
  p += k_scope_name.size();
  *p++ = 0x12;  // InstrumentationScope.version = 2
  *p++ = static_cast<char>(version.size());
  std::memcpy(p, version.data(), version.size());
  p += version.size();
  w.commit(p);
  f.spans = w.pos();
  return f;
}

// Completes the body whose spans end at `end`; returns the offset where the body now begins
// (it ends at `end`). Bytes from the scope field on are not touched.
std::size_t finish_body(pb_writer& w, const body_frame& f, std::size_t end) noexcept {
  char* base = w.at(0);
  const std::size_t ss_len = end - f.scope_field;
  std::size_t p = f.scope_field - varint_size(ss_len);
  put_varint(base + p, ss_len);
  base[--p] = 0x12;
  p -= f.resource_field_size;
  std::memmove(base + p, base + f.resource_field, f.resource_field_size);
  const std::size_t rs_len = end - p;
  p -= varint_size(rs_len);
  put_varint(base + p, rs_len);
  base[--p] = 0x0A;
  return p;
}

static_assert(k_scope_name.size() < 128 && std::string_view(LOGFIRE_VERSION).size() < 100,
              "scope fields are written with one-byte lengths");

}  // namespace

const shared_attribute_bytes::site* shared_attribute_bytes::find(const span_record& r) {
  const span_record::shared_attributes& sh = r.shared;
  if (!sh.site || sh.of != r.attributes.data() || sh.count == 0 || sh.first + sh.count > r.attributes.size())
    return nullptr;
  if (sh.site == last_site_) return last_;
  if (const auto it = bytes_.find(sh.site); it != bytes_.end()) {
    last_site_ = sh.site;
    last_ = &it->second;
    return last_;
  }
  site s;
  pb_writer w(s.bytes, 0);
  put_attributes(w, 0x4A, r.attributes.subspan(sh.first, sh.count));
  s.bytes.resize(w.pos());
  for (const attribute& a : r.attributes.first(sh.first)) {
    const text key = measure(a.key);  // as the general path writes it
    const std::size_t field = text_field_size(key);
    const auto at = static_cast<std::uint32_t>(s.key_fields.size());
    s.key_fields.resize(at + field);
    if (key.n) put_text_field(s.key_fields.data() + at, 0x0A, key);  // KeyValue.key = 1
    s.keys.push_back({static_cast<std::uint32_t>(a.key.size()), at, static_cast<std::uint32_t>(field)});
  }
  const std::size_t kept = s.bytes.size() + s.key_fields.size() + s.keys.size() * sizeof(site::key);
  if (bytes_.size() >= k_max_entries || total_ + kept > k_max_bytes) {
    bytes_.clear();
    total_ = 0;
  }
  total_ += kept;
  last_site_ = sh.site;
  last_ = &bytes_.emplace(sh.site, std::move(s)).first->second;  // a node's value never moves
  return last_;
}

void encode_traces_protobuf(std::span<const span_record> records, const resource& res, std::string& out,
                            shared_attribute_bytes* shared) {
  if (records.empty()) {
    out.clear();  // an empty ExportTraceServiceRequest
    return;
  }
  pb_writer w(out, 0);
  const body_frame f = begin_body(w, res);
  for (const span_record& r : records) put_span(w, r, shared);
  const std::size_t end = w.pos();
  const std::size_t begin = finish_body(w, f, end);
  out.resize(end);
  // The header slots were sized for the worst case; drop the few bytes left in front.
  if (begin) out.erase(0, begin);
}

void encode_traces_protobuf_split(std::span<const span_record> records, const resource& res, std::size_t max_body_bytes,
                                  std::string& buffer, const body_sink& sink, shared_attribute_bytes* shared) {
  if (records.empty()) return;
  // `buffer` keeps its size between calls (it is scratch), so later batches reuse its memory.
  pb_writer w(buffer, 0);
  body_frame f = begin_body(w, res);
  std::size_t first = 0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const std::size_t span_start = w.pos();
    put_span(w, records[i], shared);
    // (pos - start) bounds the final body from above: the header only shrinks.
    if (w.pos() - f.start > max_body_bytes && i > first) {
      const std::size_t begin = finish_body(w, f, span_start);
      sink(std::string_view(w.at(begin), span_start - begin), first, i - first);
      // Start the next body with record i, encoded again (cheaper than moving its bytes
      // behind a new header, and it happens once per several MiB).
      w.rewind(0);
      f = begin_body(w, res);
      put_span(w, records[i], shared);
      first = i;
    }
  }
  const std::size_t end = w.pos();
  const std::size_t begin = finish_body(w, f, end);
  sink(std::string_view(w.at(begin), end - begin), first, records.size() - first);
}

}  // namespace logfire::detail
