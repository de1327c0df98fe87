// Exception events carry `exception.stacktrace`: the stack where the exception was recorded,
// innermost frame first, starting at the application's code (the SDK's own frames left out),
// one line per frame with the function's name from the module's symbol table and the module.
#include <cstdio>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/core_support.hpp"

using namespace core_test;

// Never inlined, so that each is a frame of its own at every optimisation level.
namespace stack_test {

[[gnu::noinline]] void throw_declined() {
  throw std::runtime_error("card declined");
}

[[gnu::noinline]] void settle_invoice_catching() {
  logfire::span s("settle");
  try {
    throw_declined();
  } catch (const std::exception& e) {
    s.record_exception(e);
  }
}

[[gnu::noinline]] void refund_logging_exception() {
  try {
    throw_declined();
  } catch (const std::exception& e) {
    logfire::exception("refund failed", e);
  }
}

[[gnu::noinline]] void charge_leaving_scope() {
  logfire::span s("charge");
  throw_declined();
}

[[gnu::noinline]] void outer_caller() {
  settle_invoice_catching();
  asm volatile("" ::: "memory");  // not a tail call: this frame stays on the stack
}

}  // namespace stack_test

namespace {

const logfire::stored_event* exception_event(const stored_record& r) {
  for (const auto& e : r.events)
    if (e.name == "exception") return &e;
  return nullptr;
}

std::string stacktrace_of(const stored_record& r) {
  const auto* e = exception_event(r);
  if (!e) return {};
  const auto* v = e->find("exception.stacktrace");
  return v && v->string() ? std::string(*v->string()) : std::string();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Every line: "#N 0x<16 hex digits> <function>+0x<offset> (<module>)" or "#N 0x... ?? (<module>+0x<offset>)".
void expect_well_formed(const std::string& trace) {
  static const std::regex line_re(R"(#\d+ 0x[0-9a-f]{16} (\S.*\+0x[0-9a-f]+ \(.+\)|\?\? \(.+\)))");
  const auto lines = lines_of(trace);
  ASSERT_FALSE(lines.empty());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_TRUE(std::regex_match(lines[i], line_re)) << lines[i];
    EXPECT_EQ(lines[i].rfind("#" + std::to_string(i) + " ", 0), 0u) << lines[i];
  }
  EXPECT_EQ(trace.find("logfire::"), std::string::npos) << "the SDK's own frames are left out:\n" << trace;
}

class stack_traces : public memory_sdk {};

TEST_F(stack_traces, a_recorded_exception_carries_the_stack_of_its_catch_site) {
  stack_test::outer_caller();
  const auto recs = flushed();
  const auto* s = find(recs, "settle");
  ASSERT_TRUE(s);
  const std::string trace = stacktrace_of(*s);
  expect_well_formed(trace);
  const auto lines = lines_of(trace);
  ASSERT_GE(lines.size(), 2u) << trace;
  EXPECT_NE(lines[0].find("stack_test::settle_invoice_catching()"), std::string::npos) << trace;
  EXPECT_NE(lines[1].find("stack_test::outer_caller()+0x"), std::string::npos) << trace;
  EXPECT_NE(lines[0].find("core_stack_trace_test)"), std::string::npos) << "the module is named:\n" << trace;
}

TEST_F(stack_traces, logfire_exception_gives_the_caller_as_the_first_frame) {
  stack_test::refund_logging_exception();
  const auto recs = flushed();
  const auto* log = find(recs, "refund failed", record_type::log);
  ASSERT_TRUE(log);
  const std::string trace = stacktrace_of(*log);
  expect_well_formed(trace);
  EXPECT_EQ(trace.rfind("#0 ", 0), 0u);
  EXPECT_NE(lines_of(trace)[0].find("stack_test::refund_logging_exception()"), std::string::npos) << trace;
}

TEST_F(stack_traces, an_exception_leaving_a_span_gives_the_scope_it_left) {
  EXPECT_THROW(stack_test::charge_leaving_scope(), std::runtime_error);
  const auto recs = flushed();
  const auto* s = find(recs, "charge");
  ASSERT_TRUE(s);
  const std::string trace = stacktrace_of(*s);
  expect_well_formed(trace);
  EXPECT_NE(lines_of(trace)[0].find("stack_test::charge_leaving_scope()"), std::string::npos) << trace;
}

TEST_F(stack_traces, a_stack_trace_given_as_text_is_kept_as_given) {
  {
    logfire::span s("given");
    s.record_exception("PaymentError", "declined", "frame one\nframe two");
  }
  const auto recs = flushed();
  const auto* s = find(recs, "given");
  ASSERT_TRUE(s);
  EXPECT_EQ(stacktrace_of(*s), "frame one\nframe two");
}

class stack_traces_off : public memory_sdk {
  void adjust(logfire::options& o) override { o.stack_traces = false; }
};

TEST_F(stack_traces_off, exception_events_have_no_stack_trace) {
  stack_test::outer_caller();
  stack_test::refund_logging_exception();
  EXPECT_THROW(stack_test::charge_leaving_scope(), std::runtime_error);
  const auto recs = flushed();
  for (const char* name : {"settle", "refund failed", "charge"}) {
    const auto* r = find(recs, name, std::string_view(name) == "refund failed" ? record_type::log : record_type::span);
    ASSERT_TRUE(r) << name;
    const auto* e = exception_event(*r);
    ASSERT_TRUE(e) << name;
    EXPECT_EQ(e->find("exception.stacktrace"), nullptr) << name;
    EXPECT_TRUE(e->find("exception.type")) << name;
  }
}

// The console's prompt mode prints at the call, on the caller's thread: in verbose mode with the
// stack trace, named there; otherwise without, and nothing is looked up on the caller's thread.
class stack_traces_on_the_console : public memory_sdk, public testing::WithParamInterface<bool> {
 protected:
  void adjust(logfire::options& o) override {
    out_ = std::tmpfile();
    o.console.enabled = true;
    o.console.output = out_;
    o.console.colors = logfire::console_colors::never;
    o.console.immediate = true;
    o.console.verbose = GetParam();
  }
  void TearDown() override {
    if (sdk_guard) (void)logfire::shutdown();
    if (out_) std::fclose(out_);
  }
  std::string printed() {
    std::fflush(out_);
    std::rewind(out_);
    std::string text;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, out_)) > 0;) text.append(buf, n);
    return text;
  }
  std::FILE* out_ = nullptr;
};

TEST_P(stack_traces_on_the_console, printed_at_the_call_in_verbose_mode_only) {
  stack_test::refund_logging_exception();
  const std::string text = printed();  // no flush: prompt mode printed it at the call
  EXPECT_NE(text.find("refund failed"), std::string::npos) << text;
  EXPECT_NE(text.find("std::runtime_error: card declined"), std::string::npos) << text;
  const bool has_trace = text.find("#0 0x") != std::string::npos;
  EXPECT_EQ(has_trace, GetParam()) << text;
  if (GetParam()) {
    EXPECT_NE(text.find("stack_test::refund_logging_exception()"), std::string::npos) << text;
  }
  // The exporters still get the trace, named on the background thread.
  const auto recs = flushed();
  const auto* log = find(recs, "refund failed", record_type::log);
  ASSERT_TRUE(log);
  EXPECT_NE(stacktrace_of(*log).find("stack_test::refund_logging_exception()"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(verbose, stack_traces_on_the_console, testing::Bool());

}  // namespace
