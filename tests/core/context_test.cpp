// Context: nesting on one thread, explicit parents, new traces, hand-off to other threads and
// a thread pool with capture_context() + context_scope, out-of-order ends and moved span handles.
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/core_support.hpp"

using namespace core_test;

class context : public memory_sdk {};

TEST_F(context, nesting_on_one_thread) {
  logfire::span_context a_ctx, b_ctx;
  EXPECT_FALSE(logfire::current_span_context().valid());
  {
    logfire::span a("a");
    a_ctx = a.context();
    EXPECT_EQ(logfire::current_span_context(), a_ctx);
    {
      logfire::span b("b");
      b_ctx = b.context();
      EXPECT_EQ(logfire::current_span_context(), b_ctx);
      logfire::info("c");
    }
    EXPECT_EQ(logfire::current_span_context(), a_ctx);
    logfire::info("d");
  }
  EXPECT_FALSE(logfire::current_span_context().valid());
  logfire::info("root log");

  auto recs = flushed();
  ASSERT_EQ(recs.size(), 5u);
  const auto *a = find(recs, "a"), *b = find(recs, "b"), *c = find_log(recs, "c"), *d = find_log(recs, "d");
  const auto* root = find_log(recs, "root log");
  ASSERT_TRUE(a && b && c && d && root);
  EXPECT_FALSE(a->parent.valid());
  EXPECT_EQ(b->parent, a->context.span);
  EXPECT_EQ(c->parent, b->context.span);
  EXPECT_EQ(d->parent, a->context.span);
  for (const auto* r : {b, c, d}) EXPECT_EQ(r->context.trace, a->context.trace);
  EXPECT_EQ(a->depth, 0u);
  EXPECT_EQ(b->depth, 1u);
  EXPECT_EQ(c->depth, 2u);
  EXPECT_EQ(d->depth, 1u);
  EXPECT_FALSE(root->parent.valid());
  EXPECT_NE(root->context.trace, a->context.trace);
  EXPECT_EQ(root->depth, 0u);
  // A parent ends after its children.
  EXPECT_LE(b->end_unix_nano, a->end_unix_nano);
  EXPECT_GE(b->start_unix_nano, a->start_unix_nano);
}

TEST_F(context, explicit_parent) {
  logfire::span_context other;
  {
    logfire::span o("other");
    other = o.context();
  }
  {
    logfire::span cur("current");
    logfire::span child("explicit child", {}, {.parent = other});
    EXPECT_EQ(logfire::current_span_context(), child.context());
    logfire::info("explicit log", {}, {.parent = other});
    logfire::info("child of explicit child");
  }
  auto recs = flushed();
  const auto* child = find(recs, "explicit child");
  const auto* log = find_log(recs, "explicit log");
  const auto* grandchild = find_log(recs, "child of explicit child");
  ASSERT_TRUE(child && log && grandchild);
  EXPECT_EQ(child->parent, other.span);
  EXPECT_EQ(child->context.trace, other.trace);
  EXPECT_EQ(log->parent, other.span);
  EXPECT_EQ(log->context.trace, other.trace);
  EXPECT_EQ(grandchild->parent, child->context.span);
}

TEST_F(context, new_trace) {
  {
    logfire::span outer("outer");
    {
      logfire::span fresh("fresh", {}, {.new_trace = true});
      logfire::info("inside fresh");
    }
    logfire::info("back in outer");
  }
  auto recs = flushed();
  const auto *outer = find(recs, "outer"), *fresh = find(recs, "fresh");
  const auto *inside = find_log(recs, "inside fresh"), *back = find_log(recs, "back in outer");
  ASSERT_TRUE(outer && fresh && inside && back);
  EXPECT_NE(fresh->context.trace, outer->context.trace);
  EXPECT_FALSE(fresh->parent.valid());
  EXPECT_EQ(fresh->depth, 0u);
  EXPECT_EQ(inside->parent, fresh->context.span);
  EXPECT_EQ(inside->context.trace, fresh->context.trace);
  EXPECT_EQ(back->parent, outer->context.span);
}

TEST_F(context, attach_on_another_thread) {
  logfire::span_context parent_ctx;
  {
    logfire::span parent("request");
    parent_ctx = parent.context();
    const logfire::context ctx = logfire::capture_context();
    ASSERT_TRUE(ctx.valid());
    EXPECT_EQ(ctx.span(), parent_ctx);
    std::thread worker([&] {
      EXPECT_FALSE(logfire::current_span_context().valid());
      {
        logfire::context_scope guard(ctx);
        EXPECT_EQ(logfire::current_span_context(), parent_ctx);
        logfire::span work("work");
        logfire::info("working");
      }
      EXPECT_FALSE(logfire::current_span_context().valid());
      logfire::info("after detach");
    });
    worker.join();
  }
  auto recs = flushed();
  const auto *request = find(recs, "request"), *work = find(recs, "work");
  const auto *working = find_log(recs, "working"), *after = find_log(recs, "after detach");
  ASSERT_TRUE(request && work && working && after);
  EXPECT_EQ(work->parent, parent_ctx.span);
  EXPECT_EQ(work->context.trace, parent_ctx.trace);
  EXPECT_EQ(work->depth, 1u);
  EXPECT_EQ(working->parent, work->context.span);
  EXPECT_EQ(working->depth, 2u);
  EXPECT_FALSE(after->parent.valid());
  EXPECT_NE(after->context.trace, parent_ctx.trace);
}

// A small fixed-size pool: tasks run on whichever worker is free.
class thread_pool {
 public:
  explicit thread_pool(int n) {
    for (int i = 0; i < n; ++i) workers_.emplace_back([this] { run(); });
  }
  ~thread_pool() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
  }
  void submit(std::function<void()> task) {
    {
      std::lock_guard lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

TEST_F(context, thread_pool_tasks_attach_to_their_submitter) {
  constexpr int k_requests = 4;
  constexpr int k_tasks_per_request = 10;
  std::vector<logfire::span_context> request_ctx(k_requests);
  {
    thread_pool pool(3);
    std::vector<std::thread> submitters;
    for (int r = 0; r < k_requests; ++r) {
      submitters.emplace_back([&, r] {
        logfire::span request("request {r}", {{"r", r}});
        request_ctx[static_cast<std::size_t>(r)] = request.context();
        int remaining = k_tasks_per_request;
        std::mutex m;
        std::condition_variable cv;
        for (int t = 0; t < k_tasks_per_request; ++t) {
          pool.submit([ctx = logfire::capture_context(), r, t, &m, &cv, &remaining] {
            {
              logfire::context_scope guard(ctx);
              logfire::span task("task {r} {t}", {{"r", r}, {"t", t}});
              logfire::info("step {r} {t}", {{"r", r}, {"t", t}});
            }
            std::lock_guard lock(m);
            if (--remaining == 0) cv.notify_one();
          });
        }
        // The request span stays open until its tasks are done, as a server would.
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return remaining == 0; });
      });
    }
    for (auto& s : submitters) s.join();
  }
  auto recs = flushed();
  ASSERT_EQ(recs.size(), static_cast<std::size_t>(k_requests * (1 + 2 * k_tasks_per_request)));
  int tasks_seen = 0;
  for (const auto& rec : recs) {
    if (rec.name != "task {r} {t}") continue;
    ++tasks_seen;
    const auto r = static_cast<std::size_t>(int_attr(rec, "r"));
    ASSERT_LT(r, request_ctx.size());
    EXPECT_EQ(rec.parent, request_ctx[r].span) << rec.message;
    EXPECT_EQ(rec.context.trace, request_ctx[r].trace) << rec.message;
    EXPECT_EQ(rec.depth, 1u);
    // Its log is its child, not the child of another task that ran on the same worker.
    int logs = 0;
    for (const auto& l : recs) {
      if (l.type != record_type::log || l.parent != rec.context.span) continue;
      ++logs;
      EXPECT_EQ(l.message, "step " + std::to_string(r) + " " + std::to_string(int_attr(rec, "t")));
    }
    EXPECT_EQ(logs, 1) << rec.message;
  }
  EXPECT_EQ(tasks_seen, k_requests * k_tasks_per_request);
}

TEST_F(context, out_of_order_ends) {
  {
    logfire::span a("a");
    logfire::span b("b");
    a.end();  // ends before its child
    // b is still the current span: new work nests under it.
    EXPECT_EQ(logfire::current_span_context(), b.context());
    logfire::info("under b");
    b.end();
  }
  // Both ended: nothing is current, and new work starts a new trace.
  EXPECT_FALSE(logfire::current_span_context().valid());
  logfire::info("after both");
  auto recs = flushed();
  const auto *a = find(recs, "a"), *b = find(recs, "b");
  const auto *under = find_log(recs, "under b"), *after = find_log(recs, "after both");
  ASSERT_TRUE(a && b && under && after);
  EXPECT_EQ(b->parent, a->context.span);
  EXPECT_LE(a->end_unix_nano, b->end_unix_nano);
  EXPECT_EQ(under->parent, b->context.span);
  EXPECT_FALSE(after->parent.valid());
  EXPECT_NE(after->context.trace, a->context.trace);
}

TEST_F(context, ancestors_ending_before_a_grandchild) {
  {
    logfire::span a("a");
    logfire::span b("b");
    logfire::span c("c");
    b.end();
    a.end();
    logfire::info("under c");
    c.end();
  }
  EXPECT_FALSE(logfire::current_span_context().valid());
  logfire::info("root again");
  auto recs = flushed();
  ASSERT_EQ(recs.size(), 5u);
  EXPECT_EQ(find_log(recs, "under c")->parent, find(recs, "c")->context.span);
  EXPECT_FALSE(find_log(recs, "root again")->parent.valid());
}

TEST_F(context, end_is_idempotent) {
  {
    logfire::span s("once");
    s.end();
    s.end();
    EXPECT_FALSE(s.is_recording());
  }
  auto recs = flushed();
  EXPECT_EQ(recs.size(), 1u);
}

logfire::span start_checkout() {
  return logfire::span("checkout {id}", {{"id", 1}});
}

TEST_F(context, moved_span_handles) {
  {
    logfire::span a("moved");
    const auto a_ctx = a.context();
    logfire::span b(std::move(a));
    EXPECT_FALSE(a.is_recording());  // NOLINT(bugprone-use-after-move): moved-from does nothing
    EXPECT_TRUE(b.is_recording());
    EXPECT_EQ(b.context(), a_ctx);
    a.end();  // no effect
    logfire::info("child of moved");

    // Move-assignment ends the target's span first.
    logfire::span c("replaced");
    c = std::move(b);
    EXPECT_EQ(c.context(), a_ctx);
    c.set_attribute("k", 1);

    // Returned from a function, stored in a container.
    std::vector<logfire::span> held;
    held.push_back(start_checkout());
    held.push_back(logfire::span("second"));
    held.clear();
  }
  auto recs = flushed();
  EXPECT_EQ(recs.size(), 5u);
  const auto *moved = find(recs, "moved"), *replaced = find(recs, "replaced");
  ASSERT_TRUE(moved && replaced);
  EXPECT_EQ(find_log(recs, "child of moved")->parent, moved->context.span);
  EXPECT_EQ(int_attr(*moved, "k"), 1);
  EXPECT_LE(replaced->end_unix_nano, moved->end_unix_nano);
  EXPECT_TRUE(find(recs, "checkout {id}"));
  EXPECT_TRUE(find(recs, "second"));
  std::size_t moved_count = 0;
  for (const auto& r : recs) moved_count += r.name == "moved" ? 1 : 0;
  EXPECT_EQ(moved_count, 1u);
  EXPECT_FALSE(logfire::current_span_context().valid());
}

TEST_F(context, span_ended_on_another_thread) {
  // Run on a thread of its own: the span stays this thread's current context after it moves
  // away (ending it elsewhere cannot touch this thread's state).
  logfire::span_context ctx;
  std::thread owner([&] {
    logfire::span s("handed over");
    ctx = s.context();
    std::thread t([s = std::move(s)]() mutable { s.end(); });
    t.join();
  });
  owner.join();
  auto recs = flushed();
  const auto* r = find(recs, "handed over");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->context.span, ctx.span);
}
