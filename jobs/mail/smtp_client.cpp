#include "smtp_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "common/curl_easy.hpp"

namespace jobrunner::mail {
namespace {

using curl_easy::set;

struct Upload {
  const std::string* text;
  std::size_t offset = 0;
};

std::size_t on_read(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  const auto n = std::min(size * count, upload->text->size() - upload->offset);
  std::memcpy(buffer, upload->text->data() + upload->offset, n);
  upload->offset += n;
  return n;
}

// libcurl passes every reply line of the relay to the header callback; the
// last one is kept (without its line end), bounded, but for the answer to
// the QUIT that libcurl sends after a refusal ("221 Bye"): the refusal is
// the answer that counts.
std::size_t on_reply(char* data, std::size_t size, std::size_t count, void* user) {
  auto* last = static_cast<std::string*>(user);
  const auto bytes = size * count;
  std::string line(data, std::min<std::size_t>(bytes, 300));
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  for (auto& c : line) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '.';
  }
  if (!line.empty() && !(line.rfind("221", 0) == 0 && !last->empty())) *last = line;
  return bytes;
}

SmtpResult::Failure classify(CURLcode code) {
  using F = SmtpResult::Failure;
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return F::timeout;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
      return F::connect;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_USE_SSL_FAILED:
      return F::tls;
    case CURLE_LOGIN_DENIED:
      return F::login;
    default:
      return F::other;
  }
}

}  // namespace

const char* to_string(SmtpResult::Failure failure) {
  using F = SmtpResult::Failure;
  switch (failure) {
    case F::none: return "none";
    case F::connect: return "connection failed";
    case F::timeout: return "timed out";
    case F::tls: return "TLS failed";
    case F::login: return "login refused";
    case F::reply: return "refused";
    case F::other: return "failed";
  }
  return "failed";
}

SmtpResult send_mail(const SmtpRequest& request) {
  const auto handle = curl_easy::make_handle();
  CURL* h = handle.get();

  curl_easy::StringList recipients;
  for (const auto& r : request.recipients) recipients.append("<" + r + ">");
  const std::string from = "<" + request.from + ">";
  Upload upload{&request.message};
  SmtpResult result;
  char error[CURL_ERROR_SIZE] = {};

  set(h, CURLOPT_URL, request.url.c_str());
  set(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  set(h, CURLOPT_NOSIGNAL, 1L);
  set(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  set(h, CURLOPT_SSL_VERIFYPEER, 1L);
  set(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!request.ca_file.empty()) set(h, CURLOPT_CAINFO, request.ca_file.c_str());
  if (request.starttls) set(h, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  if (!request.username.empty()) {
    set(h, CURLOPT_USERNAME, request.username.c_str());
    set(h, CURLOPT_PASSWORD, request.password.c_str());
  }
  set(h, CURLOPT_MAIL_FROM, from.c_str());
  set(h, CURLOPT_MAIL_RCPT, recipients.get());
  set(h, CURLOPT_UPLOAD, 1L);
  set(h, CURLOPT_READFUNCTION, &on_read);
  set(h, CURLOPT_READDATA, &upload);
  set(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.message.size()));
  set(h, CURLOPT_HEADERFUNCTION, &on_reply);
  set(h, CURLOPT_HEADERDATA, &result.reply);
  set(h, CURLOPT_ERRORBUFFER, error);

  const auto started = std::chrono::steady_clock::now();
  const CURLcode code = curl_easy_perform(h);
  result.latency =
      std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - started);
  long reply_code = 0;
  if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply_code) == CURLE_OK) {
    result.code = reply_code;
  }
  if (code == CURLE_OK) return result;
  result.error = error[0] != '\0' ? std::string(error) : curl_easy_strerror(code);
  result.failure = classify(code);
  // A command the relay answered with an error: libcurl says "RCPT failed:
  // 550" (MAIL, DATA alike) and, for the end of the message, no more than
  // CURLE_WEIRD_SERVER_REPLY with the code.
  if ((code == CURLE_SEND_ERROR || code == CURLE_WEIRD_SERVER_REPLY) && result.code >= 400 &&
      result.code < 600) {
    result.failure = SmtpResult::Failure::reply;
    for (const char* command : {"RCPT", "MAIL", "DATA"}) {
      if (result.error.rfind(command, 0) == 0) result.command = command;
    }
    // "Got unexpected smtp-server response": the greeting refused us.
    if (result.error.rfind("Got unexpected", 0) == 0) result.command = "the connection";
    if (result.command.empty()) result.command = "the message";
  } else if (code == CURLE_SEND_ERROR) {
    result.failure = SmtpResult::Failure::connect;
  }
  return result;
}

}  // namespace jobrunner::mail
