// gRPC into Logfire: an inventory service and its client in one process, both instrumented. The
// client's calls are CLIENT spans under the caller's span; the server continues their trace from
// the metadata (its own client is trusted; a third party's context would follow the
// distributed_tracing setting, the Cloud Run default included) in SERVER spans named
// "inventory.v1.Inventory/Reserve", with the handler's logs nested under them.
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <map>
#include <mutex>
#include <string>

#include "inventory.grpc.pb.h"
#include "logfire/config.hpp"
#include "logfire/grpc.hpp"
#include "logfire/stats.hpp"

namespace {

class inventory_service final : public inventory::v1::Inventory::Service {
 public:
  grpc::Status Reserve(grpc::ServerContext*, const inventory::v1::ReserveRequest* req,
                       inventory::v1::ReserveReply* reply) override {
    std::lock_guard lock(mu_);
    int& left = stock_[req->sku()];
    logfire::info("reserving {quantity} of {sku}, {left} left",
                  {{"quantity", req->quantity()}, {"sku", req->sku()}, {"left", left}});
    if (req->quantity() > left) return {grpc::StatusCode::FAILED_PRECONDITION, "not enough stock"};
    left -= req->quantity();
    reply->set_left(left);
    return grpc::Status::OK;
  }
  grpc::Status Watch(grpc::ServerContext*, const inventory::v1::WatchRequest* req,
                     grpc::ServerWriter<inventory::v1::StockLevel>* out) override {
    for (int i = 0; i < 3; ++i) {
      inventory::v1::StockLevel level;
      {
        std::lock_guard lock(mu_);
        level.set_left(stock_[req->sku()]);
      }
      out->Write(level);
    }
    return grpc::Status::OK;
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> stock_ = {{"A-7", 5}};
};

}  // namespace

int main() {
  auto lf = logfire::configure({.service_name = "inventory"});
  if (!lf) {
    std::fprintf(stderr, "configure failed: %s\n", lf.error().c_str());
    return 1;
  }
  inventory_service service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  // Our own client calls these methods: continue its traces whatever distributed_tracing says.
  logfire::instrument_grpc(builder, {.trusted_methods = {"inventory.v1.Inventory/*"}, .message_events = true});
  auto server = builder.BuildAndStart();
  if (!server) return 1;

  auto stub = inventory::v1::Inventory::NewStub(
      logfire::grpc_channel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  {
    logfire::span order("order {id}", {{"id", 1001}});
    for (int quantity : {2, 4}) {  // the second fails: FAILED_PRECONDITION, a warning on the server
      grpc::ClientContext ctx;
      inventory::v1::ReserveRequest req;
      req.set_sku("A-7");
      req.set_quantity(quantity);
      inventory::v1::ReserveReply reply;
      const grpc::Status st = stub->Reserve(&ctx, req, &reply);
      std::printf("reserve %d: %s\n", quantity, st.ok() ? "ok" : st.error_message().c_str());
    }
    grpc::ClientContext ctx;
    inventory::v1::WatchRequest req;
    req.set_sku("A-7");
    auto reader = stub->Watch(&ctx, req);
    inventory::v1::StockLevel level;
    while (reader->Read(&level)) std::printf("stock of A-7: %d\n", level.left());
    (void)reader->Finish();
  }
  server->Shutdown();
  logfire::force_flush();
  std::printf("%s\n", logfire::stats().summary().c_str());
  return 0;
}
