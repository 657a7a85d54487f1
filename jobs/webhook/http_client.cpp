#include "http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>

#include "common/curl_easy.hpp"
#include "jobrunner/version.hpp"

namespace jobrunner::webhook {
namespace {

using curl_easy::set;

struct Body {
  std::string* head;
  std::size_t keep;
  std::size_t* size;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* body = static_cast<Body*>(user);
  const auto bytes = size * count;
  *body->size += bytes;
  if (body->head->size() < body->keep) {
    body->head->append(data, std::min(bytes, body->keep - body->head->size()));
  }
  return bytes;
}

HttpResponse::Failure classify(CURLcode code) {
  using F = HttpResponse::Failure;
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return F::timeout;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
      return F::connect;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
      return F::tls;
    case CURLE_TOO_MANY_REDIRECTS:
      return F::redirects;
    default:
      return F::other;
  }
}

std::optional<std::string> last_header(CURL* handle, const char* name) {
  struct curl_header* header = nullptr;
  if (curl_easy_header(handle, name, 0, CURLH_HEADER, -1, &header) != CURLHE_OK ||
      header == nullptr) {
    return std::nullopt;
  }
  return std::string(header->value);
}

}  // namespace

const char* to_string(HttpResponse::Failure failure) {
  using F = HttpResponse::Failure;
  switch (failure) {
    case F::none: return "none";
    case F::connect: return "connection failed";
    case F::timeout: return "timed out";
    case F::tls: return "TLS failed";
    case F::redirects: return "too many redirects";
    case F::other: return "request failed";
  }
  return "request failed";
}

HttpResponse send(const HttpRequest& request) {
  const auto handle = curl_easy::make_handle();
  CURL* h = handle.get();

  curl_easy::StringList headers;
  for (const auto& [name, value] : request.headers) headers.append(name + ": " + value);
  headers.append("Expect:");  // no 100-continue round trip

  HttpResponse response;
  Body body{&response.body_head, request.keep_body, &response.body_size};
  char error[CURL_ERROR_SIZE] = {};
  const std::string user_agent = std::string("jobrunner-webhook/") + std::string(kVersion);

  set(h, CURLOPT_URL, request.url.c_str());
  set(h, CURLOPT_PROTOCOLS_STR, "http,https");
  set(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  set(h, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for timeouts
  set(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  set(h, CURLOPT_SSL_VERIFYPEER, 1L);
  set(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!request.ca_file.empty()) set(h, CURLOPT_CAINFO, request.ca_file.c_str());
  set(h, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
  set(h, CURLOPT_MAXREDIRS, kMaxRedirects);
  set(h, CURLOPT_POSTREDIR, static_cast<long>(CURL_REDIR_POST_ALL));
  set(h, CURLOPT_POST, 1L);
  set(h, CURLOPT_POSTFIELDS, request.body.data());
  set(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  if (request.method != "POST") set(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  set(h, CURLOPT_HTTPHEADER, headers.get());
  set(h, CURLOPT_USERAGENT, user_agent.c_str());
  set(h, CURLOPT_WRITEFUNCTION, &on_body);
  set(h, CURLOPT_WRITEDATA, &body);
  set(h, CURLOPT_ERRORBUFFER, error);

  const auto started = std::chrono::steady_clock::now();
  const CURLcode code = curl_easy_perform(h);
  response.latency =
      std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - started);
  long status = 0;
  if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK) response.status = status;
  if (code != CURLE_OK) {
    response.failure = classify(code);
    response.error = error[0] != '\0' ? std::string(error) : curl_easy_strerror(code);
    return response;
  }
  response.retry_after = last_header(h, "Retry-After");
  response.location = last_header(h, "Location");
  return response;
}

}  // namespace jobrunner::webhook
