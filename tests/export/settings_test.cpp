// Destinations from options and environment: which exporters exist, their URLs and headers,
// and errors that name the variable and its value.
#include <gtest/gtest.h>

#include <map>

#include "export_test_util.hpp"
#include "setup/otlp_destinations.hpp"

namespace logfire::test {
namespace {

using detail::otlp_exporter_config;

struct fake_env {
  std::map<std::string, std::string, std::less<>> vars;
  [[nodiscard]] detail::env_lookup lookup() const {
    return [this](std::string_view n) -> std::optional<std::string> {
      auto it = vars.find(n);
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
  }
};

struct resolved {
  std::string error;
  std::vector<otlp_exporter_config> configs;
  std::vector<std::string> notices;
};

resolved resolve(const fake_env& env, options opts = {}) {
  resolved r;
  r.error = detail::resolve_destinations(opts, test_resource("checkout"), env.lookup(), r.configs, r.notices);
  return r;
}

std::string header(const otlp_exporter_config& c, std::string_view name) {
  for (const auto& h : c.headers)
    if (h.name == name) return h.value;
  return "<absent>";
}

TEST(Settings, TokenRegionSelectsTheBaseUrl) {
  struct row {
    const char* token;
    const char* url;
    bool warns;
  };
  const row table[] = {
      {"pylf_v1_us_abc123", "https://logfire-us.pydantic.dev", false},
      {"pylf_v1_eu_abc123", "https://logfire-eu.pydantic.dev", false},
      {"pylf_v12_eu_x_y_z", "https://logfire-eu.pydantic.dev", false},
      {"pylf_v2_ap_abc123", "https://logfire-us.pydantic.dev", true},  // unknown region
      {"legacytoken0123456789legacytoken0", "https://logfire-us.pydantic.dev", false},
      {"garbage", "https://logfire-us.pydantic.dev", true},         // not a token at all
      {"pylf_vx_eu_abc", "https://logfire-us.pydantic.dev", true},  // not the token shape
      {"pylf_v1_EU_abc", "https://logfire-us.pydantic.dev", true},  // regions are lowercase
      {"pylf_v1_eu", "https://logfire-us.pydantic.dev", true},      // no trailing '_'
  };
  for (const auto& r : table) {
    std::string warning;
    EXPECT_EQ(detail::logfire_base_url(r.token, &warning), r.url) << r.token;
    EXPECT_EQ(!warning.empty(), r.warns) << r.token << ": " << warning;
    if (r.warns) {
      EXPECT_TRUE(warning.find("us, eu") != std::string::npos ||
                  warning.find("does not look like a write token") != std::string::npos)
          << warning;
    }
  }
}

TEST(Settings, NoTokenAndNoEndpointMeansNoExporterAndOneNotice) {
  fake_env env;
  auto r = resolve(env);
  EXPECT_TRUE(r.error.empty()) << r.error;
  EXPECT_TRUE(r.configs.empty());
  ASSERT_EQ(r.notices.size(), 1u);
  EXPECT_NE(r.notices[0].find("console only"), std::string::npos);
  EXPECT_NE(r.notices[0].find("LOGFIRE_TOKEN"), std::string::npos);
  EXPECT_NE(r.notices[0].find("OTEL_EXPORTER_OTLP_ENDPOINT"), std::string::npos);

  std::vector<std::shared_ptr<exporter>> out;
  std::vector<std::string> notices;
  EXPECT_TRUE(detail::make_otlp_destinations({}, test_resource(), env.lookup(), out, notices).empty());
  EXPECT_TRUE(out.empty());
}

TEST(Settings, LogfireTokensFromTheEnvironmentMakeOneExporterEach) {
  fake_env env;
  env.vars["LOGFIRE_TOKEN"] = " pylf_v1_us_first , pylf_v1_eu_second,";
  env.vars["HOME"] = "/home/someone";
  auto r = resolve(env);
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.configs.size(), 2u);
  EXPECT_EQ(r.configs[0].url, "https://logfire-us.pydantic.dev/v1/traces");
  EXPECT_EQ(r.configs[1].url, "https://logfire-eu.pydantic.dev/v1/traces");
  EXPECT_EQ(header(r.configs[0], "Authorization"), "pylf_v1_us_first");  // raw, no "Bearer"
  EXPECT_EQ(header(r.configs[1], "Authorization"), "pylf_v1_eu_second");
  for (const auto& c : r.configs) {
    EXPECT_TRUE(c.wants_pending_spans);
    EXPECT_TRUE(c.gzip);
    EXPECT_EQ(c.format, detail::body_format::protobuf);
    EXPECT_EQ(c.spool_directory.rfind("/home/someone/.local/state/logfire-cpp/spool/checkout-", 0), 0u)
        << c.spool_directory;
  }
  // Different projects never share a spool folder.
  EXPECT_NE(r.configs[0].spool_directory, r.configs[1].spool_directory);
  EXPECT_TRUE(r.notices.empty());
}

TEST(Settings, OptionsWinOverTheEnvironment) {
  fake_env env;
  env.vars["LOGFIRE_TOKEN"] = "pylf_v1_us_fromenv";
  env.vars["LOGFIRE_BASE_URL"] = "https://env.example";
  options o;
  o.tokens = {"pylf_v1_eu_fromcode"};
  o.base_url = "http://127.0.0.1:9/";
  auto r = resolve(env, o);
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.configs.size(), 1u);
  EXPECT_EQ(r.configs[0].url, "http://127.0.0.1:9/v1/traces");
  EXPECT_EQ(header(r.configs[0], "Authorization"), "pylf_v1_eu_fromcode");
}

TEST(Settings, BaseUrlFromTheEnvironmentOverridesTheRegion) {
  fake_env env;
  env.vars["LOGFIRE_TOKEN"] = "pylf_v1_eu_abc";
  env.vars["LOGFIRE_BASE_URL"] = "https://logfire.internal.example/";
  auto r = resolve(env);
  ASSERT_EQ(r.configs.size(), 1u);
  EXPECT_EQ(r.configs[0].url, "https://logfire.internal.example/v1/traces");
}

TEST(Settings, UnknownRegionWarnsOnceForAllTokens) {
  fake_env env;
  env.vars["LOGFIRE_TOKEN"] = "pylf_v1_xx_a,pylf_v1_yy_b";
  env.vars["HOME"] = "/home/u";
  auto r = resolve(env);
  ASSERT_EQ(r.configs.size(), 2u);
  ASSERT_EQ(r.notices.size(), 1u);
  EXPECT_NE(r.notices[0].find("known regions: us, eu"), std::string::npos) << r.notices[0];
  EXPECT_EQ(r.configs[0].url, "https://logfire-us.pydantic.dev/v1/traces");
}

TEST(Settings, ATokenOfTheWrongShapeIsSaidAtConfigureWithTheRegionUsed) {
  fake_env env;
  env.vars["LOGFIRE_TOKEN"] = "garbage";
  env.vars["HOME"] = "/home/u";
  auto r = resolve(env);
  ASSERT_EQ(r.configs.size(), 1u);
  ASSERT_EQ(r.notices.size(), 1u);
  EXPECT_EQ(r.notices[0],
            "the Logfire token (7 characters) does not look like a write token (pylf_v1_<region>_...): sending to "
            "the US region https://logfire-us.pydantic.dev, which will likely refuse it");
  EXPECT_EQ(r.configs[0].url, "https://logfire-us.pydantic.dev/v1/traces");
}

TEST(Settings, SendToLogfire) {
  fake_env env;
  env.vars["LOGFIRE_SEND_TO_LOGFIRE"] = "yes";
  auto r = resolve(env);
  EXPECT_NE(r.error.find("no token"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("LOGFIRE_TOKEN"), std::string::npos) << r.error;

  env.vars["LOGFIRE_TOKEN"] = "pylf_v1_us_abc";
  env.vars["LOGFIRE_SEND_TO_LOGFIRE"] = "no";
  r = resolve(env);
  EXPECT_TRUE(r.error.empty());
  EXPECT_TRUE(r.configs.empty());

  env.vars["LOGFIRE_SEND_TO_LOGFIRE"] = "if-token-present";
  r = resolve(env);
  EXPECT_EQ(r.configs.size(), 1u);

  env.vars["LOGFIRE_SEND_TO_LOGFIRE"] = "sometimes";
  r = resolve(env);
  EXPECT_EQ(
      r.error,
      "LOGFIRE_SEND_TO_LOGFIRE must be a boolean (true/false, 1/0, yes/no or on/off) or if-token-present: 'sometimes'");

  options o;
  o.send_to_logfire = send_to_logfire::no;  // code wins over the bad variable
  r = resolve(env, o);
  EXPECT_TRUE(r.error.empty()) << r.error;
  EXPECT_TRUE(r.configs.empty());
}

TEST(Settings, OtlpEndpointGetsTheSignalPathAndTheTracesEndpointIsUsedAsIs) {
  fake_env env;
  env.vars["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://collector:4318/";
  auto r = resolve(env);
  ASSERT_EQ(r.configs.size(), 1u);
  EXPECT_EQ(r.configs[0].url, "http://collector:4318/v1/traces");
  EXPECT_FALSE(r.configs[0].wants_pending_spans);
  EXPECT_EQ(header(r.configs[0], "Authorization"), "<absent>");

  env.vars["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = "https://otlp.example/custom/path";
  r = resolve(env);
  ASSERT_EQ(r.configs.size(), 1u);
  EXPECT_EQ(r.configs[0].url, "https://otlp.example/custom/path");
}

TEST(Settings, OtelBspExportTimeoutIsSaidToBeUnusedInsteadOfIgnoredSilently) {
  fake_env env;
  env.vars["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://collector:4318";
  env.vars["HOME"] = "/home/u";
  auto r = resolve(env);
  for (const auto& n : r.notices) EXPECT_EQ(n.find("OTEL_BSP_EXPORT_TIMEOUT"), std::string::npos) << n;

  env.vars["OTEL_BSP_EXPORT_TIMEOUT"] = "5000";
  r = resolve(env);
  ASSERT_EQ(r.configs.size(), 1u);
  ASSERT_EQ(r.notices.size(), 1u);
  EXPECT_EQ(r.notices[0],
            "OTEL_BSP_EXPORT_TIMEOUT is not used: each request is bounded by OTEL_EXPORTER_OTLP_TIMEOUT, and a batch "
            "that fails is retried, then kept in the disk spool, never dropped for taking long");
}

TEST(Settings, LogfireAndAnOtlpEndpointAtOnce) {
  fake_env env;
  env.vars["LOGFIRE_TOKEN"] = "pylf_v1_us_abc";
  env.vars["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://localhost:4318";
  env.vars["HOME"] = "/home/u";
  auto r = resolve(env);
  ASSERT_EQ(r.configs.size(), 2u);
  EXPECT_TRUE(r.configs[0].wants_pending_spans);
  EXPECT_FALSE(r.configs[1].wants_pending_spans);
  EXPECT_NE(r.configs[0].spool_directory, r.configs[1].spool_directory);
}

TEST(Settings, HeadersProtocolCompressionAndTimeout) {
  fake_env env;
  env.vars["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://localhost:4318";
  env.vars["OTEL_EXPORTER_OTLP_HEADERS"] = "api-key=abc%3D%3D, x-team = blue%20team ,,";
  env.vars["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/json";
  env.vars["OTEL_EXPORTER_OTLP_COMPRESSION"] = "none";
  env.vars["OTEL_EXPORTER_OTLP_TIMEOUT"] = "2500";
  auto r = resolve(env);
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.configs.size(), 1u);
  const auto& c = r.configs[0];
  EXPECT_EQ(header(c, "api-key"), "abc==");
  EXPECT_EQ(header(c, "x-team"), "blue team");
  EXPECT_EQ(c.format, detail::body_format::json);
  EXPECT_FALSE(c.gzip);
  EXPECT_EQ(c.timeout, std::chrono::milliseconds(2500));
}

TEST(Settings, InvalidVariablesAreNamedWithTheirValue) {
  struct row {
    const char* var;
    const char* value;
    const char* expect;  // a part of the error
  };
  const row table[] = {
      {"OTEL_EXPORTER_OTLP_TIMEOUT", "10s", "OTEL_EXPORTER_OTLP_TIMEOUT is not a number of milliseconds"},
      {"OTEL_EXPORTER_OTLP_TIMEOUT", "0", "OTEL_EXPORTER_OTLP_TIMEOUT"},
      {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "OTEL_EXPORTER_OTLP_PROTOCOL asks for gRPC"},
      {"OTEL_EXPORTER_OTLP_PROTOCOL", "thrift",
       "OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json: 'thrift'"},
      {"OTEL_EXPORTER_OTLP_COMPRESSION", "zstd", "OTEL_EXPORTER_OTLP_COMPRESSION must be gzip or none: 'zstd'"},
      {"OTEL_EXPORTER_OTLP_HEADERS", "novalue", "OTEL_EXPORTER_OTLP_HEADERS: entry 'novalue' is not key=value"},
      {"OTEL_EXPORTER_OTLP_HEADERS", "k=%zz", "OTEL_EXPORTER_OTLP_HEADERS: entry 'k=%zz' has a bad percent-encoding"},
      {"OTEL_EXPORTER_OTLP_HEADERS", "k=a%0Db", "not allowed in an HTTP header"},
      {"OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318",
       "OTEL_EXPORTER_OTLP_ENDPOINT is not an http(s) URL: 'collector:4318'"},
      {"LOGFIRE_SPOOL", "maybe", "LOGFIRE_SPOOL is not a boolean"},
      {"LOGFIRE_SPOOL_MAX_BYTES", "lots", "LOGFIRE_SPOOL_MAX_BYTES is not a size in bytes"},
  };
  for (const auto& r : table) {
    fake_env env;
    env.vars["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://localhost:4318";
    env.vars[r.var] = r.value;
    auto res = resolve(env);
    EXPECT_NE(res.error.find(r.expect), std::string::npos) << r.var << "=" << r.value << " -> '" << res.error << "'";
    EXPECT_NE(res.error.find(r.var), std::string::npos) << res.error;
    EXPECT_TRUE(res.configs.empty());
  }
  fake_env env;
  env.vars["LOGFIRE_TOKEN"] = "pylf_v1_us_abc";
  env.vars["LOGFIRE_BASE_URL"] = "logfire.example";
  EXPECT_EQ(resolve(env).error, "LOGFIRE_BASE_URL is not an http(s) URL: 'logfire.example'");
}

TEST(Settings, EmptyVariablesCountAsUnset) {
  fake_env env;
  env.vars["LOGFIRE_TOKEN"] = "";
  env.vars["OTEL_EXPORTER_OTLP_ENDPOINT"] = "  ";
  env.vars["OTEL_EXPORTER_OTLP_TIMEOUT"] = "";
  auto r = resolve(env);
  EXPECT_TRUE(r.error.empty()) << r.error;
  EXPECT_TRUE(r.configs.empty());
}

TEST(Settings, SpoolLocationSizeAndSwitch) {
  fake_env env;
  env.vars["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://localhost:4318";
  env.vars["HOME"] = "/home/u";
  env.vars["XDG_STATE_HOME"] = "/state/";
  env.vars["LOGFIRE_SPOOL_MAX_BYTES"] = "64MiB";
  auto r = resolve(env);
  ASSERT_EQ(r.configs.size(), 1u);
  EXPECT_EQ(r.configs[0].spool_directory.rfind("/state/logfire-cpp/spool/checkout-", 0), 0u)
      << r.configs[0].spool_directory;
  EXPECT_EQ(r.configs[0].spool_max_bytes, 64ull << 20);

  env.vars["LOGFIRE_SPOOL_DIR"] = "/var/spool/app";
  r = resolve(env);
  EXPECT_EQ(r.configs[0].spool_directory.rfind("/var/spool/app/checkout-", 0), 0u);

  env.vars["LOGFIRE_SPOOL"] = "false";
  r = resolve(env);
  EXPECT_TRUE(r.configs[0].spool_directory.empty());

  fake_env bare;  // no HOME: no spool, and the user is told
  bare.vars["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://localhost:4318";
  r = resolve(bare);
  EXPECT_TRUE(r.configs[0].spool_directory.empty());
  ASSERT_EQ(r.notices.size(), 1u);
  EXPECT_NE(r.notices[0].find("LOGFIRE_SPOOL_DIR"), std::string::npos);
}

TEST(Settings, SignalFlushSettings) {
  fake_env env;
  bool on = true;
  std::chrono::milliseconds grace{};
  EXPECT_TRUE(detail::resolve_signal_flush({}, env.lookup(), on, grace).empty());
  EXPECT_FALSE(on);
  EXPECT_EQ(grace, std::chrono::milliseconds(8000));
  env.vars["LOGFIRE_FLUSH_ON_SIGNAL"] = "1";
  env.vars["LOGFIRE_FLUSH_ON_SIGNAL_GRACE_MS"] = "2500";
  EXPECT_TRUE(detail::resolve_signal_flush({}, env.lookup(), on, grace).empty());
  EXPECT_TRUE(on);
  EXPECT_EQ(grace, std::chrono::milliseconds(2500));
  env.vars["LOGFIRE_FLUSH_ON_SIGNAL_GRACE_MS"] = "soon";
  EXPECT_EQ(detail::resolve_signal_flush({}, env.lookup(), on, grace),
            "LOGFIRE_FLUSH_ON_SIGNAL_GRACE_MS is not a number of milliseconds: 'soon'");
}

TEST(Settings, AnUnusableSpoolFolderFallsBackToMemoryWithANotice) {
  temp_dir tmp;
  const std::string file = tmp.path() + "/a-file";
  FILE* fp = std::fopen(file.c_str(), "w");
  ASSERT_NE(fp, nullptr);
  std::fclose(fp);
  fake_env env;
  env.vars["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9";
  env.vars["LOGFIRE_SPOOL_DIR"] = file + "/spool";  // below a regular file: cannot exist
  std::vector<std::shared_ptr<exporter>> out;
  std::vector<std::string> notices;
  EXPECT_TRUE(detail::make_otlp_destinations({}, test_resource(), env.lookup(), out, notices).empty());
  EXPECT_EQ(out.size(), 1u);
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_NE(notices[0].find("no disk spool"), std::string::npos) << notices[0];
  EXPECT_NE(notices[0].find("Not a directory"), std::string::npos) << notices[0];
  EXPECT_NE(notices[0].find("LOGFIRE_SPOOL_DIR"), std::string::npos) << notices[0];
}

}  // namespace
}  // namespace logfire::test
