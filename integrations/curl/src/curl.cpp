// CLIENT spans for libcurl transfers. A transfer's state lives from its start (curl_easy_perform
// or curl_multi_add_handle here) to its end (perform returning, or curl_multi_info_read /
// curl_multi_remove_handle here). Threads: the start runs on the caller's thread; the
// pre-request callback runs on whichever thread drives the transfer (the perform caller, or the
// thread calling curl_multi_perform / curl_multi_socket_action), once per request libcurl sends,
// after the connection is made and before the request is written; the end runs on the thread
// that reads the result. libcurl uses a multi handle from one thread at a time, so a transfer's
// state is never touched by two threads at once; the registries below are shared, under a
// mutex taken once at each start and end (never per span record).
#include "logfire/curl.hpp"

#include <array>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "http_semconv.hpp"
#include "logfire/handoff.hpp"
#include "logfire/logfire.hpp"
#include "span_args.hpp"

#if LIBCURL_VERSION_NUM < 0x075000
#error "logfire::curl needs libcurl 7.80 or newer (CURLOPT_PREREQFUNCTION)"
#endif

namespace logfire {
namespace {

// Handles whose last transfer failed, remembered so that performing the same request again on
// the same handle counts as a resend. Bounded: beyond this many, an arbitrary entry goes.
constexpr std::size_t k_max_remembered_failures = 1024;
// Propagation headers injected per request (traceparent, tracestate, baggage, and room for a
// composite with X-Cloud-Trace-Context).
constexpr std::size_t k_max_injected = 8;

struct transfer {
  CURL* easy = nullptr;
  curl_slist* caller_headers = nullptr;                // the caller's, never modified or freed here
  curl_slist* sent = nullptr;                          // the copy libcurl sends: caller's + injected; ours
  std::array<curl_slist*, k_max_injected> injected{};  // nodes of `sent` holding injected headers
  std::size_t n_injected = 0;
  context parent;
  bool multi = false;
  std::optional<span> hop;  // the span of the request on the wire now
  int requests = 0;         // requests sent in this transfer (pre-request callbacks)
  int resend_base = 0;      // requests sent by earlier failed attempts of the same call
  std::string method;
  std::string url;  // the URL the first request was started for (as libcurl reports it)
};

struct failure_note {
  std::string method;
  std::string url;
  int requests = 0;
};

struct registry {
  std::mutex mu;
  std::unordered_map<CURL*, std::unique_ptr<transfer>> multi;  // transfers on multi handles
  std::unordered_map<CURL*, failure_note> failures;
};

registry& reg() {
  static registry* r = new registry;  // never destroyed: transfers may end during exit
  return *r;
}

std::string_view info_string(CURL* easy, CURLINFO what) noexcept {
  char* p = nullptr;
  if (::curl_easy_getinfo(easy, what, &p) != CURLE_OK || !p) return {};
  return p;
}

long info_long(CURL* easy, CURLINFO what) noexcept {
  long v = 0;
  if (::curl_easy_getinfo(easy, what, &v) != CURLE_OK) return 0;
  return v;
}

// ----- url.full, server.address, server.port ---------------------------------------------------

struct url_parts {
  std::string full;  // redacted
  std::string host;
  long port = 0;
};

bool redacted_query_key(std::string_view k) noexcept {
  return k == "AWSAccessKeyId" || k == "Signature" || k == "sig" || k == "X-Goog-Signature";
}

// Replaces the values of the query keys OpenTelemetry says to redact.
std::string redact_query(std::string_view q) {
  std::string out;
  out.reserve(q.size());
  while (!q.empty()) {
    const auto amp = q.find('&');
    std::string_view item = q.substr(0, amp);
    const auto eq = item.find('=');
    if (eq != std::string_view::npos && redacted_query_key(item.substr(0, eq))) {
      out.append(item.substr(0, eq + 1));
      out.append("REDACTED");
    } else {
      out.append(item);
    }
    if (amp == std::string_view::npos) break;
    out.push_back('&');
    q.remove_prefix(amp + 1);
  }
  return out;
}

std::string get_part(CURLU* u, CURLUPart part, unsigned flags = 0) {
  char* p = nullptr;
  if (curl_url_get(u, part, &p, flags) != CURLUE_OK || !p) return {};
  std::string s(p);
  curl_free(p);
  return s;
}

// Parsed with libcurl's own URL parser, so the parts are what libcurl connects to.
url_parts parse_url(std::string_view raw) {
  url_parts out;
  CURLU* u = curl_url();
  if (!u) return out;
  const std::string url(raw);
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
    curl_url_cleanup(u);
    out.full = url;  // not a URL libcurl can parse: the transfer fails, shown as given
    return out;
  }
  if (!get_part(u, CURLUPART_USER).empty()) curl_url_set(u, CURLUPART_USER, "REDACTED", 0);
  if (!get_part(u, CURLUPART_PASSWORD).empty()) curl_url_set(u, CURLUPART_PASSWORD, "REDACTED", 0);
  if (const std::string q = get_part(u, CURLUPART_QUERY); !q.empty()) {
    const std::string r = redact_query(q);
    if (r != q) curl_url_set(u, CURLUPART_QUERY, r.c_str(), 0);
  }
  out.full = get_part(u, CURLUPART_URL);
  out.host = get_part(u, CURLUPART_HOST);
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']')
    out.host = out.host.substr(1, out.host.size() - 2);  // IPv6 literal: server.address has no brackets
  const std::string port = get_part(u, CURLUPART_PORT, CURLU_DEFAULT_PORT);
  for (char c : port) out.port = c >= '0' && c <= '9' ? out.port * 10 + (c - '0') : out.port;
  curl_url_cleanup(u);
  return out;
}

// ----- error.type ------------------------------------------------------------------------------

// The CURLcode's name: low-cardinality and greppable in libcurl's documentation.
std::string error_type(CURLcode rc) {
  switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
      return "CURLE_UNSUPPORTED_PROTOCOL";
    case CURLE_URL_MALFORMAT:
      return "CURLE_URL_MALFORMAT";
    case CURLE_COULDNT_RESOLVE_PROXY:
      return "CURLE_COULDNT_RESOLVE_PROXY";
    case CURLE_COULDNT_RESOLVE_HOST:
      return "CURLE_COULDNT_RESOLVE_HOST";
    case CURLE_COULDNT_CONNECT:
      return "CURLE_COULDNT_CONNECT";
    case CURLE_HTTP_RETURNED_ERROR:
      return "CURLE_HTTP_RETURNED_ERROR";
    case CURLE_WRITE_ERROR:
      return "CURLE_WRITE_ERROR";
    case CURLE_READ_ERROR:
      return "CURLE_READ_ERROR";
    case CURLE_OUT_OF_MEMORY:
      return "CURLE_OUT_OF_MEMORY";
    case CURLE_OPERATION_TIMEDOUT:
      return "CURLE_OPERATION_TIMEDOUT";
    case CURLE_RANGE_ERROR:
      return "CURLE_RANGE_ERROR";
    case CURLE_SSL_CONNECT_ERROR:
      return "CURLE_SSL_CONNECT_ERROR";
    case CURLE_ABORTED_BY_CALLBACK:
      return "CURLE_ABORTED_BY_CALLBACK";
    case CURLE_TOO_MANY_REDIRECTS:
      return "CURLE_TOO_MANY_REDIRECTS";
    case CURLE_GOT_NOTHING:
      return "CURLE_GOT_NOTHING";
    case CURLE_SEND_ERROR:
      return "CURLE_SEND_ERROR";
    case CURLE_RECV_ERROR:
      return "CURLE_RECV_ERROR";
    case CURLE_PEER_FAILED_VERIFICATION:
      return "CURLE_PEER_FAILED_VERIFICATION";
    case CURLE_PARTIAL_FILE:
      return "CURLE_PARTIAL_FILE";
    case CURLE_HTTP2:
      return "CURLE_HTTP2";
    case CURLE_HTTP2_STREAM:
      return "CURLE_HTTP2_STREAM";
    case CURLE_SSL_CACERT_BADFILE:
      return "CURLE_SSL_CACERT_BADFILE";
    case CURLE_FAILED_INIT:
      return "CURLE_FAILED_INIT";
    default:
      return "CURLE_" + std::to_string(static_cast<int>(rc));
  }
}

// ----- spans -----------------------------------------------------------------------------------

// Starts the span of the next request of `t` to `raw_url`. For a multi transfer it is not
// current anywhere (explicit parent, and the parent's tracestate through a context_scope); for a
// transfer performed on this thread it is this thread's current span, as the parent is.
// `resend`: requests of the same call sent before this one.
void start_hop(transfer& t, std::string_view raw_url, const char* peer_ip, long peer_port, int resend) noexcept {
  try {
    const url_parts u = parse_url(raw_url);
    const bool known = detail::known_http_method(t.method);
    detail::span_args args;
    args.add("http.request.method", known ? std::string_view(t.method) : std::string_view("_OTHER"));
    if (!known) args.add("http.request.method_original", t.method);
    args.add("url.full", u.full);
    if (!u.host.empty()) args.add("server.address", u.host);
    if (u.port > 0) args.add("server.port", u.port);
    if (resend > 0) args.add("http.request.resend_count", resend);
    if (peer_ip && *peer_ip) {
      args.add("network.peer.address", peer_ip);
      if (peer_port > 0) args.add("network.peer.port", peer_port);
    }
    const std::string_view name = detail::http_client_span_name(known ? std::string_view(t.method) : "");
    if (t.multi) {
      context_scope in_parent(t.parent);
      detail::emplace_span(t.hop, name, args, {.kind = span_kind::client, .current = false});
    } else {
      detail::emplace_span(t.hop, name, args, {.kind = span_kind::client});
    }
  } catch (...) {
    // Out of memory while describing the request: it goes on without its span.
  }
}

// Ends the span of the request on the wire. `rc` is the transfer's result when it is over;
// `resent`: libcurl is sending another request for the same transfer.
void end_hop(transfer& t, CURLcode rc, bool resent, std::string_view cancelled = {}) noexcept {
  if (!t.hop) return;
  span& s = *t.hop;
  try {
    const long code = info_long(t.easy, CURLINFO_RESPONSE_CODE);
    if (code > 0) s.set_attribute("http.response.status_code", code);
    switch (info_long(t.easy, CURLINFO_HTTP_VERSION)) {
      case CURL_HTTP_VERSION_1_0:
        s.set_attribute("network.protocol.version", "1.0");
        break;
      case CURL_HTTP_VERSION_1_1:
        s.set_attribute("network.protocol.version", "1.1");
        break;
      case CURL_HTTP_VERSION_2_0:
        s.set_attribute("network.protocol.version", "2");
        break;
      case CURL_HTTP_VERSION_3:
        s.set_attribute("network.protocol.version", "3");
        break;
      default:
        break;
    }
    if (!cancelled.empty()) {
      s.set_attribute("error.type", cancelled);
      s.set_status(status_code::error, cancelled == "cancelled"
                                           ? "transfer removed before it completed"
                                           : "the transfer's end was not seen (read its result with "
                                             "logfire::curl_multi_info_read)");
    } else if (rc != CURLE_OK) {
      s.set_attribute("error.type", error_type(rc));
      s.set_status(status_code::error, ::curl_easy_strerror(rc));
    } else if (resent && code == 0) {
      s.set_attribute("error.type", "_OTHER");
      s.set_status(status_code::error, "no response; libcurl sent the request again");
    } else if (code >= 500) {
      s.set_attribute("error.type", std::to_string(code));
      s.set_status(status_code::error);
    } else if (code >= 400) {
      s.set_level(level::warn);
    }
  } catch (...) {
  }
  t.hop.reset();
}

// Writes the current span's context into the injected header nodes of `t->sent`: at the start
// (creating the nodes) and for every further request (replacing their text, which libcurl reads
// when it composes the request, after the pre-request callback).
void inject(transfer& t, bool create) noexcept {
  if (!t.hop) return;
  try {
    header_list out;
    {
      context_scope as_hop(t.parent.with_span(t.hop->context()));
      header_list_carrier<header_list> c(out);
      inject_context(c);
    }
    if (create) {
      // The caller's headers, minus those we set (any casing; "Name:" and "Name;" forms too). A
      // header we do not set stays (e.g. the caller's baggage when the context has none).
      for (const curl_slist* n = t.caller_headers; n; n = n->next) {
        if (!n->data) continue;
        const std::string_view line(n->data);
        std::string_view name = line.substr(0, line.find_first_of(":;"));
        while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
        // A tracestate belongs to the traceparent it came with: ours replaces both.
        bool replaced = false;
        for (const auto& [k, v] : out)
          replaced =
              replaced || detail::iequals(k, name) || (k == "traceparent" && detail::iequals(name, "tracestate"));
        if (replaced) continue;
        curl_slist* grown = ::curl_slist_append(t.sent, n->data);
        if (!grown) throw std::bad_alloc();
        t.sent = grown;
      }
    }
    for (const auto& [k, v] : out) {
      std::string line = k;
      line += ": ";
      line += v;
      curl_slist* fresh = ::curl_slist_append(nullptr, line.c_str());
      if (!fresh) continue;
      if (create) {
        if (t.n_injected == k_max_injected) {
          ::curl_slist_free_all(fresh);
          continue;
        }
        // Link at the tail; remember the node.
        if (!t.sent) {
          t.sent = fresh;
        } else {
          curl_slist* tail = t.sent;
          while (tail->next) tail = tail->next;
          tail->next = fresh;
        }
        t.injected[t.n_injected++] = fresh;
      } else {
        // Same header on a later request: swap the texts (both allocated by libcurl) and free
        // the old one with the throwaway node.
        for (std::size_t i = 0; i < t.n_injected; ++i) {
          const std::string_view node(t.injected[i]->data);
          if (node.size() > k.size() && node.compare(0, k.size(), k) == 0 && node[k.size()] == ':') {
            std::swap(t.injected[i]->data, fresh->data);
            break;
          }
        }
        ::curl_slist_free_all(fresh);
      }
    }
  } catch (...) {
    // Keep what was built: at worst a request without (or with a stale) traceparent.
  }
}

int on_prerequest(void* clientp, char* primary_ip, char* /*local_ip*/, int primary_port, int /*local_port*/) noexcept {
  auto& t = *static_cast<transfer*>(clientp);
  ++t.requests;
  if (t.requests == 1) {
    // The first request's span started with the transfer, before the connection.
    if (t.hop) {
      try {
        if (primary_ip && *primary_ip) {
          t.hop->set_attribute("network.peer.address", primary_ip);
          if (primary_port > 0) t.hop->set_attribute("network.peer.port", primary_port);
        }
        // A handle performed again without setting CURLOPT_URL goes back to that URL, while it
        // reported the last redirect's target before the transfer started.
        const std::string_view now = info_string(t.easy, CURLINFO_EFFECTIVE_URL);
        if (now != t.url) {
          const url_parts u = parse_url(now);
          t.hop->set_attribute("url.full", u.full);
          t.hop->set_attribute("server.address", u.host);
          t.hop->set_attribute("server.port", u.port);
          t.url = std::string(now);
        }
      } catch (...) {
      }
    }
    return CURL_PREREQFUNC_OK;
  }
  // A further request of the same transfer: a redirect, an authentication round, or a resend.
  end_hop(t, CURLE_OK, true);
  start_hop(t, info_string(t.easy, CURLINFO_EFFECTIVE_URL), primary_ip, primary_port, t.resend_base + t.requests - 1);
  inject(t, false);
  return CURL_PREREQFUNC_OK;
}

// Prepares `t` (its first span, the headers, the callbacks) on the caller's thread.
void begin(transfer& t) noexcept {
  t.parent = capture_context();
  try {
    t.method = std::string(info_string(t.easy, CURLINFO_EFFECTIVE_METHOD));
    if (t.method.empty()) t.method = "GET";
    t.url = std::string(info_string(t.easy, CURLINFO_EFFECTIVE_URL));
    registry& r = reg();
    std::lock_guard lock(r.mu);
    if (auto it = r.failures.find(t.easy); it != r.failures.end()) {
      if (it->second.method == t.method && it->second.url == t.url) t.resend_base = it->second.requests;
      r.failures.erase(it);
    }
  } catch (...) {
  }
  start_hop(t, t.url, nullptr, 0, t.resend_base);
  inject(t, true);
  ::curl_easy_setopt(t.easy, CURLOPT_HTTPHEADER, t.sent ? t.sent : t.caller_headers);
  ::curl_easy_setopt(t.easy, CURLOPT_PREREQFUNCTION, &on_prerequest);
  ::curl_easy_setopt(t.easy, CURLOPT_PREREQDATA, &t);
}

// Ends `t`: its last span, the handle's options back to the caller's, the copy freed, and the
// failure remembered for a retry.
void finish(transfer& t, CURLcode rc, std::string_view cancelled = {}) noexcept {
  const long code = info_long(t.easy, CURLINFO_RESPONSE_CODE);
  end_hop(t, rc, false, cancelled);
  ::curl_easy_setopt(t.easy, CURLOPT_HTTPHEADER, t.caller_headers);
  ::curl_easy_setopt(t.easy, CURLOPT_PREREQFUNCTION, nullptr);
  ::curl_easy_setopt(t.easy, CURLOPT_PREREQDATA, nullptr);
  ::curl_slist_free_all(t.sent);
  t.sent = nullptr;
  t.n_injected = 0;
  const bool failed = rc != CURLE_OK || code == 0 || code == 408 || code == 429 || code >= 500;
  if (!failed || !cancelled.empty()) return;
  try {
    registry& r = reg();
    std::lock_guard lock(r.mu);
    if (r.failures.size() >= k_max_remembered_failures && !r.failures.contains(t.easy))
      r.failures.erase(r.failures.begin());
    r.failures[t.easy] = failure_note{t.method, t.url, t.resend_base + (t.requests > 0 ? t.requests : 1)};
  } catch (...) {
  }
}

std::unique_ptr<transfer> take_multi(CURL* easy) noexcept {
  registry& r = reg();
  std::lock_guard lock(r.mu);
  auto it = r.multi.find(easy);
  if (it == r.multi.end()) return nullptr;
  std::unique_ptr<transfer> t = std::move(it->second);
  r.multi.erase(it);
  return t;
}

}  // namespace

CURLcode curl_easy_perform(CURL* easy, curl_slist* headers) noexcept {
  if (!easy) return ::curl_easy_perform(easy);
  {
    registry& r = reg();
    std::lock_guard lock(r.mu);
    // In a multi handle: libcurl refuses; leave its options alone.
    if (r.multi.contains(easy)) return ::curl_easy_perform(easy);
  }
  transfer t;
  t.easy = easy;
  t.caller_headers = headers;
  begin(t);
  const CURLcode rc = ::curl_easy_perform(easy);
  finish(t, rc);
  return rc;
}

CURLMcode curl_multi_add_handle(CURLM* multi, CURL* easy, curl_slist* headers) noexcept {
  // libcurl first: a handle it refuses (already added, bad handle) is left untouched. Options
  // set between adding and the next curl_multi_perform apply, since the transfer has not begun.
  const CURLMcode added = ::curl_multi_add_handle(multi, easy);
  if (added != CURLM_OK) return added;
  std::unique_ptr<transfer> t;
  std::unique_ptr<transfer> stale;
  try {
    t = std::make_unique<transfer>();
  } catch (...) {
    ::curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    return CURLM_OK;  // no memory for the span: the transfer runs uninstrumented
  }
  t->easy = easy;
  t->caller_headers = headers;
  t->multi = true;
  begin(*t);
  {
    registry& r = reg();
    std::lock_guard lock(r.mu);
    try {
      auto& slot = r.multi[easy];
      stale = std::move(slot);  // a transfer never read as done nor removed through here
      slot = std::move(t);
    } catch (...) {
    }
  }
  if (t) finish(*t, CURLE_OK, "_OTHER");  // could not be registered: end it now, uninstrumented
  if (stale) {
    end_hop(*stale, CURLE_OK, false, "_OTHER");
    ::curl_slist_free_all(stale->sent);
  }
  return CURLM_OK;
}

CURLMsg* curl_multi_info_read(CURLM* multi, int* msgs_in_queue) noexcept {
  CURLMsg* m = ::curl_multi_info_read(multi, msgs_in_queue);
  if (m && m->msg == CURLMSG_DONE)
    if (auto t = take_multi(m->easy_handle)) finish(*t, m->data.result);
  return m;
}

CURLMcode curl_multi_remove_handle(CURLM* multi, CURL* easy) noexcept {
  const CURLMcode rc = ::curl_multi_remove_handle(multi, easy);
  if (rc == CURLM_OK)
    if (auto t = take_multi(easy)) finish(*t, CURLE_OK, "cancelled");
  return rc;
}

std::size_t curl_transfers_in_flight() noexcept {
  registry& r = reg();
  std::lock_guard lock(r.mu);
  return r.multi.size();
}

}  // namespace logfire
