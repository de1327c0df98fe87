// gRPC integration (gRPC C++ 1.51 interceptors): a CLIENT span for every call a channel makes and
// a SERVER span for every call a server handles, named "package.Service/Method", with the trace
// context carried in the call's metadata. Link logfire::grpc; the core never includes gRPC.
//
//   auto channel = logfire::grpc_channel("billing:50051", grpc::InsecureChannelCredentials());
//   auto stub = billing::v1::Billing::NewStub(channel);      // every call: a CLIENT span
//
//   grpc::ServerBuilder builder;
//   logfire::instrument_grpc(builder);                          // every call: a SERVER span
//   builder.RegisterService(&service);
//
// Attributes (OpenTelemetry's RPC and gRPC conventions): rpc.system = "grpc", rpc.service
// ("package.Service"), rpc.method ("Method"), rpc.grpc.status_code (the number) and
// rpc.response.status_code (its name, as the current conventions name it), server.address,
// server.port, network.peer.address/port (and client.address/port on the server), error.type
// (the status name) when the call failed. Levels: a client call that did not end OK is an error;
// a server call is an error for the codes that mean the server failed (UNKNOWN,
// DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS) and a warning for the
// others that are not OK (the caller's error, like an HTTP 4xx). Unary and streaming calls alike:
// one span per call; with message_events, an `rpc.message` event per message sent or received.
//
// Incoming context is taken as for HTTP servers: third-party context per the distributed_tracing
// setting (the Cloud Run default included: Cloud Run fronts gRPC services too), trusted methods
// and callers always continued. See docs/integrations.md.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/client_interceptor.h>
#include <grpcpp/support/server_interceptor.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "logfire/logfire.hpp"

namespace logfire {

struct grpc_client_options {
  // The channel's target ("host:port", "dns:///host:port", "ipv4:10.0.0.1:50051",
  // "unix:/path"), for server.address and server.port. grpc_channel() fills it.
  std::string target{};
  // An `rpc.message` event per message sent and received. Default false.
  bool message_events = false;
};

// The interceptor factory for grpc::experimental::CreateCustomChannelWithInterceptors. A call's
// CLIENT span is a child of the span current where the call is created (the stub call, or
// PrepareAsync/async() for the asynchronous APIs) and is never any thread's current span; it ends
// when the call's status arrives (or when the call is destroyed without one: CANCELLED).
[[nodiscard]] std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface> grpc_client_interceptor(
    grpc_client_options opts = {});

// grpc::CreateCustomChannel with the client interceptor first, then `more`.
[[nodiscard]] std::shared_ptr<grpc::Channel> grpc_channel(
    const std::string& target, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const grpc::ChannelArguments& args = {}, grpc_client_options opts = {},
    std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> more = {});

// How a server runs its handlers, which decides whether a call's SERVER span can be the current
// span of the handler's thread.
enum class grpc_handlers {
  // Synchronous service methods (grpc::Service with the generated synchronous signatures): gRPC
  // runs the interceptor and then the handler on one thread, so the span is that thread's current
  // span while the handler runs, and what it logs or calls nests under it. If a call is seen
  // ending on another thread, or two calls interleave on one thread (an asynchronous service), a
  // line on stderr says so and the server switches to `async` for its next calls.
  sync,
  // Completion-queue or callback services: the span is never current; a handler gets its
  // context with grpc_server_context() and attaches it (logfire::context_scope). Callback services
  // (grpc::CallbackServerContext) are recognized and handled this way whatever is set.
  async,
};

struct grpc_server_options {
  // Methods whose callers are your own services: their context is always continued, whatever
  // distributed_tracing says. "package.Service/Method", or "package.Service/*" for every method
  // of a service. Default: none.
  std::vector<std::string> trusted_methods{};
  // Decides per call whether the caller is one of your own services (true: continue its
  // context), e.g. by metadata your mesh adds. Runs on gRPC's thread before the handler; an
  // exception counts as false. Default: unset (every caller is a third party).
  std::function<bool(const grpc::ServerContextBase&)> trusted_caller{};
  grpc_handlers handlers = grpc_handlers::sync;
  // An `rpc.message` event per message sent and received. Default false.
  bool message_events = false;
  // force_flush() when a call's status is about to be sent (before the client sees it), for
  // platforms that throttle the CPU between requests. Default false.
  bool flush_after_each_call = false;
  // Upper bound of that flush. Default 2 s.
  std::chrono::milliseconds flush_timeout{2000};
};

// The interceptor factory for grpc::ServerBuilder::experimental().SetInterceptorCreators.
[[nodiscard]] std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> grpc_server_interceptor(
    grpc_server_options opts = {});

// Sets `builder`'s interceptors to the server interceptor first, then `more` (gRPC keeps one
// list: SetInterceptorCreators replaces it). Call before BuildAndStart().
void instrument_grpc(grpc::ServerBuilder& builder, grpc_server_options opts = {},
                     std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> more = {});

// The context of the call's SERVER span (with the tracestate and baggage that came with it), for
// a handler to attach when the span is not current on its thread (asynchronous services):
//   logfire::context_scope scope(logfire::grpc_server_context(ctx));
// Invalid when the call is not instrumented or has ended.
[[nodiscard]] context grpc_server_context(const grpc::ServerContextBase* ctx);

}  // namespace logfire
