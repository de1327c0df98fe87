// cpp-httplib runs pre-routing, the handler and post-routing of one request on one thread of
// its pool. The integration relies on it: the SERVER span is the thread's current span while
// the handler runs. Under concurrent clients, every handler's log nests under its own
// request's span, never a neighbour's, and the three stages report the same thread.
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "httplib/httplib_test_support.hpp"
#include "logfire/httplib.hpp"

namespace {

using namespace httplib_test;

TEST(server_threads, each_request_is_one_thread_and_its_span_is_current_in_the_handler) {
  constexpr int k_clients = 8;
  constexpr int k_requests = 40;
  auto mem = std::make_shared<logfire::memory_exporter>();
  auto lf = logfire::configure(quiet_options(mem));
  ASSERT_TRUE(lf) << lf.error();

  struct stages {
    std::thread::id pre, handler, post;
  };
  std::mutex mu;
  std::map<std::string, stages> seen;
  std::atomic<int> mismatched_current{0};

  running_server srv;
  auto routes = logfire::instrument_httplib(srv.server());
  routes.set_pre_routing_handler([&](const httplib::Request& req, httplib::Response&) {
    std::lock_guard lock(mu);
    seen[req.get_header_value("X-Request")].pre = std::this_thread::get_id();
    return httplib::Server::HandlerResponse::Unhandled;
  });
  routes.set_post_routing_handler([&](const httplib::Request& req, httplib::Response&) {
    std::lock_guard lock(mu);
    seen[req.get_header_value("X-Request")].post = std::this_thread::get_id();
  });
  routes.get(R"(/work/(\d+))",
             [&](const httplib::Request& req, httplib::Response& res) {
               {
                 std::lock_guard lock(mu);
                 seen[req.get_header_value("X-Request")].handler = std::this_thread::get_id();
               }
               if (!logfire::current_span_context().valid()) ++mismatched_current;
               std::this_thread::yield();  // let the other workers interleave
               logfire::info("handled {request}", {{"request", req.get_header_value("X-Request")}});
               res.set_content("done", "text/plain");
             },
             "/work/{n}");
  ASSERT_TRUE(srv.start());

  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int c = 0; c < k_clients; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client cli("127.0.0.1", srv.port());
      for (int i = 0; i < k_requests; ++i) {
        const std::string id = std::to_string(c) + "-" + std::to_string(i);
        auto res = cli.Get("/work/" + std::to_string(i), {{"X-Request", id}});
        if (res && res->status == 200) ++ok;
      }
    });
  }
  for (auto& t : clients) t.join();
  ASSERT_EQ(ok.load(), k_clients * k_requests);
  ASSERT_TRUE(logfire::force_flush());

  {
    std::lock_guard lock(mu);
    ASSERT_EQ(seen.size(), static_cast<std::size_t>(k_clients * k_requests));
    for (const auto& [id, s] : seen) {
      EXPECT_EQ(s.pre, s.handler) << id;
      EXPECT_EQ(s.handler, s.post) << id;
    }
  }
  EXPECT_EQ(mismatched_current.load(), 0);

  const auto recs = mem->records();
  const auto servers = of_kind(recs, logfire::span_kind::server);
  const auto handled = logs(recs);
  ASSERT_EQ(servers.size(), static_cast<std::size_t>(k_clients * k_requests));
  ASSERT_EQ(handled.size(), servers.size());
  std::map<std::uint64_t, const logfire::stored_record*> by_span;
  for (const auto& s : servers) by_span[s.context.span.value] = &s;
  std::set<std::uint64_t> parents;
  for (const auto& l : handled) {
    auto it = by_span.find(l.parent.value);
    ASSERT_NE(it, by_span.end()) << l.message;
    // Its own request's span: the path the log's request asked for.
    const std::string id = l.string_attr("request");
    EXPECT_EQ(it->second->string_attr("url.path"), "/work/" + id.substr(id.find('-') + 1)) << id;
    EXPECT_EQ(l.context.trace, it->second->context.trace);
    parents.insert(l.parent.value);
  }
  EXPECT_EQ(parents.size(), servers.size());  // one log per span, none shared
  const auto st = logfire::stats();
  EXPECT_EQ(st.produced, st.exported + st.dropped_total());
  EXPECT_EQ(st.dropped_total(), 0u);
}

}  // namespace
