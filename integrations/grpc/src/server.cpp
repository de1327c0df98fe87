// The SERVER span of a gRPC call. gRPC creates the interceptor per call and runs its hooks on its
// own threads: for a synchronous service, the hook that delivers the client's metadata, the
// handler and the hook that sends the status all run on one thread of the server's pool (checked
// by tests/grpc), so in `sync` mode the span and the incoming context are that thread's current
// context from the first hook to the status; in `async` mode they are never current and a handler
// finds the context with grpc_server_context(). Nothing here throws into gRPC.
#include <atomic>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>

#include "grpc_common.hpp"
#include "literal_template.hpp"
#include "logfire/config.hpp"
#include "logfire/grpc.hpp"
#include "logfire/handoff.hpp"
#include "span_args.hpp"

namespace logfire {
namespace {

namespace gx = grpc::experimental;

struct server_state {
  grpc_server_options opts;
  std::atomic<bool> async_seen{false};  // sync mode turned out wrong for this server
};

// The context of every call in flight, for grpc_server_context(). One lock per call start and
// end, next to the many gRPC takes per call; never per span record.
struct call_registry {
  std::mutex mu;
  std::unordered_map<const grpc::ServerContextBase*, context> calls;
};
call_registry& registry() {
  static auto* r = new call_registry;  // never destroyed: calls may end during exit
  return *r;
}

// The synchronous-mode call current on this thread, if any (compared, never dereferenced).
thread_local const void* t_current_call = nullptr;

std::atomic<bool> g_warned_async{false};
[[gnu::cold]] void warn_async(const char* why) noexcept {
  if (g_warned_async.exchange(true, std::memory_order_relaxed)) return;
  std::fprintf(stderr,
               "logfire: a gRPC server instrumented for synchronous handlers %s: its handlers are asynchronous. "
               "Its next calls' spans are not made current; set grpc_server_options.handlers = "
               "logfire::grpc_handlers::async and hold a logfire::context_scope of logfire::grpc_server_context(ctx) "
               "in handlers.\n",
               why);
}

bool trusted_method(const std::vector<std::string>& list, std::string_view name, std::string_view service) {
  for (const auto& t : list) {
    if (t == name) return true;
    if (t.size() > 2 && t.ends_with("/*") && std::string_view(t).substr(0, t.size() - 2) == service) return true;
  }
  return false;
}

class server_interceptor final : public gx::Interceptor {
 public:
  server_interceptor(gx::ServerRpcInfo* info, std::shared_ptr<server_state> st) noexcept
      : info_(info), st_(std::move(st)) {}

  ~server_interceptor() override {
    // Destroyed without sending a status: the client went away (cancelled, deadline).
    if (span_) finish(grpc::Status(grpc::StatusCode::CANCELLED, "the call ended before its status was sent"));
  }

  void Intercept(gx::InterceptorBatchMethods* methods) override {
    using hook = gx::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(hook::POST_RECV_INITIAL_METADATA)) start(methods);
    if (span_ && st_->opts.message_events) {
      // A failed read (the end of the stream) reaches this hook too, without a message.
      if (methods->QueryInterceptionHookPoint(hook::POST_RECV_MESSAGE) && methods->GetRecvMessage() != nullptr)
        message("RECEIVED", ++received_);
      if (methods->QueryInterceptionHookPoint(hook::PRE_SEND_MESSAGE)) message("SENT", ++sent_);
    }
    if (span_ && methods->QueryInterceptionHookPoint(hook::PRE_SEND_STATUS)) finish(methods->GetSendStatus());
    methods->Proceed();
  }

 private:
  void start(gx::InterceptorBatchMethods* methods) noexcept {
    if (span_) return;
    try {
      grpc::ServerContextBase* ctx = info_->server_context();
      const auto* md = methods->GetRecvInitialMetadata();
      if (!ctx || !md) return;
      const auto m = detail::grpc_split_method(info_->method() ? info_->method() : "");
      bool trusted = trusted_method(st_->opts.trusted_methods, m.name, m.service);
      if (!trusted && st_->opts.trusted_caller) {
        try {
          trusted = st_->opts.trusted_caller(*ctx);
        } catch (...) {
          trusted = false;
        }
      }
      const grpc::string_ref authority = ctx->ExperimentalGetAuthority();
      const auto server = detail::grpc_parse_address(std::string_view(authority.data(), authority.size()));
      const std::string peer_text = ctx->peer();
      const auto peer = detail::grpc_parse_address(peer_text);
      detail::span_args args;
      args.add("rpc.system", "grpc");
      if (!m.service.empty()) args.add("rpc.service", m.service);
      args.add("rpc.method", m.method);
      if (!server.host.empty()) args.add("server.address", server.host);
      if (server.port > 0) args.add("server.port", server.port);
      if (!peer.host.empty()) {
        args.add("client.address", peer.host);
        args.add("network.peer.address", peer.host);
      }
      if (peer.port > 0) {
        args.add("client.port", peer.port);
        args.add("network.peer.port", peer.port);
      }
      name_ = detail::literal_template(m.name);  // a generic call's method may hold braces

      const detail::grpc_recv_carrier in(*md);
      const attach_options how{.third_party = !trusted};
      bool sync = st_->opts.handlers == grpc_handlers::sync && !st_->async_seen.load(std::memory_order_relaxed) &&
                  dynamic_cast<grpc::CallbackServerContext*>(ctx) == nullptr;
      if (sync && t_current_call) {
        // Another call's span is still current here: calls interleave on this thread.
        st_->async_seen.store(true, std::memory_order_relaxed);
        warn_async("started a call while another was in progress on the same thread");
        sync = false;
      }
      context call_ctx;
      if (sync) {
        incoming_ = std::make_unique<attach_context>(in, how);
        detail::emplace_span(span_, name_, args, {.kind = span_kind::server});
        call_ctx = capture_context();
        thread_ = std::this_thread::get_id();
        t_current_call = this;
        current_ = true;
      } else {
        const attach_context scoped(in, how);
        detail::emplace_span(span_, name_, args, {.kind = span_kind::server, .current = false});
        if (span_) call_ctx = capture_context().with_span(span_->context());
      }
      if (span_) {
        server_ctx_ = ctx;
        auto& r = registry();
        std::lock_guard lock(r.mu);
        r.calls[ctx] = std::move(call_ctx);
      }
    } catch (...) {
      // No memory to describe the call: it goes on without its span.
    }
  }

  void message(const char* type, std::uint32_t id) noexcept {
    span_->add_event("rpc.message", {{"rpc.message.type", type}, {"rpc.message.id", id}});
  }

  void finish(const grpc::Status& st) noexcept {
    detail::grpc_end_status(*span_, st, false);
    if (server_ctx_) {
      auto& r = registry();
      std::lock_guard lock(r.mu);
      r.calls.erase(server_ctx_);
    }
    if (current_) {
      if (std::this_thread::get_id() == thread_) {
        span_.reset();      // ends the span while the incoming context is still attached
        incoming_.reset();  // then restores the thread's previous context
        t_current_call = nullptr;
      } else {
        // Cannot restore the other thread's context from here: leave it (bounded: the server
        // stops making spans current from now on).
        st_->async_seen.store(true, std::memory_order_relaxed);
        warn_async("ended a call on another thread than the one it started on");
        span_.reset();
        (void)incoming_.release();
      }
    } else {
      span_.reset();
    }
    if (st_->opts.flush_after_each_call) (void)force_flush(st_->opts.flush_timeout);
  }

  gx::ServerRpcInfo* info_;
  std::shared_ptr<server_state> st_;
  const grpc::ServerContextBase* server_ctx_ = nullptr;
  std::string name_;
  std::unique_ptr<attach_context> incoming_;  // sync mode: the incoming context, on thread_
  std::optional<span> span_;
  bool current_ = false;
  std::thread::id thread_;
  std::atomic<std::uint32_t> sent_{0};
  std::atomic<std::uint32_t> received_{0};
};

class server_factory final : public gx::ServerInterceptorFactoryInterface {
 public:
  explicit server_factory(grpc_server_options opts) : st_(std::make_shared<server_state>()) {
    st_->opts = std::move(opts);
  }
  gx::Interceptor* CreateServerInterceptor(gx::ServerRpcInfo* info) override {
    return new (std::nothrow) server_interceptor(info, st_);
  }

 private:
  std::shared_ptr<server_state> st_;
};

}  // namespace

std::unique_ptr<gx::ServerInterceptorFactoryInterface> grpc_server_interceptor(grpc_server_options opts) {
  return std::make_unique<server_factory>(std::move(opts));
}

void instrument_grpc(grpc::ServerBuilder& builder, grpc_server_options opts,
                     std::vector<std::unique_ptr<gx::ServerInterceptorFactoryInterface>> more) {
  std::vector<std::unique_ptr<gx::ServerInterceptorFactoryInterface>> all;
  all.reserve(more.size() + 1);
  all.push_back(grpc_server_interceptor(std::move(opts)));
  for (auto& f : more) all.push_back(std::move(f));
  builder.experimental().SetInterceptorCreators(std::move(all));
}

context grpc_server_context(const grpc::ServerContextBase* ctx) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  const auto it = r.calls.find(ctx);
  return it == r.calls.end() ? context() : it->second;
}

}  // namespace logfire
