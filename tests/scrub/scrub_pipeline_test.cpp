// Scrubbing applied by the pipeline, end to end: records produced through the public API,
// exported as OTLP/HTTP protobuf to a real receiver on loopback, decoded with libprotobuf.
// Covers what reaches the wire (attributes, events, links, logs, pending spans, logfire.msg,
// logfire.scrubbed), what is left alone (span and event names, resource attributes, safe keys),
// the options and LOGFIRE_SCRUBBING* variables, the scan budget, stats() and the first-scrub line.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/core_support.hpp"
#include "formatting/message_template.hpp"
#include "logfire/config.hpp"
#include "logfire/logfire.hpp"
#include "support/otlp_receiver.hpp"

namespace {

using namespace std::chrono_literals;
using logfire::test::find_attribute;
using logfire::test::otlp_receiver;
namespace otlp = logfire::test::otlp;

// Options that send to `rx` as Logfire would be sent to (so pending spans go too), and read
// nothing from the environment.
logfire::options to(const otlp_receiver& rx, logfire::scrubbing_options scrubbing = {}) {
  logfire::options o;
  o.service_name = "scrub-pipeline-test";
  o.console.enabled = false;
  o.read_environment = false;
  o.otlp.spool = false;
  o.tokens = {"pylf_v1_us_scrubpipelinetesttoken"};
  o.base_url = rx.endpoint();
  o.scrubbing = std::move(scrubbing);
  return o;
}

// Configures with `o`, runs `produce`, shuts down; returns the spans the receiver decoded.
std::vector<otlp::span> run(otlp_receiver& rx, logfire::options o, const std::function<void()>& produce) {
  auto sdk = logfire::configure(std::move(o));
  EXPECT_TRUE(sdk) << sdk.error();
  logfire::shutdown_guard sdk_guard(sdk);
  produce();
  EXPECT_TRUE(logfire::shutdown(10s));
  return rx.spans();
}

const otlp::span* named(const std::vector<otlp::span>& spans, std::string_view name, std::string_view type = "span") {
  for (const auto& s : spans) {
    const auto* t = find_attribute(s, "logfire.span_type");
    if (s.name() == name && t && t->string_value() == type) return &s;
  }
  return nullptr;
}

std::string str(const otlp::span& s, std::string_view key) {
  const auto* v = find_attribute(s, key);
  return v ? v->string_value() : "<missing>";
}

}  // namespace

TEST(scrub_pipeline, keys_values_json_lists_numbers_and_the_message) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  auto spans = run(rx, to(rx), [] {
    logfire::span s("login {user} {password}",
                    {{"user", "ann"},
                     {"password", "hunter2"},
                     {"note", "the password is hunter2"},
                     {"word", "password"},
                     {"api_key", 12345},
                     {"secret", true},
                     {"cookies", std::vector<std::string>{"a=1", "b=2"}},
                     {"users", logfire::array{logfire::object{{"name", "bo"}, {"password", "pw"}}, 7}},
                     {"payload", R"({"id": 3, "auth_token": "t0k"})"},
                     {"http.url", "https://h/?password=1"},
                     {"db.statement", "SELECT password FROM t"},
                     {"logfire.custom", "secret"}});
  });
  const auto* s = named(spans, "login {user} {password}");
  ASSERT_TRUE(s);
  EXPECT_EQ(str(*s, "user"), "ann");
  EXPECT_EQ(str(*s, "password"), "[Scrubbed due to 'password']");
  EXPECT_EQ(str(*s, "note"), "[Scrubbed due to 'password']");
  EXPECT_EQ(str(*s, "word"), "password");  // the match is the whole string: kept
  EXPECT_EQ(str(*s, "api_key"), "[Scrubbed due to 'api_key']");
  EXPECT_EQ(str(*s, "secret"), "[Scrubbed due to 'secret']");
  const auto* cookies = find_attribute(*s, "cookies");
  ASSERT_TRUE(cookies && cookies->has_array_value());
  ASSERT_EQ(cookies->array_value().values_size(), 1);
  EXPECT_EQ(cookies->array_value().values(0).string_value(), "[Scrubbed due to 'cookie']");
  EXPECT_EQ(str(*s, "users"), R"([{"name":"bo","password":"[Scrubbed due to 'password']"},7])");
  EXPECT_EQ(str(*s, "payload"), R"({"id":3,"auth_token":"[Scrubbed due to 'auth']"})");
  EXPECT_EQ(str(*s, "http.url"), "https://h/?password=1");
  EXPECT_EQ(str(*s, "db.statement"), "SELECT password FROM t");
  EXPECT_EQ(str(*s, "logfire.custom"), "secret");
  // The message is formatted from the scrubbed fields; the name (the template) is not scrubbed.
  EXPECT_EQ(str(*s, "logfire.msg"), "login ann [Scrubbed due to 'password']");
  EXPECT_EQ(s->name(), "login {user} {password}");
  EXPECT_EQ(str(*s, "logfire.scrubbed"),
            R"([{"path":["message","password"],"matched_substring":"password"},)"
            R"({"path":["attributes","password"],"matched_substring":"password"},)"
            R"({"path":["attributes","note"],"matched_substring":"password"},)"
            R"({"path":["attributes","api_key"],"matched_substring":"api_key"},)"
            R"({"path":["attributes","secret"],"matched_substring":"secret"},)"
            R"({"path":["attributes","cookies"],"matched_substring":"cookie"},)"
            R"({"path":["attributes","users",0,"password"],"matched_substring":"password"},)"
            R"({"path":["attributes","payload","auth_token"],"matched_substring":"auth"}])");
  // No echo: nothing of the secret values is anywhere in the exported span.
  EXPECT_EQ(s->DebugString().find("hunter2"), std::string::npos);
  EXPECT_EQ(s->DebugString().find("t0k"), std::string::npos);
}

TEST(scrub_pipeline, events_exceptions_links_and_what_is_never_scrubbed) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  auto o = to(rx);
  o.resource_attributes = {{"deploy.secret_ref", "the password vault"}};
  auto spans = run(rx, std::move(o), [] {
    logfire::span_context other;
    {
      logfire::span first("other", {}, {.new_trace = true});
      other = first.context();
    }
    logfire::span s("secret handshake", {}, {.links = {{other, {{"why", "batch"}}}, {other, {{"note", "a jwt."}}}}});
    s.add_event("password reset", {{"cookie", "c=1"}, {"attempt", 2}});
    s.record_exception("ValueError", "bad password: hunter2", "frame 1", false);
  });
  const auto* s = named(spans, "secret handshake");
  ASSERT_TRUE(s);
  EXPECT_EQ(str(*s, "logfire.msg"), "secret handshake");  // text in the template is not protected
  ASSERT_EQ(s->events_size(), 2);
  EXPECT_EQ(s->events(0).name(), "password reset");
  EXPECT_EQ(find_attribute(s->events(0).attributes(), "cookie")->string_value(), "[Scrubbed due to 'cookie']");
  EXPECT_EQ(find_attribute(s->events(0).attributes(), "attempt")->int_value(), 2);
  EXPECT_EQ(s->events(1).name(), "exception");
  EXPECT_EQ(find_attribute(s->events(1).attributes(), "exception.message")->string_value(), "bad password: hunter2");
  ASSERT_EQ(s->links_size(), 2);
  EXPECT_EQ(find_attribute(s->links(0).attributes(), "why")->string_value(), "batch");
  EXPECT_EQ(find_attribute(s->links(1).attributes(), "note")->string_value(), "[Scrubbed due to 'jwt']");
  EXPECT_EQ(str(*s, "logfire.scrubbed"),
            R"([{"path":["otel_events",0,"attributes","cookie"],"matched_substring":"cookie"},)"
            R"({"path":["links",1,"attributes","note"],"matched_substring":"jwt"}])");
  // Resource attributes are not scrubbed.
  bool found = false;
  for (const auto& r : rx.requests())
    for (const auto& rs : r.message.resource_spans())
      if (const auto* v = find_attribute(rs.resource().attributes(), "deploy.secret_ref"))
        found = found || v->string_value() == "the password vault";
  EXPECT_TRUE(found);
}

TEST(scrub_pipeline, logs_and_pending_spans) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  auto spans = run(rx, to(rx), [] {
    logfire::info("token for {user}: {logfire_token}", {{"user", "ann"}, {"logfire_token", "pylf_v1_us_x"}});
    logfire::span job("job {session}", {{"session", "s-1"}});
    ASSERT_TRUE(logfire::force_flush(10s));  // the job is open: its pending span goes now
  });
  const auto* log = named(spans, "token for {user}: {logfire_token}", "log");
  ASSERT_TRUE(log);
  EXPECT_EQ(str(*log, "logfire.msg"), "token for ann: [Scrubbed due to 'logfire_token']");
  EXPECT_EQ(str(*log, "logfire_token"), "[Scrubbed due to 'logfire_token']");
  const auto* pending = named(spans, "job {session}", "pending_span");
  ASSERT_TRUE(pending);
  EXPECT_EQ(str(*pending, "session"), "[Scrubbed due to 'session']");
  EXPECT_EQ(str(*pending, "logfire.msg"), "job [Scrubbed due to 'session']");
  EXPECT_EQ(str(*pending, "logfire.scrubbed"), R"([{"path":["message","session"],"matched_substring":"session"},)"
                                               R"({"path":["attributes","session"],"matched_substring":"session"}])");
  const auto* done = named(spans, "job {session}");
  ASSERT_TRUE(done);
  EXPECT_EQ(str(*done, "session"), "[Scrubbed due to 'session']");
}

TEST(scrub_pipeline, options_safe_keys_disabled_patterns_callback_and_off) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  logfire::scrubbing_options opts{
      .extra_patterns = {"iban"},
      .disabled_patterns = {"auth"},
      .safe_keys = {"session_id", "myapp.*"},
      .callback =
          [](const logfire::scrub_match& m) {
            if (m.pattern == "cookie") return logfire::scrub_action::keep();
            if (m.pattern == "iban") return logfire::scrub_action::replace("DE**");
            return logfire::scrub_action::redact();
          },
  };
  auto spans = run(rx, to(rx, std::move(opts)), [] {
    logfire::info("tuned", {{"session_id", "s1"},
                            {"myapp.password", "p"},
                            {"auth_id", 7},
                            {"cookie", "c"},
                            {"iban", "DE12"},
                            {"passwd", "x"}});
  });
  const auto* r = named(spans, "tuned", "log");
  ASSERT_TRUE(r);
  EXPECT_EQ(str(*r, "session_id"), "s1");
  EXPECT_EQ(str(*r, "myapp.password"), "p");
  EXPECT_EQ(find_attribute(*r, "auth_id")->int_value(), 7);
  EXPECT_EQ(str(*r, "cookie"), "c");
  EXPECT_EQ(str(*r, "iban"), "DE**");
  EXPECT_EQ(str(*r, "passwd"), "[Scrubbed due to 'passwd']");
  EXPECT_EQ(str(*r, "logfire.scrubbed"), R"([{"path":["attributes","passwd"],"matched_substring":"passwd"}])");

  otlp_receiver rx2;
  ASSERT_TRUE(rx2.start());
  auto off = run(rx2, to(rx2, {.enabled = false}), [] { logfire::info("off", {{"password", "p"}}); });
  const auto* o = named(off, "off", "log");
  ASSERT_TRUE(o);
  EXPECT_EQ(str(*o, "password"), "p");
  EXPECT_EQ(find_attribute(*o, "logfire.scrubbed"), nullptr);
}

// The key decisions (safe, matching a pattern, neither) are taken once per call-site variant
// and reused: every record of a call site is scrubbed as the first one, each key as itself,
// the same keys in another variant (another level, an attribute added later) too.
TEST(scrub_pipeline, every_record_of_a_call_site_is_scrubbed_key_by_key_as_the_first) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  logfire::scrubbing_options opts{.safe_keys = {"session_id"}};
  auto spans = run(rx, to(rx, std::move(opts)), [] {
    for (int i = 0; i < 3; ++i) {
      for (const logfire::level lvl : {logfire::level::info, logfire::level::warn}) {
        logfire::span s(
            "op {i}",
            {{"user", "ann"}, {"session_id", "password-1"}, {"password", "pw"}, {"note", "my secret"}, {"i", i}});
        s.set_level(lvl);
        if (i == 2) s.set_attribute("api_key", "k");
      }
    }
  });
  int seen = 0;
  for (const auto& sp : spans) {
    if (!sp.name().starts_with("op ")) continue;
    ++seen;
    EXPECT_EQ(str(sp, "user"), "ann");
    EXPECT_EQ(str(sp, "session_id"), "password-1");
    EXPECT_EQ(str(sp, "password"), "[Scrubbed due to 'password']");
    EXPECT_EQ(str(sp, "note"), "[Scrubbed due to 'secret']");
    EXPECT_EQ(find_attribute(sp, "i")->int_value() == 2, find_attribute(sp, "api_key") != nullptr);
    if (find_attribute(sp, "api_key")) {
      EXPECT_EQ(str(sp, "api_key"), "[Scrubbed due to 'api_key']");
    }
  }
  EXPECT_EQ(seen, 6);
}

// A value only a user's pattern matches is scrubbed in every record of its call site: the
// records built from the site's layout too, which skip the search for values where no default
// keyword can start (the user's patterns are searched all the same).
TEST(scrub_pipeline, a_value_only_a_user_pattern_matches_is_scrubbed_in_every_record) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  auto spans = run(rx, to(rx, {.extra_patterns = {"iban"}}), [] {
    for (int i = 0; i < 4; ++i) logfire::info("transfer {i}", {{"to", "IBAN DE12"}, {"i", i}});
  });
  int seen = 0;
  for (const auto& sp : spans) {
    if (sp.name() != "transfer {i}") continue;
    ++seen;
    EXPECT_EQ(str(sp, "to"), "[Scrubbed due to 'iban']");
  }
  EXPECT_EQ(seen, 4);
}

TEST(scrub_pipeline, environment_variables) {
  // configure() reads the process environment here (only the LOGFIRE_SCRUBBING* variables set).
  ::setenv("LOGFIRE_SCRUBBING_SAFE_KEYS", "session_id", 1);
  ::setenv("LOGFIRE_SCRUBBING_DISABLED_PATTERNS", "auth", 1);
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  auto o = to(rx);
  o.read_environment = true;
  auto spans = run(rx, o, [] { logfire::info("env", {{"session_id", "s1"}, {"auth_id", 7}, {"password", "p"}}); });
  const auto* r = named(spans, "env", "log");
  ASSERT_TRUE(r);
  EXPECT_EQ(str(*r, "session_id"), "s1");
  EXPECT_EQ(find_attribute(*r, "auth_id")->int_value(), 7);
  EXPECT_EQ(str(*r, "password"), "[Scrubbed due to 'password']");

  ::setenv("LOGFIRE_SCRUBBING", "false", 1);
  otlp_receiver rx2;
  ASSERT_TRUE(rx2.start());
  auto o2 = to(rx2);
  o2.read_environment = true;
  auto off = run(rx2, o2, [] { logfire::info("env off", {{"password", "p"}}); });
  ::unsetenv("LOGFIRE_SCRUBBING");
  ::unsetenv("LOGFIRE_SCRUBBING_SAFE_KEYS");
  ::unsetenv("LOGFIRE_SCRUBBING_DISABLED_PATTERNS");
  const auto* r2 = named(off, "env off", "log");
  ASSERT_TRUE(r2);
  EXPECT_EQ(str(*r2, "password"), "p");
}

TEST(scrub_pipeline, a_pathological_user_pattern_runs_in_one_pass) {
  // (a+)+$ backtracks exponentially in Python's re (17.8 s on 27 characters in Logfire); RE2
  // runs it in one pass, so these values, hundreds of times longer, are decided at once.
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  const std::string no_match = std::string(5000, 'a') + "!";
  const std::string match = "x" + std::string(5000, 'a');
  auto spans = run(rx, to(rx, {.extra_patterns = {"(a+)+$"}}), [&] {
    logfire::info("re", {{"k1", no_match}, {"k2", match}});
  });
  const auto* r = named(spans, "re", "log");
  ASSERT_TRUE(r);
  EXPECT_EQ(str(*r, "k1"), no_match);
  EXPECT_EQ(str(*r, "k2"), "[Scrubbed due to '(a+)+$']");
}

TEST(scrub_pipeline, past_the_scan_budget_values_are_replaced_and_counted) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  core_test::stderr_capture capture;
  auto spans = run(rx, to(rx, {.max_scan_bytes = 64}), [] {
    logfire::info("big", {{"k1", "short"}, {"k2", std::string(100, 'x')}, {"k3", 5}});
    logfire::info("small", {{"k1", "short"}});
  });
  const std::string err = capture.take();
  const auto* big = named(spans, "big", "log");
  ASSERT_TRUE(big);
  EXPECT_EQ(str(*big, "k1"), "short");
  EXPECT_EQ(str(*big, "k2"), "[Scrubbed: scan budget exceeded]");
  EXPECT_EQ(str(*big, "k3"), "[Scrubbed: scan budget exceeded]");
  EXPECT_EQ(str(*big, "logfire.scrubbed"), R"([{"path":["attributes","k2"],"matched_substring":"scan_budget"},)"
                                           R"({"path":["attributes","k3"],"matched_substring":"scan_budget"}])");
  const auto* small = named(spans, "small", "log");  // the next record has the whole budget again
  ASSERT_TRUE(small);
  EXPECT_EQ(str(*small, "k1"), "short");
  EXPECT_EQ(core_test::occurrences(err, "raise options.scrubbing.max_scan_bytes"), 1u) << err;
  // Nothing was lost: scrubbing changes values, it drops no record.
  const auto s = logfire::stats();
  EXPECT_EQ(s.produced, 2u);
  EXPECT_EQ(s.exported, 2u);
  ASSERT_EQ(s.scrubbed.size(), 1u);
  EXPECT_EQ(s.scrubbed[0].pattern, "scan_budget");
  EXPECT_EQ(s.scrubbed[0].values, 2u);
}

TEST(scrub_pipeline, stats_count_per_pattern_and_the_first_scrub_says_one_line) {
  otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  core_test::stderr_capture capture;
  auto sdk = logfire::configure(to(rx));
  ASSERT_TRUE(sdk) << sdk.error();
  logfire::shutdown_guard sdk_guard(sdk);
  for (int i = 0; i < 3; ++i) logfire::info("login", {{"session_id", "s"}, {"password", "p"}, {"note", "a password"}});
  ASSERT_TRUE(logfire::force_flush(10s));
  const auto s = logfire::stats();
  ASSERT_TRUE(logfire::shutdown(10s));
  const std::string err = capture.take();
  ASSERT_EQ(s.scrubbed.size(), 2u);
  EXPECT_EQ(s.scrubbed[0].pattern, "password");
  EXPECT_EQ(s.scrubbed[0].values, 6u);
  EXPECT_EQ(s.scrubbed[1].pattern, "session");
  EXPECT_EQ(s.scrubbed[1].values, 3u);
  EXPECT_EQ(s.dropped_total(), 0u);
  EXPECT_EQ(core_test::occurrences(err, "logfire: scrubbed "), 2u) << err;
  EXPECT_NE(err.find(R"(logfire: scrubbed ["attributes","session_id"] (its key matched default pattern 'session'); )"
                     R"(if it is not a secret, add "session_id" to options.scrubbing.safe_keys )"
                     R"((LOGFIRE_SCRUBBING_SAFE_KEYS) or disable the pattern with options.scrubbing.disabled_patterns )"
                     R"((LOGFIRE_SCRUBBING_DISABLED_PATTERNS=session))"),
            std::string::npos)
      << err;
}

TEST(scrub_pipeline, invalid_patterns_fail_configure_quoting_them) {
  logfire::options o;
  o.console.enabled = false;
  o.read_environment = false;
  o.scrubbing.extra_patterns = {"a*"};
  auto lf = logfire::configure(std::move(o));
  ASSERT_FALSE(lf);
  logfire::shutdown_guard lf_guard(lf);
  EXPECT_EQ(
      lf.error(),
      "options.scrubbing.extra_patterns[0] 'a*' can match an empty string, so it would scrub every value; make it "
      "match at least one character");
  EXPECT_FALSE(logfire::is_configured());
}

// The fields whose scrubbed values are also listed under ["message", field].
TEST(scrub_pipeline, template_fields_are_the_keys_a_template_uses) {
  std::vector<std::string_view> fields;
  logfire::detail::template_fields("{{literal}} {user=} {pw!r:>10} {x:>{width}} {user} }}", fields);
  EXPECT_EQ(fields, (std::vector<std::string_view>{"user", "pw", "x", "width"}));
  fields.clear();
  logfire::detail::template_fields("ok {a} then {unclosed", fields);
  EXPECT_EQ(fields, (std::vector<std::string_view>{"a"}));
}
