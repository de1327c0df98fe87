// libcurl integration: a CLIENT span for every HTTP request a libcurl transfer sends, with the
// trace context in its headers, for transfers run by curl_easy_perform or by a multi handle.
// Link logfire::curl; the core library never includes libcurl's headers.
//
//   curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
//   curl_easy_setopt(easy, CURLOPT_URL, "http://billing:8080/charge");
//   CURLcode rc = logfire::curl_easy_perform(easy, headers);   // instead of curl_easy_perform
//
//   logfire::curl_multi_add_handle(multi, easy, headers);      // instead of curl_multi_add_handle
//   ... curl_multi_perform / curl_multi_poll as usual ...
//   while (CURLMsg* m = logfire::curl_multi_info_read(multi, &left)) { ... }  // ends the spans
//   logfire::curl_multi_remove_handle(multi, easy);
//
// Spans: one per request on the wire, as OpenTelemetry's HTTP conventions prefer — a redirect
// followed by libcurl, an authentication round or a resend after a dead connection is a span of
// its own with `http.request.resend_count`; so is the same handle performed again for the same
// URL after a failure (a retry loop). Each span carries its own traceparent (a new parent id per
// request). Attributes: http.request.method, url.full (user and password replaced by REDACTED,
// as are the values of the query keys AWSAccessKeyId, Signature, sig, X-Goog-Signature),
// server.address, server.port, network.peer.address/port, network.protocol.version,
// http.response.status_code, error.type. Levels as in the cpp-httplib integration: a 4xx
// answer is level warn, a 5xx answer or a failed transfer is an error (error.type "503", or the
// CURLcode's name such as "CURLE_COULDNT_CONNECT", with curl's message as status description).
//
// Headers: pass the list you would have set with CURLOPT_HTTPHEADER (or nullptr). For the
// transfer, libcurl is given a copy with `traceparent`, `tracestate` and `baggage` (the
// configured propagators) in place of any of those the list holds; your list is never modified
// or freed, and CURLOPT_HTTPHEADER is set back to it when the transfer ends, the copy freed.
// Also set and cleared per transfer: CURLOPT_PREREQFUNCTION and CURLOPT_PREREQDATA.
#pragma once

#include <curl/curl.h>

#include <cstddef>

namespace logfire {

// Performs `easy` as curl_easy_perform does, on this thread, inside its CLIENT span(s), which
// are children of this thread's current span and current while the transfer runs (so that what
// the callbacks log nests under them). `headers`: see above. Never throws.
CURLcode curl_easy_perform(CURL* easy, curl_slist* headers) noexcept;

// Adds `easy` to `multi` as curl_multi_add_handle does. Its span(s) are children of this thread's
// current span (captured now) but never become any thread's current span, since the transfer
// runs whenever and wherever the multi handle is driven. On failure nothing is left behind.
CURLMcode curl_multi_add_handle(CURLM* multi, CURL* easy, curl_slist* headers) noexcept;

// curl_multi_info_read that also ends the span of each transfer it reports done (with the
// transfer's result), restores its CURLOPT_HTTPHEADER and frees the copy.
CURLMsg* curl_multi_info_read(CURLM* multi, int* msgs_in_queue) noexcept;

// curl_multi_remove_handle that also ends the span of a transfer removed before it was reported
// done (error.type "cancelled"). Removing a finished transfer's handle changes nothing more.
CURLMcode curl_multi_remove_handle(CURLM* multi, CURL* easy) noexcept;

// Transfers started through curl_multi_add_handle above and not yet ended (for tests and
// diagnostics; a transfer whose handle was never read as done nor removed stays here).
[[nodiscard]] std::size_t curl_transfers_in_flight() noexcept;

}  // namespace logfire
