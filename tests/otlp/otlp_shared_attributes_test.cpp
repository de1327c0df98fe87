// The OTLP encoder writes the Logfire attributes a call site's records share once per call-site
// variant and copies those bytes afterwards (span_record::shared). The bytes must be exactly
// those written attribute by attribute, whatever varies between records of one call site:
// level, status, value types, null arguments, tags, pending spans, scrubbed values.
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "export/otlp_encoder.hpp"
#include "logfire/config.hpp"
#include "logfire/exporter.hpp"
#include "logfire/logfire.hpp"
#include "support/otlp_receiver.hpp"

namespace logfire::test {
namespace {

// Encodes every batch with and without the shared bytes (the cache lives across batches, as in
// the OTLP exporter) and keeps both bodies.
class comparing_exporter final : public exporter {
 public:
  std::string name() const override { return "comparing"; }
  void export_batch(std::span<const span_record> records) noexcept override {
    try {
      std::string plain, copied;
      detail::encode_traces_protobuf(records, res_, plain);
      detail::encode_traces_protobuf(records, res_, copied, &shared_);
      std::lock_guard lock(mutex_);
      for (const span_record& r : records) {
        if (r.shared.site) {
          ++with_shared_;
          sites_by_template_[std::string(r.name)].insert(r.shared.site);
        }
        // A record built from its site's layout points to the layout's keys, the same for each.
        if (!r.attributes.empty()) ++first_key_at_[r.attributes[0].key.data()];
      }
      bodies_.push_back({std::move(plain), std::move(copied)});
    } catch (...) {
      std::lock_guard lock(mutex_);
      failed_ = true;
    }
    if (counter_) counter_->delivered(records.size());
  }
  bool wants_pending_spans() const noexcept override { return true; }

  std::mutex mutex_;
  std::vector<std::pair<std::string, std::string>> bodies_;
  std::map<std::string, std::set<std::uint64_t>> sites_by_template_;
  std::size_t with_shared_ = 0;
  std::map<const char*, std::size_t> first_key_at_;
  bool failed_ = false;

 private:
  detail::resource res_;
  detail::shared_attribute_bytes shared_;
};

options quiet(std::shared_ptr<exporter> e) {
  options o;
  o.service_name = "shared-attributes-test";
  o.send_to_logfire = send_to_logfire::no;
  o.console.enabled = false;
  o.exporters = {std::move(e)};
  o.read_environment = false;
  return o;
}

void one_call_site(int i, const std::optional<int>& maybe) {
  // The same source line for every variant below.
  span s("item {i}", {{"i", i}, {"maybe", maybe}, {"password", i % 3 == 0 ? "hunter2" : "fine"}});
  if (i % 4 == 1) s.set_level(level::warn);
  if (i % 5 == 2) s.set_status(status_code::error, "failed");
  if (i % 6 == 3) s.set_attribute("i", "a string now");  // another type: another schema
  if (i % 7 == 4) s.set_attribute("extra", 1.5);
}

TEST(otlp_shared_attributes, copied_bytes_equal_the_attribute_by_attribute_encoding) {
  auto e = std::make_shared<comparing_exporter>();
  auto lf = configure(quiet(e));
  ASSERT_TRUE(lf) << lf.error();
  for (int i = 0; i < 300; ++i) {
    one_call_site(i, i % 2 ? std::optional<int>(i) : std::nullopt);
    log(i % 2 ? level::info : level::error, "log {i}", {{"i", i}},
        {.tags = {"a", i % 3 ? "checkout-b" : "checkout-c"}});
    // One line, two templates of one length.
    info(i % 2 ? "first template {i}" : "other template {i}", {{"i", i}});
    // Two records of one call site in a row, after others: the second takes the encoder's
    // last-found entry.
    for (int k = 0; k < 2; ++k) info("repeated {i}", {{"i", i + k}});
    if (i % 50 == 0) {
      ASSERT_TRUE(force_flush());
    }
  }
  ASSERT_TRUE(force_flush());
  shutdown();

  std::lock_guard lock(e->mutex_);
  ASSERT_FALSE(e->failed_);
  ASSERT_FALSE(e->bodies_.empty());
  std::size_t spans = 0;
  for (const auto& [plain, copied] : e->bodies_) {
    ASSERT_EQ(plain, copied) << "the shared bytes differ from the attribute-by-attribute encoding";
    otlp::export_request req;
    ASSERT_TRUE(req.ParseFromString(copied));  // an independent decoder reads it
    for (const auto& rs : req.resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& sp : ss.spans()) {
          ++spans;
          EXPECT_NE(find_attribute(sp, "logfire.msg_template"), nullptr);
          EXPECT_NE(find_attribute(sp, "logfire.msg"), nullptr);
          EXPECT_NE(find_attribute(sp, "code.lineno"), nullptr);
        }
      }
    }
  }
  EXPECT_GE(spans, 600u);
  // The records took the copied path, and one call site had several variants (levels, types).
  EXPECT_GE(e->with_shared_, 600u);
  EXPECT_GE(e->sites_by_template_["item {i}"].size(), 4u);
}

// The encoder does not check the UTF-8 of the attributes of a record that carries the shared
// bytes' mark (the builder repaired them). Invalid UTF-8 everywhere a call can put it, for the
// first record of each call site (the long way) and the next ones (built from the site's
// layout): the unchecked encoding must be the checked one, byte for byte.
void hostile_texts(int i) {
  const std::string bad_value = "v\xe2\x82 " + std::to_string(i) + " \xed\xa0\x80\xc0\xaf";
  const std::string long_value = std::string(29, 'x') + "\xc3\xa9\xc3\xa9" + std::string(8, 'y');  // cut mid-é
  const std::vector<std::string> items{"a\xff", "b", "\xc3"};
  span s("bad \xff {v} {k\xc3} {w:.3}",
         {{"v", bad_value},
          {"k\xc3", i},
          {"w", "\xc3\xa9t\xc3\xa9 d\xc3\xa9j\xc3\xa0"},
          {"short \xc3\xa9", "h\xc3\xa9llo \xf0\x9f\x99\x82"},  // valid, short, not ASCII
          {"long", long_value},
          {"items", items},
          {"obj", object{{"k\xff", "v\xfe"}, {"n", i}}}},
         {.tags = {"t\xff", "ok"}});
  if (i % 3 == 1) s.set_attribute("late\xff", "x\xfe");  // an update: the long way
  // Keys and tags that need no repair: the next records of this site are built from its layout.
  info("plain \xff {v}", {{"v", bad_value}, {"n", i}, {"short", "h\xc3\xa9llo"}, {"long", long_value}},
       {.tags = {"ok"}});
}

TEST(otlp_shared_attributes, attributes_left_unchecked_for_utf8_are_valid_as_the_builder_made_them) {
  auto e = std::make_shared<comparing_exporter>();
  options o = quiet(e);
  o.limits.max_value_length = 32;
  auto lf = configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  for (int i = 0; i < 40; ++i) {
    hostile_texts(i);
    info("log \xc3\x28 {x}", {{"x", "\xa0\xa1"}, {"\xf0\x28\x8c\xbc", 1.5}});
  }
  ASSERT_TRUE(force_flush());
  shutdown();

  std::lock_guard lock(e->mutex_);
  ASSERT_FALSE(e->failed_);
  EXPECT_GE(e->with_shared_, 160u);  // every record carried the mark
  std::size_t spans = 0;
  std::size_t plain_logs = 0;
  for (const auto& [plain, copied] : e->bodies_) {
    ASSERT_EQ(plain, copied) << "an attribute the encoder took as valid UTF-8 was not";
    otlp::export_request req;
    ASSERT_TRUE(req.ParseFromString(copied));  // libprotobuf rejects invalid UTF-8 in strings
    for (const auto& rs : req.resource_spans())
      for (const auto& ss : rs.scope_spans())
        for (const auto& sp : ss.spans()) {
          ++spans;
          if (sp.name().rfind("plain", 0) == 0) {
            ++plain_logs;
            const otlp::any_value* valid = find_attribute(sp, "short");
            ASSERT_NE(valid, nullptr);
            EXPECT_EQ(valid->string_value(), "h\xc3\xa9llo");
          } else if (sp.name().rfind("bad", 0) != 0) {
            continue;
          } else {
            const otlp::any_value* valid = find_attribute(sp, "short \xc3\xa9");
            ASSERT_NE(valid, nullptr);
            EXPECT_EQ(valid->string_value(), "h\xc3\xa9llo \xf0\x9f\x99\x82");
          }
          // The repairs reached the wire as U+FFFD, and the valid text stayed as it was.
          const otlp::any_value* v = find_attribute(sp, "v");
          ASSERT_NE(v, nullptr);
          EXPECT_NE(v->string_value().find("\xef\xbf\xbd"), std::string::npos);
        }
  }
  EXPECT_EQ(spans, 160u);  // 40 spans, their 40 pending spans, 2 x 40 logs
  EXPECT_EQ(plain_logs, 40u);
  // "plain": all its records but the first were built from the site's layout (the test's point).
  std::size_t most_sharing_keys = 0;
  for (const auto& [at, n] : e->first_key_at_) most_sharing_keys = std::max(most_sharing_keys, n);
  EXPECT_GE(most_sharing_keys, 39u);
}

// The encoder keeps each variant's key fields and writes the values after them: every size of
// key and value that changes a length's width, every number's encoding, the same bytes as the
// attribute-by-attribute encoding.
TEST(otlp_shared_attributes, kept_key_fields_give_the_same_bytes_for_every_value) {
  auto e = std::make_shared<comparing_exporter>();
  auto lf = configure(quiet(e));
  ASSERT_TRUE(lf) << lf.error();
  const std::string key_20(20, 'k');
  const std::string key_200(200, 'K');
  const std::string key_98(98, 'q');  // its field is 100 bytes: the largest on the one-byte-length path
  const std::string key_99(99, 'r');  // one more: the general path
  const std::int64_t ints[] = {0,
                               1,
                               127,
                               128,
                               16383,
                               16384,
                               -1,
                               std::numeric_limits<std::int64_t>::min(),
                               std::numeric_limits<std::int64_t>::max()};
  const double doubles[] = {0.0, -0.0, 1.5, std::numeric_limits<double>::quiet_NaN(),
                            std::numeric_limits<double>::infinity()};
  const std::uint64_t uints[] = {0, 300, std::numeric_limits<std::uint64_t>::max()};  // the last as a text
  const std::size_t text_sizes[] = {0, 1, 16, 17, 23, 24, 100, 127, 128, 200, 16383, 16384};
  for (std::size_t i = 0; i < 48; ++i) {
    const std::string text(text_sizes[i % std::size(text_sizes)], static_cast<char>('a' + i % 26));
    info("values {t}", {{"", ints[i % std::size(ints)]},
                        {"t", text},
                        {key_20, doubles[i % std::size(doubles)]},
                        {key_200, i % 2 == 0},
                        {"u", uints[i % std::size(uints)]},
                        {key_98, text},
                        {key_99, text}});
  }
  ASSERT_TRUE(force_flush());
  shutdown();

  std::lock_guard lock(e->mutex_);
  ASSERT_FALSE(e->failed_);
  EXPECT_GE(e->with_shared_, 48u);
  std::size_t logs = 0;
  for (const auto& [plain, copied] : e->bodies_) {
    ASSERT_EQ(plain, copied) << "a kept key field, or a value written after it, differs";
    otlp::export_request req;
    ASSERT_TRUE(req.ParseFromString(copied));
    for (const auto& rs : req.resource_spans())
      for (const auto& ss : rs.scope_spans())
        for (const auto& sp : ss.spans()) {
          if (sp.name() != "values {t}") continue;
          const otlp::any_value* t = find_attribute(sp, "t");
          ASSERT_NE(t, nullptr);
          EXPECT_EQ(t->string_value().size(), text_sizes[logs % std::size(text_sizes)]);
          const otlp::any_value* n = find_attribute(sp, "");
          ASSERT_NE(n, nullptr);
          EXPECT_EQ(n->int_value(), ints[logs % std::size(ints)]);
          ++logs;
        }
  }
  EXPECT_EQ(logs, 48u);
}

TEST(otlp_shared_attributes, templates_built_at_run_time_do_not_take_the_memo_from_other_call_sites) {
  auto e = std::make_shared<comparing_exporter>();
  auto lf = configure(quiet(e));
  ASSERT_TRUE(lf) << lf.error();
  for (int i = 0; i < 6000; ++i) {
    const std::string tmpl = "user " + std::to_string(100000 + i) + " logged in";  // a new template each time
    info(tmpl);
    if (i % 1000 == 999) {
      ASSERT_TRUE(force_flush());
    }
  }
  info("a call site seen after them");
  ASSERT_TRUE(force_flush());
  shutdown();
  std::lock_guard lock(e->mutex_);
  for (const auto& [plain, copied] : e->bodies_) ASSERT_EQ(plain, copied);
  EXPECT_EQ(e->sites_by_template_["a call site seen after them"].size(), 1u);
  EXPECT_LE(e->with_shared_, 100u);  // the run-time templates took a few variants, no more
}

TEST(otlp_shared_attributes, a_copy_with_other_attributes_is_encoded_attribute_by_attribute) {
  // A user's exporter may copy a record and replace its attributes before encoding it.
  const auto str = [](std::string_view s) {
    attribute_value v;
    v.type = attribute_value::kind::string;
    v.s = s;
    return v;
  };
  const attribute a[] = {{"logfire.msg_template", str("x")}, {"code.filepath", str("a.cpp")}};
  const attribute b[] = {{"logfire.msg_template", str("y")}, {"code.filepath", str("b.cpp")}};
  span_record r;
  r.context.trace = {1, 2};
  r.context.span.value = 3;
  r.attributes = a;
  r.shared = {.of = a, .first = 0, .count = 2, .site = 42};
  detail::resource res;
  detail::shared_attribute_bytes shared;
  std::string first, copy_plain, copy_shared;
  detail::encode_traces_protobuf({&r, 1}, res, first, &shared);  // learns site 42 from `a`
  span_record copy = r;
  copy.attributes = b;
  detail::encode_traces_protobuf({&copy, 1}, res, copy_plain);
  detail::encode_traces_protobuf({&copy, 1}, res, copy_shared, &shared);
  EXPECT_EQ(copy_plain, copy_shared);
  EXPECT_NE(first, copy_shared);
}

}  // namespace
}  // namespace logfire::test
