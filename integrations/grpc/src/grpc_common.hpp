// What the gRPC client and server interceptors share: metadata carriers, status names and
// levels, method and address parsing. Private to integrations/grpc.
#pragma once

#include <grpcpp/support/status.h>
#include <grpcpp/support/string_ref.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "logfire/logfire.hpp"
#include "logfire/propagation.hpp"

namespace logfire::detail {

// The metadata a client call sends (gRPC keys are lowercase; propagators write lowercase).
class grpc_send_carrier final : public carrier {
 public:
  explicit grpc_send_carrier(std::multimap<std::string, std::string>& md) noexcept : md_(&md) {}
  void get_all(std::string_view name, value_visitor visit) const override {
    for (const auto& [k, v] : *md_)
      if (iequals(k, name)) visit(std::string_view(v));
  }
  void set(std::string_view name, std::string_view value) override {
    for (auto it = md_->begin(); it != md_->end();) it = iequals(it->first, name) ? md_->erase(it) : std::next(it);
    md_->emplace(std::string(name), std::string(value));
  }

 private:
  std::multimap<std::string, std::string>* md_;
};

// The metadata a server call received; read-only.
class grpc_recv_carrier final : public carrier {
 public:
  explicit grpc_recv_carrier(const std::multimap<grpc::string_ref, grpc::string_ref>& md) noexcept : md_(&md) {}
  void get_all(std::string_view name, value_visitor visit) const override {
    for (const auto& [k, v] : *md_)
      if (iequals(std::string_view(k.data(), k.size()), name)) visit(std::string_view(v.data(), v.size()));
  }
  void set(std::string_view, std::string_view) override {}

 private:
  const std::multimap<grpc::string_ref, grpc::string_ref>* md_;
};

// "OK", "NOT_FOUND", ...: the names of gRPC's status codes (doc/statuscodes.md).
[[nodiscard]] inline std::string_view grpc_code_name(int code) noexcept {
  static constexpr std::string_view k_names[] = {
      "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
      "DATA_LOSS", "UNAUTHENTICATED"};
  return code >= 0 && code < 17 ? k_names[code] : std::string_view("_OTHER");
}

// The codes OpenTelemetry's gRPC conventions count as the server's failure.
[[nodiscard]] inline bool grpc_server_fault(int code) noexcept {
  return code == grpc::StatusCode::UNKNOWN || code == grpc::StatusCode::DEADLINE_EXCEEDED ||
         code == grpc::StatusCode::UNIMPLEMENTED || code == grpc::StatusCode::INTERNAL ||
         code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DATA_LOSS;
}

// Records the status on a call's span: the code as number and name; an error (status ERROR,
// error.type, the server's message as description) when `error`, else a warning when not OK.
inline void grpc_end_status(span& s, const grpc::Status& st, bool is_client) noexcept {
  const int code = static_cast<int>(st.error_code());
  s.set_attribute("rpc.grpc.status_code", code);
  s.set_attribute("rpc.response.status_code", grpc_code_name(code));
  if (code == 0) return;
  if (is_client || grpc_server_fault(code)) {
    s.set_attribute("error.type", grpc_code_name(code));
    s.set_status(status_code::error, st.error_message());
  } else {
    s.set_level(level::warn);
  }
}

// "/demo.v1.Echo/Say" -> service "demo.v1.Echo", method "Say", name "demo.v1.Echo/Say".
struct grpc_method_parts {
  std::string_view name;
  std::string_view service;
  std::string_view method;
};
[[nodiscard]] inline grpc_method_parts grpc_split_method(std::string_view full) noexcept {
  grpc_method_parts p;
  if (!full.empty() && full.front() == '/') full.remove_prefix(1);
  p.name = full;
  const auto slash = full.rfind('/');
  if (slash == std::string_view::npos) {
    p.method = full;
  } else {
    p.service = full.substr(0, slash);
    p.method = full.substr(slash + 1);
  }
  return p;
}

// An address as gRPC writes it ("ipv4:127.0.0.1:5000", "ipv6:[::1]:5000", "unix:/tmp/s") or a
// channel target ("dns:///host:443", "host:443", "127.0.0.1:50051") as host and port (0: none).
struct host_port {
  std::string_view host;
  int port = 0;
};
[[nodiscard]] inline host_port grpc_parse_address(std::string_view a) noexcept {
  host_port out;
  if (a.starts_with("unix:") || a.starts_with("unix-abstract:")) {
    out.host = a.substr(a.find(':') + 1);
    return out;
  }
  if (a.starts_with("ipv4:") || a.starts_with("ipv6:")) a.remove_prefix(5);
  if (const auto scheme = a.find("://"); scheme != std::string_view::npos) {
    a.remove_prefix(scheme + 3);
    if (const auto slash = a.find('/'); slash != std::string_view::npos && slash == 0) a.remove_prefix(1);
  } else if (a.starts_with("dns:")) {
    a.remove_prefix(4);
  }
  std::string_view port;
  if (!a.empty() && a.front() == '[') {
    const auto close = a.find(']');
    if (close == std::string_view::npos) return out;
    out.host = a.substr(1, close - 1);
    if (close + 1 < a.size() && a[close + 1] == ':') port = a.substr(close + 2);
  } else if (const auto colon = a.rfind(':'); colon != std::string_view::npos && a.find(':') == colon) {
    out.host = a.substr(0, colon);
    port = a.substr(colon + 1);
  } else {
    out.host = a;
  }
  int p = 0;
  for (char c : port) {
    if (c < '0' || c > '9' || p > 65535) return out;
    p = p * 10 + (c - '0');
  }
  out.port = p <= 65535 ? p : 0;
  return out;
}

}  // namespace logfire::detail
