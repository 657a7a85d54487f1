#pragma once
// The relay file of run-mail-jobs (--relay FILE, default
// /etc/jobrunner/mail.json): the SMTP relay that every mail goes through,
// and the sender. It lives on the runner's host, never in a job's row
// (docs/mail-jobs.md).
//
//   {
//     "url": "smtp://mail.example.com:587",   // smtp:// or smtps://
//     "from": "jobrunner@example.com",
//     "starttls": true,                         // smtp:// only; default false
//     "username": "jobrunner",                  // optional, with one of:
//     "password_file": "/etc/jobrunner/mail.password",   // or "password"
//     "timeout": "30s",                         // default 30s, 1s to 10m
//     "message_id_domain": "jobs.example.com",  // default: the from domain
//     "ca_file": "/etc/jobrunner/relay-ca.pem"  // optional
//   }

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "jobrunner/core/duration.hpp"

namespace jobrunner::mail {

struct Relay {
  std::string url;   // smtp://host[:port] or smtps://host[:port]
  std::string from;  // a plain address (the envelope sender and From:)
  bool starttls = false;
  std::string username;  // empty: no AUTH
  std::string password;
  bool inline_password = false;  // "password" in the file itself
  Duration timeout = std::chrono::seconds(30);
  std::string message_id_domain;  // never empty once loaded
  std::string ca_file;            // empty: the system's authorities
  // Not errors: what the runner should log at start (e.g. a password file
  // that its group can read).
  std::vector<std::string> warnings;
};

inline constexpr const char* kDefaultRelayFile = "/etc/jobrunner/mail.json";
inline constexpr Duration kMinTimeout = std::chrono::seconds(1);
inline constexpr Duration kMaxTimeout = std::chrono::minutes(10);

// Reads and checks the file. Throws ConfigError naming the file and the
// field: unreadable, not JSON, an unknown field, a URL that is not smtp:// or
// smtps://, starttls with smtps://, a malformed from address or domain, a
// username without a password (or the reverse), credentials over smtp://
// without starttls (they would cross the network in clear), a password file
// that cannot be read, a file holding a password that others can read (its
// group reading it is a warning), a timeout out of range, an unreadable CA
// file.
Relay load_relay(const std::filesystem::path& file);

// The same from the file's text (`origin` names it in messages); no
// permission checks but those of a password_file.
Relay parse_relay(const std::string& text, const std::string& origin,
                  const std::filesystem::path& base_dir = {});

// Refuses a file that holds a secret when others can read or write it
// (ConfigError naming `what`); returns a warning when its group can.
std::vector<std::string> check_secret_file_mode(const std::filesystem::path& file,
                                                const std::string& what);

}  // namespace jobrunner::mail
