// gRPC calls through the client and server interceptors, with a real server and client on
// 127.0.0.1: one CLIENT and one SERVER span per call, named package.Service/Method, with the
// rpc.* attributes and the trace context in the metadata; statuses mapped to levels as
// OpenTelemetry's gRPC conventions say; unary and streaming calls; callback services.
#include "grpc/grpc_test_support.hpp"
#include "support/otlp_receiver.hpp"

namespace {

using namespace grpc_test;

struct calls : ::testing::Test {
  std::shared_ptr<logfire::memory_exporter> mem = std::make_shared<logfire::memory_exporter>();
  logfire::setup lf;
  sync_shop shop;

  void SetUp() override {
    lf = logfire::configure(httplib_test::quiet_options(mem));
    ASSERT_TRUE(lf) << lf.error();
  }
  std::vector<logfire::stored_record> records() {
    EXPECT_TRUE(logfire::force_flush());
    return mem->records();
  }
};

TEST_F(calls, a_unary_call_is_a_client_and_a_server_span_joined_by_the_metadata) {
  running_grpc_server server(&shop);
  ASSERT_TRUE(server.ok());
  auto stub = instrumented_stub(server.target());
  logfire::span_context caller;
  OrderReply reply;
  {
    logfire::span s("checkout");
    caller = s.context();
    grpc::ClientContext ctx;
    OrderRequest req;
    req.set_id("A-1");
    ASSERT_TRUE(stub->GetOrder(&ctx, req, &reply).ok());
  }
  const auto recs = records();
  const auto clients = of_kind(recs, logfire::span_kind::client);
  const auto servers = of_kind(recs, logfire::span_kind::server);
  ASSERT_EQ(clients.size(), 1u);
  ASSERT_EQ(servers.size(), 1u);
  const auto& c = clients[0];
  const auto& s = servers[0];

  EXPECT_EQ(c.name, "logfire.test.v1.Shop/GetOrder");
  EXPECT_EQ(c.message, "logfire.test.v1.Shop/GetOrder");
  EXPECT_EQ(c.string_attr("rpc.system"), "grpc");
  EXPECT_EQ(c.string_attr("rpc.service"), "logfire.test.v1.Shop");
  EXPECT_EQ(c.string_attr("rpc.method"), "GetOrder");
  EXPECT_EQ(c.string_attr("server.address"), "127.0.0.1");
  EXPECT_EQ(int_attr(c, "server.port"), server.port());
  EXPECT_EQ(c.string_attr("network.peer.address"), "127.0.0.1");
  EXPECT_EQ(int_attr(c, "network.peer.port"), server.port());
  EXPECT_EQ(int_attr(c, "rpc.grpc.status_code"), 0);
  EXPECT_EQ(c.string_attr("rpc.response.status_code"), "OK");
  EXPECT_EQ(c.status, logfire::status_code::unset);
  EXPECT_EQ(c.context.trace, caller.trace);
  EXPECT_EQ(c.parent, caller.span);

  EXPECT_EQ(s.name, "logfire.test.v1.Shop/GetOrder");
  EXPECT_EQ(s.string_attr("rpc.system"), "grpc");
  EXPECT_EQ(s.string_attr("rpc.method"), "GetOrder");
  EXPECT_EQ(s.string_attr("server.address"), "127.0.0.1");
  EXPECT_EQ(int_attr(s, "server.port"), server.port());
  EXPECT_EQ(s.string_attr("client.address"), "127.0.0.1");
  EXPECT_GT(int_attr(s, "client.port"), 0);
  EXPECT_EQ(int_attr(s, "rpc.grpc.status_code"), 0);
  // The server continued the caller's trace from the metadata the client span wrote.
  EXPECT_EQ(reply.traceparent(), traceparent_of(c));
  EXPECT_EQ(s.context.trace, caller.trace);
  EXPECT_EQ(s.parent, c.context.span);
  EXPECT_TRUE(s.parent_is_remote);
  // The synchronous handler's log nests under the server span.
  const auto logs = httplib_test::logs(recs);
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_EQ(logs[0].parent, s.context.span);
  EXPECT_EQ(logs[0].message, "handling order A-1");
}

TEST_F(calls, statuses_map_to_levels_as_the_grpc_conventions_say) {
  running_grpc_server server(&shop);
  ASSERT_TRUE(server.ok());
  auto stub = instrumented_stub(server.target());
  for (int code : {5 /* NOT_FOUND */, 3 /* INVALID_ARGUMENT */, 13 /* INTERNAL */, 14 /* UNAVAILABLE */}) {
    grpc::ClientContext ctx;
    OrderRequest req;
    req.set_id(std::to_string(code));
    req.set_fail_with(code);
    OrderReply reply;
    EXPECT_EQ(static_cast<int>(stub->GetOrder(&ctx, req, &reply).error_code()), code);
  }
  {
    grpc::ClientContext ctx;
    OrderReply reply;
    EXPECT_EQ(stub->NotThere(&ctx, OrderRequest(), &reply).error_code(), grpc::StatusCode::UNIMPLEMENTED);
  }
  const auto recs = records();
  const auto clients = of_kind(recs, logfire::span_kind::client);
  const auto servers = of_kind(recs, logfire::span_kind::server);
  ASSERT_EQ(clients.size(), 5u);
  ASSERT_EQ(servers.size(), 5u);
  const std::map<int, std::string> names = {
      {5, "NOT_FOUND"}, {3, "INVALID_ARGUMENT"}, {13, "INTERNAL"}, {14, "UNAVAILABLE"}, {12, "UNIMPLEMENTED"}};
  for (const auto& c : clients) {  // every failed call is the client's error
    const auto code = int_attr(c, "rpc.grpc.status_code");
    ASSERT_TRUE(names.contains(static_cast<int>(code))) << code;
    EXPECT_EQ(c.status, logfire::status_code::error) << code;
    EXPECT_EQ(c.lvl, logfire::level::error) << code;
    EXPECT_EQ(c.string_attr("error.type"), names.at(static_cast<int>(code)));
    EXPECT_EQ(c.string_attr("rpc.response.status_code"), names.at(static_cast<int>(code)));
  }
  for (const auto& s : servers) {  // the server's own failures are errors, its callers' warnings
    const auto code = int_attr(s, "rpc.grpc.status_code");
    const bool server_fault = code == 13 || code == 14 || code == 12;
    EXPECT_EQ(s.status, server_fault ? logfire::status_code::error : logfire::status_code::unset) << code;
    EXPECT_EQ(s.lvl, server_fault ? logfire::level::error : logfire::level::warn) << code;
    EXPECT_EQ(s.find("error.type") != nullptr, server_fault) << code;
    if (server_fault && code != 12) {
      EXPECT_EQ(s.status_message, "failed on purpose");
    }
  }
}

TEST_F(calls, a_deadline_exceeded_on_the_client_is_its_error) {
  running_grpc_server server(&shop);
  ASSERT_TRUE(server.ok());
  auto stub = instrumented_stub(server.target());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 50ms);
  OrderRequest req;
  req.set_sleep_ms(400);
  OrderReply reply;
  EXPECT_EQ(stub->GetOrder(&ctx, req, &reply).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  std::this_thread::sleep_for(500ms);  // the handler finishes; its span ends too
  const auto clients = of_kind(records(), logfire::span_kind::client);
  ASSERT_EQ(clients.size(), 1u);
  EXPECT_EQ(clients[0].string_attr("error.type"), "DEADLINE_EXCEEDED");
  EXPECT_EQ(clients[0].status, logfire::status_code::error);
}

TEST_F(calls, streaming_calls_are_one_span_each_with_a_message_event_per_message) {
  running_grpc_server server(&shop, {.message_events = true});
  ASSERT_TRUE(server.ok());
  auto stub = instrumented_stub(server.target(), /*message_events=*/true);
  {  // server streaming
    grpc::ClientContext ctx;
    OrderRequest req;
    req.set_id("L");
    req.set_count(3);
    auto reader = stub->ListOrders(&ctx, req);
    OrderReply r;
    int n = 0;
    while (reader->Read(&r)) ++n;
    EXPECT_TRUE(reader->Finish().ok());
    EXPECT_EQ(n, 3);
  }
  {  // client streaming
    grpc::ClientContext ctx;
    OrderReply reply;
    auto writer = stub->UploadOrders(&ctx, &reply);
    for (int i = 0; i < 4; ++i) writer->Write(OrderRequest());
    writer->WritesDone();
    EXPECT_TRUE(writer->Finish().ok());
    EXPECT_EQ(reply.note(), "4");
  }
  {  // bidirectional
    grpc::ClientContext ctx;
    auto stream = stub->Chat(&ctx);
    OrderReply r;
    for (int i = 0; i < 2; ++i) {
      OrderRequest q;
      q.set_id(std::to_string(i));
      stream->Write(q);
      ASSERT_TRUE(stream->Read(&r));
    }
    stream->WritesDone();
    EXPECT_TRUE(stream->Finish().ok());
  }
  const auto recs = records();
  auto count = [](const logfire::stored_record& r, std::string_view type) {
    std::size_t n = 0;
    for (const auto& e : r.events)
      if (e.name == "rpc.message" && e.find("rpc.message.type") && *e.find("rpc.message.type")->string() == type) ++n;
    return n;
  };
  std::map<std::string, std::pair<std::size_t, std::size_t>> client_msgs, server_msgs;  // method -> sent, received
  for (const auto& r : of_kind(recs, logfire::span_kind::client))
    client_msgs[r.string_attr("rpc.method")] = {count(r, "SENT"), count(r, "RECEIVED")};
  for (const auto& r : of_kind(recs, logfire::span_kind::server))
    server_msgs[r.string_attr("rpc.method")] = {count(r, "SENT"), count(r, "RECEIVED")};
  ASSERT_EQ(client_msgs.size(), 3u);
  ASSERT_EQ(server_msgs.size(), 3u);
  EXPECT_EQ(client_msgs["ListOrders"], std::make_pair(std::size_t{1}, std::size_t{3}));
  EXPECT_EQ(server_msgs["ListOrders"], std::make_pair(std::size_t{3}, std::size_t{1}));
  EXPECT_EQ(client_msgs["UploadOrders"], std::make_pair(std::size_t{4}, std::size_t{1}));
  EXPECT_EQ(server_msgs["UploadOrders"], std::make_pair(std::size_t{1}, std::size_t{4}));
  EXPECT_EQ(client_msgs["Chat"], std::make_pair(std::size_t{2}, std::size_t{2}));
  EXPECT_EQ(server_msgs["Chat"], std::make_pair(std::size_t{2}, std::size_t{2}));
}

TEST_F(calls, a_callback_service_gets_its_context_from_grpc_server_context) {
  callback_shop cb;
  running_grpc_server server(&cb);  // handlers = sync by default: callback services are recognized
  ASSERT_TRUE(server.ok());
  auto stub = instrumented_stub(server.target());
  grpc::ClientContext ctx;
  OrderRequest req;
  req.set_id("CB-1");
  OrderReply reply;
  ASSERT_TRUE(stub->GetOrder(&ctx, req, &reply).ok());
  const auto recs = records();
  const auto servers = of_kind(recs, logfire::span_kind::server);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_FALSE(cb.seen_current.valid());  // never current on gRPC's threads
  const auto logs = httplib_test::logs(recs);
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_EQ(logs[0].parent, servers[0].context.span);
  EXPECT_EQ(logs[0].context.trace, servers[0].context.trace);
}

TEST_F(calls, an_uninstrumented_client_still_gets_a_server_span_as_a_root) {
  running_grpc_server server(&shop);
  ASSERT_TRUE(server.ok());
  auto stub = plain_stub(server.target());
  grpc::ClientContext ctx;
  OrderReply reply;
  ASSERT_TRUE(stub->GetOrder(&ctx, OrderRequest(), &reply).ok());
  EXPECT_EQ(reply.traceparent(), "");
  const auto servers = of_kind(records(), logfire::span_kind::server);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_FALSE(servers[0].parent.valid());
}

// Field by field as a backend receives them.
TEST(calls_otlp, client_and_server_spans_on_the_wire) {
  logfire::test::otlp_receiver rx;
  ASSERT_TRUE(rx.start());
  logfire::options o;
  o.service_name = "grpc-test";
  o.console.enabled = false;
  o.read_environment = false;
  o.send_to_logfire = logfire::send_to_logfire::no;
  o.otlp.endpoint = rx.endpoint();
  o.otlp.spool = false;
  auto lf = logfire::configure(std::move(o));
  ASSERT_TRUE(lf) << lf.error();
  sync_shop shop;
  running_grpc_server server(&shop);
  ASSERT_TRUE(server.ok());
  auto stub = instrumented_stub(server.target());
  grpc::ClientContext ctx;
  OrderRequest req;
  req.set_fail_with(5);
  OrderReply reply;
  EXPECT_EQ(stub->GetOrder(&ctx, req, &reply).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(logfire::force_flush());
  ASSERT_TRUE(rx.wait_for_spans(3, std::chrono::seconds(20)));  // client, server, handler's log
  namespace otlp = logfire::test::otlp;
  const otlp::span* client = nullptr;
  const otlp::span* srv = nullptr;
  const auto spans = rx.spans();
  for (const auto& sp : spans) {
    if (sp.kind() == otlp::span::SPAN_KIND_CLIENT) client = &sp;
    if (sp.kind() == otlp::span::SPAN_KIND_SERVER) srv = &sp;
  }
  ASSERT_TRUE(client && srv);
  auto str = [](const otlp::span& sp, const char* k) {
    const auto* v = logfire::test::find_attribute(sp, k);
    return v ? v->string_value() : std::string("<missing>");
  };
  auto num = [](const otlp::span& sp, const char* k) {
    const auto* v = logfire::test::find_attribute(sp, k);
    return v ? v->int_value() : -1;
  };
  EXPECT_EQ(client->name(), "logfire.test.v1.Shop/GetOrder");
  EXPECT_EQ(srv->name(), "logfire.test.v1.Shop/GetOrder");
  EXPECT_EQ(str(*client, "rpc.system"), "grpc");
  EXPECT_EQ(str(*client, "rpc.service"), "logfire.test.v1.Shop");
  EXPECT_EQ(num(*client, "rpc.grpc.status_code"), 5);
  EXPECT_EQ(str(*client, "error.type"), "NOT_FOUND");
  EXPECT_EQ(client->status().code(), 2);  // ERROR
  EXPECT_EQ(client->status().message(), "failed on purpose");
  EXPECT_EQ(num(*client, "logfire.level_num"), 17);
  EXPECT_EQ(num(*srv, "rpc.grpc.status_code"), 5);
  EXPECT_EQ(str(*srv, "rpc.response.status_code"), "NOT_FOUND");
  EXPECT_EQ(srv->status().code(), 0);  // the caller's error, not the server's
  EXPECT_EQ(num(*srv, "logfire.level_num"), 13);
  EXPECT_EQ(srv->trace_id(), client->trace_id());
  EXPECT_EQ(srv->parent_span_id(), client->span_id());
  EXPECT_EQ(srv->flags() & 0x300u, 0x300u);  // remote parent
}

}  // namespace
