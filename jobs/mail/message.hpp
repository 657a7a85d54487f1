#pragma once
// The message of a mail job, as RFC 5322 text: addresses, header encoding
// (RFC 2047), the body's transfer encoding (RFC 2045) and the headers.
// Pure functions, no I/O.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobrunner::mail {

// A plain address: local@domain, a dot-atom local part (letters, digits and
// !#$%&'*+/=?^_`{|}~- between single dots), a domain of labels of letters,
// digits and inner hyphens; at most 254 bytes. No display name, no quoting,
// no comments: nothing that could carry a header or a second address. The
// same rule as SQL's jobrunner_is_mail_address (core patch 0016).
bool is_address(std::string_view address);
// A domain as above (for the Message-ID).
bool is_domain(std::string_view domain);

struct Message {
  std::vector<std::string> to;
  std::vector<std::string> cc;
  std::optional<std::string> reply_to;
  std::string subject;  // UTF-8, one line
  std::string body;     // UTF-8 text; any line ending
};

// A header's text as it is written: itself when it is printable ASCII,
// else RFC 2047 encoded words (=?UTF-8?B?...?=, each at most 75
// characters, never splitting a character), folded with CRLF SP.
std::string encode_header_text(std::string_view text);

// The body with every line ending CRLF and its transfer encoding: "7bit"
// when it is ASCII with lines of at most 998 bytes, else
// "quoted-printable" (RFC 2045, lines of at most 76 characters).
struct EncodedBody {
  std::string encoding;
  std::string text;
};
EncodedBody encode_body(std::string_view body);

// "Wed, 02 Dec 2026 00:06:05 +0000" (RFC 5322 date-time, in UTC).
std::string rfc5322_date(std::chrono::system_clock::time_point at);

// The whole message: Date, From, To, Cc, Reply-To, Subject, Message-ID,
// MIME-Version, Content-Type (text/plain; charset=utf-8) and
// Content-Transfer-Encoding, a blank line and the body; CRLF throughout.
// Dot-stuffing is left to the SMTP client (libcurl does it).
std::string compose(const Message& message, const std::string& from,
                    const std::string& message_id, std::chrono::system_clock::time_point date);

// "<jobrunner-mail-<job id>-<created, unix µs>@<domain>>": the same on every
// attempt of a job (so a duplicate delivery is recognisable), and not
// repeated by a new database whose ids start again at 1.
std::string message_id_of(std::int64_t job_id, std::chrono::system_clock::time_point created,
                          const std::string& domain);

// Whether `text` is valid UTF-8 (no overlong forms, no surrogates).
bool is_utf8(std::string_view text);

}  // namespace jobrunner::mail
