#include "live.hpp"

#include <algorithm>
#include <string>

namespace logfire::backend {

void live_trace_ids::add(std::string_view trace_id) {
  // Full, and known to be incomplete: nothing another row adds would change the event. Else rows
  // of one trace mostly come together: the last id is the likely match.
  if (more || (!ids.empty() && ids.back() == trace_id)) return;
  if (std::find(ids.begin(), ids.end(), trace_id) != ids.end()) return;
  if (ids.size() < kMax) {
    ids.emplace_back(trace_id);
  } else {
    more = true;
  }
}

live_feed::~live_feed() {
  std::lock_guard lock(mu_);
  for (auto& s : streams_) s->end();
}

std::shared_ptr<http::body_stream> live_feed::subscribe() {
  std::lock_guard lock(mu_);
  std::erase_if(streams_, [](const auto& s) { return s->closed(); });
  if (streams_.size() >= max_subscribers_) {
    ++refused;
    return nullptr;
  }
  auto s = std::make_shared<http::body_stream>(queue_bytes_);
  // The first event tells the page it is connected (and sends the head at once); `retry` is how
  // long EventSource-style clients wait before reconnecting.
  (void)s->write("retry: 2000\nevent: hello\ndata: {}\n\n");
  streams_.push_back(s);
  return s;
}

void live_feed::publish(std::string_view signal, std::uint64_t records, const live_trace_ids* traces) {
  std::string event = "event: records\ndata: {\"signal\":\"";
  event += signal;
  event += "\",\"records\":";
  event += std::to_string(records);
  if (traces != nullptr) {
    // Trace ids are 32 lowercase hex digits (the decoder's rows): nothing to escape.
    event += ",\"trace_ids\":[";
    for (std::size_t i = 0; i < traces->ids.size(); ++i) {
      if (i > 0) event += ',';
      event += '"';
      event += traces->ids[i];
      event += '"';
    }
    event += "],\"more_traces\":";
    event += traces->more ? "true" : "false";
  }
  event += "}\n\n";
  std::lock_guard lock(mu_);
  std::erase_if(streams_, [&](const std::shared_ptr<http::body_stream>& s) {
    if (s->closed()) return true;
    if (s->write(event)) {
      ++events_sent;
      return false;
    }
    // Its queue is full: the client reads more slowly than records arrive. End it rather than
    // skip events silently; the page reconnects and reloads what it shows.
    s->end();
    ++slow_dropped;
    return true;
  });
}

std::size_t live_feed::subscribers() const {
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(
      std::count_if(streams_.begin(), streams_.end(), [](const auto& s) { return !s->closed(); }));
}

}  // namespace logfire::backend
