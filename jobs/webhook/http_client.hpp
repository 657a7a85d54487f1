#pragma once
// The HTTP client of run-webhook-jobs: one request, one answer, over libcurl.
// Nothing here knows of jobs or outcomes: webhook_job.cpp maps an
// HttpResponse to one.
//
// Contract of send():
//  - one request with the given method, headers and body to `url`, which is
//    http:// or https:// (no other protocol, also on redirects);
//  - TLS always verified (the peer's certificate and its host name), against
//    `ca_file` when given, else the system's authorities;
//  - redirects followed (at most kMaxRedirects, keeping the method and body)
//    only with `follow_redirects`; otherwise a 3xx is the answer;
//  - the whole exchange bounded by `timeout` (connect, send, wait, receive);
//  - at most `keep_body` bytes of the answer's body kept (the rest is read
//    and counted, not kept);
//  - never throws for anything the network or the peer does: a request that
//    got no HTTP answer comes back with `failure` set and curl's message.
//    Throws std::runtime_error only when libcurl cannot be set up at all.
// Thread-safe: each call has its own handle (no connection reuse).

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "jobrunner/core/duration.hpp"

namespace jobrunner::webhook {

inline constexpr long kMaxRedirects = 5;

struct HttpRequest {
  std::string method = "POST";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  Duration timeout = std::chrono::seconds(10);
  bool follow_redirects = false;
  std::string ca_file;  // empty: the system's authorities
  std::size_t keep_body = 1024;
};

struct HttpResponse {
  // Why no HTTP answer came; none when one did.
  enum class Failure {
    none,
    connect,    // refused, unreachable, name not resolved, closed without an answer
    timeout,    // `timeout` passed
    tls,        // the handshake failed or the certificate was not trusted
    redirects,  // more than kMaxRedirects
    other,
  };
  Failure failure = Failure::none;
  std::string error;  // curl's message when failure != none
  long status = 0;    // the last answer's status (0 without one)
  std::optional<std::string> retry_after;  // its Retry-After header, as sent
  std::optional<std::string> location;     // its Location header, as sent
  std::string body_head;                   // the first keep_body bytes of its body
  std::size_t body_size = 0;               // the whole body's size
  Duration latency{};                      // from the start to the end of the exchange
};

[[nodiscard]] HttpResponse send(const HttpRequest& request);

// "timeout", "connection", ... for log lines.
const char* to_string(HttpResponse::Failure failure);

}  // namespace jobrunner::webhook
