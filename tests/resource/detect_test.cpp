// Platform detection from an environment given as a map (no setenv), and the resource
// attributes each platform yields.
#include "resource/detect.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <variant>

namespace {

using logfire::detail::platform;
using env_map = std::map<std::string, std::string, std::less<>>;

logfire::detail::env_lookup env_of(const env_map& m) {
  return [m](std::string_view name) -> std::optional<std::string> {
    const auto it = m.find(name);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
}

// The resource for this environment, as a map of stringified values.
std::map<std::string, std::string> attributes(const env_map& m) {
  const auto env = env_of(m);
  logfire::detail::resource r;
  logfire::detail::add_platform_attributes(logfire::detail::detect_platform(env), env, r);
  std::map<std::string, std::string> out;
  for (const auto& a : r.attributes) {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>)
            out[a.key] = v;
          else
            out[a.key] = std::to_string(v);
        },
        a.value);
  }
  return out;
}

struct platform_case {
  const char* name;
  env_map env;
  platform expected;
  bool injects;
  const char* display;
  std::map<std::string, std::string> attrs;
};

class platform_table : public ::testing::TestWithParam<platform_case> {};

TEST_P(platform_table, detects_and_describes) {
  const auto& tc = GetParam();
  const auto p = logfire::detail::detect_platform(env_of(tc.env));
  EXPECT_EQ(p, tc.expected);
  EXPECT_EQ(logfire::detail::platform_injects_trace_headers(p), tc.injects);
  EXPECT_EQ(logfire::detail::is_gcp(p), tc.injects);
  EXPECT_EQ(logfire::detail::platform_display_name(p), tc.display);
  EXPECT_EQ(attributes(tc.env), tc.attrs);
}

INSTANTIATE_TEST_SUITE_P(
    platforms, platform_table,
    ::testing::Values(
        platform_case{"none", {{"PATH", "/bin"}, {"HOME", "/root"}}, platform::none, false, "", {}},
        platform_case{"cloud_run_service",
                      {{"PORT", "8080"},
                       {"K_SERVICE", "checkout"},
                       {"K_REVISION", "checkout-00042-abc"},
                       {"K_CONFIGURATION", "checkout"}},
                      platform::gcp_cloud_run,
                      true,
                      "Google Cloud Run",
                      {{"cloud.provider", "gcp"},
                       {"cloud.platform", "gcp_cloud_run"},
                       {"faas.name", "checkout"},
                       {"faas.version", "checkout-00042-abc"}}},
        platform_case{"cloud_run_service_with_project",
                      {{"K_SERVICE", "checkout"}, {"GOOGLE_CLOUD_PROJECT", "shop-prod"}},
                      platform::gcp_cloud_run,
                      true,
                      "Google Cloud Run",
                      {{"cloud.provider", "gcp"},
                       {"cloud.platform", "gcp_cloud_run"},
                       {"cloud.account.id", "shop-prod"},
                       {"faas.name", "checkout"}}},
        platform_case{"cloud_run_job",
                      {{"CLOUD_RUN_JOB", "nightly"},
                       {"CLOUD_RUN_EXECUTION", "nightly-x7k"},
                       {"CLOUD_RUN_TASK_INDEX", "3"},
                       {"CLOUD_RUN_TASK_ATTEMPT", "1"},
                       {"CLOUD_RUN_TASK_COUNT", "10"}},
                      platform::gcp_cloud_run_job,
                      true,
                      "Google Cloud Run job",
                      {{"cloud.provider", "gcp"},
                       {"cloud.platform", "gcp_cloud_run"},
                       {"faas.name", "nightly"},
                       {"gcp.cloud_run.job.execution", "nightly-x7k"},
                       {"gcp.cloud_run.job.task_index", "3"},
                       {"gcp.cloud_run.job.task_attempt", "1"},
                       {"gcp.cloud_run.job.task_count", "10"}}},
        platform_case{"cloud_functions",
                      {{"FUNCTION_TARGET", "handle"}, {"K_SERVICE", "resize-image"}, {"K_REVISION", "7"}},
                      platform::gcp_cloud_functions,
                      true,
                      "Google Cloud Functions",
                      {{"cloud.provider", "gcp"},
                       {"cloud.platform", "gcp_cloud_functions"},
                       {"faas.name", "resize-image"},
                       {"faas.version", "7"}}},
        platform_case{"cloud_functions_gen1",
                      {{"FUNCTION_NAME", "resize"}, {"FUNCTION_REGION", "europe-west1"}, {"GCP_PROJECT", "p1"}},
                      platform::gcp_cloud_functions,
                      true,
                      "Google Cloud Functions",
                      {{"cloud.provider", "gcp"},
                       {"cloud.platform", "gcp_cloud_functions"},
                       {"cloud.account.id", "p1"},
                       {"cloud.region", "europe-west1"},
                       {"faas.name", "resize"}}},
        platform_case{"app_engine",
                      {{"GAE_SERVICE", "default"},
                       {"GAE_VERSION", "20240101t1200"},
                       {"GAE_INSTANCE", "00c61b117c"},
                       {"GOOGLE_CLOUD_PROJECT", "shop"}},
                      platform::gcp_app_engine,
                      true,
                      "Google App Engine",
                      {{"cloud.provider", "gcp"},
                       {"cloud.platform", "gcp_app_engine"},
                       {"cloud.account.id", "shop"},
                       {"faas.name", "default"},
                       {"faas.version", "20240101t1200"},
                       {"faas.instance", "00c61b117c"}}},
        platform_case{
            "aws_lambda",
            {{"AWS_LAMBDA_FUNCTION_NAME", "orders"},
             {"AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"},
             {"AWS_REGION", "eu-west-3"},
             {"AWS_LAMBDA_LOG_STREAM_NAME", "2024/01/01/[$LATEST]abc"},
             {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"},
             {"_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"}},
            platform::aws_lambda,
            false,
            "AWS Lambda",
            {{"cloud.provider", "aws"},
             {"cloud.platform", "aws_lambda"},
             {"cloud.region", "eu-west-3"},
             {"faas.name", "orders"},
             {"faas.version", "$LATEST"},
             {"faas.instance", "2024/01/01/[$LATEST]abc"},
             {"faas.max_memory", "134217728"}}},
        platform_case{
            "azure_app_service",
            {{"WEBSITE_SITE_NAME", "shop-web"}, {"WEBSITE_INSTANCE_ID", "abc123"}, {"REGION_NAME", "West Europe"}},
            platform::azure_app_service,
            false,
            "Azure App Service",
            {{"cloud.provider", "azure"},
             {"cloud.platform", "azure_app_service"},
             {"cloud.region", "West Europe"},
             {"azure.app_service.site_name", "shop-web"},
             {"host.id", "abc123"}}},
        platform_case{"azure_functions",
                      {{"WEBSITE_SITE_NAME", "shop-fn"},
                       {"FUNCTIONS_EXTENSION_VERSION", "~4"},
                       {"WEBSITE_INSTANCE_ID", "i-9"},
                       {"REGION_NAME", "East US"}},
                      platform::azure_functions,
                      false,
                      "Azure Functions",
                      {{"cloud.provider", "azure"},
                       {"cloud.platform", "azure_functions"},
                       {"cloud.region", "East US"},
                       {"faas.name", "shop-fn"},
                       {"faas.instance", "i-9"}}},
        platform_case{"fly_io",
                      {{"FLY_APP_NAME", "shop"}, {"FLY_REGION", "cdg"}, {"FLY_MACHINE_ID", "3d8d9e3b"}},
                      platform::fly_io,
                      false,
                      "Fly.io",
                      {{"cloud.region", "cdg"}, {"fly.app.name", "shop"}, {"fly.machine.id", "3d8d9e3b"}}},
        platform_case{"heroku",
                      {{"DYNO", "web.1"}, {"HEROKU_APP_ID", "9daa2797"}, {"HEROKU_SLUG_COMMIT", "2c3a0b24"}},
                      platform::heroku,
                      false,
                      "Heroku",
                      {{"cloud.provider", "heroku"},
                       {"heroku.app.id", "9daa2797"},
                       {"heroku.release.commit", "2c3a0b24"},
                       {"heroku.dyno", "web.1"}}},
        platform_case{
            "kubernetes",
            {{"KUBERNETES_SERVICE_HOST", "10.0.0.1"},
             {"HOSTNAME", "shop-7d9f-abcde"},
             {"POD_NAMESPACE", "prod"},
             {"NODE_NAME", "node-1"}},
            platform::kubernetes,
            false,
            "Kubernetes",
            {{"k8s.pod.name", "shop-7d9f-abcde"}, {"k8s.namespace.name", "prod"}, {"k8s.node.name", "node-1"}}},
        platform_case{"empty_values_are_unset", {{"K_SERVICE", ""}, {"DYNO", ""}}, platform::none, false, "", {}}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(detect, process_environment_reads_getenv) {
  const auto env = logfire::detail::process_environment();
  EXPECT_EQ(env("LOGFIRE_SURELY_UNSET_VARIABLE_4242"), std::nullopt);
  if (const char* path = std::getenv("PATH")) {
    EXPECT_EQ(env("PATH"), std::string(path));
  }
}

TEST(detect, attributes_replace_existing_keys) {
  logfire::detail::resource r;
  r.set("cloud.region", std::string("old"));
  const auto env = env_of({{"FLY_APP_NAME", "a"}, {"FLY_REGION", "ams"}});
  logfire::detail::add_platform_attributes(platform::fly_io, env, r);
  ASSERT_NE(r.find("cloud.region"), nullptr);
  EXPECT_EQ(std::get<std::string>(r.find("cloud.region")->value), "ams");
}

TEST(detect, bad_numbers_are_skipped) {
  const auto a = attributes({{"CLOUD_RUN_JOB", "j"}, {"CLOUD_RUN_TASK_INDEX", "x3"}});
  EXPECT_EQ(a.count("gcp.cloud_run.job.task_index"), 0u);
}

}  // namespace
