// Pending spans (Logfire's "span started" records): stored while their span runs, so the trace
// shows it in progress, and replaced when the real span arrives; a pending span that arrives
// after its real span is ignored.
#include <gtest/gtest.h>

#include <csignal>

#include "backend/backend_support.hpp"

namespace logfire::backend_test {
namespace {

constexpr const char* kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* kParent = "1111111111111111";  // the running span's parent
constexpr const char* kSpan = "2222222222222222";    // the running span
constexpr const char* kPendingId = "3333333333333333";

// As the SDK sends it: its own span id, the real span as parent, the real span's parent in
// logfire.pending_parent_id.
span_spec pending(std::uint64_t t0) {
  span_spec p;
  p.trace_id = kTrace;
  p.span_id = kPendingId;
  p.parent_span_id = kSpan;
  p.name = "process order {id}";
  p.start_ns = t0;
  p.duration_ns = 0;
  p.attributes = {kv("logfire.span_type", "pending_span"), kv("logfire.pending_parent_id", kParent),
                  kv("logfire.msg", "process order 7"), kv("id", std::int64_t{7})};
  return p;
}

span_spec real(std::uint64_t t0) {
  span_spec s;
  s.trace_id = kTrace;
  s.span_id = kSpan;
  s.parent_span_id = kParent;
  s.name = "process order {id}";
  s.start_ns = t0;
  s.duration_ns = 2'000'000'000;
  s.attributes = {kv("logfire.span_type", "span"), kv("logfire.msg", "process order 7"), kv("id", std::int64_t{7})};
  return s;
}

class pending_spans : public ::testing::Test {
 protected:
  void SetUp() override {
    serve_ = std::make_unique<serve_process>(db());
    ASSERT_TRUE(serve_->started()) << serve_->output();
  }
  std::string db() const { return dir_.file("pending.db"); }
  int send(const std::vector<span_spec>& spans) {
    return post(serve_->port(), "/v1/traces", trace_request(spans).SerializeAsString()).status;
  }
  temp_dir dir_;
  std::unique_ptr<serve_process> serve_;
};

TEST_F(pending_spans, a_running_span_is_stored_in_its_place_then_replaced_by_the_real_span) {
  std::uint64_t t0 = now_ns() - 3'000'000'000ULL;
  ASSERT_EQ(send({pending(t0)}), 200);
  auto running = sql(db(), "SELECT kind, span_id, parent_span_id, message, duration FROM records");
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(running[0].at("kind"), "pending_span");
  EXPECT_EQ(running[0].at("span_id"), kSpan) << "stored under the real span's id, so children nest under it";
  EXPECT_EQ(running[0].at("parent_span_id"), kParent);
  EXPECT_EQ(running[0].at("message"), "process order 7");
  EXPECT_EQ(running[0].at("duration"), "NULL") << "still running";

  ASSERT_EQ(send({real(t0)}), 200);
  auto done = sql(db(), "SELECT kind, span_id, parent_span_id, duration FROM records");
  ASSERT_EQ(done.size(), 1u) << "the pending span is gone";
  EXPECT_EQ(done[0].at("kind"), "span");
  EXPECT_EQ(done[0].at("span_id"), kSpan);
  EXPECT_EQ(done[0].at("parent_span_id"), kParent);
  EXPECT_EQ(done[0].at("duration"), "2.0");
}

TEST_F(pending_spans, a_pending_span_arriving_after_its_real_span_is_ignored) {
  std::uint64_t t0 = now_ns() - 3'000'000'000ULL;
  ASSERT_EQ(send({real(t0)}), 200);
  ASSERT_EQ(send({pending(t0)}), 200);
  auto rows = sql(db(), "SELECT kind FROM records");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at("kind"), "span");
}

TEST_F(pending_spans, both_in_one_request_leave_only_the_real_span) {
  std::uint64_t t0 = now_ns() - 3'000'000'000ULL;
  ASSERT_EQ(send({pending(t0), real(t0)}), 200);
  EXPECT_EQ(sql_count(db(), "SELECT count(*) FROM records WHERE kind = 'pending_span'"), 0);
  EXPECT_EQ(sql_count(db(), "SELECT count(*) FROM records WHERE kind = 'span'"), 1);
  auto stats = get(serve_->port(), "/api/stats");
  EXPECT_NE(stats.body.find("\"pending_replaced\":1"), std::string::npos) << stats.body;
}

// The server remembers which pending spans it holds, so that other spans skip the lookup; a
// pending span stored before a restart must still be found.
TEST_F(pending_spans, a_pending_span_stored_before_a_restart_is_replaced_after_it) {
  std::uint64_t t0 = now_ns() - 3'000'000'000ULL;
  ASSERT_EQ(send({pending(t0)}), 200);
  EXPECT_EQ(serve_->stop(SIGTERM), 0);
  serve_ = std::make_unique<serve_process>(db());
  ASSERT_TRUE(serve_->started()) << serve_->output();
  ASSERT_EQ(send({real(t0)}), 200);
  EXPECT_EQ(sql_count(db(), "SELECT count(*) FROM records WHERE kind = 'pending_span'"), 0);
  EXPECT_EQ(sql_count(db(), "SELECT count(*) FROM records"), 1);
}

// Many plain spans around the pending one (they go into the database many rows per statement):
// the pending span is still replaced, and a pending span after its real span in the same batch
// is still ignored.
TEST_F(pending_spans, replacement_holds_among_many_rows) {
  std::uint64_t t0 = now_ns() - 3'000'000'000ULL;
  std::vector<span_spec> spans;
  for (int i = 0; i < 100; ++i) {
    span_spec s;
    s.trace_id = random_hex(16);
    s.span_id = random_hex(8);
    s.name = "filler";
    s.start_ns = t0;
    spans.push_back(s);
  }
  spans.insert(spans.begin() + 40, real(t0));
  spans.insert(spans.begin() + 70, pending(t0));  // after its real span: ignored
  ASSERT_EQ(send(spans), 200);
  EXPECT_EQ(sql_count(db(), "SELECT count(*) FROM records WHERE kind = 'pending_span'"), 0);
  EXPECT_EQ(sql_count(db(), "SELECT count(*) FROM records"), 101);
  EXPECT_EQ(sql_count(db(), "SELECT count(DISTINCT id) FROM records"), 101);
}

}  // namespace
}  // namespace logfire::backend_test
