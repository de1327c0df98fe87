// Reading metric points back out of `metrics` for the web view's Metrics page and the JSON API:
//   GET /api/metrics                      the metrics stored, one entry per name and type
//   GET /api/metrics/series?name=<name>   one metric's points, grouped into series by attributes
//
//   std::string body, error;
//   if (metric_list_json(db, body, error)) reply(body);
#pragma once

#include <sqlite3.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace logfire::backend {

// {"metrics":[{"name","type","unit","description","temporality","monotonic","points","series",
// "last_timestamp"}...]}, by name; at most 1 000 metrics.
bool metric_list_json(sqlite3* db, std::string& out, std::string& error);

// {"name","type","unit","temporality","monotonic","series":[{"attributes":{...},"points":[{"time":
// ns,"start":ns,"value":x} or, for histograms, {"time","start","count","sum","min","max",
// "buckets":{...}}]}...],"truncated":false}: the newest `max_points` points of the metric (oldest
// first within a series) and at most 200 series; "truncated" is true when either limit cut.
bool metric_series_json(sqlite3* db, std::string_view name, std::size_t max_points, std::string& out,
                        std::string& error);

// Percent-decodes a query parameter ("a%2Eb+c" -> "a.b c"); false on a bad escape.
bool decode_query_value(std::string_view in, std::string& out);

}  // namespace logfire::backend
