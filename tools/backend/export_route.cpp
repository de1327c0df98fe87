// POST /v1/traces, /v1/logs, /v1/metrics: OTLP/HTTP export requests. The head is checked on the
// I/O thread (token, media type, encoding) so a refused request is answered before its body is
// read; the body is decompressed under --max-decompressed-size, decoded item by item and stored
// chunk by chunk (otlp_decode.hpp), every byte of it held against the --max-memory budget.
#include "http/content_coding.hpp"
#include "routes.hpp"
#include "text.hpp"

namespace logfire::backend {
namespace {

// Rows go to the store, one commit per chunk. Their memory is held against the shared budget
// while they wait for the commit.
class store_sink : public row_sink {
 public:
  store_sink(store& db, http::memory_budget& budget, std::size_t chunk_bytes)
      : db_(db), memory_(budget.reserve(0)), chunk_bytes_(chunk_bytes) {}

  // A request larger than one chunk holds a whole chunk's memory from the start, so that it
  // cannot run out of memory halfway, after some chunks were stored.
  bool begin(bool chunked) override {
    if (chunked) base_ = chunk_bytes_;
    return !chunked || memory_.grow(chunk_bytes_);
  }

  bool reserve(std::size_t bytes) override {
    used_ += bytes;
    return used_ <= memory_.bytes() || memory_.grow(used_ - memory_.bytes());
  }

  bool flush(std::vector<record_row>& records, std::vector<metric_row>& metrics, bool) override {
    if (records.empty() && metrics.empty()) return true;
    for (const record_row& r : records) traces_.add(r.trace_id);
    write_result w = db_.write(std::move(records), std::move(metrics), /*continuation=*/commits_ > 0);
    ++commits_;
    used_ = 0;
    memory_.shrink_to(base_);
    if (!w.ok()) {
      error_ = w.error;
      return false;
    }
    return true;
  }

  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] std::size_t commits() const { return commits_; }
  // The traces of the rows delivered so far, for the live event.
  [[nodiscard]] const live_trace_ids& traces() const { return traces_; }

 private:
  store& db_;
  http::memory_budget::reservation memory_;
  std::size_t chunk_bytes_;
  std::size_t base_ = 0;
  std::size_t used_ = 0;
  std::size_t commits_ = 0;
  std::string error_;
  live_trace_ids traces_;
};

http::response retry_later(http::response r) {
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

}  // namespace

std::optional<http::response> check_export_head(route_context& ctx, const http::request_head& head) {
  std::optional<body_format> format = format_of(media_type(head));
  if (!authorized(ctx.options, head)) {
    ++ctx.stats.unauthorized;
    auto r = otlp_error(401, format, kGrpcUnauthenticated,
                        "missing or wrong Authorization header: this server was started with a token (--token or "
                        "LOGFIRE_LOCAL_TOKEN); send `Authorization: Bearer <token>`");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  if (!format) {
    ++ctx.stats.unsupported_media_type;
    return otlp_error(415, std::nullopt, 0,
                      "unsupported Content-Type '" + text::printable(head.header_or_empty("content-type")) +
                          "': OTLP/HTTP bodies are application/x-protobuf or application/json");
  }
  std::string encoding = text::lower(text::trim(head.header_or_empty("content-encoding")));
  if (!encoding.empty() && encoding != "identity" && !http::is_compressed(encoding)) {
    ++ctx.stats.unsupported_media_type;
    return otlp_error(
        415, format, kGrpcInvalidArgument,
        "unsupported Content-Encoding '" + text::printable(encoding) + "': send gzip or an uncompressed body");
  }
  return std::nullopt;
}

namespace {

// A gzip/deflate body, inflated under --max-decompressed-size into `inflated` (the body as sent
// is released); an answer when that fails.
std::optional<http::response> inflate_export(route_context& ctx, http::request& req, body_format format,
                                             std::string& inflated, http::memory_budget::reservation& memory) {
  std::string encoding = req.head.header_or_empty("content-encoding");
  switch (http::inflate_body(req.body, encoding, ctx.options.max_decompressed_bytes, inflated, memory)) {
    case http::inflate_result::ok:
      req.body = std::string();  // not needed any more: its memory goes back now
      req.body_memory.release();
      return std::nullopt;
    case http::inflate_result::too_large:
      ++ctx.stats.too_large;
      return otlp_error(413, format, kGrpcInvalidArgument,
                        "request body larger than the limit of " + human_bytes(ctx.options.max_decompressed_bytes) +
                            " after decompression; split the export or raise --max-decompressed-size");
    case http::inflate_result::corrupt:
      ++ctx.stats.unreadable;
      return otlp_error(400, format, kGrpcInvalidArgument,
                        "could not read the request body: invalid " + text::printable(encoding, 16) + " data");
    case http::inflate_result::no_memory:
      break;
  }
  ++ctx.stats.too_many_requests;
  return retry_later(otlp_error(429, format, kGrpcResourceExhausted,
                                "decompressed bodies in flight would exceed the memory limit of " +
                                    human_bytes(ctx.options.max_memory_bytes) +
                                    "; retry later, or raise --max-memory"));
}

}  // namespace

export_outcome store_export(route_context& ctx, signal sig, body_format format, std::string_view body,
                            std::string_view where) {
  store_sink sink(ctx.db, ctx.budget, ctx.options.decode.chunk_bytes);
  decode_result r = decode_request(sig, format, body, ctx.options.decode, sink);
  std::string stored = sink.commits() > 0 ? " (" + std::to_string(r.records + r.metric_points) +
                                                " rows of it were stored before this; a retry stores them again)"
                                          : "";
  export_outcome out;
  switch (r.outcome) {
    case decode_result::status::ok:
      break;
    case decode_result::status::malformed:
    case decode_result::status::too_deep:
      ++ctx.stats.malformed;
      out.result = export_outcome::kind::malformed;
      out.message = r.error + " on " + std::string(where);
      return out;
    case decode_result::status::too_many:
      ++ctx.stats.too_large;
      out.result = export_outcome::kind::too_many;
      out.message = r.error;
      return out;
    case decode_result::status::no_memory:
      ++ctx.stats.too_many_requests;
      out.result = export_outcome::kind::no_memory;
      out.message = "decoded rows of the requests in flight would exceed the memory limit of " +
                    human_bytes(ctx.options.max_memory_bytes) + "; retry later, or raise --max-memory" + stored;
      return out;
    case decode_result::status::stopped:
      ++ctx.stats.unavailable;
      out.result = export_outcome::kind::unavailable;
      out.message = "records not stored, retry: " + sink.error() + stored;
      return out;
  }
  ++ctx.stats.export_requests;
  if (sink.commits() > 1) ++ctx.stats.chunked_requests;
  ctx.stats.records_received += r.records;
  ctx.stats.metric_points_received += r.metric_points;
  ctx.stats.items_rejected += static_cast<std::uint64_t>(r.rejected);
  out.rejected = r.rejected;
  out.message = std::move(r.rejected_message);
  // After the commit, before the answer: a page told now finds the rows when it reads.
  if (r.records + r.metric_points > 0) {
    ctx.live.publish(signal_name(sig), r.records + r.metric_points, sig == signal::metrics ? nullptr : &sink.traces());
  }
  return out;
}

http::response handle_export(route_context& ctx, signal sig, http::request& req) {
  body_format format = format_of(media_type(req.head)).value_or(body_format::protobuf);
  std::string inflated;
  http::memory_budget::reservation inflated_memory = ctx.budget.reserve(0);
  std::string_view body = req.body;
  if (http::is_compressed(req.head.header_or_empty("content-encoding"))) {
    if (auto refused = inflate_export(ctx, req, format, inflated, inflated_memory)) return std::move(*refused);
    body = inflated;
  }

  export_outcome r = store_export(ctx, sig, format, body, "/v1/" + std::string(signal_name(sig)));
  switch (r.result) {
    case export_outcome::kind::stored:
      break;
    case export_outcome::kind::malformed:
      return otlp_error(400, format, kGrpcInvalidArgument, r.message);
    case export_outcome::kind::too_many:
      return otlp_error(413, format, kGrpcInvalidArgument, r.message);
    case export_outcome::kind::no_memory:
      return retry_later(otlp_error(429, format, kGrpcResourceExhausted, r.message));
    case export_outcome::kind::unavailable:
      return retry_later(otlp_error(503, format, kGrpcUnavailable, r.message));
  }
  http::response ok;
  ok.status = 200;
  ok.content_type = std::string(content_type_of(format));
  ok.body = encode_export_response(sig, format, r.rejected, r.message);
  return ok;
}

}  // namespace logfire::backend
