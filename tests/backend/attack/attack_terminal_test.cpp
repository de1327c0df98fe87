// Issue 11, case 9: `tail`, `query` (table format) and `traces` printed escape sequences from
// telemetry raw: an OSC title change, ESC[2J (clear screen) and a C1 CSI reached the terminal
// from a span name. Everything printed for a terminal now shows them escaped.
#include <gtest/gtest.h>

#include "backend/backend_support.hpp"

namespace logfire::backend_test {
namespace {

// An OSC title change, a clear screen, a one-character C1 CSI (U+009B in UTF-8), a bell, a
// carriage return that would overwrite the line, and a right-to-left override.
const std::string kHostile =
    "pwn\x1b]0;owned\x07\x1b[2J\xc2\x9b"
    "31m\rfake\xe2\x80\xae"
    "txt";

void expect_safe(const cli_result& r, const std::string& what,
                 const std::string& visible = "pwn\\e]0;owned\\x07\\e[2J\\u009b31m") {
  EXPECT_EQ(r.exit_code, 0) << what << ": " << r.err;
  for (const std::string& raw : {std::string("\x1b"), std::string("\x07"), std::string("\xc2\x9b"),
                                 std::string("\xe2\x80\xae"), std::string("\r")}) {
    EXPECT_EQ(r.out.find(raw), std::string::npos) << what << " printed a raw control character: " << r.out;
  }
  EXPECT_NE(r.out.find(visible), std::string::npos) << what << ": " << r.out;
}

TEST(attack_9_terminal, telemetry_cannot_drive_the_terminal) {
  temp_dir dir;
  std::string db = dir.file("t.db");
  {
    serve_process serve(db);
    ASSERT_TRUE(serve.started()) << serve.output();
    span_spec s;
    s.trace_id = random_hex(16);
    s.span_id = random_hex(8);
    s.name = kHostile;
    s.attributes = {kv("logfire.msg", kHostile), kv_tags({kHostile})};
    s.error = true;
    s.exception = std::make_pair(kHostile, kHostile);
    ASSERT_EQ(post(serve.port(), "/v1/traces", trace_request({s}, kHostile).SerializeAsString()).status, 200);
  }
  expect_safe(run_cli({"tail", "--db", db, "--no-follow", "--color", "never", "--verbose"}), "tail");
  expect_safe(run_cli({"traces", "--db", db}), "traces");
  expect_safe(run_cli({"query", "--db", db, "SELECT span_name, message, tags, exception_type FROM records"}),
              "query (table)");
  expect_safe(run_cli({"query", "--db", db, "--format", "json", "SELECT span_name FROM records"}), "query (json)",
              "pwn\\u001b]0;owned\\u0007\\u001b[2J\\u009b31m");
}

}  // namespace
}  // namespace logfire::backend_test
