// A Cloud Run job's task instrumented with logfire-cpp (docs/cloud-run.md, "Cloud Run jobs").
//
//   CLOUD_RUN_JOB=nightly-invoices CLOUD_RUN_TASK_INDEX=0 CLOUD_RUN_TASK_COUNT=4 cloud_run_job
//
// Cloud Run starts CLOUD_RUN_TASK_COUNT copies of the container, each with its own
// CLOUD_RUN_TASK_INDEX; each takes its share of the 20 invoices (invoice i when i % count ==
// index) and records a span per invoice. A job has no incoming request, so each task is a trace of
// its own, and the resource names the job, the execution and the task. Nothing runs after main:
// the SDK is shut down (flushed) before the task exits, and stats() says what happened to every
// record. Telemetry never decides the exit code: a failed export must not make Cloud Run retry
// the work.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "logfire/config.hpp"
#include "logfire/logfire.hpp"
#include "logfire/stats.hpp"

namespace {

long env_number(const char* name, long fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  return *end == '\0' && n >= 0 ? n : fallback;
}

}  // namespace

int main() {
  logfire::options opts;
  if (!std::getenv("LOGFIRE_SERVICE_NAME") && !std::getenv("OTEL_SERVICE_NAME") && std::getenv("CLOUD_RUN_JOB"))
    opts.service_name = std::getenv("CLOUD_RUN_JOB");
  auto lf = logfire::configure(std::move(opts));
  if (!lf) {
    std::fprintf(stderr, "cloud_run_job: %s\n", lf.error().c_str());
    return 1;
  }
  const long index = env_number("CLOUD_RUN_TASK_INDEX", 0);
  const long count = std::max(1L, env_number("CLOUD_RUN_TASK_COUNT", 1));

  long done = 0;
  {
    logfire::span task("invoice task {task_index} of {task_count}", {{"task_index", index}, {"task_count", count}});
    for (long invoice = index; invoice < 20; invoice += count) {
      logfire::span s("send invoice {invoice}", {{"invoice", invoice}});
      logfire::info("invoice {invoice} sent", {{"invoice", invoice}});
      ++done;
    }
    task.set_attribute("invoices_sent", done);
  }

  // Cloud Run jobs are billed per instance and keep their CPU to the end, so the flush runs at
  // full speed; 10 s bounds it when the backend is unreachable (the rest is counted, not hidden).
  (void)logfire::shutdown(std::chrono::seconds(10));
  std::printf("cloud_run_job: task %ld sent %ld invoices; telemetry: %s\n", index, done,
              logfire::stats().summary().c_str());
  return 0;
}
