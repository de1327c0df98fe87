// service.name precedence (code > LOGFIRE_SERVICE_NAME/OTEL_SERVICE_NAME > OTEL_RESOURCE_ATTRIBUTES
// > "unknown_service") and OTEL_RESOURCE_ATTRIBUTES read as the OpenTelemetry resource SDK says:
// W3C Baggage-style key=value list, values percent-decoded, a broken escape an error.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "resource/detect.hpp"
#include "setup/configure_env.hpp"

namespace {

using logfire::detail::env_lookup;

env_lookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view n) -> std::optional<std::string> {
    auto it = vars.find(std::string(n));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// The resource configure() would build, or the resolution error as its service.name.
std::string attribute(logfire::options o, const std::map<std::string, std::string>& vars, std::string_view key) {
  const env_lookup env = env_of(vars);
  if (auto err = logfire::detail::resolve_options(o, env); !err.empty()) return "error: " + err;
  const auto res = logfire::detail::build_resource(o, env, logfire::detail::detect_platform(env));
  const auto* a = res.find(key);
  if (a == nullptr) return "<absent>";
  const auto* s = std::get_if<std::string>(&a->value);
  return s ? *s : "<not a string>";
}

}  // namespace

TEST(env_resource, service_name_from_code_beats_every_variable) {
  logfire::options o;
  o.service_name = "from-code";
  EXPECT_EQ(attribute(o,
                      {{"OTEL_SERVICE_NAME", "otel-name"},
                       {"LOGFIRE_SERVICE_NAME", "logfire-name"},
                       {"OTEL_RESOURCE_ATTRIBUTES", "service.name=attrs-name"}},
                      "service.name"),
            "from-code");
}

TEST(env_resource, service_name_variable_beats_resource_attributes) {
  EXPECT_EQ(attribute({}, {{"OTEL_SERVICE_NAME", "otel-name"}, {"OTEL_RESOURCE_ATTRIBUTES", "service.name=attrs-name"}},
                      "service.name"),
            "otel-name");
  EXPECT_EQ(
      attribute({}, {{"LOGFIRE_SERVICE_NAME", "lf-name"}, {"OTEL_RESOURCE_ATTRIBUTES", "service.name=attrs-name"}},
                "service.name"),
      "lf-name");
}

TEST(env_resource, resource_attributes_beat_the_default) {
  EXPECT_EQ(attribute({}, {{"OTEL_RESOURCE_ATTRIBUTES", "service.name=attrs-name"}}, "service.name"), "attrs-name");
  EXPECT_EQ(attribute({}, {}, "service.name"), "unknown_service");
}

TEST(env_resource, resource_attribute_values_are_percent_decoded) {
  const std::map<std::string, std::string> vars = {
      {"OTEL_RESOURCE_ATTRIBUTES", " team=a%2Cb%3Dc , owner=J%C3%BCrgen%20S. ,\tdeployment.region=eu%2dwest "}};
  EXPECT_EQ(attribute({}, vars, "team"), "a,b=c");
  EXPECT_EQ(attribute({}, vars, "owner"), "J\xC3\xBCrgen S.");
  EXPECT_EQ(attribute({}, vars, "deployment.region"), "eu-west");
}

TEST(env_resource, a_broken_escape_rejects_the_variable_and_names_it) {
  const auto r = attribute({}, {{"OTEL_RESOURCE_ATTRIBUTES", "ok=1,bad=50%"}}, "ok");
  EXPECT_EQ(r, "error: OTEL_RESOURCE_ATTRIBUTES has an entry with a bad percent-encoding: 'bad=50%'");
  EXPECT_NE(attribute({}, {{"OTEL_RESOURCE_ATTRIBUTES", "bad=%zz"}}, "bad").find("bad percent-encoding"),
            std::string::npos);
}
