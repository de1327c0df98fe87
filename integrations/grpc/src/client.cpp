// The CLIENT span of a gRPC call. The interceptor is created with the call, on the thread that
// creates it (where the caller's span is current); its hooks run on whichever thread gRPC runs
// them (the caller's for synchronous stubs, completion-queue or callback threads otherwise), so
// the span is never made current: it has the creating thread's context as explicit parent, and
// is attached only for the moment of injecting it into the metadata.
#include <atomic>
#include <optional>
#include <utility>

#include "grpc_common.hpp"
#include "literal_template.hpp"
#include "logfire/grpc.hpp"
#include "logfire/handoff.hpp"
#include "span_args.hpp"

namespace logfire {
namespace {

namespace gx = grpc::experimental;

class client_interceptor final : public gx::Interceptor {
 public:
  client_interceptor(gx::ClientRpcInfo* info, const grpc_client_options& opts) noexcept
      : info_(info), message_events_(opts.message_events), parent_(capture_context()) {
    try {
      const auto m = detail::grpc_split_method(info->method() ? info->method() : "");
      const auto target = detail::grpc_parse_address(opts.target);
      detail::span_args args;
      args.add("rpc.system", "grpc");
      if (!m.service.empty()) args.add("rpc.service", m.service);
      args.add("rpc.method", m.method);
      if (!target.host.empty()) args.add("server.address", target.host);
      if (target.port > 0) args.add("server.port", target.port);
      name_ = detail::literal_template(m.name);  // a generic call's method may hold braces
      detail::emplace_span(span_, name_, args, {.kind = span_kind::client, .current = false});
    } catch (...) {
      // No memory to describe the call: it goes on without its span.
    }
  }

  ~client_interceptor() override {
    // Destroyed without a status (the call was cancelled or abandoned before one arrived).
    if (span_) end(grpc::Status(grpc::StatusCode::CANCELLED, "the call ended without a status"));
  }

  void Intercept(gx::InterceptorBatchMethods* methods) override {
    using hook = gx::InterceptionHookPoints;
    if (span_) {
      if (methods->QueryInterceptionHookPoint(hook::PRE_SEND_INITIAL_METADATA)) inject(methods);
      if (message_events_ && methods->QueryInterceptionHookPoint(hook::PRE_SEND_MESSAGE)) message("SENT", ++sent_);
      // A failed read (the end of the stream) reaches this hook too, without a message.
      if (message_events_ && methods->QueryInterceptionHookPoint(hook::POST_RECV_MESSAGE) &&
          methods->GetRecvMessage() != nullptr)
        message("RECEIVED", ++received_);
      if (methods->QueryInterceptionHookPoint(hook::POST_RECV_STATUS)) {
        if (const grpc::Status* st = methods->GetRecvStatus()) end(*st);
      }
    }
    methods->Proceed();
  }

 private:
  void inject(gx::InterceptorBatchMethods* methods) noexcept {
    auto* md = methods->GetSendInitialMetadata();
    if (!md) return;
    context_scope as_call(parent_.with_span(span_->context()));
    detail::grpc_send_carrier out(*md);
    inject_context(out);
  }

  void message(const char* type, std::uint32_t id) noexcept {
    span_->add_event("rpc.message", {{"rpc.message.type", type}, {"rpc.message.id", id}});
  }

  void end(const grpc::Status& st) noexcept {
    try {
      if (grpc::ClientContext* ctx = info_->client_context()) {
        const std::string peer = ctx->peer();
        const auto p = detail::grpc_parse_address(peer);
        if (!p.host.empty()) span_->set_attribute("network.peer.address", p.host);
        if (p.port > 0) span_->set_attribute("network.peer.port", p.port);
      }
    } catch (...) {
    }
    detail::grpc_end_status(*span_, st, true);
    span_.reset();
  }

  gx::ClientRpcInfo* info_;
  bool message_events_;
  context parent_;
  std::string name_;
  std::optional<span> span_;
  // Bidirectional streams may send and receive on two threads at once.
  std::atomic<std::uint32_t> sent_{0};
  std::atomic<std::uint32_t> received_{0};
};

class client_factory final : public gx::ClientInterceptorFactoryInterface {
 public:
  explicit client_factory(grpc_client_options opts) : opts_(std::move(opts)) {}
  gx::Interceptor* CreateClientInterceptor(gx::ClientRpcInfo* info) override {
    return new (std::nothrow) client_interceptor(info, opts_);
  }

 private:
  grpc_client_options opts_;
};

}  // namespace

std::unique_ptr<gx::ClientInterceptorFactoryInterface> grpc_client_interceptor(grpc_client_options opts) {
  return std::make_unique<client_factory>(std::move(opts));
}

std::shared_ptr<grpc::Channel> grpc_channel(const std::string& target,
                                            const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                                            const grpc::ChannelArguments& args, grpc_client_options opts,
                                            std::vector<std::unique_ptr<gx::ClientInterceptorFactoryInterface>> more) {
  if (opts.target.empty()) opts.target = target;
  std::vector<std::unique_ptr<gx::ClientInterceptorFactoryInterface>> all;
  all.reserve(more.size() + 1);
  all.push_back(grpc_client_interceptor(std::move(opts)));
  for (auto& f : more) all.push_back(std::move(f));
  return gx::CreateCustomChannelWithInterceptors(target, credentials, args, std::move(all));
}

}  // namespace logfire
