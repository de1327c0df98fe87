#include "server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "backend/text.hpp"

namespace logfire::backend::http {
namespace {

using clock = std::chrono::steady_clock;

// After an answer that leaves request bytes unread (a refused body), the connection is
// half-closed and what the client still sends is read and dropped for a while, so that it reads
// the answer instead of a reset (RFC 9112 9.6, "lingering close").
constexpr auto kLinger = std::chrono::milliseconds(2000);
constexpr std::size_t kLingerMaxBytes = 64u << 20;
// Connections refused over max_connections may linger too, up to this many at once.
constexpr std::size_t kMaxRefusedLingering = 64;
// How often deadlines are checked: a timeout fires up to this late.
constexpr auto kTimerPeriod = std::chrono::milliseconds(100);
// How long stop() waits for requests being handled.
constexpr auto kStopDrain = std::chrono::seconds(30);
constexpr std::size_t kReadChunk = 256 * 1024;

std::string http_date() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

bool safe_header_text(std::string_view s) {
  return s.find_first_of("\r\n") == std::string_view::npos && !s.empty();
}

// The response head and, unless `head_only`, its body. A streamed body has no length: it ends
// when the connection closes, so `close` is then always true.
std::string serialize(const response& res, bool head_only, bool close, bool keep_alive_10) {
  int status = res.status;
  std::string out;
  out.reserve(256 + (head_only ? 0 : res.body.size()));
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\nDate: ";
  out += http_date();
  out += "\r\n";
  if (!res.content_type.empty() && safe_header_text(res.content_type)) {
    out += "Content-Type: ";
    out += res.content_type;
    out += "\r\n";
  }
  if (!res.stream) {
    out += "Content-Length: ";
    out += std::to_string(res.body.size());
    out += "\r\n";
  }
  for (const auto& [name, value] : res.headers) {
    // Names and values come from the application; never let one split the response.
    if (!safe_header_text(name) || value.find_first_of("\r\n") != std::string::npos) continue;
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (close) {
    out += "Connection: close\r\n";
  } else if (keep_alive_10) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  if (!head_only) out += res.body;
  return out;
}

// streaming: a body_stream's bytes are sent as they come; the connection closes after it ends.
enum class phase : std::uint8_t { head, body, dispatched, writing, streaming, lingering };

struct connection {
  int fd = -1;
  std::uint64_t id = 0;
  phase state = phase::head;
  std::string in;  // bytes read and not yet consumed (the head, or pipelined data after a request)
  head_parser parser;
  std::optional<chunked_decoder> chunked;
  request req;
  std::uint64_t max_body = 0;
  std::string out;  // bytes to send
  std::size_t out_pos = 0;
  bool close_after_write = false;
  bool linger_after_write = false;
  bool head_started = false;
  bool refused_at_accept = false;
  clock::time_point deadline;
  std::size_t lingered = 0;
  std::uint32_t events = 0;             // current epoll interest
  bool registered = false;              // added to epoll
  bool dead = false;                    // closed; erased from the table at the end of the loop iteration
  bool parse_queued = false;            // buffered bytes wait for advance_head (pipelining)
  std::size_t body_bytes = 0;           // of the request being answered (for on_response)
  std::shared_ptr<body_stream> stream;  // phase::streaming
  bool stream_ended = false;            // everything of the stream is in `out`

  explicit connection(const head_limits& limits) : parser(limits) {}
};

struct job {
  std::uint64_t connection_id;
  request req;
};

struct completion {
  std::uint64_t connection_id;
  response res;
  request_head head;  // back from the worker: the answer's framing depends on it
  std::size_t body_bytes = 0;
};

}  // namespace

struct server::impl {
  impl(server& owner, server_limits l, handlers h, memory_budget& b)
      : self(owner), limits(std::move(l)), on(std::move(h)), budget(b) {}

  server& self;
  server_limits limits;
  handlers on;
  memory_budget& budget;

  int listen_fd = -1;
  int epoll_fd = -1;
  int wake_fd = -1;
  std::atomic<bool> stopping{false};
  std::uint64_t next_id = 1;
  // I/O thread only. A closed connection stays here, marked dead, until reap() at the end of
  // the loop iteration, so no function ever holds a reference to a destroyed connection.
  std::unordered_map<std::uint64_t, std::unique_ptr<connection>> connections;
  std::size_t live = 0;               // connections not dead and not refused
  std::size_t refused_lingering = 0;  // refused at accept, still draining
  std::vector<std::uint64_t> parse_queue;
  std::vector<std::uint64_t> streams;  // connections in phase::streaming
  bool accept_paused = false;
  clock::time_point accept_resume{};

  // Worker queue (I/O thread -> workers) and completions (workers -> I/O thread).
  std::mutex jobs_mu;
  std::condition_variable jobs_cv;
  std::deque<job> jobs;
  bool workers_stop = false;
  std::vector<std::thread> workers;
  std::mutex done_mu;
  std::deque<completion> done;

  std::string read_buffer = std::string(kReadChunk, '\0');

  ~impl() {
    for (int fd : {listen_fd, epoll_fd, wake_fd}) {
      if (fd >= 0) ::close(fd);
    }
  }

  // ---- workers -------------------------------------------------------------------------------

  void start_workers() {
    int n = std::max(1, limits.workers);
    for (int i = 0; i < n; ++i) workers.emplace_back([this] { worker_loop(); });
  }

  // Worker thread: runs handlers until told to stop, after the queue is empty.
  void worker_loop() {
    while (true) {
      job j;
      {
        std::unique_lock lk(jobs_mu);
        jobs_cv.wait(lk, [&] { return workers_stop || !jobs.empty(); });
        if (jobs.empty()) return;
        j = std::move(jobs.front());
        jobs.pop_front();
      }
      response res;
      try {
        res = on.on_request(j.req);
      } catch (const std::exception& e) {
        res = text_response(500, std::string("internal error: ") + e.what());
      } catch (...) {
        res = text_response(500, "internal error");
      }
      std::size_t body_bytes = j.req.body.size();
      j.req.body = std::string();  // the body's memory goes back before the answer leaves
      j.req.body_memory.release();
      {
        std::lock_guard lk(done_mu);
        done.push_back({j.connection_id, std::move(res), std::move(j.req.head), body_bytes});
      }
      wake();
    }
  }

  void stop_workers() {
    {
      std::lock_guard lk(jobs_mu);
      workers_stop = true;
    }
    jobs_cv.notify_all();
    for (auto& t : workers) t.join();
    workers.clear();
  }

  void wake() {
    std::uint64_t one = 1;
    ssize_t ignored = ::write(wake_fd, &one, sizeof one);
    (void)ignored;
  }

  // ---- connection table ----------------------------------------------------------------------

  void watch(connection& c, std::uint32_t events) {
    if (c.dead || (c.registered && c.events == events)) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = c.id;
    epoll_ctl(epoll_fd, c.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c.fd, &ev);
    c.registered = true;
    c.events = events;
  }

  void kill(connection& c) {
    if (c.dead) return;
    c.dead = true;
    if (c.refused_at_accept) {
      --refused_lingering;
    } else {
      --live;
    }
    if (c.registered) epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    if (c.stream) c.stream->detach();  // its producer sees closed(); its writes fail from now on
    c.stream.reset();
    c.fd = -1;
    c.req = request{};  // gives its memory back now
    c.in = std::string();
    c.out = std::string();
  }

  void reap() {
    for (auto it = connections.begin(); it != connections.end();) {
      it = it->second->dead ? connections.erase(it) : std::next(it);
    }
    self.open_.store(live + refused_lingering, std::memory_order_relaxed);
  }

  connection* find(std::uint64_t id) {
    auto it = connections.find(id);
    return it == connections.end() || it->second->dead ? nullptr : it->second.get();
  }

  // ---- accepting -----------------------------------------------------------------------------

  void accept_all() {
    while (!accept_paused) {
      int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          // Out of descriptors: stop polling the listener for a moment instead of spinning on
          // it; waiting clients stay in the backlog.
          epoll_ctl(epoll_fd, EPOLL_CTL_DEL, listen_fd, nullptr);
          accept_paused = true;
          accept_resume = clock::now() + std::chrono::milliseconds(100);
        }
        return;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto owned = std::make_unique<connection>(limits.head);
      connection& c = *owned;
      c.fd = fd;
      c.id = next_id++;
      connections.emplace(c.id, std::move(owned));
      bool over = live >= limits.max_connections || stopping.load();
      if (!over) {
        ++live;
        self.counters_.accepted.fetch_add(1, std::memory_order_relaxed);
        c.deadline = clock::now() + limits.idle_timeout;
        watch(c, EPOLLIN | EPOLLRDHUP);
        continue;
      }
      // Over the limit: answer 503 and close. A few refused connections linger so that their
      // clients read the answer; beyond that they are closed after one try to send it.
      self.counters_.refused_connections.fetch_add(1, std::memory_order_relaxed);
      c.refused_at_accept = true;
      ++refused_lingering;
      refuse(c, stopping.load() ? refusal::shutting_down : refusal::too_many_connections, "");
      if (!c.dead && refused_lingering > kMaxRefusedLingering) kill(c);
    }
  }

  // ---- reading -------------------------------------------------------------------------------

  void on_readable(connection& c) {
    while (!c.dead && c.state != phase::dispatched && c.state != phase::writing) {
      ssize_t n = ::recv(c.fd, read_buffer.data(), read_buffer.size(), 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) kill(c);
        return;
      }
      if (n == 0) {
        // The client closed its side before finishing a request: it got no answer and retries.
        kill(c);
        return;
      }
      std::string_view data(read_buffer.data(), static_cast<std::size_t>(n));
      if (c.state == phase::lingering || c.state == phase::streaming) {
        // Nothing more is read as a request: dropped, up to a bound.
        c.lingered += data.size();
        if (c.lingered > kLingerMaxBytes) kill(c);
      } else if (c.state == phase::head) {
        c.in.append(data);
        advance_head(c);
      } else {
        advance_body(c, data);
      }
    }
  }

  // Parses the head buffered in c.in; answers it, starts its body or dispatches it.
  void advance_head(connection& c) {
    parse_state st = c.parser.feed(c.in);
    if (!c.head_started && c.parser.started()) {
      c.head_started = true;
      c.deadline = clock::now() + limits.header_timeout;
    }
    if (st == parse_state::incomplete) return;
    if (st == parse_state::failed) return refuse(c, c.parser.error(), c.parser.error_detail());
    std::string rest = c.in.substr(c.parser.consumed());
    c.in.clear();
    c.req = request{};
    c.req.head = std::move(c.parser.head());
    if (stopping.load()) return refuse(c, refusal::shutting_down, "");
    head_decision d;
    try {
      d = on.on_head(c.req.head);
    } catch (...) {
      d.reply = text_response(500, "internal error");
    }
    bool has_body = c.req.head.framing != body_framing::none;
    if (!has_body) c.in = std::move(rest);  // pipelined: the next request's first bytes
    if (d.reply) {
      // Answered from the head alone; an unread body makes the connection unusable.
      return respond(c, std::move(*d.reply), has_body);
    }
    if (!has_body) return dispatch(c);
    c.max_body = d.max_body ? d.max_body : limits.max_body_bytes;
    if (c.req.head.framing == body_framing::length) {
      if (c.req.head.content_length > c.max_body) return refuse(c, refusal::body_too_large, "");
      auto reservation = budget.reserve(static_cast<std::size_t>(c.req.head.content_length));
      if (!reservation) return refuse(c, refusal::memory_exhausted, "");
      c.req.body_memory = std::move(reservation);
      c.req.body.reserve(static_cast<std::size_t>(c.req.head.content_length));
    } else {
      c.chunked.emplace(c.max_body, limits.head);
      c.req.body_memory = budget.reserve(0);
    }
    c.state = phase::body;
    c.deadline = clock::now() + limits.body_timeout;
    if (c.req.head.expect_continue) {
      c.out += "HTTP/1.1 100 Continue\r\n\r\n";
      flush(c);
      if (c.dead) return;
    }
    if (!rest.empty()) advance_body(c, rest);
  }

  // Adds body bytes; dispatches the request when its body is complete.
  void advance_body(connection& c, std::string_view data) {
    if (c.req.head.framing == body_framing::length) {
      std::size_t want = static_cast<std::size_t>(c.req.head.content_length) - c.req.body.size();
      std::size_t take = std::min(want, data.size());
      c.req.body.append(data.data(), take);
      if (c.req.body.size() == c.req.head.content_length) {
        c.in.assign(data.substr(take));  // pipelined: the next request's first bytes
        dispatch(c);
      }
      return;
    }
    std::size_t used = c.chunked->feed(data, c.req.body);
    // A chunked body announces no size: its memory is taken as it arrives.
    if (c.req.body_memory.bytes() < c.req.body.size()) {
      std::size_t step = std::max<std::size_t>(c.req.body.size() - c.req.body_memory.bytes(), 64 * 1024);
      if (!c.req.body_memory.grow(step)) return refuse(c, refusal::memory_exhausted, "");
    }
    if (c.chunked->failed()) return refuse(c, c.chunked->error(), c.chunked->error_detail());
    if (c.chunked->done()) {
      c.in.assign(data.substr(used));
      c.chunked.reset();
      dispatch(c);
    }
  }

  void dispatch(connection& c) {
    c.state = phase::dispatched;
    // Nothing is read while the request is handled; a pipelined request waits in the socket.
    watch(c, c.out_pos < c.out.size() ? static_cast<std::uint32_t>(EPOLLOUT) : 0u);
    {
      std::lock_guard lk(jobs_mu);
      jobs.push_back({c.id, std::move(c.req)});
    }
    c.req = request{};
    jobs_cv.notify_one();
  }

  // ---- answering -----------------------------------------------------------------------------

  // A refusal of the HTTP layer in the application's words; the connection closes after it
  // (after a lingering drain, so that the client reads the answer).
  void refuse(connection& c, refusal kind, const std::string& detail) {
    const request_head* head = c.parser.state() == parse_state::complete ? &c.req.head : nullptr;
    response r;
    try {
      r = on.on_refusal(kind, head, detail);
    } catch (...) {
      r = response{};
    }
    r.status = status_of(kind);
    c.req.body = std::string();
    c.req.body_memory.release();
    c.chunked.reset();
    respond(c, std::move(r), true);
  }

  // Queues a response and starts writing it. `unread_input`: request bytes may remain unread,
  // so the connection closes after the response (lingering).
  void respond(connection& c, response r, bool unread_input) {
    bool parsed = c.parser.state() == parse_state::complete;
    bool head_only = parsed && c.req.head.method == "HEAD";
    bool keep = !r.stream && !r.close && !unread_input && !stopping.load() && parsed && c.req.head.keep_alive;
    if (on.on_response && parsed) on.on_response(c.req.head, r.status, std::max(c.body_bytes, c.req.body.size()));
    c.out += serialize(r, head_only, !keep, keep && c.req.head.minor_version == 0);
    c.close_after_write = !keep;
    c.linger_after_write = unread_input;
    c.deadline = clock::now() + limits.write_timeout;
    if (r.stream && !head_only && !unread_input && !stopping.load()) return start_stream(c, std::move(r.stream));
    if (r.stream) r.stream->detach();  // nothing of it will be sent
    c.state = phase::writing;
    flush(c);
  }

  // The head is in c.out: from now on the stream's bytes follow it as they come.
  void start_stream(connection& c, std::shared_ptr<body_stream> stream) {
    c.state = phase::streaming;
    c.stream = std::move(stream);
    c.stream_ended = false;
    c.lingered = 0;
    c.stream->attach([this] { wake(); });
    streams.push_back(c.id);
    pump(c);
  }

  // Moves what a stream has buffered into its connection's output and sends it; closes the
  // connection once the stream has ended and everything is out.
  void pump(connection& c) {
    bool was_empty = c.out_pos == c.out.size();
    bool ended = false;
    if (c.stream->take(c.out, ended) && was_empty) c.deadline = clock::now() + limits.write_timeout;
    c.stream_ended = c.stream_ended || ended;
    flush(c);
  }

  void pump_streams() {
    std::erase_if(streams, [&](std::uint64_t id) {
      connection* c = find(id);
      if (c == nullptr || c->state != phase::streaming) return true;
      pump(*c);
      return c->dead;
    });
  }

  // Writes pending output; continues with the next phase once it is all out.
  void flush(connection& c) {
    // While a body or a stream is under way, the client's side is watched too (more body; a
    // client that leaves).
    bool reading = c.state == phase::body || c.state == phase::streaming;
    while (c.out_pos < c.out.size()) {
      ssize_t n = ::send(c.fd, c.out.data() + c.out_pos, c.out.size() - c.out_pos, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          watch(c, EPOLLOUT | (reading ? static_cast<std::uint32_t>(EPOLLIN | EPOLLRDHUP) : 0u));
          return;
        }
        return kill(c);
      }
      c.out_pos += static_cast<std::size_t>(n);
      // A stream has no end to wait for: its deadline is for progress.
      if (c.state == phase::streaming) c.deadline = clock::now() + limits.write_timeout;
    }
    c.out.clear();
    c.out_pos = 0;
    if (c.state == phase::body) {  // the interim 100 Continue went out: read the body
      watch(c, EPOLLIN | EPOLLRDHUP);
    } else if (c.state == phase::writing) {
      response_written(c);
    } else if (c.state == phase::streaming) {
      if (c.stream_ended) return kill(c);  // the close ends the body
      watch(c, EPOLLIN | EPOLLRDHUP);
    }
  }

  void response_written(connection& c) {
    if (c.close_after_write) {
      if (!c.linger_after_write) return kill(c);
      ::shutdown(c.fd, SHUT_WR);
      c.state = phase::lingering;
      c.deadline = clock::now() + kLinger;
      watch(c, EPOLLIN | EPOLLRDHUP);
      return;
    }
    // Keep-alive: the next request, maybe already buffered (pipelining; parsed from the loop,
    // not from here, so a thousand pipelined requests do not recurse).
    c.state = phase::head;
    c.parser.reset();
    c.head_started = false;
    c.req = request{};
    c.body_bytes = 0;
    c.deadline = clock::now() + limits.idle_timeout;
    watch(c, EPOLLIN | EPOLLRDHUP);
    if (!c.in.empty() && !c.parse_queued) {
      c.parse_queued = true;
      parse_queue.push_back(c.id);
    }
  }

  void run_parse_queue() {
    while (!parse_queue.empty()) {
      std::vector<std::uint64_t> ids;
      ids.swap(parse_queue);
      for (auto id : ids) {
        connection* c = find(id);
        if (c == nullptr) continue;
        c->parse_queued = false;
        if (c->state == phase::head) advance_head(*c);
      }
    }
  }

  void take_completions() {
    std::uint64_t counter = 0;
    ssize_t ignored = ::read(wake_fd, &counter, sizeof counter);
    (void)ignored;
    std::deque<completion> ready;
    {
      std::lock_guard lk(done_mu);
      ready.swap(done);
    }
    for (auto& d : ready) {
      connection* c = find(d.connection_id);
      if (c == nullptr) {  // the client went away meanwhile
        if (d.res.stream) d.res.stream->detach();
        continue;
      }
      c->req.head = std::move(d.head);
      c->body_bytes = d.body_bytes;
      respond(*c, std::move(d.res), false);
    }
    pump_streams();  // the same wake-up also says a stream has bytes
  }

  // ---- deadlines -----------------------------------------------------------------------------

  void check_deadlines() {
    auto now = clock::now();
    if (accept_paused && now >= accept_resume && listen_fd >= 0) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = 0;
      epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev);
      accept_paused = false;
    }
    for (auto& [id, owned] : connections) {
      connection& c = *owned;
      if (c.dead || c.state == phase::dispatched || now < c.deadline) continue;
      switch (c.state) {
        case phase::head:
          if (c.head_started) {
            refuse(c, refusal::header_timeout, "");
          } else {
            self.counters_.idle_closed.fetch_add(1, std::memory_order_relaxed);
            kill(c);
          }
          break;
        case phase::body:
          refuse(c, refusal::body_timeout, "");
          break;
        case phase::writing:
          self.counters_.write_timeouts.fetch_add(1, std::memory_order_relaxed);
          kill(c);
          break;
        case phase::streaming:
          if (c.out_pos == c.out.size()) break;  // nothing waits for the client: no deadline
          self.counters_.write_timeouts.fetch_add(1, std::memory_order_relaxed);
          kill(c);
          break;
        case phase::lingering:
        case phase::dispatched:
          kill(c);
          break;
      }
    }
  }

  [[nodiscard]] bool answering() const {
    for (const auto& [id, c] : connections) {
      if (!c->dead && !c->refused_at_accept && (c->state == phase::dispatched || c->state == phase::writing)) {
        return true;
      }
    }
    return false;
  }

  // ---- the loop ------------------------------------------------------------------------------

  void begin_stop() {
    if (listen_fd >= 0) {
      if (!accept_paused) epoll_ctl(epoll_fd, EPOLL_CTL_DEL, listen_fd, nullptr);
      ::close(listen_fd);
      listen_fd = -1;
    }
    // Requests not yet complete are dropped (their clients got no answer and retry); the ones
    // being handled are answered; streams end here (an event stream's client reconnects).
    for (auto& [id, c] : connections) {
      if (c->state != phase::dispatched && c->state != phase::writing) kill(*c);
    }
  }

  // The I/O thread's loop: each turn handles the ready sockets and completions, parses queued
  // pipelined requests, checks deadlines, and reaps closed connections; after stop() it drains
  // the requests being handled (bounded by kStopDrain). One function, so the order is visible.
  void run() {
    start_workers();
    epoll_event events[256];
    auto next_check = clock::now() + kTimerPeriod;
    bool draining = false;
    clock::time_point drain_until{};
    while (true) {
      if (stopping.load() && !draining) {
        draining = true;
        drain_until = clock::now() + kStopDrain;
        begin_stop();
        reap();
      }
      if (draining && (!answering() || clock::now() >= drain_until)) break;
      int n = epoll_wait(epoll_fd, events, 256, static_cast<int>(kTimerPeriod.count()));
      for (int i = 0; i < n; ++i) {
        std::uint64_t id = events[i].data.u64;
        if (id == 0) {
          if (!stopping.load()) accept_all();
          continue;
        }
        if (id == UINT64_MAX) {
          take_completions();
          continue;
        }
        connection* c = find(id);
        if (c == nullptr) continue;
        std::uint32_t ev = events[i].events;
        if (ev & (EPOLLERR | EPOLLHUP)) {
          kill(*c);  // reset or fully closed: nothing more can be read or written
          continue;
        }
        if (ev & EPOLLOUT) flush(*c);
        if (!c->dead && (ev & (EPOLLIN | EPOLLRDHUP))) on_readable(*c);
      }
      run_parse_queue();
      if (clock::now() >= next_check) {
        check_deadlines();
        next_check = clock::now() + kTimerPeriod;
      }
      reap();
    }
    for (auto& [id, c] : connections) kill(*c);
    reap();
    stop_workers();
    std::lock_guard lk(done_mu);
    for (auto& d : done) {
      if (d.res.stream) d.res.stream->detach();  // never sent: its producer sees closed()
    }
    done.clear();
  }
};

server::server(server_limits limits, handlers h, memory_budget& budget)
    : impl_(std::make_unique<impl>(*this, std::move(limits), std::move(h), budget)) {}

server::~server() {
  stop();
}

bool body_stream::write(std::string_view bytes) {
  std::lock_guard lk(mu_);
  if (ended_ || detached_ || bytes.size() > max_buffered_ - pending_.size()) return false;
  bool was_empty = pending_.empty();
  pending_.append(bytes);
  // Under the lock: detach() clears wake_ before the server that it wakes goes away.
  if (was_empty && wake_) wake_();
  return true;
}

void body_stream::end() {
  std::lock_guard lk(mu_);
  if (ended_) return;
  ended_ = true;
  if (wake_) wake_();
}

bool body_stream::closed() const {
  std::lock_guard lk(mu_);
  return ended_ || detached_;
}

void body_stream::attach(std::function<void()> wake) {
  std::lock_guard lk(mu_);
  if (!detached_) wake_ = std::move(wake);
}

bool body_stream::take(std::string& out, bool& ended) {
  std::lock_guard lk(mu_);
  bool any = !pending_.empty();
  out.append(pending_);
  pending_.clear();
  ended = ended_;
  return any;
}

void body_stream::detach() {
  std::lock_guard lk(mu_);
  detached_ = true;
  wake_ = nullptr;
  pending_ = std::string();
}

response text_response(int status, std::string message) {
  response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(message);
  r.body += '\n';
  return r;
}

namespace {

std::string without_brackets(const std::string& host) {
  return host.size() >= 2 && host.front() == '[' && host.back() == ']' ? host.substr(1, host.size() - 2) : host;
}

// The socket address of an IPv4 or IPv6 literal; false when `host` is neither.
bool socket_address(const std::string& host, int port, sockaddr_storage& addr, socklen_t& len) {
  std::string h = without_brackets(host);
  addr = {};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    len = sizeof(sockaddr_in);
    return true;
  }
  if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

// Why bind() failed, in words that say what to do about it.
std::string bind_failure(int e, const std::string& where, const std::string& host) {
  std::string prefix = "cannot listen on " + where + ": ";
  switch (e) {
    case EADDRINUSE:
      return prefix +
             "the port is already in use (by another `logfire-cpp serve` or a Collector?); choose another "
             "with --port";
    case EACCES:
      return prefix + "permission denied (ports below 1024 need privileges); choose another with --port";
    case EADDRNOTAVAIL:
      return prefix + without_brackets(host) +
             " is not an address of this machine (use 127.0.0.1 or ::1 for this machine only, 0.0.0.0 or :: for "
             "every interface)";
    default:
      return prefix + std::strerror(e);
  }
}

}  // namespace

bool is_ip_address(const std::string& host) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  return socket_address(host, 0, addr, len);
}

bool server::listen(const std::string& host, int port, std::string& error) {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  if (!socket_address(host, port, addr, addr_len)) {
    error = "'" + text::printable(host) + "' is not an IP address (use 127.0.0.1, ::1, 0.0.0.0 or ::)";
    return false;
  }
  std::string h = without_brackets(host);
  std::string where = (addr.ss_family == AF_INET6 ? "[" + h + "]" : h) + ":" + std::to_string(port);
  int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = "cannot listen on " + where + ": " + std::strerror(errno);
    return false;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0 ||
      ::listen(fd, std::max(1, impl_->limits.listen_backlog)) != 0) {
    error = bind_failure(errno, where, host);
    ::close(fd);
    return false;
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  impl_->listen_fd = fd;
  impl_->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  impl_->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (impl_->epoll_fd < 0 || impl_->wake_fd < 0) {
    error = std::string("cannot start the HTTP server: ") + std::strerror(errno);
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;  // the listener; connections are numbered from 1, the wake-up is UINT64_MAX
  epoll_ctl(impl_->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
  ev.data.u64 = UINT64_MAX;
  epoll_ctl(impl_->epoll_fd, EPOLL_CTL_ADD, impl_->wake_fd, &ev);
  return true;
}

void server::run() {
  if (impl_->epoll_fd < 0) return;
  impl_->run();
}

void server::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  if (impl_->wake_fd >= 0) impl_->wake();
}

}  // namespace logfire::backend::http
