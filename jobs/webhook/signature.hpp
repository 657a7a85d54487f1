#pragma once
// The signature of a webhook request, in Stripe's scheme
// (docs/webhook-jobs.md, "Verifying a request"):
//
//   Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// with one v1= per secret (two during a rotation), so a receiver that knows
// either secret accepts the request, and one that checks t can refuse
// replays. HMAC-SHA256 is OpenSSL's (libcrypto).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace jobrunner::webhook {

inline constexpr const char* kSignatureHeader = "Webhook-Signature";

// Lower-case hex of HMAC-SHA256(key, message): 64 characters.
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

// The header's value for `body` signed at `unix_seconds` with each secret,
// in the order given.
std::string signature_header(const std::vector<std::string>& secrets, std::int64_t unix_seconds,
                             std::string_view body);

}  // namespace jobrunner::webhook
