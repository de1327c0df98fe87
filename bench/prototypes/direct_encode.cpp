// Prototype for docs/design/throughput.md (not built by CMake; a measurement, not product
// code: the paths it does not prototype abort). A span with 4 attributes, from ring bytes to
// OTLP protobuf bytes, (a) as today (record_builder::build into the batch's records, then the
// OTLP encoder with the shared attributes' bytes it keeps per call-site variant, as the
// exporter runs it), (b) straight from the ring record with a per-call-site cache (pre-encoded
// constant attributes, template plan, attribute shape checked by memcmp). Checks that (b)
// writes the same bytes as (a), then benchmarks both, template formatting, and the span-start
// join.
//
//   cmake --build build/release --target logfire
//   g++ -std=c++20 -O3 -DNDEBUG $(for d in build/release/layers/*; do echo -n "-I$d "; done) -Isrc -Iinclude
//       bench/prototypes/direct_encode.cpp build/release/src/liblogfire-cpp.a -lbenchmark -lre2 -ldeflate -lz
//       -lcurl -lpthread -o /tmp/direct_encode
//   /tmp/direct_encode --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   valgrind --tool=callgrind /tmp/direct_encode --ir direct 20    # instructions: --ir today|direct N
#include <benchmark/benchmark.h>

#include <charconv>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "export/otlp_encoder.hpp"
#include "formatting/message_template.hpp"
#include "logfire/record.hpp"
#include "record/arena.hpp"
#include "record/records.hpp"
#include "record/wire.hpp"
#include "resource/resource.hpp"
#include "text/json.hpp"
#include "text/utf8.hpp"

using namespace logfire;
using namespace logfire::detail;

namespace {

constexpr int N = 512;

const char* k_file = "src/billing/charge.cpp";
const char* k_func = "void charge(int)";

// Ring bytes of one span_start, as encode_body writes them.
std::vector<std::byte> make_start(std::uint64_t i) {
  record_fixed f{};
  f.trace_hi = 0x0123456789abcdefULL ^ i;
  f.trace_lo = 0xfedcba9876543210ULL + i;
  f.span = 0x1111222233334444ULL + i;
  f.parent = 0x5555666677778888ULL;
  f.start_ns = 1'700'000'000'000'000'000ULL + i * 1000;
  f.file = k_file;
  f.function = k_func;
  f.line = 118;
  f.depth = 1;
  f.flags = 1;
  f.kind = 1;
  f.lvl = 9;
  f.n_attrs = 4;
  auto enc = [&](auto& w) {
    w.pod(f);
    w.str("charge {user}");
    w.str("");
    w.str("user");
    w.u8(static_cast<std::uint8_t>(vtag::string));
    w.str("u-42");
    w.str("amount");
    w.u8(static_cast<std::uint8_t>(vtag::float64));
    w.pod(12.5);
    w.str("attempt");
    w.u8(static_cast<std::uint8_t>(vtag::int64));
    w.pod(static_cast<std::int64_t>(i));
    w.str("ok");
    w.u8(static_cast<std::uint8_t>(vtag::boolean));
    w.u8(1);
  };
  byte_sizer s;
  enc(s);
  std::vector<std::byte> out(s.size());
  byte_writer w(out.data());
  enc(w);
  return out;
}

resource make_resource() {
  resource res;
  res.set("service.name", std::string("checkout"));
  res.set("telemetry.sdk.name", std::string("logfire-cpp"));
  return res;
}

struct fixture {
  std::vector<std::vector<std::byte>> starts;
  std::vector<std::uint64_t> ends;
  resource res = make_resource();
  fixture() {
    for (int i = 0; i < N; ++i) {
      starts.push_back(make_start(static_cast<std::uint64_t>(i)));
      ends.push_back(1'700'000'000'000'000'000ULL + static_cast<std::uint64_t>(i) * 1000 + 5000);
    }
  }
};
fixture& fx() {
  static fixture f;
  return f;
}

// ---- (a) today ------------------------------------------------------------------------------

struct today {
  decode_counters counters;
  record_builder builder{counters};
  arena a;
  std::vector<span_record> batch;
  std::string buf;
  shared_attribute_bytes shared;  // as the pipeline's OTLP encoder keeps them
  void build() {
    auto& f = fx();
    for (int i = 0; i < N; ++i) {
      span_record& r = batch.emplace_back();
      builder.build(f.starts[i].data(), f.starts[i].size(), false, {}, f.ends[i], a, r);
    }
  }
  // One request, for the check.
  void run(std::string& out) {
    build();
    encode_traces_protobuf(batch, fx().res, out, &shared);
    batch.clear();
    a.reset();
  }
  // As the pipeline's OTLP exporter does (the records built in the batch's vector, bodies
  // written into a reused buffer and handed to a sink): what is measured. Returns the body's size.
  std::size_t run_as_exporter() {
    build();
    std::size_t bytes = 0;
    encode_traces_protobuf_split(
        batch, fx().res, k_max_request_body_bytes, buf,
        [&](std::string_view body, std::size_t, std::size_t) { bytes += body.size(); }, &shared);
    batch.clear();
    a.reset();
    return bytes;
  }
};

// ---- (b) direct -----------------------------------------------------------------------------

inline std::size_t varint_size(std::uint64_t v) noexcept {
  return static_cast<std::size_t>((std::bit_width(v | 1u) * 9 + 64) >> 6);
}
inline char* put_varint(char* p, std::uint64_t v) noexcept {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}
inline char* put_fixed64(char* p, std::uint64_t v) noexcept {
  std::memcpy(p, &v, 8);
  return p + 8;
}
inline char* put_be64(char* p, std::uint64_t v) noexcept {
  v = __builtin_bswap64(v);
  std::memcpy(p, &v, 8);
  return p + 8;
}
// ASCII fast path of UTF-8 validation (8 bytes at a time), full check otherwise.
inline bool utf8_ok(std::string_view s) noexcept {
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if (w & 0x8080808080808080ULL) return is_valid_utf8(s);
  }
  for (; i < s.size(); ++i)
    if (static_cast<unsigned char>(s[i]) >= 0x80) return is_valid_utf8(s);
  return true;
}

void append_kv_string(std::string& out, std::string_view key, std::string_view value) {
  const std::size_t av = 1 + varint_size(value.size()) + value.size();
  const std::size_t kv = 1 + varint_size(key.size()) + key.size() + 1 + varint_size(av) + av;
  out += '\x4A';
  char tmp[10];
  out.append(tmp, static_cast<std::size_t>(put_varint(tmp, kv) - tmp));
  out += '\x0A';
  out.append(tmp, static_cast<std::size_t>(put_varint(tmp, key.size()) - tmp));
  out += key;
  out += '\x12';
  out.append(tmp, static_cast<std::size_t>(put_varint(tmp, av) - tmp));
  out += '\x0A';
  out.append(tmp, static_cast<std::size_t>(put_varint(tmp, value.size()) - tmp));
  out += value;
}
void append_kv_int(std::string& out, std::string_view key, std::int64_t v) {
  const std::size_t av = 1 + varint_size(static_cast<std::uint64_t>(v));
  const std::size_t kv = 1 + varint_size(key.size()) + key.size() + 1 + varint_size(av) + av;
  out += '\x4A';
  char tmp[10];
  out.append(tmp, static_cast<std::size_t>(put_varint(tmp, kv) - tmp));
  out += '\x0A';
  out.append(tmp, static_cast<std::size_t>(put_varint(tmp, key.size()) - tmp));
  out += key;
  out += '\x12';
  out.append(tmp, static_cast<std::size_t>(put_varint(tmp, av) - tmp));
  out += '\x18';
  out.append(tmp, static_cast<std::size_t>(put_varint(tmp, static_cast<std::uint64_t>(v)) - tmp));
}

// What a call site's first record teaches the background thread, reused for every record of
// that site whose attribute keys and kinds are the same (checked by one memcmp).
struct site {
  const char* file = nullptr;
  std::uint32_t line = 0;
  std::string tmpl;        // the template bytes (validated once)
  std::string shape;       // the user attributes' keys and vtags, as in the ring
  std::string name_field;  // Span.name (5) + kind (6) are not adjacent to... name only
  std::string const_a;     // KeyValue logfire.msg_template
  std::string const_b;     // span_type, level_num, json_schema, code.*
  struct piece {
    std::string_view literal;  // into tmpl
    int field = -1;            // user attribute index, or -1
  };
  std::vector<piece> plan;
  bool valid = false;
};

struct direct {
  site sites[64];
  std::string buf;
  std::string msg;
  resource res = make_resource();

  site& lookup(const record_fixed& f, std::string_view tmpl) {
    const std::size_t h = (reinterpret_cast<std::uintptr_t>(f.file) >> 3 ^ f.line * 0x9E3779B1u ^ tmpl.size()) & 63;
    return sites[h];
  }

  // Learns a site from a record (slow path, once per site).
  void learn(site& s, const record_fixed& f, std::string_view tmpl, byte_reader r) {
    s.file = f.file;
    s.line = f.line;
    s.tmpl.assign(tmpl);
    std::vector<std::string> keys;
    std::string shape;
    for (int i = 0; i < f.n_attrs; ++i) {
      const std::string_view key = r.str();
      keys.emplace_back(key);
      const auto tag = static_cast<vtag>(r.u8());
      shape.append(key);
      shape += static_cast<char>(tag);
      switch (tag) {
        case vtag::string:
          (void)r.str();
          break;
        case vtag::boolean:
          (void)r.u8();
          break;
        default:
          (void)r.pod<std::uint64_t>();
      }
    }
    s.shape = shape;
    s.const_a.clear();
    append_kv_string(s.const_a, "logfire.msg_template", tmpl);
    s.const_b.clear();
    append_kv_string(s.const_b, "logfire.span_type", "span");
    append_kv_int(s.const_b, "logfire.level_num", f.lvl);
    std::string schema = "{\"type\":\"object\",\"properties\":{";
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (i) schema += ',';
      json_append_string(schema, keys[i]);
      schema += ":{}";
    }
    schema += "}}";
    append_kv_string(s.const_b, "logfire.json_schema", schema);
    append_kv_string(s.const_b, "code.filepath", f.file);
    append_kv_int(s.const_b, "code.lineno", f.line);
    append_kv_string(s.const_b, "code.function", f.function);
    s.name_field.clear();
    s.name_field += '\x2A';
    char tmp[10];
    s.name_field.append(tmp, static_cast<std::size_t>(put_varint(tmp, tmpl.size()) - tmp));
    s.name_field += tmpl;
    // Plan: "charge {user}" -> literal "charge ", field user. (Plain {name} fields only here.)
    s.plan.clear();
    std::string_view t = s.tmpl;
    std::size_t pos = 0;
    while (pos < t.size()) {
      const std::size_t open = t.find('{', pos);
      if (open == std::string_view::npos) {
        s.plan.push_back({t.substr(pos), -1});
        break;
      }
      const std::size_t close = t.find('}', open);
      const std::string_view name = t.substr(open + 1, close - open - 1);
      int idx = -1;
      for (std::size_t k = 0; k < keys.size(); ++k)
        if (keys[k] == name) idx = static_cast<int>(k);
      s.plan.push_back({t.substr(pos, open - pos), idx});
      pos = close + 1;
    }
    s.valid = true;
  }

  // One span from its ring start record and end time, appended to `out` as ScopeSpans.spans.
  void encode(std::string& out, const std::byte* start, std::size_t size, std::uint64_t end_ns) {
    byte_reader r(start, size);
    const auto f = r.pod<record_fixed>();
    const std::string_view tmpl = r.str();
    const std::string_view trace_state = r.str();
    (void)trace_state;
    site& s = lookup(f, tmpl);
    const std::byte* attrs_at = r.position();
    if (!s.valid || s.file != f.file || s.line != f.line || s.tmpl != tmpl) learn(s, f, tmpl, r);
    // Values of this record; keys checked against the site's shape as they are read.
    std::string_view sval[8];
    std::uint64_t nval[8];
    std::uint8_t tags[8];
    std::string_view keys[8];
    byte_reader ar(attrs_at, size - static_cast<std::size_t>(attrs_at - start));
    std::size_t shape_pos = 0;
    bool same = true;
    for (int i = 0; i < f.n_attrs; ++i) {
      keys[i] = ar.str();
      tags[i] = ar.u8();
      same = same && s.shape.compare(shape_pos, keys[i].size(), keys[i]) == 0 &&
             s.shape[shape_pos + keys[i].size()] == static_cast<char>(tags[i]);
      shape_pos += keys[i].size() + 1;
      switch (static_cast<vtag>(tags[i])) {
        case vtag::string:
          sval[i] = ar.str();
          break;
        case vtag::boolean:
          nval[i] = ar.u8();
          break;
        default:
          nval[i] = ar.pod<std::uint64_t>();
      }
    }
    if (!same) std::abort();  // general path, not prototyped

    const std::size_t at = out.size();
    out.resize(at + 3 + 64 + s.name_field.size() + 512 + s.const_a.size() + s.const_b.size());
    char* base = out.data() + at;
    char* p = base;
    *p++ = 0x12;  // ScopeSpans.spans, 2-byte length slot
    p += 2;
    char* body = p;
    *p++ = 0x0A;
    *p++ = 16;
    p = put_be64(p, f.trace_hi);
    p = put_be64(p, f.trace_lo);
    *p++ = 0x12;
    *p++ = 8;
    p = put_be64(p, f.span);
    if (f.parent) {
      *p++ = 0x22;
      *p++ = 8;
      p = put_be64(p, f.parent);
    }
    std::memcpy(p, s.name_field.data(), s.name_field.size());
    p += s.name_field.size();
    *p++ = 0x30;
    *p++ = static_cast<char>(f.kind);
    *p++ = 0x39;
    p = put_fixed64(p, f.start_ns);
    *p++ = 0x41;
    p = put_fixed64(p, end_ns);
    // User attributes.
    for (int i = 0; i < f.n_attrs; ++i) {
      const std::string_view key = keys[i];
      std::size_t av;
      switch (static_cast<vtag>(tags[i])) {
        case vtag::string:
          if (!utf8_ok(sval[i])) std::abort();  // repair path, not prototyped
          av = 1 + varint_size(sval[i].size()) + sval[i].size();
          break;
        case vtag::boolean:
          av = 2;
          break;
        case vtag::float64:
          av = 9;
          break;
        default:
          av = 1 + varint_size(nval[i]);
      }
      const std::size_t kv = 1 + varint_size(key.size()) + key.size() + 1 + varint_size(av) + av;
      *p++ = 0x4A;
      p = put_varint(p, kv);
      *p++ = 0x0A;
      p = put_varint(p, key.size());
      std::memcpy(p, key.data(), key.size());
      p += key.size();
      *p++ = 0x12;
      p = put_varint(p, av);
      switch (static_cast<vtag>(tags[i])) {
        case vtag::string:
          *p++ = 0x0A;
          p = put_varint(p, sval[i].size());
          std::memcpy(p, sval[i].data(), sval[i].size());
          p += sval[i].size();
          break;
        case vtag::boolean:
          *p++ = 0x10;
          *p++ = static_cast<char>(nval[i]);
          break;
        case vtag::float64:
          *p++ = 0x21;
          p = put_fixed64(p, nval[i]);
          break;
        default:
          *p++ = 0x18;
          p = put_varint(p, nval[i]);
      }
    }
    // logfire.msg from the plan, written in place; lengths back-filled (1-byte slots: < 128).
    *p++ = 0x4A;
    char* kv_len = p++;
    *p++ = 0x0A;
    *p++ = 11;
    std::memcpy(p, "logfire.msg", 11);
    p += 11;
    *p++ = 0x12;
    char* av_len = p++;
    *p++ = 0x0A;
    char* s_len = p++;
    char* text = p;
    for (const auto& pc : s.plan) {
      std::memcpy(p, pc.literal.data(), pc.literal.size());
      p += pc.literal.size();
      if (pc.field >= 0) {
        switch (static_cast<vtag>(tags[pc.field])) {
          case vtag::string:
            std::memcpy(p, sval[pc.field].data(), sval[pc.field].size());  // <= 128: no cut
            p += sval[pc.field].size();
            break;
          default:
            p = std::to_chars(p, p + 24, static_cast<std::int64_t>(nval[pc.field])).ptr;
        }
      }
    }
    const std::size_t tl = static_cast<std::size_t>(p - text);
    *s_len = static_cast<char>(tl);
    *av_len = static_cast<char>(tl + 2);
    *kv_len = static_cast<char>(tl + 2 + 2 + 13);
    // Then the attributes every record of the site shares, in today's order.
    std::memcpy(p, s.const_a.data(), s.const_a.size());
    p += s.const_a.size();
    std::memcpy(p, s.const_b.data(), s.const_b.size());
    p += s.const_b.size();
    *p++ = static_cast<char>(0x85);
    *p++ = 0x01;
    const std::uint32_t flags = (f.flags & 3u) | 0x100u;
    std::memcpy(p, &flags, 4);
    p += 4;
    const std::size_t len = static_cast<std::size_t>(p - body);
    body[-2] = static_cast<char>(len | 0x80);  // 2-byte varint (128..16383)
    body[-1] = static_cast<char>(len >> 7);
    out.resize(at + static_cast<std::size_t>(p - base));
  }

  void run(std::string& out) {
    auto& fxx = fx();
    out.clear();
    for (int i = 0; i < N; ++i) encode(out, fxx.starts[i].data(), fxx.starts[i].size(), fxx.ends[i]);
  }
};

void BM_today_build_and_encode(benchmark::State& state) {
  today t;
  for (auto _ : state) benchmark::DoNotOptimize(t.run_as_exporter());
  state.SetItemsProcessed(state.iterations() * N);
}
BENCHMARK(BM_today_build_and_encode);

void BM_today_build_only(benchmark::State& state) {
  today t;
  for (auto _ : state) {
    t.build();
    benchmark::DoNotOptimize(t.batch.data());
    t.batch.clear();
    t.a.reset();
  }
  state.SetItemsProcessed(state.iterations() * N);
}
BENCHMARK(BM_today_build_only);

void BM_direct_encode(benchmark::State& state) {
  direct d;
  std::string out;
  out.reserve(1 << 20);
  for (auto _ : state) {
    d.run(out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * N);
}
BENCHMARK(BM_direct_encode);

// Template formatting alone: format_message over the decoded attributes vs the cached plan.
void BM_format_message(benchmark::State& state) {
  attribute_value u;
  u.type = attribute_value::kind::string;
  u.s = "u-42";
  attribute_value a;
  a.type = attribute_value::kind::float64;
  a.d = 12.5;
  std::vector<attribute> attrs{{"user", u}, {"amount", a}};
  std::string out;
  for (auto _ : state) {
    format_message("charge {user}", attrs, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_format_message);

void BM_format_plan(benchmark::State& state) {
  struct piece {
    std::string_view literal;
    int field;
  };
  const piece plan[] = {{"charge ", 0}};
  std::string_view vals[2] = {"u-42", ""};
  char buf[256];
  for (auto _ : state) {
    char* p = buf;
    for (const auto& pc : plan) {
      std::memcpy(p, pc.literal.data(), pc.literal.size());
      p += pc.literal.size();
      if (pc.field >= 0) {
        benchmark::DoNotOptimize(vals);
        std::memcpy(p, vals[pc.field].data(), vals[pc.field].size());
        p += vals[pc.field].size();
      }
    }
    benchmark::DoNotOptimize(p);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_format_plan);

// Joining a span's start with its end: today's table (unordered_map node + a heap copy of the
// start body per span) vs an open-addressing table of pointers into the ring.
void BM_join_today(benchmark::State& state) {
  struct open_span {
    std::vector<std::byte> start;
    std::string updates;
  };
  std::unordered_map<std::uint64_t, open_span> open;
  auto& f = fx();
  std::uint64_t id = 1;
  for (auto _ : state) {
    for (int i = 0; i < N; ++i) {
      auto& os = open[id + static_cast<std::uint64_t>(i)];
      os.start.assign(f.starts[i].data(), f.starts[i].data() + f.starts[i].size());
    }
    for (int i = 0; i < N; ++i) {
      auto it = open.find(id + static_cast<std::uint64_t>(i));
      benchmark::DoNotOptimize(it->second.start.data());
      open.erase(it);
    }
    id += N;
  }
  state.SetItemsProcessed(state.iterations() * N);
}
BENCHMARK(BM_join_today);

void BM_join_open_addressing(benchmark::State& state) {
  struct slot {
    std::uint64_t span;  // 0 = free
    const std::byte* start;
  };
  std::vector<slot> table(4096);
  const std::size_t mask = table.size() - 1;
  auto& f = fx();
  std::uint64_t id = 1;
  for (auto _ : state) {
    for (int i = 0; i < N; ++i) {
      const std::uint64_t k = (id + static_cast<std::uint64_t>(i)) * 0x9E3779B97F4A7C15ULL;
      std::size_t h = k >> 52 & mask;
      while (table[h].span) h = (h + 1) & mask;
      table[h] = {id + static_cast<std::uint64_t>(i), f.starts[i].data()};
    }
    for (int i = 0; i < N; ++i) {
      const std::uint64_t key = id + static_cast<std::uint64_t>(i);
      std::size_t h = (key * 0x9E3779B97F4A7C15ULL) >> 52 & mask;
      while (table[h].span != key) h = (h + 1) & mask;
      benchmark::DoNotOptimize(table[h].start);
      // Backward-shift deletion keeps probes short without tombstones.
      std::size_t j = h;
      for (;;) {
        j = (j + 1) & mask;
        if (!table[j].span) break;
        const std::size_t home = (table[j].span * 0x9E3779B97F4A7C15ULL) >> 52 & mask;
        if (((j - home) & mask) >= ((j - h) & mask)) {
          table[h] = table[j];
          h = j;
        }
      }
      table[h].span = 0;
    }
    id += N;
  }
  state.SetItemsProcessed(state.iterations() * N);
}
BENCHMARK(BM_join_open_addressing);

}  // namespace

int main(int argc, char** argv) {
  // Same bytes from both paths?
  {
    today t;
    std::string a;
    t.run(a);
    direct d;
    std::string spans;
    d.run(spans);
    // `a` is a full request; its spans are the suffix after the header.
    const bool same = a.size() >= spans.size() && a.compare(a.size() - spans.size(), spans.size(), spans) == 0;
    std::printf("direct bytes %s today's span bytes (%zu vs %zu bytes for %d spans)\n",
                same ? "==" : "!=", spans.size(), a.size(), N);
    if (!same) {
      std::size_t i = 0;
      const std::size_t off = a.size() - spans.size();
      while (i < spans.size() && a[off + i] == spans[i]) ++i;
      std::printf("first difference at byte %zu of the spans\n", i);
    }
  }
  if (argc > 1 && std::string_view(argv[1]) == "--check") return 0;
  if (argc > 3 && std::string_view(argv[1]) == "--ir") {
    const int iters = std::atoi(argv[3]);
    std::string out;
    if (std::string_view(argv[2]) == "today") {
      today t;
      std::size_t bytes = 0;
      for (int i = 0; i < iters; ++i) bytes = t.run_as_exporter();
      out.resize(bytes);
    } else {
      direct d;
      for (int i = 0; i < iters; ++i) d.run(out);
    }
    std::printf("%zu\n", out.size());
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
