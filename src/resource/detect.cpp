// Platform detection from environment variables. Runs once at setup on the thread that calls
// configure(); detected_platform() caches the process's answer.
#include "resource/detect.hpp"

#include <charconv>
#include <cstdint>
#include <cstdlib>

namespace logfire::detail {
namespace {

// A variable's non-empty value.
std::optional<std::string> get(const env_lookup& env, std::string_view name) {
  auto v = env(name);
  if (v && v->empty()) v.reset();
  return v;
}

bool has(const env_lookup& env, std::string_view name) {
  return get(env, name).has_value();
}

// Sets `key` from the first of `names` that is set.
void set_from(resource& r, std::string_view key, const env_lookup& env, std::initializer_list<std::string_view> names) {
  for (const auto name : names) {
    if (auto v = get(env, name)) {
      r.set(key, std::move(*v));
      return;
    }
  }
}

void set_int_from(resource& r, std::string_view key, const env_lookup& env, std::string_view name,
                  std::int64_t scale = 1) {
  const auto v = get(env, name);
  if (!v) return;
  std::int64_t n = 0;
  const auto res = std::from_chars(v->data(), v->data() + v->size(), n);
  if (res.ec == std::errc() && res.ptr == v->data() + v->size() && n >= 0 && n <= INT64_MAX / scale)
    r.set(key, n * scale);
}

void add_gcp_common(resource& r, const env_lookup& env, std::string_view cloud_platform) {
  r.set("cloud.provider", std::string("gcp"));
  r.set("cloud.platform", std::string(cloud_platform));
  // Set by App Engine and Cloud Functions (1st gen), and by many deployments by hand; the
  // metadata server fills it otherwise.
  set_from(r, "cloud.account.id", env, {"GOOGLE_CLOUD_PROJECT", "GCP_PROJECT", "GCLOUD_PROJECT"});
  set_from(r, "cloud.region", env, {"FUNCTION_REGION"});
}

}  // namespace

std::optional<bool> parse_bool_value(std::string_view text) noexcept {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  if (text.size() > 5) return std::nullopt;
  char l[5] = {};
  for (std::size_t i = 0; i < text.size(); ++i)
    l[i] = static_cast<char>(text[i] >= 'A' && text[i] <= 'Z' ? text[i] - 'A' + 'a' : text[i]);
  const std::string_view v(l, text.size());
  for (std::string_view t : {"1", "true", "t", "yes", "y", "on"})
    if (v == t) return true;
  for (std::string_view f : {"0", "false", "f", "no", "n", "off"})
    if (v == f) return false;
  return std::nullopt;
}

env_lookup process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const std::string n(name);
    if (const char* v = std::getenv(n.c_str())) return std::string(v);
    return std::nullopt;
  };
}

platform detect_platform(const env_lookup& env) {
  if (has(env, "CLOUD_RUN_JOB")) return platform::gcp_cloud_run_job;
  if (has(env, "FUNCTION_TARGET") || has(env, "FUNCTION_NAME")) return platform::gcp_cloud_functions;
  if (has(env, "K_SERVICE")) return platform::gcp_cloud_run;
  if (has(env, "GAE_SERVICE")) return platform::gcp_app_engine;
  if (has(env, "AWS_LAMBDA_FUNCTION_NAME")) return platform::aws_lambda;
  if (has(env, "WEBSITE_SITE_NAME"))
    return has(env, "FUNCTIONS_EXTENSION_VERSION") ? platform::azure_functions : platform::azure_app_service;
  if (has(env, "FLY_APP_NAME")) return platform::fly_io;
  if (has(env, "DYNO")) return platform::heroku;
  if (has(env, "KUBERNETES_SERVICE_HOST")) return platform::kubernetes;
  return platform::none;
}

platform detected_platform() {
  static const platform p = detect_platform(process_environment());
  return p;
}

std::string_view platform_display_name(platform p) noexcept {
  switch (p) {
    case platform::gcp_cloud_run:
      return "Google Cloud Run";
    case platform::gcp_cloud_run_job:
      return "Google Cloud Run job";
    case platform::gcp_cloud_functions:
      return "Google Cloud Functions";
    case platform::gcp_app_engine:
      return "Google App Engine";
    case platform::aws_lambda:
      return "AWS Lambda";
    case platform::azure_functions:
      return "Azure Functions";
    case platform::azure_app_service:
      return "Azure App Service";
    case platform::fly_io:
      return "Fly.io";
    case platform::heroku:
      return "Heroku";
    case platform::kubernetes:
      return "Kubernetes";
    case platform::none:
      break;
  }
  return "";
}

bool platform_injects_trace_headers(platform p) noexcept {
  switch (p) {
    case platform::gcp_cloud_run:
    case platform::gcp_cloud_run_job:
    case platform::gcp_cloud_functions:
    case platform::gcp_app_engine:
      return true;
    default:
      return false;
  }
}

bool platform_injects_trace_headers() {
  return platform_injects_trace_headers(detected_platform());
}

bool is_gcp(platform p) noexcept {
  return platform_injects_trace_headers(p);
}

void add_platform_attributes(platform p, const env_lookup& env, resource& r) {
  switch (p) {
    case platform::gcp_cloud_run:
      add_gcp_common(r, env, "gcp_cloud_run");
      set_from(r, "faas.name", env, {"K_SERVICE"});
      set_from(r, "faas.version", env, {"K_REVISION"});
      break;
    case platform::gcp_cloud_run_job:
      add_gcp_common(r, env, "gcp_cloud_run");
      set_from(r, "faas.name", env, {"CLOUD_RUN_JOB"});
      set_from(r, "gcp.cloud_run.job.execution", env, {"CLOUD_RUN_EXECUTION"});
      set_int_from(r, "gcp.cloud_run.job.task_index", env, "CLOUD_RUN_TASK_INDEX");
      set_int_from(r, "gcp.cloud_run.job.task_attempt", env, "CLOUD_RUN_TASK_ATTEMPT");
      set_int_from(r, "gcp.cloud_run.job.task_count", env, "CLOUD_RUN_TASK_COUNT");
      break;
    case platform::gcp_cloud_functions:
      add_gcp_common(r, env, "gcp_cloud_functions");
      set_from(r, "faas.name", env, {"K_SERVICE", "FUNCTION_NAME", "FUNCTION_TARGET"});
      set_from(r, "faas.version", env, {"K_REVISION", "X_GOOGLE_FUNCTION_VERSION"});
      break;
    case platform::gcp_app_engine:
      add_gcp_common(r, env, "gcp_app_engine");
      set_from(r, "faas.name", env, {"GAE_SERVICE"});
      set_from(r, "faas.version", env, {"GAE_VERSION"});
      set_from(r, "faas.instance", env, {"GAE_INSTANCE"});
      break;
    case platform::aws_lambda:
      r.set("cloud.provider", std::string("aws"));
      r.set("cloud.platform", std::string("aws_lambda"));
      set_from(r, "cloud.region", env, {"AWS_REGION", "AWS_DEFAULT_REGION"});
      set_from(r, "faas.name", env, {"AWS_LAMBDA_FUNCTION_NAME"});
      set_from(r, "faas.version", env, {"AWS_LAMBDA_FUNCTION_VERSION"});
      set_from(r, "faas.instance", env, {"AWS_LAMBDA_LOG_STREAM_NAME"});
      set_int_from(r, "faas.max_memory", env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 1024 * 1024);  // MiB -> bytes
      break;
    case platform::azure_functions:
      r.set("cloud.provider", std::string("azure"));
      r.set("cloud.platform", std::string("azure_functions"));
      set_from(r, "cloud.region", env, {"REGION_NAME"});
      set_from(r, "faas.name", env, {"WEBSITE_SITE_NAME"});
      set_from(r, "faas.instance", env, {"WEBSITE_INSTANCE_ID"});
      break;
    case platform::azure_app_service:
      r.set("cloud.provider", std::string("azure"));
      r.set("cloud.platform", std::string("azure_app_service"));
      set_from(r, "cloud.region", env, {"REGION_NAME"});
      set_from(r, "azure.app_service.site_name", env, {"WEBSITE_SITE_NAME"});
      set_from(r, "host.id", env, {"WEBSITE_INSTANCE_ID"});
      break;
    case platform::fly_io:
      set_from(r, "cloud.region", env, {"FLY_REGION"});
      set_from(r, "fly.app.name", env, {"FLY_APP_NAME"});
      set_from(r, "fly.machine.id", env, {"FLY_MACHINE_ID"});
      break;
    case platform::heroku:
      r.set("cloud.provider", std::string("heroku"));
      set_from(r, "heroku.app.id", env, {"HEROKU_APP_ID"});
      set_from(r, "heroku.release.commit", env, {"HEROKU_BUILD_COMMIT", "HEROKU_SLUG_COMMIT"});
      set_from(r, "heroku.release.creation_timestamp", env, {"HEROKU_RELEASE_CREATED_AT"});
      set_from(r, "heroku.dyno", env, {"DYNO"});
      break;
    case platform::kubernetes:
    case platform::none:
      break;
  }
  // Kubernetes attributes also apply under a platform that runs on it. The downward API has
  // no fixed variable names; these are the common ones. In a pod, HOSTNAME is the pod name.
  if (has(env, "KUBERNETES_SERVICE_HOST")) {
    set_from(r, "k8s.pod.name", env, {"K8S_POD_NAME", "POD_NAME", "HOSTNAME"});
    set_from(r, "k8s.namespace.name", env, {"K8S_NAMESPACE", "POD_NAMESPACE", "NAMESPACE"});
    set_from(r, "k8s.node.name", env, {"K8S_NODE_NAME", "NODE_NAME"});
  }
}

}  // namespace logfire::detail
