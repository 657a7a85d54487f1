#pragma once
// The SMTP client of run-mail-jobs: one message to one relay, over libcurl.
// Nothing here knows of jobs or outcomes: mail_job.cpp maps an SmtpResult
// to one.
//
// Contract of send_mail():
//  - one SMTP transaction (EHLO, STARTTLS when asked, AUTH when a username
//    is given, MAIL FROM, one RCPT TO per recipient, DATA) to `url`, which
//    is smtp:// or smtps:// (no other protocol);
//  - with `starttls`, the message goes only over TLS (CURLUSESSL_ALL: a
//    relay that does not offer STARTTLS is a failure, never a fallback to
//    clear text); TLS always verified (the peer's certificate and its host
//    name), against `ca_file` when given, else the system's authorities;
//  - the message is sent as it is (CRLF line ends); libcurl dot-stuffs it;
//  - a recipient the relay refuses ends the transaction: nothing is sent;
//  - the whole exchange bounded by `timeout`;
//  - never throws for anything the network or the relay does: a failure
//    comes back with `failure` set, the relay's last reply and curl's
//    message. Throws std::runtime_error only when libcurl cannot be set up.
// Thread-safe: each call has its own handle (no connection reuse).

#include <string>
#include <vector>

#include "jobrunner/core/duration.hpp"

namespace jobrunner::mail {

struct SmtpRequest {
  std::string url;
  std::string from;
  std::vector<std::string> recipients;  // plain addresses
  std::string message;
  bool starttls = false;
  std::string username;  // empty: no AUTH
  std::string password;
  Duration timeout = std::chrono::seconds(30);
  std::string ca_file;
};

struct SmtpResult {
  enum class Failure {
    none,
    connect,  // refused, unreachable, name not resolved, closed
    timeout,  // `timeout` passed
    tls,      // the handshake failed, the certificate was not trusted, or
              // STARTTLS was not offered or refused
    login,    // the relay refused the username and password
    reply,    // the relay answered a command with an error (`code`)
    other,
  };
  Failure failure = Failure::none;
  // What the relay refused ("the connection": its greeting; "MAIL", "RCPT",
  // "DATA"; "the message": its end),
  // for Failure::reply.
  std::string command;
  long code = 0;       // the relay's last reply code (0 without one)
  std::string reply;   // its last reply line, e.g. "250 2.0.0 OK queued as 1A2B"
  std::string error;   // curl's message when failure != none
  Duration latency{};
};

[[nodiscard]] SmtpResult send_mail(const SmtpRequest& request);

// "connection failed", "timed out", ... for log lines.
const char* to_string(SmtpResult::Failure failure);

}  // namespace jobrunner::mail
