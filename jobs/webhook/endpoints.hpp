#pragma once
// The endpoints file of run-webhook-jobs (--endpoints FILE, default
// /etc/jobrunner/endpoints.json): the allowlist of where webhooks may go.
// A job names an endpoint; its URL, method, headers, secrets and timeout
// come from here, never from the job's row (docs/webhook-jobs.md).
//
//   {
//     "endpoints": {
//       "billing": {
//         "url": "https://billing.example.com/hooks/jobrunner",
//         "method": "POST",                        // POST (default), PUT or PATCH
//         "headers": {"X-Source": "jobrunner"},
//         "secret": "whsec_...",                   // or "secrets": [new, old],
//                                                  // or "secret_file": "/path"
//         "timeout": "10s",                        // default 10s, 1s to 10m
//         "allow_redirects": false,                // default false
//         "ca_file": "/etc/jobrunner/billing-ca.pem"  // optional
//       }
//     }
//   }

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "jobrunner/core/duration.hpp"

namespace jobrunner::webhook {

struct Endpoint {
  std::string name;
  std::string url;       // http:// or https://
  std::string method = "POST";
  // Extra request headers, sorted by name.
  std::vector<std::pair<std::string, std::string>> headers;
  // One secret, or two during a rotation (the new one first): each signs
  // the request, and the signature header carries both.
  std::vector<std::string> secrets;
  Duration timeout = std::chrono::seconds(10);
  bool allow_redirects = false;
  // A PEM file of the certificate authorities trusted for this endpoint
  // (instead of the system's); empty: the system's.
  std::string ca_file;
};

using Endpoints = std::map<std::string, Endpoint>;

inline constexpr const char* kDefaultEndpointsFile = "/etc/jobrunner/endpoints.json";
inline constexpr std::size_t kMaxSecrets = 2;
inline constexpr Duration kMinTimeout = std::chrono::seconds(1);
inline constexpr Duration kMaxTimeout = std::chrono::minutes(10);

// Reads and checks the file. Throws ConfigError naming the file and the
// problem (and the endpoint and field, when it is one's): unreadable, not
// JSON, no "endpoints" object, an unknown field (a typo must not pass
// silently), a URL that is not http(s), a header that the runner sets itself
// (Content-Type, Webhook-Signature, Idempotency-Key) or that is malformed, no
// secret or more than two, a secret (inline or a secret file's line) with
// white space around it, a secret file that cannot be read, a CA file that
// holds no PEM certificate, a timeout out of range, a key given twice.
// `warnings` (if given) gets what is loose but usable: a file of secrets
// that any user may read or write, no endpoint at all.
Endpoints load_endpoints(const std::filesystem::path& file,
                         std::vector<std::string>* warnings = nullptr);

// The same from the file's text (`origin` names it in messages).
Endpoints parse_endpoints(const std::string& text, const std::string& origin,
                          const std::filesystem::path& base_dir = {},
                          std::vector<std::string>* warnings = nullptr);

}  // namespace jobrunner::webhook
