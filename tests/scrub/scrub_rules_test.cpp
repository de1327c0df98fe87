// Logfire's scrubbing rules, one behaviour per test: what a matching key or value becomes, the
// whole-string exception, JSON strings scrubbed inside, nested paths, lists, numbers, the safe
// list, the notes for `logfire.scrubbed`, and that no output ever repeats the secret.
#include <string>
#include <vector>

#include "formatting/message_template.hpp"
#include "scrub/scrub_support.hpp"

using namespace scrub_test;

namespace {

class rules : public testing::Test {
 protected:
  outcome run(std::vector<attribute> attrs) { return scrub_record(session, sink, std::move(attrs)); }

  std::unique_ptr<scrubber> s = make_scrubber();
  scrub_session session{*s};
  owned_sink sink;
};

constexpr std::string_view k_password_note = R"([{"path":["attributes","password"],"matched_substring":"password"}])";

}  // namespace

TEST_F(rules, matching_key_replaces_a_string_value) {
  const auto r = run({{"password", str("hunter2")}, {"user", str("ann")}});
  EXPECT_EQ(text_of(r.attrs[0].value), "[Scrubbed due to 'password']");
  EXPECT_EQ(text_of(r.attrs[1].value), "ann");
  EXPECT_EQ(r.scrubbed, k_password_note);
}

TEST_F(rules, matching_key_replaces_numbers_booleans_and_empty_values_with_a_string) {
  attribute_value empty;
  const auto r =
      run({{"api_key", i64(12345)}, {"secret_flag", boolean(true)}, {"credit_card", f64(4242.5)}, {"session", empty}});
  EXPECT_EQ(text_of(r.attrs[0].value), "[Scrubbed due to 'api_key']");
  EXPECT_EQ(text_of(r.attrs[1].value), "[Scrubbed due to 'secret']");
  EXPECT_EQ(text_of(r.attrs[2].value), "[Scrubbed due to 'credit_card']");
  EXPECT_EQ(text_of(r.attrs[3].value), "[Scrubbed due to 'session']");
}

TEST_F(rules, matching_key_turns_a_list_into_a_one_element_list) {
  const std::vector<attribute_value> items = {i64(1), i64(2), i64(3)};
  const auto r = run({{"Passwords", list(items)}});
  ASSERT_EQ(r.attrs[0].value.type, attribute_value::kind::array);
  ASSERT_EQ(r.attrs[0].value.items.size(), 1u);
  EXPECT_EQ(text_of(r.attrs[0].value.items[0]), "[Scrubbed due to 'Password']");
  EXPECT_EQ(r.scrubbed, R"([{"path":["attributes","Passwords"],"matched_substring":"Password"}])");
}

TEST_F(rules, matching_value_is_replaced_and_named_by_its_keyword_only) {
  const auto r = run({{"note", str("my password is hunter2")}});
  EXPECT_EQ(text_of(r.attrs[0].value), "[Scrubbed due to 'password']");
  EXPECT_EQ(r.scrubbed, R"([{"path":["attributes","note"],"matched_substring":"password"}])");
  for (const auto& line : r.lines) EXPECT_EQ(line.find("hunter2"), std::string::npos) << line;
}

TEST_F(rules, a_value_that_is_only_the_keyword_is_kept) {
  const auto r = run({{"field", str("password")}, {"kind", str("Session")}, {"other", str("password ")}});
  EXPECT_EQ(text_of(r.attrs[0].value), "password");
  EXPECT_EQ(text_of(r.attrs[1].value), "Session");
  EXPECT_EQ(text_of(r.attrs[2].value), "[Scrubbed due to 'password']");  // a space more is not the whole string
}

TEST_F(rules, values_without_a_match_are_left_untouched_and_nothing_is_written) {
  const std::string text = "nothing to see here";
  const std::vector<attribute_value> items = {str("a"), str("b")};
  const auto r = run({{"message", str(text)}, {"count", i64(3)}, {"tags", list(items)}});
  EXPECT_EQ(r.attrs[0].value.s.data(), text.data());
  EXPECT_EQ(r.attrs[2].value.items.data(), items.data());
  EXPECT_EQ(r.scrubbed, "");
  EXPECT_EQ(sink.writes(), 0u);
}

TEST_F(rules, json_string_is_scrubbed_inside_and_written_back) {
  const auto r = run({{"user", str(R"({"name": "ann", "password": "x", "tags": ["a", "b"]})")}});
  EXPECT_EQ(text_of(r.attrs[0].value), R"({"name":"ann","password":"[Scrubbed due to 'password']","tags":["a","b"]})");
  EXPECT_EQ(r.scrubbed, R"([{"path":["attributes","user","password"],"matched_substring":"password"}])");
}

TEST_F(rules, nested_paths_name_list_indexes_and_keys) {
  const auto r = run({{"user", str(R"([{"id": 1}, {"password": "x"}])")}});
  EXPECT_EQ(text_of(r.attrs[0].value), R"([{"id":1},{"password":"[Scrubbed due to 'password']"}])");
  EXPECT_EQ(r.scrubbed, R"([{"path":["attributes","user",1,"password"],"matched_substring":"password"}])");
}

TEST_F(rules, inside_json_a_matching_key_replaces_lists_objects_and_numbers) {
  const auto r = run({{"cfg", str(R"({"secrets": [1, 2], "auth": {"user": "u"}, "ssn": 123456789, "n": 1.50e3})")}});
  EXPECT_EQ(text_of(r.attrs[0].value),
            "{\"secrets\":[\"[Scrubbed due to 'secret']\"],\"auth\":\"[Scrubbed due to "
            "'auth']\",\"ssn\":\"[Scrubbed due to 'ssn']\",\"n\":1.50e3}");
}

TEST_F(rules, json_values_are_scrubbed_like_attribute_values) {
  const auto r = run({{"log", str(R"({"line": "login with password hunter2", "level": "password"})")}});
  // The whole-string exception applies inside too; numbers keep the text they were written with.
  EXPECT_EQ(text_of(r.attrs[0].value), R"({"line":"[Scrubbed due to 'password']","level":"password"})");
  EXPECT_EQ(r.scrubbed, R"([{"path":["attributes","log","line"],"matched_substring":"password"}])");
}

TEST_F(rules, json_with_nothing_to_scrub_inside_keeps_its_text_as_written) {
  const std::string text = R"([ "password", 1 ])";  // the keyword is a whole element
  const auto r = run({{"words", str(text)}});
  EXPECT_EQ(r.attrs[0].value.s.data(), text.data());
  EXPECT_EQ(r.scrubbed, "");
}

TEST_F(rules, json_inside_json_is_scrubbed_at_every_level) {
  const auto r = run({{"payload", str(R"({"inner": "{\"password\": 1, \"ok\": 2}"})")}});
  EXPECT_EQ(text_of(r.attrs[0].value), R"({"inner":"{\"password\":\"[Scrubbed due to 'password']\",\"ok\":2}"})");
  EXPECT_EQ(r.scrubbed, R"([{"path":["attributes","payload","inner","password"],"matched_substring":"password"}])");
}

TEST_F(rules, a_matching_string_that_is_not_json_is_redacted_whole) {
  const auto r = run({{"blob", str("{password: hunter2}")}, {"num", str("12 secret")}});
  EXPECT_EQ(text_of(r.attrs[0].value), "[Scrubbed due to 'password']");
  EXPECT_EQ(text_of(r.attrs[1].value), "[Scrubbed due to 'secret']");
}

TEST_F(rules, escaped_keys_inside_json_are_found_once_the_raw_text_matched) {
  // The raw text matches "secret", so it is parsed; the decoded key "password" then matches too.
  const auto r = run({{"doc", str(R"({"pass\u0077ord": "a", "x": "secret b"})")}});
  EXPECT_EQ(text_of(r.attrs[0].value),
            R"({"password":"[Scrubbed due to 'password']","x":"[Scrubbed due to 'secret']"})");
}

TEST_F(rules, string_lists_are_scrubbed_element_by_element) {
  const std::vector<attribute_value> items = {str("ok"), str("my secret x"), str("secret")};
  const auto r = run({{"notes", list(items)}});
  ASSERT_EQ(r.attrs[0].value.items.size(), 3u);
  EXPECT_EQ(text_of(r.attrs[0].value.items[0]), "ok");
  EXPECT_EQ(text_of(r.attrs[0].value.items[1]), "[Scrubbed due to 'secret']");
  EXPECT_EQ(text_of(r.attrs[0].value.items[2]), "secret");
  EXPECT_EQ(text_of(items[1]), "my secret x");  // the caller's list is not written to
  EXPECT_EQ(r.scrubbed, R"([{"path":["attributes","notes",1],"matched_substring":"secret"}])");
}

TEST_F(rules, numbers_and_booleans_under_other_keys_are_kept) {
  const auto r = run({{"count", i64(42)}, {"ratio", f64(0.5)}, {"ok", boolean(false)}});
  EXPECT_EQ(r.attrs[0].value.i, 42);
  EXPECT_EQ(r.attrs[1].value.d, 0.5);
  EXPECT_EQ(r.attrs[2].value.type, attribute_value::kind::boolean);
  EXPECT_EQ(r.scrubbed, "");
}

TEST_F(rules, safe_keys_are_kept_whole_at_any_depth) {
  const auto r = run({
      {"http.url", str("https://x/?password=1")},
      {"url.query", str("api_key=2")},
      {"db.statement", str("UPDATE users SET password = ?")},
      {"logfire.msg", str("login password=3")},
      {"logfire.json_schema", str(R"({"properties":{"password":{}}})")},
      {"exception.message", str("bad password 4")},
      {"exception.stacktrace", str("at auth()")},
      {"error.type", str("AuthError")},
      {"code.function", str("check_password")},
      {"gen_ai.request.model", str("secret-model")},
      {"request", str(R"({"http.url": "https://x/?password=5", "password": "6"})")},
  });
  for (std::size_t i = 0; i + 1 < r.attrs.size(); ++i)
    EXPECT_EQ(text_of(r.attrs[i].value).find("Scrubbed"), std::string::npos) << r.attrs[i].key;
  EXPECT_EQ(text_of(r.attrs.back().value),
            R"({"http.url":"https://x/?password=5","password":"[Scrubbed due to 'password']"})");
}

TEST_F(rules, span_names_are_not_attributes_and_keys_are_never_rewritten) {
  const auto r = run({{"password", str("x")}});
  EXPECT_EQ(r.attrs[0].key, "password");
}

TEST_F(rules, replacement_and_notes_never_repeat_an_extra_patterns_match) {
  // Logfire once echoed a custom pattern's match: "[Scrubbed due to '://admin:s3cr3t_pass@']".
  auto with_extra = make_scrubber({.extra_patterns = {"://[^@/]+@"}});
  scrub_session extra_session(*with_extra);
  const auto r = scrub_record(extra_session, sink, {{"dsn", str("postgres://admin:s3cr3t_pass@db:5432/app")}});
  EXPECT_EQ(text_of(r.attrs[0].value), "[Scrubbed due to '://[^@/]+@']");
  EXPECT_EQ(r.scrubbed, R"([{"path":["attributes","dsn"],"matched_substring":"://[^@/]+@"}])");
  ASSERT_EQ(r.lines.size(), 1u);
  for (const std::string& out : {text_of(r.attrs[0].value), r.scrubbed, r.lines[0]})
    EXPECT_EQ(out.find("s3cr3t"), std::string::npos) << out;
}

TEST_F(rules, reasons_are_quoted_as_python_repr) {
  auto with_extra = make_scrubber({.extra_patterns = {R"(it's\d+)", R"(x"y'z)"}});
  scrub_session extra_session(*with_extra);
  const auto r = scrub_record(extra_session, sink, {{"a", str("so it's42 here")}, {"b", str(R"(1 x"y'z 2)")}});
  EXPECT_EQ(text_of(r.attrs[0].value), R"([Scrubbed due to "it's\\d+"])");
  EXPECT_EQ(text_of(r.attrs[1].value), R"([Scrubbed due to 'x"y\'z'])");
}

TEST_F(rules, message_is_formatted_from_scrubbed_fields_and_noted_under_message) {
  const auto r = run({{"user", str("ann")}, {"password", str("hunter2")}, {"query", str(R"({"token_secret": 1})")}});
  std::string message;
  ASSERT_TRUE(logfire::detail::format_message("login {user} {password} {query}", r.attrs, message));
  EXPECT_EQ(message, R"(login ann [Scrubbed due to 'password'] {"token_secret":"[Scrubbed due to 'secret']"})");

  const std::string_view fields[] = {"user", "password", "query"};
  session.add_message_notes(fields);
  std::string notes;
  session.write_notes_json(notes);
  EXPECT_EQ(notes, R"([{"path":["message","password"],"matched_substring":"password"},)"
                   R"({"path":["message","query","token_secret"],"matched_substring":"secret"},)"
                   R"({"path":["attributes","password"],"matched_substring":"password"},)"
                   R"({"path":["attributes","query","token_secret"],"matched_substring":"secret"}])");
}

TEST_F(rules, event_and_link_attributes_are_named_by_their_place) {
  session.begin_record();
  std::vector<attribute> event = {{"exception.message", str("wrong password")}, {"cookie", str("a=b")}};
  const scrub_path_segment event_root[] = {
      {.key = "otel_events"}, {.index = 2, .is_index = true}, {.key = "attributes"}};
  session.scrub_attributes(event_root, event, sink);
  std::vector<attribute> link = {{"note", str("jwt: abc")}};
  const scrub_path_segment link_root[] = {{.key = "links"}, {.index = 0, .is_index = true}, {.key = "attributes"}};
  session.scrub_attributes(link_root, link, sink);
  std::string notes;
  session.write_notes_json(notes);
  EXPECT_EQ(text_of(event[0].value), "wrong password");  // exception.* is safe
  EXPECT_EQ(notes, R"([{"path":["otel_events",2,"attributes","cookie"],"matched_substring":"cookie"},)"
                   R"({"path":["links",0,"attributes","note"],"matched_substring":"jwt"}])");
}

TEST_F(rules, a_log_body_is_scrubbed_under_log_body) {
  session.begin_record();
  attribute_value body = str(R"({"msg": "hi", "Authorization": "Bearer abc"})");
  const scrub_path_segment root[] = {{.key = "log_body"}};
  session.scrub_value(root, body, sink);
  std::string notes;
  session.write_notes_json(notes);
  EXPECT_EQ(text_of(body), R"({"msg":"hi","Authorization":"[Scrubbed due to 'Auth']"})");
  EXPECT_EQ(notes, R"([{"path":["log_body","Authorization"],"matched_substring":"Auth"}])");
}

TEST_F(rules, notes_are_per_record) {
  (void)run({{"password", str("x")}});
  const auto r = run({{"user", str("ann")}});
  EXPECT_EQ(r.scrubbed, "");
}

TEST_F(rules, notes_stop_at_a_bound_and_say_how_many_more) {
  std::vector<std::string> texts(logfire::detail::k_max_notes + 72, "a secret b");
  std::vector<attribute_value> items;
  for (const auto& t : texts) items.push_back(str(t));
  const auto r = run({{"many", list(items)}});
  for (const auto& v : r.attrs[0].value.items) EXPECT_EQ(text_of(v), "[Scrubbed due to 'secret']");
  EXPECT_NE(r.scrubbed.find(R"({"path":["attributes","many",127],"matched_substring":"secret"},)"
                            R"x({"path":[],"matched_substring":"(72 more not listed)"}])x"),
            std::string::npos)
      << r.scrubbed;
  EXPECT_EQ(r.scrubbed.find(R"("many",128])"), std::string::npos);
}

TEST_F(rules, json_nested_past_the_depth_bound_is_not_parsed_and_redacted_whole) {
  std::string deep(logfire::detail::k_max_json_depth + 1, '[');
  deep += R"("secret x")";
  deep += std::string(logfire::detail::k_max_json_depth + 1, ']');
  std::string shallow(logfire::detail::k_max_json_depth - 1, '[');
  shallow += R"("secret x")";
  shallow += std::string(logfire::detail::k_max_json_depth - 1, ']');
  const auto r = run({{"deep", str(deep)}, {"shallow", str(shallow)}});
  EXPECT_EQ(text_of(r.attrs[0].value), "[Scrubbed due to 'secret']");
  EXPECT_NE(text_of(r.attrs[1].value).find(R"([[["[Scrubbed due to 'secret']"]]])"), std::string::npos);
}

TEST_F(rules, scrubbing_that_fails_replaces_every_value_not_under_a_safe_key) {
  // A sink that cannot allocate stands for memory running out mid-record.
  struct failing_sink final : logfire::detail::scrub_sink {
    std::string_view copy(std::string_view) override { throw std::bad_alloc(); }
    attribute_value* make_values(std::size_t) override { throw std::bad_alloc(); }
  } failing;
  const std::vector<attribute_value> items = {i64(1)};
  std::vector<attribute> attrs = {
      {"user", str("ann")}, {"password", str("hunter2")}, {"list", list(items)}, {"http.route", str("/login")}};
  session.begin_record();
  const scrub_path_segment root[] = {{.key = "attributes"}};
  session.scrub_attributes(root, attrs, failing);
  EXPECT_EQ(text_of(attrs[0].value), logfire::detail::k_failure_replacement);
  EXPECT_EQ(text_of(attrs[1].value), logfire::detail::k_failure_replacement);
  ASSERT_EQ(attrs[2].value.items.size(), 1u);
  EXPECT_EQ(text_of(attrs[2].value.items[0]), logfire::detail::k_failure_replacement);
  EXPECT_EQ(text_of(attrs[3].value), "/login");
  EXPECT_EQ(s->failures(), 1u);
}
