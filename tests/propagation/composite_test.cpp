// Composite precedence, the null propagator, OTEL_PROPAGATORS selection and the carriers.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "logfire/propagation.hpp"

namespace {

using headers = std::vector<std::pair<std::string, std::string>>;
using logfire::propagator;

constexpr const char* k_tp = "00-12345678901234567890123456789012-1234567890123456-01";
constexpr const char* k_xctc = "abcdefabcdefabcdefabcdefabcdef01/42;o=0";

std::shared_ptr<const propagator> select(std::string_view names) {
  auto s = logfire::propagators_from_names(names);
  EXPECT_TRUE(s.ok()) << s.error;
  return s.value;
}

logfire::propagation_context extract(const propagator& p, headers h) {
  logfire::header_list_carrier c{h};
  return logfire::extract_context(p, c);
}

TEST(composite, first_valid_trace_context_wins) {
  const headers h{{"traceparent", k_tp}, {"x-cloud-trace-context", k_xctc}, {"tracestate", "a=1"}};
  auto ctx = extract(*select("tracecontext,xcloudtrace"), h);
  EXPECT_EQ(ctx.source, logfire::propagator_kind::tracecontext);
  EXPECT_EQ(ctx.span.trace.to_hex(), "12345678901234567890123456789012");
  EXPECT_EQ(ctx.trace_state, "a=1");

  ctx = extract(*select("xcloudtrace,tracecontext"), h);
  EXPECT_EQ(ctx.source, logfire::propagator_kind::xcloudtrace);
  EXPECT_EQ(ctx.span.trace.to_hex(), "abcdefabcdefabcdefabcdefabcdef01");
  EXPECT_EQ(ctx.span.span.value, 42u);
  EXPECT_EQ(ctx.trace_state, "") << "tracestate belongs to the traceparent that lost";
}

TEST(composite, falls_back_when_the_first_is_invalid) {
  const headers h{{"traceparent", "00-zz-1234567890123456-01"}, {"x-cloud-trace-context", k_xctc}};
  const auto ctx = extract(*select("tracecontext,xcloudtrace"), h);
  EXPECT_EQ(ctx.source, logfire::propagator_kind::xcloudtrace);
}

TEST(composite, baggage_is_merged_with_the_trace_context) {
  const headers h{{"traceparent", k_tp}, {"baggage", "a=1,b=2"}};
  const auto ctx = extract(*logfire::default_propagator(), h);
  EXPECT_TRUE(ctx.has_trace());
  ASSERT_EQ(ctx.baggage.size(), 2u);
  EXPECT_EQ(ctx.baggage[1].value, "2");
}

TEST(composite, injects_with_every_part) {
  logfire::propagation_context ctx;
  ctx.span.trace = logfire::trace_id::from_hex("12345678901234567890123456789012");
  ctx.span.span = logfire::span_id::from_hex("00000000000000ff");
  ctx.baggage = {{"k", "v", ""}};
  std::map<std::string, std::string> out;
  logfire::map_carrier c{out};
  logfire::composite_propagator all({std::make_shared<logfire::trace_context_propagator>(),
                                     std::make_shared<logfire::baggage_propagator>(),
                                     std::make_shared<logfire::cloud_trace_propagator>(true)});
  all.inject(ctx, c);
  EXPECT_EQ(out.at("traceparent"), "00-12345678901234567890123456789012-00000000000000ff-00");
  EXPECT_EQ(out.at("baggage"), "k=v");
  EXPECT_EQ(out.at("x-cloud-trace-context"), "12345678901234567890123456789012/255;o=0");
  const auto f = all.fields();
  EXPECT_EQ(std::vector<std::string_view>(f.begin(), f.end()),
            (std::vector<std::string_view>{"traceparent", "tracestate", "baggage", "x-cloud-trace-context"}));
}

TEST(composite, null_parts_are_ignored) {
  logfire::composite_propagator p({nullptr, std::make_shared<logfire::baggage_propagator>()});
  EXPECT_EQ(p.parts().size(), 1u);
  EXPECT_EQ(extract(p, {{"baggage", "a=1"}}).baggage.size(), 1u);
}

TEST(null_propagator, extracts_and_injects_nothing) {
  logfire::null_propagator p;
  const auto ctx = extract(p, {{"traceparent", k_tp}, {"baggage", "a=1"}, {"x-cloud-trace-context", k_xctc}});
  EXPECT_FALSE(ctx.has_trace());
  EXPECT_TRUE(ctx.baggage.empty());
  logfire::propagation_context out_ctx;
  out_ctx.span.trace = logfire::trace_id::from_hex("12345678901234567890123456789012");
  out_ctx.span.span = logfire::span_id::from_hex("00000000000000ff");
  headers out;
  logfire::header_list_carrier c{out};
  p.inject(out_ctx, c);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(p.fields().empty());
}

struct selection_case {
  const char* names;
  std::vector<std::string_view> fields;
  std::string_view kind;
};

TEST(otel_propagators, selection) {
  const std::vector<selection_case> cases = {
      {"", {"traceparent", "tracestate", "baggage"}, "composite"},
      {"  ", {"traceparent", "tracestate", "baggage"}, "composite"},
      {"tracecontext,baggage", {"traceparent", "tracestate", "baggage"}, "composite"},
      {"tracecontext", {"traceparent", "tracestate"}, "tracecontext"},
      {"baggage", {"baggage"}, "baggage"},
      {"xcloudtrace", {"x-cloud-trace-context"}, "xcloudtrace"},
      {" TraceContext , XCloudTrace ", {"traceparent", "tracestate", "x-cloud-trace-context"}, "composite"},
      {"tracecontext,tracecontext", {"traceparent", "tracestate"}, "tracecontext"},
      {"none", {}, "none"},
      {"none,none", {}, "none"},
      {"tracecontext,none", {"traceparent", "tracestate"}, "tracecontext"},
      {",baggage,", {"baggage"}, "baggage"},
  };
  for (const auto& tc : cases) {
    const auto p = select(tc.names);
    ASSERT_NE(p, nullptr) << tc.names;
    const auto f = p->fields();
    EXPECT_EQ(std::vector<std::string_view>(f.begin(), f.end()), tc.fields) << tc.names;
    EXPECT_EQ(p->name(), tc.kind) << tc.names;
  }
}

TEST(otel_propagators, xcloudtrace_selected_by_name_does_not_inject) {
  const auto p = select("xcloudtrace");
  logfire::propagation_context ctx;
  ctx.span.trace = logfire::trace_id::from_hex("12345678901234567890123456789012");
  ctx.span.span = logfire::span_id::from_hex("00000000000000ff");
  headers out;
  logfire::header_list_carrier c{out};
  p->inject(ctx, c);
  EXPECT_TRUE(out.empty());
}

TEST(otel_propagators, unknown_name_is_an_error_naming_it) {
  auto s = logfire::propagators_from_names("tracecontext,b3");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.value, nullptr);
  EXPECT_EQ(s.error,
            "OTEL_PROPAGATORS names an unknown propagator: 'b3' (known: tracecontext, baggage, xcloudtrace, none)");
  s = logfire::propagators_from_names("jaeger", "options.propagators");
  EXPECT_NE(s.error.find("options.propagators"), std::string::npos);
  EXPECT_NE(s.error.find("'jaeger'"), std::string::npos);
}

TEST(propagator_kind, names) {
  EXPECT_EQ(logfire::to_string(logfire::propagator_kind::tracecontext), "tracecontext");
  EXPECT_EQ(logfire::to_string(logfire::propagator_kind::xcloudtrace), "xcloudtrace");
  EXPECT_EQ(logfire::header_name(logfire::propagator_kind::tracecontext), "traceparent");
  EXPECT_EQ(logfire::header_name(logfire::propagator_kind::xcloudtrace), "X-Cloud-Trace-Context");
  EXPECT_EQ(logfire::header_name(logfire::propagator_kind::none), "");
}

// ---- carriers ------------------------------------------------------------------------------

template <class Map>
void check_map_carrier() {
  Map m{{"TraceParent", k_tp}, {"other", "x"}};
  logfire::map_carrier c{m};
  EXPECT_EQ(c.get("traceparent"), std::optional<std::string_view>(k_tp));
  EXPECT_EQ(c.get("missing"), std::nullopt);
  c.set("traceparent", "new");
  EXPECT_EQ(m.size(), 2u) << "the other casing is replaced, not duplicated";
  EXPECT_EQ(m.at("traceparent"), "new");
  c.set("traceparent", "newer");
  EXPECT_EQ(m.at("traceparent"), "newer");
  EXPECT_EQ(m.size(), 2u);
}

TEST(carrier, std_map) {
  check_map_carrier<std::map<std::string, std::string>>();
}
TEST(carrier, std_unordered_map) {
  check_map_carrier<std::unordered_map<std::string, std::string>>();
}

TEST(carrier, const_map_is_read_only) {
  const std::map<std::string, std::string> m{{"traceparent", k_tp}};
  logfire::map_carrier c{m};
  c.set("traceparent", "x");
  EXPECT_EQ(m.at("traceparent"), k_tp);
  EXPECT_TRUE(logfire::extract_context(*logfire::default_propagator(), c).has_trace());
}

TEST(carrier, multimap_reports_every_value) {
  std::multimap<std::string, std::string> m{{"traceparent", k_tp}, {"traceparent", k_tp}};
  logfire::map_carrier c{m};
  EXPECT_FALSE(logfire::extract_context(*logfire::default_propagator(), c).has_trace());
}

TEST(carrier, header_list_keeps_duplicates_in_order) {
  headers h{{"baggage", "a=1"}, {"x", "y"}, {"BAGGAGE", "b=2"}};
  logfire::header_list_carrier c{h};
  std::vector<std::string> seen;
  c.get_all("baggage", [&](std::string_view v) { seen.emplace_back(v); });
  EXPECT_EQ(seen, (std::vector<std::string>{"a=1", "b=2"}));
  c.set("baggage", "c=3");
  EXPECT_EQ(h, (headers{{"baggage", "c=3"}, {"x", "y"}}));
  c.set("new", "v");
  EXPECT_EQ(h.back(), (std::pair<std::string, std::string>{"new", "v"}));
}

// A carrier that throws: the propagators must not let it through (telemetry never throws
// into the host).
class throwing_carrier final : public logfire::carrier {
 public:
  void get_all(std::string_view, logfire::value_visitor) const override { throw std::runtime_error("boom"); }
  void set(std::string_view, std::string_view) override { throw std::runtime_error("boom"); }
};

TEST(carrier, exceptions_from_a_carrier_are_contained) {
  throwing_carrier c;
  logfire::propagation_context ctx;
  EXPECT_NO_THROW(logfire::default_propagator()->extract(c, ctx));
  ctx.span.trace = logfire::trace_id::from_hex("12345678901234567890123456789012");
  ctx.span.span = logfire::span_id::from_hex("00000000000000ff");
  ctx.baggage = {{"k", "v", ""}};
  EXPECT_NO_THROW(logfire::default_propagator()->inject(ctx, c));
  EXPECT_NO_THROW(logfire::cloud_trace_propagator(true).inject(ctx, c));
  EXPECT_NO_THROW(logfire::cloud_trace_propagator().extract(c, ctx));
}

TEST(propagation_context, clear_keeps_nothing) {
  logfire::propagation_context ctx;
  ctx.span.trace.lo = 1;
  ctx.trace_state = "a=1";
  ctx.baggage = {{"k", "v", ""}};
  ctx.source = logfire::propagator_kind::tracecontext;
  ctx.clear();
  EXPECT_FALSE(ctx.has_trace());
  EXPECT_TRUE(ctx.trace_state.empty());
  EXPECT_TRUE(ctx.baggage.empty());
  EXPECT_EQ(ctx.source, logfire::propagator_kind::none);
}

}  // namespace

namespace {
TEST(carrier, header_names_fold_only_ascii_letters) {
  using logfire::detail::iequals;
  EXPECT_TRUE(iequals("X-Cloud-Trace-Context", "x-cloud-trace-context"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("traceparent", "traceparen"));
  EXPECT_FALSE(iequals("a@b", "a`b"));  // 0x40 / 0x60 differ by the case bit but are not letters
  EXPECT_FALSE(iequals("[", "{"));
  EXPECT_FALSE(iequals("a-b", "a\rb"));
}
}  // namespace
