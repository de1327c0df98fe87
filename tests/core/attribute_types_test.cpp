// Attribute values beyond the scalars: enums, std::chrono durations and time points,
// std::optional, maps, other ranges, and users' own types through attribute_converter /
// to_attribute — as a Logfire user sees them in the exported record and its json_schema.
#include <array>
#include <chrono>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "core/core_support.hpp"

using namespace core_test;

enum class color { red = 1, green = 2 };
enum legacy_flags : unsigned { flag_a = 4 };

namespace shop {
struct point {
  int x;
  int y;
};
// Found by argument-dependent lookup.
void to_attribute(logfire::value_writer& w, const point& p) {
  w.value(logfire::object{{"x", p.x}, {"y", p.y}});
}

struct order {
  std::string id;
  std::vector<point> stops;
};
void to_attribute(logfire::value_writer& w, const order& o) {
  w.begin_object();
  w.key("id");
  w.value(o.id);
  w.key("stops");
  w.value(o.stops);  // a vector of a user type, written through point's to_attribute
  w.end();
}
}  // namespace shop

struct money {
  long cents;
};
template <>
struct logfire::attribute_converter<money> {
  static void write(logfire::value_writer& w, const money& m) { w.value(static_cast<double>(m.cents) / 100.0); }
};

// Wrong uses of the writer cannot corrupt the record.
struct throws {};
template <>
struct logfire::attribute_converter<throws> {
  static void write(logfire::value_writer& w, const throws&) {
    w.begin_array();
    w.value(1);
    throw std::runtime_error("converter failed");
  }
};
// is_attribute_value_v answers what the value_ref constructor accepts, so integrations can
// fall back to text for the rest instead of stopping the compilation.
struct not_a_value {};
static_assert(logfire::is_attribute_value_v<int> && logfire::is_attribute_value_v<const std::string&>);
static_assert(logfire::is_attribute_value_v<color> && logfire::is_attribute_value_v<std::chrono::milliseconds>);
static_assert(logfire::is_attribute_value_v<std::optional<double>> && logfire::is_attribute_value_v<shop::order>);
static_assert(logfire::is_attribute_value_v<std::map<std::string, std::vector<int>>>);
static_assert(logfire::is_attribute_value_v<std::list<money>>);
static_assert(!logfire::is_attribute_value_v<not_a_value> && !logfire::is_attribute_value_v<const int*>);
static_assert(!logfire::is_attribute_value_v<std::vector<not_a_value>>);
static_assert(!logfire::is_attribute_value_v<std::optional<not_a_value>>);
static_assert(!logfire::is_attribute_value_v<std::map<std::string, not_a_value>>);
static_assert(!logfire::is_attribute_value_v<std::chrono::steady_clock::time_point>);

struct writes_twice {};
template <>
struct logfire::attribute_converter<writes_twice> {
  static void write(logfire::value_writer& w, const writes_twice&) {
    w.value("first");
    w.value("second");
  }
};
struct writes_nothing {};
template <>
struct logfire::attribute_converter<writes_nothing> {
  static void write(logfire::value_writer&, const writes_nothing&) {}
};
struct sloppy {};
template <>
struct logfire::attribute_converter<sloppy> {
  static void write(logfire::value_writer& w, const sloppy&) {
    w.begin_object();
    w.value(1);  // no key: ignored
    w.key("k");  // its value is the array below
    w.begin_array();
    w.value(2);
    // the array and the object are left open
  }
};

// A converter that logs, with a custom value of its own (re-entry into the SDK).
struct chatty {};
template <>
struct logfire::attribute_converter<chatty> {
  static void write(logfire::value_writer& w, const chatty&) {
    const std::map<std::string, int> inner{{"n", 1}};
    logfire::info("from a converter", {{"inner", inner}, {"plain", 5}});
    w.value(std::map<std::string, int>{{"outer", 2}});
  }
};

namespace {

class attribute_types : public memory_sdk {};

std::string str(const stored_record& r, std::string_view key) {
  const auto* v = r.find(key);
  return v && v->string() ? *v->string() : "<missing>";
}

}  // namespace

TEST_F(attribute_types, enums_durations_time_points_and_optionals) {
  using namespace std::chrono;
  const auto t = system_clock::time_point(seconds(1714566896) + microseconds(789012));  // 2024-05-01T12:34:56.789012Z
  const std::optional<int> none;
  const std::optional<std::string> some = "x";
  logfire::info("values", {{"color", color::green},
                           {"flags", flag_a},
                           {"elapsed", milliseconds(1500)},
                           {"at", t},
                           {"none", none},
                           {"some", some},
                           {"level", logfire::level::warning}});
  const auto recs = flushed();
  const auto* r = find_log(recs, "values");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(int_attr(*r, "color"), 2);
  EXPECT_EQ(int_attr(*r, "flags"), 4);
  EXPECT_EQ(r->find("elapsed")->float64(), 1.5);
  EXPECT_EQ(str(*r, "at"), "2024-05-01T12:34:56.789012Z");
  EXPECT_EQ(str(*r, "some"), "x");
  EXPECT_EQ(int_attr(*r, "level"), 13);
  EXPECT_EQ(r->find("none"), nullptr);
  EXPECT_EQ(string_array(*r, "logfire.null_args"), (std::vector<std::string>{"none"}));
  // Before the epoch and at it.
  logfire::info("epoch", {{"zero", system_clock::time_point()}, {"before", system_clock::time_point(-seconds(1))}});
  const auto recs2 = flushed();
  const auto* e = find_log(recs2, "epoch");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(str(*e, "zero"), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(str(*e, "before"), "1969-12-31T23:59:59.000000Z");
}

TEST_F(attribute_types, maps_and_ranges_become_json_with_a_schema) {
  const std::map<std::string, int> counts{{"a", 1}, {"b", 2}};
  const std::unordered_map<int, std::vector<int>> by_id{{7, {1, 2}}};
  const std::list<double> samples{1.5, 2.5};
  const std::set<std::string> names{"x", "y"};
  const std::array<int, 3> fixed{1, 2, 3};
  const std::vector<bool> bits{true, false};
  const std::vector<color> colors{color::red, color::green};
  const std::vector<std::optional<int>> maybe{1, std::nullopt};
  logfire::info("{counts}", {{"counts", counts},
                             {"by_id", by_id},
                             {"samples", samples},
                             {"names", names},
                             {"fixed", fixed},
                             {"bits", bits},
                             {"colors", colors},
                             {"maybe", maybe}});
  const auto recs = flushed();
  const auto* r = find_log(recs, "{counts}");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(str(*r, "counts"), R"({"a":1,"b":2})");
  EXPECT_EQ(r->message, R"({"a":1,"b":2})");
  EXPECT_EQ(str(*r, "by_id"), R"({"7":[1,2]})");
  EXPECT_EQ(str(*r, "samples"), "[1.5,2.5]");
  EXPECT_EQ(str(*r, "names"), R"(["x","y"])");
  EXPECT_EQ(str(*r, "bits"), "[true,false]");
  EXPECT_EQ(str(*r, "colors"), "[1,2]");
  EXPECT_EQ(str(*r, "maybe"), "[1,null]");
  const auto* arr = r->find("fixed");
  ASSERT_TRUE(arr && arr->array());
  EXPECT_EQ(arr->array()->size(), 3u);
  const std::string schema = str(*r, "logfire.json_schema");
  EXPECT_NE(schema.find(R"("counts":{"type":"object"})"), std::string::npos) << schema;
  EXPECT_NE(schema.find(R"("samples":{"type":"array"})"), std::string::npos) << schema;
}

TEST_F(attribute_types, users_types_through_the_customization_points) {
  const shop::order o{"A-1", {{1, 2}, {3, 4}}};
  const std::map<std::string, shop::point> places{{"home", {0, 0}}};
  {
    logfire::span s("deliver {order}", {{"order", o}, {"price", money{1999}}});
    s.set_attribute("places", places);
    s.set_attributes({{"origin", shop::point{5, 6}}});
  }
  const auto recs = flushed();
  const auto* r = find(recs, "deliver {order}");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(str(*r, "order"), R"({"id":"A-1","stops":[{"x":1,"y":2},{"x":3,"y":4}]})");
  EXPECT_EQ(r->find("price")->float64(), 19.99);
  EXPECT_EQ(str(*r, "places"), R"({"home":{"x":0,"y":0}})");
  EXPECT_EQ(str(*r, "origin"), R"({"x":5,"y":6})");
}

TEST_F(attribute_types, a_misbehaving_converter_cannot_corrupt_the_record) {
  logfire::info("odd", {{"throws", throws{}},
                        {"twice", writes_twice{}},
                        {"nothing", writes_nothing{}},
                        {"sloppy", sloppy{}},
                        {"after", 42}});
  const auto recs = flushed();
  const auto* r = find_log(recs, "odd");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(str(*r, "twice"), "first");
  EXPECT_EQ(str(*r, "sloppy"), R"({"k":[2]})");
  EXPECT_EQ(int_attr(*r, "after"), 42);
  EXPECT_EQ(string_array(*r, "logfire.null_args"), (std::vector<std::string>{"throws", "nothing"}));
  // The writer's mistakes and the exception are counted as truncated values, nothing is lost.
  const auto st = logfire::stats();
  EXPECT_GE(st.count_of(logfire::event_counter::attributes_truncated), 1u);
  expect_accounted(st);
}

TEST_F(attribute_types, a_converter_that_logs_does_not_disturb_the_outer_record) {
  logfire::info("outer", {{"c", chatty{}}, {"after", 7}});
  const auto recs = flushed();
  const auto* outer = find_log(recs, "outer");
  ASSERT_NE(outer, nullptr);
  EXPECT_EQ(str(*outer, "c"), R"({"outer":2})");
  EXPECT_EQ(int_attr(*outer, "after"), 7);
  const auto* inner = find_log(recs, "from a converter");
  ASSERT_NE(inner, nullptr);
  EXPECT_EQ(int_attr(*inner, "plain"), 5);
  // The inner record's own custom value could not share the scratch buffer: null, counted.
  EXPECT_EQ(string_array(*inner, "logfire.null_args"), (std::vector<std::string>{"inner"}));
}
