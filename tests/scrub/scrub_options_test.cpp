// The patterns and the options: the default patterns find exactly what Python's `re` finds for
// Logfire's regular expressions (a table generated with CPython), extra patterns run in linear
// time and are rejected with a clear message when RE2 cannot run them, disabled patterns, safe
// keys, the callback, the per-pattern counters, the first-scrub lines and the scan budget.
#include <cctype>
#include <string>
#include <thread>
#include <vector>

#include "scrub/keywords.hpp"
#include "scrub/scrub_support.hpp"

using namespace scrub_test;
using logfire::scrub_action;
using logfire::scrub_match;
using logfire::detail::k_default_patterns;
using logfire::detail::keyword_matcher;

namespace {

struct python_case {
  const char* text;
  bool found;
  int pattern;
  std::size_t start;
  std::size_t end;
};
#include "scrub/python_cases.inc"

std::string error_for(const scrubbing_options& o) {
  std::string error;
  EXPECT_FALSE(scrubber::create(o, error));
  return error;
}

}  // namespace

TEST(default_patterns, find_what_python_re_finds) {
  const keyword_matcher m;
  for (const auto& c : k_python_cases) {
    const auto hit = m.find(c.text);
    EXPECT_EQ(hit.found, c.found) << c.text;
    if (!hit.found || !c.found) continue;
    EXPECT_EQ(hit.pattern, c.pattern) << c.text;
    EXPECT_EQ(hit.start, c.start) << c.text;
    EXPECT_EQ(hit.end, c.end) << c.text;
  }
}

TEST(default_patterns, the_ascii_filter_and_the_automaton_agree) {
  const keyword_matcher m;
  std::vector<std::string> texts;
  for (const auto& c : k_python_cases) {
    texts.emplace_back(c.text);
    texts.push_back(std::string(15, '.') + c.text + std::string(17, ' '));  // across the 16-byte blocks
  }
  // Every keyword at every offset of a block, in both cases.
  for (const auto& p : k_default_patterns)
    for (std::size_t pad = 0; pad < 20; ++pad) {
      std::string name(p.name);
      texts.push_back(std::string(pad, 'x') + name);
      for (auto& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      texts.push_back(std::string(pad, '-') + name + "_1");
    }
  for (const auto& t : texts) {
    const auto fast = m.find(t), slow = m.find_with_automaton(t);
    EXPECT_EQ(fast.found, slow.found) << t;
    EXPECT_EQ(fast.pattern, slow.pattern) << t;
    EXPECT_EQ(fast.start, slow.start) << t;
    EXPECT_EQ(fast.end, slow.end) << t;
  }
}

// may_hold() lets a caller skip find(): it may say true of text holding no keyword, never false
// of text holding one (the automaton, whatever the text, is the reference).
TEST(default_patterns, may_hold_is_false_only_where_nothing_is_found) {
  const keyword_matcher all;
  const keyword_matcher some((1u << 16) | (1u << 4));  // jwt and auth only
  const keyword_matcher none(0);
  std::vector<std::string> texts;
  for (const auto& c : k_python_cases) texts.emplace_back(c.text);
  // Every keyword at every place of a short text, in both cases, cut short too.
  for (const auto& p : k_default_patterns)
    for (std::size_t pad = 0; pad + p.name.size() <= 18; ++pad)
      for (std::size_t cut = 0; cut <= 2; ++cut) {
        std::string name(p.name.substr(0, p.name.size() - cut));
        texts.push_back(std::string(pad, 'x') + name);
        texts.push_back(std::string(pad, '-') + name + "_1");
        for (auto& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        texts.push_back(std::string(pad, ' ') + name);
      }
  // Every text of three and four symbols over the keywords' letters and separators.
  const std::string_view alphabet = "pasworduthjxscek_-. 1";
  for (const char a : alphabet)
    for (const char b : alphabet)
      for (const char c : alphabet) {
        texts.push_back({a, b, c});
        for (const char d : alphabet) texts.push_back({a, b, c, d});
      }
  // Letters Python folds onto ASCII ones ("ſecret", "jwt" with a Kelvin sign elsewhere).
  for (const char* rest : {"ecret", "ession", "ocial_security", "sn"}) texts.push_back(std::string("\xC5\xBF") + rest);
  texts.emplace_back("\xE2\x84\xAA jwt");
  std::size_t skipped = 0;
  for (const keyword_matcher* m : {&all, &some, &none})
    for (const auto& t : texts) {
      if (m->may_hold(t)) continue;
      ++skipped;
      EXPECT_FALSE(m->find_with_automaton(t).found) << t;
      EXPECT_FALSE(m->find(t).found) << t;
    }
  EXPECT_GT(skipped, texts.size());  // the matcher without keywords skips every text; the others skip some
  // Ordinary short values start no search.
  for (const std::string_view v : {"u-42", "12.5", "GET", "200", "checkout", "hello world", "ok"})
    EXPECT_FALSE(all.may_hold(v)) << v;
  EXPECT_TRUE(all.may_hold("my password"));
  EXPECT_TRUE(all.may_hold(std::string(17, 'x')));  // longer text: find() decides
  EXPECT_FALSE(none.may_hold("password"));
  EXPECT_FALSE(some.may_hold("password"));
}

TEST(default_patterns, are_logfires_in_logfires_order) {
  std::vector<std::string_view> names;
  for (const auto& p : k_default_patterns) names.push_back(p.name);
  EXPECT_EQ(names,
            (std::vector<std::string_view>{"password", "passwd", "mysql_pwd", "secret", "auth", "credential",
                                           "private_key", "api_key", "session", "cookie", "social_security",
                                           "credit_card", "logfire_token", "pylf_v", "csrf", "xsrf", "jwt", "ssn"}));
  EXPECT_EQ(k_default_patterns[4].source, "auth(?!ors?\\b)");
  EXPECT_EQ(k_default_patterns[16].source, "(?:\\b|_)jwt(?:\\b|_)");
}

TEST(default_patterns, scan_long_text_in_one_pass) {
  const keyword_matcher m;
  std::string text(1 << 20, 'a');
  EXPECT_FALSE(m.find(text).found);
  text += " jwt";
  const auto hit = m.find(text);
  ASSERT_TRUE(hit.found);
  EXPECT_EQ(hit.start, std::size_t{1} << 20 | 1);
}

TEST(extra_patterns, add_to_the_defaults_case_insensitively_with_dot_matching_newlines) {
  auto s = make_scrubber({.extra_patterns = {"iban", "begin.end"}});
  scrub_session session(*s);
  owned_sink sink;
  const auto r = scrub_record(session, sink,
                              {{"IBAN_number", str("x")}, {"text", str("a BEGIN\nEND b")}, {"pw", str("password x")}});
  EXPECT_EQ(text_of(r.attrs[0].value), "[Scrubbed due to 'iban']");
  EXPECT_EQ(text_of(r.attrs[1].value), "[Scrubbed due to 'begin.end']");
  EXPECT_EQ(text_of(r.attrs[2].value), "[Scrubbed due to 'password']");
}

TEST(extra_patterns, the_leftmost_match_wins_and_a_default_wins_a_tie) {
  auto s = make_scrubber({.extra_patterns = {"sess", "x+y"}});
  scrub_session session(*s);
  owned_sink sink;
  // "xxy" starts before "password"; "session" and "sess" start together: the default is listed first.
  const auto r = scrub_record(session, sink, {{"a", str("xxy password")}, {"b", str("my session")}});
  EXPECT_EQ(text_of(r.attrs[0].value), "[Scrubbed due to 'x+y']");
  EXPECT_EQ(text_of(r.attrs[1].value), "[Scrubbed due to 'session']");
  // The whole-string exception looks at the leftmost match of all patterns.
  const auto whole = scrub_record(session, sink, {{"c", str("xxy")}, {"d", str("ysess")}});
  EXPECT_EQ(text_of(whole.attrs[0].value), "xxy");
  EXPECT_EQ(text_of(whole.attrs[1].value), "[Scrubbed due to 'sess']");
}

TEST(extra_patterns, pathological_patterns_run_in_linear_time) {
  // (a+)+$ took 17.8 s on a 27-character value with a backtracking engine; here a million
  // characters are examined once each (the test's timeout guards the rest).
  auto s = make_scrubber({.extra_patterns = {"(a+)+$", "(x+x+)+y", "(.*a){12}z"}});
  scrub_session session(*s);
  owned_sink sink;
  const std::string text = std::string(1 << 20, 'a') + "!";
  const std::string xs = std::string(1 << 18, 'x');
  const auto r = scrub_record(session, sink, {{"text", str(text)}, {"xs", str(xs)}});
  EXPECT_EQ(text_of(r.attrs[0].value), text);  // "$" never follows the a's
  EXPECT_EQ(text_of(r.attrs[1].value), xs);
  EXPECT_EQ(session.scanned_bytes(), text.size() + xs.size() + 6);  // values and keys, once
  const std::string only_a(1 << 20, 'a');
  const auto hit = scrub_record(session, sink, {{"text", str(only_a)}});
  EXPECT_EQ(text_of(hit.attrs[0].value), only_a);  // the match is the whole string: kept
  const std::string bang_then_a = "!" + only_a;
  const auto tail = scrub_record(session, sink, {{"text", str(bang_then_a)}});
  EXPECT_EQ(text_of(tail.attrs[0].value), "[Scrubbed due to '(a+)+$']");
}

TEST(extra_patterns, that_re2_cannot_run_are_rejected_naming_the_pattern) {
  EXPECT_EQ(error_for({.extra_patterns = {"iban", "(?=x)y"}}),
            "options.scrubbing.extra_patterns[1] '(?=x)y' is not a pattern RE2 accepts (matching runs in linear time, "
            "so lookarounds and backreferences are not available): invalid perl operator: (?=");
  EXPECT_EQ(error_for({.extra_patterns = {R"((a)\1)"}}),
            "options.scrubbing.extra_patterns[0] '(a)\\\\1' is not a pattern RE2 accepts (matching runs in linear "
            "time, so lookarounds and backreferences are not available): invalid escape sequence: \\1");
  EXPECT_EQ(error_for({.extra_patterns = {"(?<=a)b"}}).find("extra_patterns[0] '(?<=a)b' is not a pattern RE2 accepts"),
            0u + std::string_view("options.scrubbing.").size());
  EXPECT_NE(error_for({.extra_patterns = {"[a-"}}).find("missing ]: [a-"), std::string::npos);
}

TEST(extra_patterns, that_match_an_empty_string_are_rejected) {
  for (const char* p : {"", "a*", "x?", "\\b", "^", "$", "(?m)^", "a|"}) {
    EXPECT_EQ(error_for({.extra_patterns = {p}}),
              "options.scrubbing.extra_patterns[0] '" + std::string(p == std::string("\\b") ? "\\\\b" : p) +
                  "' can match an empty string, so it would scrub every value; make it match at least one character")
        << p;
  }
}

TEST(extra_patterns, are_bounded_in_number) {
  const std::vector<std::string> many(logfire::detail::k_max_extra_patterns + 1, "x");
  EXPECT_EQ(error_for({.extra_patterns = many}),
            "options.scrubbing.extra_patterns has 1025 patterns; at most 1024 (combine them with |)");
}

TEST(extra_patterns, with_the_same_group_name_twice_still_combine) {
  auto s = make_scrubber({.extra_patterns = {"(?P<n>abc)", "(?P<n>def)"}});
  scrub_session session(*s);
  owned_sink sink;
  const auto r = scrub_record(session, sink, {{"v", str("x def")}});
  EXPECT_EQ(text_of(r.attrs[0].value), "[Scrubbed due to '(?P<n>def)']");
}

TEST(disabled_patterns, turn_one_default_off_by_name_or_by_logfires_text) {
  auto s = make_scrubber({.disabled_patterns = {"session", "auth(?!ors?\\b)"}});
  scrub_session session(*s);
  owned_sink sink;
  const auto r = scrub_record(
      session, sink,
      {{"session_id", str("abc")}, {"browserSessionId", str("def")}, {"auth_id", i64(7)}, {"password", str("x")}});
  EXPECT_EQ(text_of(r.attrs[0].value), "abc");
  EXPECT_EQ(text_of(r.attrs[1].value), "def");
  EXPECT_EQ(r.attrs[2].value.i, 7);
  EXPECT_EQ(text_of(r.attrs[3].value), "[Scrubbed due to 'password']");
}

TEST(disabled_patterns, unknown_names_are_an_error_listing_the_known_ones) {
  EXPECT_EQ(error_for({.disabled_patterns = {"sesion"}}),
            "options.scrubbing.disabled_patterns (LOGFIRE_SCRUBBING_DISABLED_PATTERNS): 'sesion' is not one of the "
            "default patterns (password, passwd, mysql_pwd, secret, auth, credential, private_key, api_key, session, "
            "cookie, social_security, credit_card, logfire_token, pylf_v, csrf, xsrf, jwt, ssn)");
}

TEST(disabled_patterns, all_off_leaves_only_the_extra_patterns) {
  std::vector<std::string> all;
  for (const auto& p : k_default_patterns) all.emplace_back(p.name);
  auto s = make_scrubber({.extra_patterns = {"iban"}, .disabled_patterns = all});
  scrub_session session(*s);
  owned_sink sink;
  const auto r = scrub_record(session, sink, {{"password", str("x")}, {"iban", str("y")}});
  EXPECT_EQ(text_of(r.attrs[0].value), "x");
  EXPECT_EQ(text_of(r.attrs[1].value), "[Scrubbed due to 'iban']");
}

TEST(safe_keys_option, keeps_exact_keys_and_prefixes_at_any_depth) {
  auto s = make_scrubber({.safe_keys = {"session_id", "myapp.*"}});
  scrub_session session(*s);
  owned_sink sink;
  const auto r = scrub_record(session, sink,
                              {{"session_id", str("abc")},
                               {"myapp.secret_ref", str("vault:1")},
                               {"body", str(R"({"session_id": "s", "session": "t"})")},
                               {"session", str("u")}});
  EXPECT_EQ(text_of(r.attrs[0].value), "abc");
  EXPECT_EQ(text_of(r.attrs[1].value), "vault:1");
  EXPECT_EQ(text_of(r.attrs[2].value), R"({"session_id":"s","session":"[Scrubbed due to 'session']"})");
  EXPECT_EQ(text_of(r.attrs[3].value), "[Scrubbed due to 'session']");
}

TEST(callback, sees_path_value_pattern_and_match) {
  std::vector<std::string> seen;
  auto s = make_scrubber({.callback = [&](const scrub_match& m) {
    std::string path;
    for (const auto& seg : m.path) path += seg.is_index ? std::to_string(seg.index) + "/" : std::string(seg.key) + "/";
    seen.push_back(path + " " + std::string(m.pattern) + " " + std::string(m.matched) + " " +
                   (m.key_matched ? "key" : "value") + " " + std::to_string(static_cast<int>(m.value.type)));
    return scrub_action::redact();
  }});
  scrub_session session(*s);
  owned_sink sink;
  (void)scrub_record(session, sink, {{"Auth_ID", i64(7)}, {"u", str(R"([{"note": "my SSN is 1"}])")}});
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], "attributes/Auth_ID/ auth Auth key 2");   // int64
  EXPECT_EQ(seen[1], "attributes/u/0/note/ ssn SSN value 4");  // string
}

TEST(callback, keep_leaves_the_value_unnoted_and_replace_puts_text_in_its_place) {
  const std::vector<attribute_value> items = {i64(1), i64(2)};
  auto s = make_scrubber({.callback = [](const scrub_match& m) {
    if (m.pattern == "session") return scrub_action::keep();
    if (m.pattern == "cookie") return scrub_action::replace("<cookie>");
    return scrub_action::redact();
  }});
  scrub_session session(*s);
  owned_sink sink;
  const auto r = scrub_record(session, sink,
                              {{"session_id", i64(9)},
                               {"cookies", list(items)},
                               {"cookie", str(R"({"session": "x", "password": "y"})")},
                               {"password", str("z")}});
  EXPECT_EQ(r.attrs[0].value.i, 9);
  ASSERT_EQ(r.attrs[1].value.items.size(), 1u);  // a list stays a list
  EXPECT_EQ(text_of(r.attrs[1].value.items[0]), "<cookie>");
  EXPECT_EQ(text_of(r.attrs[2].value), "<cookie>");
  EXPECT_EQ(text_of(r.attrs[3].value), "[Scrubbed due to 'password']");
  EXPECT_EQ(r.scrubbed, R"([{"path":["attributes","password"],"matched_substring":"password"}])");
  const auto counts = s->counts();
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts[0].pattern, "password");
  EXPECT_EQ(counts[1].pattern, "cookie");
  EXPECT_EQ(counts[1].values, 2u);
}

TEST(callback, that_throws_counts_and_redacts) {
  auto s = make_scrubber({.callback = [](const scrub_match&) -> scrub_action { throw std::runtime_error("oops"); }});
  scrub_session session(*s);
  owned_sink sink;
  const auto r = scrub_record(session, sink, {{"secret", str("x")}});
  EXPECT_EQ(text_of(r.attrs[0].value), "[Scrubbed due to 'secret']");
  EXPECT_EQ(s->callback_errors(), 1u);
}

TEST(counters, count_values_per_pattern_across_records_and_sessions) {
  auto s = make_scrubber({.extra_patterns = {"iban"}});
  scrub_session one(*s), two(*s);
  owned_sink sink;
  (void)scrub_record(one, sink, {{"password", str("a")}, {"x", str("my iban 1")}});
  (void)scrub_record(two, sink, {{"passwd", str("b")}, {"password", i64(1)}});
  (void)scrub_record(one, sink, {{"nothing", str("here")}});
  const auto counts = s->counts();
  ASSERT_EQ(counts.size(), 3u);
  EXPECT_EQ(counts[0].pattern, "password");
  EXPECT_EQ(counts[0].values, 2u);
  EXPECT_EQ(counts[1].pattern, "passwd");
  EXPECT_EQ(counts[1].values, 1u);
  EXPECT_EQ(counts[2].pattern, "iban");
  EXPECT_EQ(counts[2].values, 1u);
}

TEST(counters, sessions_on_two_threads_share_one_scrubber) {
  auto s = make_scrubber();
  constexpr int k_records = 2000;
  auto work = [&] {
    scrub_session session(*s);
    owned_sink sink;
    for (int i = 0; i < k_records; ++i)
      (void)scrub_record(session, sink, {{"password", str("x")}, {"note", str("a secret b")}, {"n", i64(i)}});
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  const auto counts = s->counts();
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts[0].values, 2u * k_records);  // password
  EXPECT_EQ(counts[1].values, 2u * k_records);  // secret
}

TEST(first_scrub_lines, one_per_pattern_naming_it_and_how_to_allow_the_key) {
  auto s = make_scrubber({.extra_patterns = {"iban"}});
  scrub_session session(*s);
  owned_sink sink;
  const auto first =
      scrub_record(session, sink, {{"session_id", str("a")}, {"data", str(R"({"u": [{"x": "iban 1"}]})")}});
  ASSERT_EQ(first.lines.size(), 2u);
  EXPECT_EQ(first.lines[0],
            "logfire: scrubbed [\"attributes\",\"session_id\"] (its key matched default pattern 'session'); if it is "
            "not a secret, add \"session_id\" to options.scrubbing.safe_keys (LOGFIRE_SCRUBBING_SAFE_KEYS) or disable "
            "the pattern with options.scrubbing.disabled_patterns (LOGFIRE_SCRUBBING_DISABLED_PATTERNS=session)");
  EXPECT_EQ(first.lines[1],
            "logfire: scrubbed [\"attributes\",\"data\",\"u\",0,\"x\"] (its value matched extra pattern 'iban'); if it "
            "is not a secret, add \"x\" to options.scrubbing.safe_keys (LOGFIRE_SCRUBBING_SAFE_KEYS) or keep it with "
            "options.scrubbing.callback");
  const auto again = scrub_record(session, sink, {{"session_id", str("b")}, {"password", str("c")}});
  ASSERT_EQ(again.lines.size(), 1u);
  EXPECT_NE(again.lines[0].find("default pattern 'password'"), std::string::npos);
}

TEST(scan_budget, past_it_every_value_not_yet_examined_is_replaced_and_counted) {
  auto s = make_scrubber({.max_scan_bytes = 40});
  scrub_session session(*s);
  owned_sink sink;
  const std::string long_text(64, 'x');
  const auto r = scrub_record(session, sink,
                              {{"user", str("ann")},         // 4 + 3 bytes
                               {"text", str(long_text)},     // 4 + 64: over
                               {"count", i64(3)},            // not examined: replaced too
                               {"http.route", str("/x")}});  // safe keys are kept without examining
  EXPECT_EQ(text_of(r.attrs[0].value), "ann");
  EXPECT_EQ(text_of(r.attrs[1].value), logfire::detail::k_budget_replacement);
  EXPECT_EQ(text_of(r.attrs[2].value), logfire::detail::k_budget_replacement);
  EXPECT_EQ(text_of(r.attrs[3].value), "/x");
  EXPECT_LE(session.scanned_bytes(), 40u);
  EXPECT_EQ(r.scrubbed, R"([{"path":["attributes","text"],"matched_substring":"scan_budget"},)"
                        R"({"path":["attributes","count"],"matched_substring":"scan_budget"}])");
  ASSERT_EQ(r.lines.size(), 1u);
  EXPECT_EQ(r.lines[0],
            "logfire: a record needed more than 40 bytes of scrubbing; values past that were replaced with "
            "\"[Scrubbed: scan budget exceeded]\" (counted as scan_budget); raise options.scrubbing.max_scan_bytes");
  ASSERT_EQ(s->counts().size(), 1u);
  EXPECT_EQ(s->counts()[0].pattern, "scan_budget");
  EXPECT_EQ(s->counts()[0].values, 2u);
  // The next record starts with the whole budget again.
  const auto next = scrub_record(session, sink, {{"user", str("bob")}});
  EXPECT_EQ(text_of(next.attrs[0].value), "bob");
}

TEST(scan_budget, counts_json_strings_read_twice) {
  const std::string doc = R"({"password": "x"})";  // 17 bytes: scanned, then parsed
  // Key, text scanned, text parsed, inner key (its value goes without being read): exactly enough.
  auto s = make_scrubber({.max_scan_bytes = 1 + 2 * doc.size() + 8});
  scrub_session session(*s);
  owned_sink sink;
  const auto r = scrub_record(session, sink, {{"a", str(doc)}});
  EXPECT_EQ(text_of(r.attrs[0].value), R"({"password":"[Scrubbed due to 'password']"})");
  EXPECT_EQ(session.scanned_bytes(), 1 + 2 * doc.size() + 8);
}

TEST(scan_budget, zero_is_rejected) {
  EXPECT_EQ(error_for({.max_scan_bytes = 0}), "options.scrubbing.max_scan_bytes must be positive");
}
