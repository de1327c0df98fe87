// Uses logfire::grpc from the installed package: a generic call to a port nothing listens on.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <future>

#include "consumer.hpp"
#include "logfire/grpc.hpp"

int main() {
  auto lf = consumer::configure();
  grpc::GenericStub stub(logfire::grpc_channel("127.0.0.1:1", grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);  // a default ByteBuffer is not a valid message
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/consumer.v1.Probe/Ping", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) { done.set_value(std::move(s)); });
  const grpc::Status st = done.get_future().get();
  return !st.ok() ? consumer::expect("grpc", logfire::span_kind::client, "consumer.v1.Probe/Ping") : 1;
}
