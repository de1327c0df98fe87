// Retention: `serve --retention-age` deletes records and metric points older than the age;
// `--retention-size` deletes the oldest rows once the data outgrow the size, and gives the space
// back to the file system.
#include <gtest/gtest.h>

#include <filesystem>

#include "backend/backend_support.hpp"

namespace logfire::backend_test {
namespace {

constexpr std::uint64_t kHour = 3'600'000'000'000ULL;

// Polls `done` every 100 ms for at most 20 s.
template <typename F>
bool eventually(F done) {
  for (int i = 0; i < 200; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

std::vector<span_spec> spans_at(std::uint64_t start, const std::string& name, int n, std::size_t payload = 0) {
  std::vector<span_spec> out;
  std::string trace = random_hex(16);
  for (int i = 0; i < n; ++i) {
    span_spec s;
    s.trace_id = trace;
    s.span_id = random_hex(8);
    s.name = name;
    s.start_ns = start + static_cast<std::uint64_t>(i) * 1000;
    if (payload) s.attributes = {kv("payload", random_hex(payload / 2))};
    out.push_back(std::move(s));
  }
  return out;
}

TEST(retention, records_and_metrics_older_than_the_age_are_deleted) {
  temp_dir dir;
  std::string db = dir.file("age.db");
  serve_process serve(db, {"--retention-age", "1h", "--retention-interval", "200ms"});
  ASSERT_TRUE(serve.started()) << serve.output();
  std::uint64_t now = now_ns();
  ASSERT_EQ(
      post(serve.port(), "/v1/traces", trace_request(spans_at(now - 2 * kHour, "old", 10)).SerializeAsString()).status,
      200);
  ASSERT_EQ(post(serve.port(), "/v1/traces", trace_request(spans_at(now - kHour / 2, "recent", 10)).SerializeAsString())
                .status,
            200);
  pb::metrics_request metrics;
  auto* m = metrics.add_resource_metrics()->add_scope_metrics()->add_metrics();
  m->set_name("old.gauge");
  m->mutable_gauge()->add_data_points()->set_time_unix_nano(now - 3 * kHour);
  auto* fresh = metrics.mutable_resource_metrics(0)->mutable_scope_metrics(0)->add_metrics();
  fresh->set_name("fresh.gauge");
  fresh->mutable_gauge()->add_data_points()->set_time_unix_nano(now);
  ASSERT_EQ(post(serve.port(), "/v1/metrics", metrics.SerializeAsString()).status, 200);

  EXPECT_TRUE(eventually([&] { return sql_count(db, "SELECT count(*) FROM records WHERE span_name = 'old'") == 0; }));
  EXPECT_TRUE(
      eventually([&] { return sql_count(db, "SELECT count(*) FROM metrics WHERE metric_name = 'old.gauge'") == 0; }));
  EXPECT_EQ(sql_count(db, "SELECT count(*) FROM records WHERE span_name = 'recent'"), 10);
  EXPECT_EQ(sql_count(db, "SELECT count(*) FROM metrics WHERE metric_name = 'fresh.gauge'"), 1);
}

TEST(retention, the_oldest_rows_go_when_the_data_exceed_the_size) {
  temp_dir dir;
  std::string db = dir.file("size.db");
  constexpr std::int64_t kLimit = 1 << 20;
  serve_process serve(db, {"--retention-size", "1MiB", "--retention-interval", "200ms"});
  ASSERT_TRUE(serve.started()) << serve.output();
  std::uint64_t t0 = now_ns() - kHour;
  // 16 batches of 100 spans with 512 bytes of random text each, sent oldest first. Random text is
  // the search index's worst case (every trigram distinct): with their index entries the data
  // exceed the 1 MiB several times over, while the newest batch alone fits.
  for (int b = 0; b < 16; ++b) {
    auto spans =
        spans_at(t0 + static_cast<std::uint64_t>(b) * 60'000'000'000ULL, "batch " + std::to_string(b), 100, 512);
    ASSERT_EQ(post(serve.port(), "/v1/traces", trace_request(spans).SerializeAsString()).status, 200);
  }
  auto used = [&] {
    return sql_count(db,
                     "SELECT ((SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM "
                     "pragma_freelist_count())) * (SELECT page_size FROM pragma_page_size())");
  };
  EXPECT_TRUE(eventually([&] { return used() <= kLimit; })) << used();
  EXPECT_EQ(sql_count(db, "SELECT count(*) FROM records WHERE span_name = 'batch 0'"), 0) << "the oldest went first";
  EXPECT_EQ(sql_count(db, "SELECT count(*) FROM records WHERE span_name = 'batch 15'"), 100) << "the newest stayed";
  serve.stop();
  // The space went back to the file system too (incremental vacuum, WAL checkpoint).
  EXPECT_LE(static_cast<std::int64_t>(std::filesystem::file_size(db)), 2 * kLimit);
}

}  // namespace
}  // namespace logfire::backend_test
