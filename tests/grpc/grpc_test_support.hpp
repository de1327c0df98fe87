// Helpers for the gRPC integration tests: the Shop service (synchronous and callback flavours)
// on a free port of 127.0.0.1 that shuts down by itself, channels with and without the client
// interceptor, and record lookups.
#pragma once

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "httplib/httplib_test_support.hpp"
#include "logfire/grpc.hpp"
#include "logfire/httplib.hpp"
#include "logfire/logfire.hpp"
#include "shop.grpc.pb.h"

namespace grpc_test {

using namespace std::chrono_literals;
using logfire::test::v1::OrderReply;
using logfire::test::v1::OrderRequest;
using logfire::test::v1::Shop;

inline std::string metadata(const grpc::ServerContextBase& ctx, std::string_view key) {
  for (const auto& [k, v] : ctx.client_metadata())
    if (std::string_view(k.data(), k.size()) == key) return std::string(v.data(), v.size());
  return {};
}

// GETs `url` and returns the body ("downstream failed" when there is none).
using http_fetch = std::function<std::string(const std::string& url)>;

// What every handler does: log, optionally call the HTTP downstream (through `fetch` when set,
// else logfire::httplib_client), wait, fail on request.
inline grpc::Status serve_one(const grpc::ServerContextBase& ctx, const OrderRequest& req, OrderReply& reply,
                              const std::string& downstream_base, const http_fetch& fetch) {
  logfire::info("handling order {id}", {{"id", req.id()}});
  reply.set_id(req.id());
  reply.set_traceparent(metadata(ctx, "traceparent"));
  if (!req.downstream().empty()) {
    if (fetch) {
      reply.set_note(fetch(downstream_base + req.downstream()));
    } else {
      logfire::httplib_client http(downstream_base);
      auto res = http.get(req.downstream());
      reply.set_note(res ? res->body : "downstream failed");
    }
  }
  if (req.sleep_ms() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(req.sleep_ms()));
  if (req.fail_with() != 0) return {static_cast<grpc::StatusCode>(req.fail_with()), "failed on purpose"};
  return grpc::Status::OK;
}

class sync_shop final : public Shop::Service {
 public:
  std::string downstream_base;  // "http://127.0.0.1:PORT" of the HTTP downstream, if any
  http_fetch downstream_fetch;  // how the downstream is called (default: logfire::httplib_client)

  grpc::Status GetOrder(grpc::ServerContext* ctx, const OrderRequest* req, OrderReply* reply) override {
    return serve_one(*ctx, *req, *reply, downstream_base, downstream_fetch);
  }
  grpc::Status ListOrders(grpc::ServerContext* ctx, const OrderRequest* req,
                          grpc::ServerWriter<OrderReply>* writer) override {
    for (int i = 0; i < req->count(); ++i) {
      OrderReply r;
      r.set_id(req->id() + "-" + std::to_string(i));
      r.set_traceparent(metadata(*ctx, "traceparent"));
      writer->Write(r);
    }
    return grpc::Status::OK;
  }
  grpc::Status UploadOrders(grpc::ServerContext*, grpc::ServerReader<OrderRequest>* reader,
                            OrderReply* reply) override {
    OrderRequest r;
    int n = 0;
    while (reader->Read(&r)) ++n;
    reply->set_note(std::to_string(n));
    return grpc::Status::OK;
  }
  grpc::Status Chat(grpc::ServerContext*, grpc::ServerReaderWriter<OrderReply, OrderRequest>* stream) override {
    OrderRequest r;
    while (stream->Read(&r)) {
      OrderReply out;
      out.set_id(r.id());
      stream->Write(out);
    }
    return grpc::Status::OK;
  }
};

// A callback service: its handlers run on gRPC's threads; they find their span's context with
// logfire::grpc_server_context().
class callback_shop final : public Shop::CallbackService {
 public:
  grpc::ServerUnaryReactor* GetOrder(grpc::CallbackServerContext* ctx, const OrderRequest* req,
                                     OrderReply* reply) override {
    seen_current = logfire::current_span_context();
    {
      logfire::context_scope scope(logfire::grpc_server_context(ctx));
      logfire::info("handling order {id} in a callback", {{"id", req->id()}});
    }
    reply->set_id(req->id());
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  logfire::span_context seen_current;  // what was current on the handler's thread (nothing)
};

// Builds and starts `service` with the server interceptor on 127.0.0.1, a free port; shuts down
// (with a 2 s grace) when destroyed.
class running_grpc_server {
 public:
  explicit running_grpc_server(grpc::Service* service, logfire::grpc_server_options opts = {}) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(service);
    logfire::instrument_grpc(builder, std::move(opts));
    server_ = builder.BuildAndStart();
  }
  ~running_grpc_server() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + 2s);
  }
  running_grpc_server(const running_grpc_server&) = delete;
  running_grpc_server& operator=(const running_grpc_server&) = delete;
  [[nodiscard]] bool ok() const { return server_ != nullptr && port_ > 0; }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string target() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

inline std::unique_ptr<Shop::Stub> instrumented_stub(const std::string& target, bool message_events = false) {
  return Shop::NewStub(
      logfire::grpc_channel(target, grpc::InsecureChannelCredentials(), {}, {.message_events = message_events}));
}
inline std::unique_ptr<Shop::Stub> plain_stub(const std::string& target) {
  return Shop::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
}

inline std::vector<logfire::stored_record> of_kind(const std::vector<logfire::stored_record>& recs,
                                                   logfire::span_kind kind) {
  return httplib_test::of_kind(recs, kind);
}

inline std::string traceparent_of(const logfire::stored_record& s) {
  return "00-" + s.context.trace.to_hex() + "-" + s.context.span.to_hex() + "-0" +
         std::to_string(s.context.flags & logfire::trace_flags::known);
}

inline std::int64_t int_attr(const logfire::stored_record& r, std::string_view key) {
  const auto* v = r.find(key);
  return v && v->int64() ? *v->int64() : -1;
}

}  // namespace grpc_test
