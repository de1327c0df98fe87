#include "grpc_receiver.hpp"

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/byte_buffer.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "opentelemetry/proto/collector/logs/v1/logs_service.grpc.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "routes.hpp"
#include "text.hpp"

namespace logfire::backend {

bool grpc_available() {
  return true;
}

namespace detail {
namespace {

namespace collector = opentelemetry::proto::collector;

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

void put_bytes(std::string& out, int field, std::string_view bytes) {
  out += static_cast<char>((field << 3) | 2);
  put_varint(out, bytes.size());
  out.append(bytes);
}

// A google.rpc.Status carrying a google.rpc.RetryInfo of one second, for the
// grpc-status-details-bin trailer: OTLP/gRPC clients retry RESOURCE_EXHAUSTED only when it is
// there, and honour its delay for UNAVAILABLE (the OTLP specification's "OTLP/gRPC Throttling").
std::string retry_details(int code, std::string_view message) {
  std::string duration = "\x08\x01";  // google.protobuf.Duration{seconds: 1}
  std::string retry_info;
  put_bytes(retry_info, 1, duration);  // RetryInfo.retry_delay
  std::string any;
  put_bytes(any, 1, "type.googleapis.com/google.rpc.RetryInfo");
  put_bytes(any, 2, retry_info);
  std::string status;
  status += '\x08';
  put_varint(status, static_cast<std::uint64_t>(code));
  put_bytes(status, 2, message);
  put_bytes(status, 3, any);
  return status;
}

grpc::Status retry_later(grpc::StatusCode code, const std::string& message) {
  return {code, message, retry_details(code, message)};
}

}  // namespace

// One call waiting for a worker. The request buffer belongs to gRPC until Finish().
struct grpc_call {
  signal sig;
  grpc::ServerUnaryReactor* reactor;
  const grpc::ByteBuffer* request;
  grpc::ByteBuffer* response;
  http::memory_budget::reservation memory;
};

class grpc_receiver_impl {
 public:
  grpc_receiver_impl(server& http, grpc_options options)
      : http_(http),
        options_(std::move(options)),
        ctx_{http.store_, http.options_, http.stats_, http.budget_, http.queries_running_, http.live_},
        traces_(*this),
        logs_(*this),
        metrics_(*this) {}

  ~grpc_receiver_impl() { stop(); }

  bool start(std::string& error) {
    const server_options& limits = http_.options_;
    grpc::ServerBuilder builder;
    std::string host = options_.host.find(':') != std::string::npos ? "[" + options_.host + "]" : options_.host;
    builder.AddListeningPort(host + ":" + std::to_string(options_.port), grpc::InsecureServerCredentials(), &port_);
    // gRPC refuses larger messages itself (RESOURCE_EXHAUSTED, without RetryInfo: not retried),
    // after decompression too; the bound is the one HTTP bodies have after decompression.
    builder.SetMaxReceiveMessageSize(static_cast<int>(std::min<std::size_t>(limits.max_decompressed_bytes, INT32_MAX)));
    builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, static_cast<int>(limits.http.head.max_header_bytes));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 100);
    // A port in use must fail here, not be shared with another process (gRPC's default).
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.RegisterService(&traces_);
    builder.RegisterService(&logs_);
    builder.RegisterService(&metrics_);
    server_ = builder.BuildAndStart();
    if (!server_ || port_ == 0) {
      server_.reset();
      error = "cannot listen for OTLP/gRPC on " + host + ":" + std::to_string(options_.port) +
              " (in use, or not an address of this machine)";
      return false;
    }
    int workers = std::max(2, limits.http.workers / 2);
    for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { work(); });
    return true;
  }

  void stop() {
    if (server_) {
      // Calls already queued are still answered: the workers run until Shutdown returns, which
      // waits for every call to finish (or cancels them after the deadline).
      server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
      server_.reset();
    }
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  [[nodiscard]] int port() const { return port_; }

  // gRPC's thread: the checks that need no waiting, then the call joins the queue.
  grpc::ServerUnaryReactor* accept(signal sig, grpc::CallbackServerContext* call, const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) {
    grpc::ServerUnaryReactor* reactor = call->DefaultReactor();
    const server_options& limits = http_.options_;
    if (limits.token) {
      const auto& md = call->client_metadata();
      auto it = md.find("authorization");
      std::string_view presented =
          it == md.end() ? std::string_view() : std::string_view(it->second.data(), it->second.size());
      if (it == md.end() || !authorized(limits, presented)) {
        ++ctx_.stats.unauthorized;
        reactor->Finish({grpc::StatusCode::UNAUTHENTICATED,
                         "missing or wrong authorization metadata: this server was started with a token (--token "
                         "or LOGFIRE_LOCAL_TOKEN); send `authorization: Bearer <token>`"});
        return reactor;
      }
    }
    // The message as gRPC holds it, and the one flat copy the decoder reads.
    std::size_t bytes = request->Length();
    http::memory_budget::reservation memory = ctx_.budget.reserve(2 * bytes);
    if (!memory) {
      ++ctx_.stats.too_many_requests;
      reactor->Finish(retry_later(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                  "request bodies in flight would exceed the memory limit of " +
                                      human_bytes(limits.max_memory_bytes) + "; retry later, or raise --max-memory"));
      return reactor;
    }
    {
      std::lock_guard lock(mu_);
      if (!stopping_ && queue_.size() < options_.max_queued_calls) {
        queue_.push_back(grpc_call{sig, reactor, request, response, std::move(memory)});
        cv_.notify_one();
        return reactor;
      }
    }
    ++ctx_.stats.unavailable;
    reactor->Finish(retry_later(grpc::StatusCode::UNAVAILABLE,
                                "records not stored, retry: " + std::to_string(options_.max_queued_calls) +
                                    " OTLP/gRPC calls are waiting for the store already"));
    return reactor;
  }

 private:
  template <class Service>
  class export_service : public Service::template WithRawCallbackMethod_Export<typename Service::Service> {
   public:
    export_service(grpc_receiver_impl& owner, signal sig) : owner_(owner), sig_(sig) {}
    grpc::ServerUnaryReactor* Export(grpc::CallbackServerContext* call, const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override {
      return owner_.accept(sig_, call, request, response);
    }

   private:
    grpc_receiver_impl& owner_;
    signal sig_;
  };
  struct trace_service : export_service<collector::trace::v1::TraceService> {
    explicit trace_service(grpc_receiver_impl& o) : export_service(o, signal::traces) {}
  };
  struct logs_service : export_service<collector::logs::v1::LogsService> {
    explicit logs_service(grpc_receiver_impl& o) : export_service(o, signal::logs) {}
  };
  struct metrics_service : export_service<collector::metrics::v1::MetricsService> {
    explicit metrics_service(grpc_receiver_impl& o) : export_service(o, signal::metrics) {}
  };

  // A worker thread: until stop(), takes calls off the queue and answers them.
  void work() {
    for (;;) {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      grpc_call call = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      call.reactor->Finish(answer(call));
    }
  }

  grpc::Status answer(grpc_call& call) {
    std::string body;
    body.reserve(call.request->Length());
    std::vector<grpc::Slice> slices;
    if (!call.request->Dump(&slices).ok()) {
      ++ctx_.stats.unreadable;
      return {grpc::StatusCode::INTERNAL, "could not read the request message"};
    }
    for (const auto& s : slices) body.append(reinterpret_cast<const char*>(s.begin()), s.size());
    slices.clear();

    static constexpr std::array<std::string_view, 3> where = {"gRPC TraceService/Export", "gRPC LogsService/Export",
                                                              "gRPC MetricsService/Export"};
    export_outcome r =
        store_export(ctx_, call.sig, body_format::protobuf, body, where[static_cast<std::size_t>(call.sig)]);
    switch (r.result) {
      case export_outcome::kind::stored:
        break;
      case export_outcome::kind::malformed:
      case export_outcome::kind::too_many:
        return {grpc::StatusCode::INVALID_ARGUMENT, r.message};
      case export_outcome::kind::no_memory:
        return retry_later(grpc::StatusCode::RESOURCE_EXHAUSTED, r.message);
      case export_outcome::kind::unavailable:
        return retry_later(grpc::StatusCode::UNAVAILABLE, r.message);
    }
    ++ctx_.stats.grpc_export_requests;
    std::string reply = encode_export_response(call.sig, body_format::protobuf, r.rejected, r.message);
    grpc::Slice slice(reply);
    *call.response = grpc::ByteBuffer(&slice, 1);
    return grpc::Status::OK;
  }

  server& http_;
  grpc_options options_;
  route_context ctx_;
  trace_service traces_;
  logs_service logs_;
  metrics_service metrics_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<grpc_call> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace detail

grpc_receiver::grpc_receiver(server& http, grpc_options options)
    : impl_(std::make_unique<detail::grpc_receiver_impl>(http, std::move(options))) {}

grpc_receiver::~grpc_receiver() = default;

bool grpc_receiver::start(std::string& error) {
  return impl_->start(error);
}

void grpc_receiver::stop() {
  impl_->stop();
}

int grpc_receiver::port() const {
  return impl_->port();
}

}  // namespace logfire::backend
