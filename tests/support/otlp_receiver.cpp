#include "support/otlp_receiver.hpp"

#include <google/protobuf/util/json_util.h>
#include <httplib.h>
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace logfire::test {
namespace {

using namespace std::chrono_literals;

std::string media_type(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.pop_back();
  for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return t;
}

std::size_t count_spans(const otlp::export_request& m) {
  std::size_t n = 0;
  for (const auto& rs : m.resource_spans())
    for (const auto& ss : rs.scope_spans()) n += static_cast<std::size_t>(ss.spans_size());
  return n;
}

std::size_t count_points(const otlp::metrics_request& m) {
  std::size_t n = 0;
  for (const auto& rm : m.resource_metrics())
    for (const auto& sm : rm.scope_metrics())
      for (const auto& x : sm.metrics())
        n += static_cast<std::size_t>(x.sum().data_points_size() + x.gauge().data_points_size() +
                                      x.histogram().data_points_size() + x.exponential_histogram().data_points_size() +
                                      x.summary().data_points_size());
  return n;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string base64(std::string_view bytes) {
  static constexpr char k[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const auto v = static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) << 16 |
                   static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                   static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 2]));
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += k[(v >> 6) & 63];
    out += k[v & 63];
  }
  if (const std::size_t rest = bytes.size() - i; rest) {
    unsigned v = static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) v |= static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += rest == 2 ? k[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// End (index of the closing quote) of the JSON string starting at json[i] == '"'.
std::size_t string_end(std::string_view json, std::size_t i) {
  std::size_t j = i + 1;
  while (j < json.size() && json[j] != '"') j += json[j] == '\\' ? 2 : 1;
  return std::min(j, json.size());
}

std::size_t skip_space(std::string_view json, std::size_t i) {
  while (i < json.size() && (json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == '\r')) ++i;
  return i;
}

}  // namespace

std::string request_info::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  return {};
}

std::string otlp_json_ids_to_base64(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  std::size_t i = 0;
  while (i < json.size()) {
    if (json[i] != '"') {
      out += json[i++];
      continue;
    }
    // Whole string tokens are copied at once, so text inside values is never mistaken for a key.
    const std::size_t end = string_end(json, i);
    const std::string_view token = json.substr(i, end + 1 - i);
    out += token;
    i = end + 1;
    if (token != "\"traceId\"" && token != "\"spanId\"" && token != "\"parentSpanId\"") continue;
    std::size_t k = skip_space(json, i);
    if (k >= json.size() || json[k] != ':') continue;
    k = skip_space(json, k + 1);
    if (k >= json.size() || json[k] != '"') continue;
    const std::size_t vend = string_end(json, k);
    const std::string_view hex = json.substr(k + 1, vend - k - 1);
    std::string bytes;
    bool ok = hex.size() % 2 == 0;
    for (std::size_t h = 0; ok && h < hex.size(); h += 2) {
      const int hi = hex_digit(hex[h]);
      const int lo = hex_digit(hex[h + 1]);
      ok = hi >= 0 && lo >= 0;
      bytes += static_cast<char>(hi << 4 | lo);
    }
    if (!ok) continue;  // left as is: the parser reports it
    out.append(json.substr(i, k - i));
    out += '"';
    out += base64(bytes);
    out += '"';
    i = vend + 1;
  }
  return out;
}

std::string parse_otlp_json(std::string_view json, otlp::export_request& out) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;  // a misspelt field name must fail the test
  const auto status = google::protobuf::util::JsonStringToMessage(otlp_json_ids_to_base64(json), &out, options);
  if (status.ok()) return {};
  return std::string(status.message());
}

const otlp::any_value* find_attribute(const google::protobuf::RepeatedPtrField<otlp::key_value>& attrs,
                                      std::string_view key) {
  for (const auto& kv : attrs)
    if (kv.key() == key) return &kv.value();
  return nullptr;
}

const otlp::any_value* find_attribute(const otlp::span& s, std::string_view key) {
  return find_attribute(s.attributes(), key);
}

otlp_receiver::otlp_receiver() = default;

otlp_receiver::~otlp_receiver() {
  stop();
}

bool otlp_receiver::start(std::uint16_t port) {
  stop();
  auto server = std::make_unique<httplib::Server>();
  // Idle keep-alive connections hold a worker until this timeout: keep it short so stop()
  // returns quickly and an outage begins promptly.
  server->set_keep_alive_timeout(1);
  server->Post("/v1/traces", [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
  server->Post("/v1/metrics", [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
  int bound = -1;
  if (port == 0) {
    bound = server->bind_to_any_port("127.0.0.1");
  } else if (server->bind_to_port("127.0.0.1", port)) {
    bound = port;
  }
  if (bound <= 0) return false;
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
    port_ = static_cast<std::uint16_t>(bound);
  }
  // The socket already listens (connections queue in the backlog); serve them.
  httplib::Server* s = server.get();
  thread_ = std::thread([s] { s->listen_after_bind(); });
  // Server::stop() is a no-op until the accept loop runs: wait for it (bounded).
  for (int i = 0; i < 5000 && !s->is_running(); ++i) std::this_thread::sleep_for(1ms);
  server_ = std::move(server);
  return true;
}

void otlp_receiver::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();  // wakes delayed answers
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

bool otlp_receiver::running() const {
  return server_ && server_->is_running();
}

std::uint16_t otlp_receiver::port() const {
  std::lock_guard lock(mu_);
  return port_;
}

std::string otlp_receiver::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(port());
}

std::string otlp_receiver::traces_url() const {
  return endpoint() + "/v1/traces";
}

std::string otlp_receiver::metrics_url() const {
  return endpoint() + "/v1/metrics";
}

void otlp_receiver::set_responder(responder r) {
  std::lock_guard lock(mu_);
  responder_ = std::move(r);
}

void otlp_receiver::set_status(int status, std::vector<std::pair<std::string, std::string>> headers) {
  set_responder([status, headers = std::move(headers)](const request_info&) {
    reply r;
    r.status = status;
    r.headers = headers;
    return r;
  });
}

void otlp_receiver::queue_replies(std::vector<reply> replies) {
  std::lock_guard lock(mu_);
  for (auto& r : replies) queued_.push_back(std::move(r));
}

void otlp_receiver::reset_responder() {
  std::lock_guard lock(mu_);
  responder_ = nullptr;
  queued_.clear();
}

reply otlp_receiver::decide(const request_info& info) {
  responder r;
  {
    std::lock_guard lock(mu_);
    if (!queued_.empty()) {
      reply q = std::move(queued_.front());
      queued_.pop_front();
      return q;
    }
    r = responder_;
  }
  if (r) return r(info);
  reply d;
  if (info.content_type != "application/x-protobuf" && info.content_type != "application/json") {
    d.status = 415;
    d.body = "unsupported content type: " + info.content_type;
  } else if (!info.decoded) {
    d.status = 400;
    d.body = "cannot decode ExportTraceServiceRequest: " + info.decode_error;
  }
  return d;
}

void otlp_receiver::handle(const httplib::Request& req, httplib::Response& res) {
  received_request rec;
  request_info& info = rec.info;
  info.method = req.method;
  info.path = req.path;
  for (const auto& [k, v] : req.headers) info.headers.emplace_back(k, v);
  info.content_type = media_type(req.get_header_value("Content-Type"));
  info.content_encoding = req.get_header_value("Content-Encoding");
  info.chunked = req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos;
  const std::string length = req.get_header_value("Content-Length");
  info.wire_bytes = length.empty() ? 0 : std::strtoull(length.c_str(), nullptr, 10);
  // httplib has already undone Content-Encoding: gzip and the chunked framing (zlib inside).
  rec.body = req.body;
  info.body_bytes = rec.body.size();
  const bool metrics = info.path == "/v1/metrics";
  if (metrics && info.content_type == "application/x-protobuf") {
    info.decoded = rec.metrics.ParseFromString(rec.body);
    if (!info.decoded) info.decode_error = "invalid protobuf";
  } else if (metrics) {
    info.decode_error = "unsupported content type";
  } else if (info.content_type == "application/x-protobuf") {
    info.decoded = rec.message.ParseFromString(rec.body);
    if (!info.decoded) info.decode_error = "invalid protobuf";
  } else if (info.content_type == "application/json") {
    info.decode_error = parse_otlp_json(rec.body, rec.message);
    info.decoded = info.decode_error.empty();
  } else {
    info.decode_error = "unsupported content type";
  }
  if (info.decoded) {
    info.span_count = count_spans(rec.message);
    info.point_count = count_points(rec.metrics);
  } else {
    rec.message.Clear();
    rec.metrics.Clear();
  }
  {
    std::lock_guard lock(mu_);
    info.sequence = next_sequence_++;
  }

  reply r = decide(info);
  if (r.delay > 0ms) {
    std::unique_lock lock(mu_);
    if (changed_.wait_for(lock, r.delay, [this] { return stopping_; })) {
      r = reply{};
      r.status = 503;
      r.body = "receiver stopping";
    }
  }

  res.status = r.status;
  for (const auto& [k, v] : r.headers) res.set_header(k, v);
  const bool json = info.content_type == "application/json";
  if (!r.body.empty()) {
    res.set_content(r.body, r.status >= 200 && r.status < 300 ? (json ? "application/json" : "application/x-protobuf")
                                                              : "text/plain");
  } else if (r.status >= 200 && r.status < 300) {
    // An empty ExportTraceServiceResponse: no bytes in protobuf, "{}" in JSON.
    res.set_content(json ? "{}" : "", json ? "application/json" : "application/x-protobuf");
  } else {
    res.set_content("status " + std::to_string(r.status), "text/plain");
  }

  rec.status = r.status;
  {
    std::lock_guard lock(mu_);
    if (r.status >= 200 && r.status < 300) {
      accepted_spans_ += info.span_count;
      accepted_points_ += info.point_count;
    }
    requests_.push_back(std::move(rec));
  }
  changed_.notify_all();
}

std::vector<otlp::metric> otlp_receiver::metrics() const {
  std::lock_guard lock(mu_);
  std::vector<otlp::metric> out;
  for (const auto& r : requests_) {
    if (r.status < 200 || r.status >= 300) continue;
    for (const auto& rm : r.metrics.resource_metrics())
      for (const auto& sm : rm.scope_metrics())
        for (const auto& m : sm.metrics()) out.push_back(m);
  }
  return out;
}

std::size_t otlp_receiver::point_count() const {
  std::lock_guard lock(mu_);
  return accepted_points_;
}

bool otlp_receiver::wait_for_points(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return accepted_points_ >= n; });
}

std::vector<received_request> otlp_receiver::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::size_t otlp_receiver::request_count() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

std::vector<otlp::span> otlp_receiver::spans() const {
  std::lock_guard lock(mu_);
  std::vector<otlp::span> out;
  out.reserve(accepted_spans_);
  for (const auto& r : requests_) {
    if (r.status < 200 || r.status >= 300) continue;
    for (const auto& rs : r.message.resource_spans())
      for (const auto& ss : rs.scope_spans())
        for (const auto& s : ss.spans()) out.push_back(s);
  }
  return out;
}

std::size_t otlp_receiver::span_count() const {
  std::lock_guard lock(mu_);
  return accepted_spans_;
}

std::optional<otlp::span> otlp_receiver::span_named(std::string_view name) const {
  std::lock_guard lock(mu_);
  for (const auto& r : requests_) {
    if (r.status < 200 || r.status >= 300) continue;
    for (const auto& rs : r.message.resource_spans())
      for (const auto& ss : rs.scope_spans())
        for (const auto& s : ss.spans())
          if (s.name() == name) return s;
  }
  return std::nullopt;
}

std::size_t otlp_receiver::count_status(int status) const {
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(
      std::count_if(requests_.begin(), requests_.end(), [status](const auto& r) { return r.status == status; }));
}

std::map<int, std::size_t> otlp_receiver::status_counts() const {
  std::lock_guard lock(mu_);
  std::map<int, std::size_t> out;
  for (const auto& r : requests_) ++out[r.status];
  return out;
}

bool otlp_receiver::wait_for_spans(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return accepted_spans_ >= n; });
}

bool otlp_receiver::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

void otlp_receiver::clear() {
  std::lock_guard lock(mu_);
  requests_.clear();
  accepted_spans_ = 0;
  accepted_points_ = 0;
  next_sequence_ = 0;
}

}  // namespace logfire::test
