#include "tailer.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <functional>

#include "backend/json.hpp"
#include "backend/text.hpp"
#include "backend/traces.hpp"

namespace logfire::cli {
namespace {

constexpr std::size_t kFetchBatch = 5000;
constexpr std::size_t kRememberedSpans = 200'000;  // bounded memory on endless tails

std::string safe(const std::string& s) {
  return backend::text::for_terminal(s);
}

}  // namespace

bool tailer::prepare_statements(std::string& error) {
  fetch_ = backend::prepare(db_,
                            "SELECT id, start_timestamp, duration, trace_id, span_id, coalesce(parent_span_id, ''), "
                            "kind, level, message, tags, coalesce(service_name, ''), is_exception, "
                            "coalesce(exception_type, ''), coalesce(exception_message, '') FROM records "
                            "WHERE id > ?1 ORDER BY id LIMIT 5000",
                            error);
  parent_ = backend::prepare(
      db_, "SELECT coalesce(parent_span_id, '') FROM records WHERE trace_id = ?1 AND span_id = ?2 LIMIT 1", error);
  return fetch_ && parent_;
}

bool tailer::start_cursor(std::size_t last, std::string& error) {
  auto s = backend::prepare(db_, "SELECT coalesce(max(id), 0) FROM records", error);
  if (!s || sqlite3_step(s.get()) != SQLITE_ROW) return false;
  cursor_ = sqlite3_column_int64(s.get(), 0);
  if (last > 0) {
    auto back = backend::prepare(db_, "SELECT id FROM records ORDER BY id DESC LIMIT 1 OFFSET ?1", error);
    if (!back) return false;
    sqlite3_bind_int64(back.get(), 1, static_cast<std::int64_t>(last - 1));
    cursor_ = sqlite3_step(back.get()) == SQLITE_ROW ? sqlite3_column_int64(back.get(), 0) - 1 : 0;
  }
  return true;
}

bool tailer::poll(std::string& error) {
  auto now = std::chrono::steady_clock::now();
  while (true) {
    sqlite3_bind_int64(fetch_.get(), 1, cursor_);
    std::size_t n = 0;
    int rc;
    while ((rc = sqlite3_step(fetch_.get())) == SQLITE_ROW) {
      sqlite3_stmt* s = fetch_.get();
      row r;
      r.id = sqlite3_column_int64(s, 0);
      r.start_ns = backend::parse_timestamp(backend::column_text(s, 1)).value_or(0);
      if (sqlite3_column_type(s, 2) != SQLITE_NULL) r.duration = sqlite3_column_double(s, 2);
      r.trace_id = backend::column_text(s, 3);
      r.span_id = backend::column_text(s, 4);
      r.parent_span_id = backend::column_text(s, 5);
      r.kind = backend::column_text(s, 6);
      r.level = sqlite3_column_int(s, 7);
      r.message = backend::column_text(s, 8);
      r.tags = backend::column_text(s, 9);
      r.service = backend::column_text(s, 10);
      r.is_exception = sqlite3_column_int(s, 11) != 0;
      r.exception_type = backend::column_text(s, 12);
      r.exception_message = backend::column_text(s, 13);
      cursor_ = r.id;
      auto& g = groups_[r.trace_id];
      g.last_seen = now;
      g.rows.push_back(std::move(r));
      ++n;
    }
    sqlite3_reset(fetch_.get());
    if (rc != SQLITE_DONE) {
      error = sqlite3_errmsg(db_);
      return false;
    }
    if (n < kFetchBatch) return true;
  }
}

void tailer::flush(std::chrono::milliseconds settle, bool everything) {
  auto now = std::chrono::steady_clock::now();
  // Print older traces first: order the ready groups by their first record's arrival.
  std::vector<std::pair<std::int64_t, std::string>> ready;
  for (auto& [trace, g] : groups_) {
    if (everything || now - g.last_seen >= settle) ready.emplace_back(g.rows.front().id, trace);
  }
  std::sort(ready.begin(), ready.end());
  for (auto& [first_id, trace] : ready) {
    print_group(groups_[trace]);
    groups_.erase(trace);
  }
  std::fflush(stdout);
}

void tailer::remember_depth(const std::string& k, int depth) {
  if (depths_.emplace(k, depth).second) {
    order_.push_back(k);
    if (order_.size() > kRememberedSpans) {
      depths_.erase(order_.front());
      printed_pending_.erase(order_.front());
      order_.pop_front();
    }
  } else {
    depths_[k] = depth;
  }
}

// Ancestors of a span found in the database (the trace's earlier records), at most 64 hops.
int tailer::depth_from_db(const std::string& trace, std::string parent) {
  int depth = 0;
  for (int hop = 0; hop < 64 && !parent.empty(); ++hop) {
    if (auto it = depths_.find(key(trace, parent)); it != depths_.end()) return depth + it->second + 1;
    sqlite3_bind_text(parent_.get(), 1, trace.data(), static_cast<int>(trace.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(parent_.get(), 2, parent.data(), static_cast<int>(parent.size()), SQLITE_TRANSIENT);
    bool found = sqlite3_step(parent_.get()) == SQLITE_ROW;
    std::string next = found ? backend::column_text(parent_.get(), 0) : std::string();
    sqlite3_reset(parent_.get());
    if (!found) break;
    ++depth;
    parent = next;
  }
  return depth;
}

// The depth of each row of a group: from its parent in the group, else from the database.
std::unordered_map<const tailer::row*, int> tailer::depths(const group& g) {
  std::unordered_map<std::string, const row*> by_span;
  for (const auto& r : g.rows) {
    if (r.kind != "log") by_span[r.span_id] = &r;
  }
  std::unordered_map<const row*, int> memo;
  std::function<int(const row&, int)> depth_of = [&](const row& r, int guard) -> int {
    if (auto it = memo.find(&r); it != memo.end()) return it->second;
    int d = 0;
    if (!r.parent_span_id.empty()) {
      auto p = by_span.find(r.parent_span_id);
      if (p != by_span.end() && p->second != &r && guard < 64) {
        d = depth_of(*p->second, guard + 1) + 1;
      } else {
        d = depth_from_db(r.trace_id, r.parent_span_id);
      }
    }
    memo[&r] = d;
    return d;
  };
  for (const auto& r : g.rows) depth_of(r, 0);
  return memo;
}

void tailer::print_group(group& g) {
  std::stable_sort(g.rows.begin(), g.rows.end(), [](const row& a, const row& b) {
    if (a.start_ns != b.start_ns) return a.start_ns < b.start_ns;
    return (a.kind == "log") < (b.kind == "log");  // a span before the logs it opens with
  });
  auto depth = depths(g);
  for (const auto& r : g.rows) {
    int d = depth[&r];
    std::string k = key(r.trace_id, r.span_id);
    if (r.kind != "log") remember_depth(k, d);
    if (r.kind == "span" && printed_pending_.erase(k) > 0) continue;  // shown when it started
    if (r.kind == "pending_span") printed_pending_.insert(k);
    if (r.level < min_level_) continue;
    if (service_ && r.service != *service_) continue;
    print_row(r, d);
  }
}

void tailer::print_row(const row& r, int depth) const {
  print_console_record({r.start_ns, r.duration, r.kind, r.level, r.message, r.tags, r.service, r.trace_id,
                        r.is_exception, r.exception_type, r.exception_message},
                       depth, style_);
}

void print_console_record(const console_record& r, int depth, const tail_style& style) {
  std::time_t secs = static_cast<std::time_t>(r.start_ns / 1'000'000'000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char time_buf[32];
  std::snprintf(time_buf, sizeof time_buf, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>((r.start_ns / 1'000'000) % 1000));
  std::string indent(static_cast<std::size_t>(std::min(depth, 40)) * 2, ' ');
  const char* level_color = r.level >= 17 ? "31" : r.level >= 13 ? "33" : nullptr;
  std::string line = style.wrap("2", time_buf) + " " + indent;
  line += level_color ? style.wrap(level_color, safe(r.message)) : safe(r.message);
  if (auto tags = backend::json::parse(r.tags, 4); tags && !tags->items.empty()) {
    std::string list;
    for (const auto& t : tags->items) list += (list.empty() ? "" : ",") + safe(t.text);
    line += style.wrap("36", " [" + list + "]");
  }
  if (style.verbose) {
    std::string extra = r.kind == "pending_span" ? "started" : safe(r.kind);
    if (r.kind == "span" && r.duration) extra += " " + backend::format_duration(*r.duration);
    extra +=
        " · " + (r.service.empty() ? std::string("?") : safe(r.service)) + " · trace " + safe(r.trace_id.substr(0, 8));
    line += style.wrap("2", "  (" + extra + ")");
  }
  std::puts(line.c_str());
  if (r.is_exception) {
    std::string exc = safe(r.exception_type) + (r.exception_message.empty() ? "" : ": " + safe(r.exception_message));
    std::puts((std::string(13, ' ') + indent + "  " + style.wrap("31", exc)).c_str());
  }
}

}  // namespace logfire::cli
