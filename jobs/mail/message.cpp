#include "message.hpp"

#include <ctime>
#include <string>

namespace jobrunner::mail {
namespace {

bool is_atext(unsigned char c) {
  static const std::string_view extra = "!#$%&'*+/=?^_`{|}~-";
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         extra.find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_alnum(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_label(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (!is_alnum(static_cast<unsigned char>(label.front())) ||
      !is_alnum(static_cast<unsigned char>(label.back()))) {
    return false;
  }
  for (const char c : label) {
    if (!is_alnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}

bool is_printable_ascii(std::string_view text) {
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) return false;
  }
  return true;
}

// The length of the UTF-8 sequence that starts with `lead` (1 for anything
// that is not a lead byte: the text was checked before).
std::size_t sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

std::string base64(std::string_view bytes) {
  static const char* digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto n = (static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) << 16) |
                   (static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1])) << 8) |
                   static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 2]));
    out += digits[(n >> 18) & 63];
    out += digits[(n >> 12) & 63];
    out += digits[(n >> 6) & 63];
    out += digits[n & 63];
  }
  if (i + 1 == bytes.size()) {
    const auto n = static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) << 16;
    out += digits[(n >> 18) & 63];
    out += digits[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const auto n = (static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) << 16) |
                   (static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1])) << 8);
    out += digits[(n >> 18) & 63];
    out += digits[(n >> 12) & 63];
    out += digits[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

// The lines of `text`, split at CRLF, LF or a lone CR.
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' || text[i] == '\r') {
      lines.push_back(text.substr(start, i - start));
      if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      start = i + 1;
    }
  }
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

std::string quoted_printable_line(std::string_view line) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  std::size_t column = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    const bool last = i + 1 == line.size();
    std::string piece;
    // Literal: printable ASCII but '=', and a space or tab unless it ends
    // the line (trailing white space may be stripped on the way).
    if ((c >= 0x21 && c <= 0x7e && c != '=') || ((c == ' ' || c == '\t') && !last)) {
      piece = static_cast<char>(c);
    } else {
      piece = {'=', hex[c >> 4], hex[c & 15]};
    }
    // A soft line break keeps each line at most 76 characters, the '='
    // included.
    if (column + piece.size() > 75) {
      out += "=\r\n";
      column = 0;
    }
    out += piece;
    column += piece.size();
  }
  return out;
}

}  // namespace

bool is_domain(std::string_view domain) {
  if (domain.empty() || domain.size() > 253) return false;
  std::size_t start = 0;
  for (;;) {
    const auto dot = domain.find('.', start);
    if (!is_label(domain.substr(start, dot == std::string_view::npos ? dot : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool is_address(std::string_view address) {
  if (address.size() > 254) return false;
  const auto at = address.find('@');
  if (at == std::string_view::npos || at == 0) return false;
  const auto local = address.substr(0, at);
  if (local.front() == '.' || local.back() == '.' ||
      local.find("..") != std::string_view::npos) {
    return false;
  }
  for (const char c : local) {
    if (c != '.' && !is_atext(static_cast<unsigned char>(c))) return false;
  }
  return is_domain(address.substr(at + 1));
}

bool is_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = 0;
    std::uint32_t code = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 2;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + n > text.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      const auto d = static_cast<unsigned char>(text[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      code = (code << 6) | (d & 0x3F);
    }
    if ((n == 2 && code < 0x80) || (n == 3 && code < 0x800) || (n == 4 && code < 0x10000) ||
        code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += n;
  }
  return true;
}

std::string encode_header_text(std::string_view text) {
  if (is_printable_ascii(text)) return std::string(text);
  // "=?UTF-8?B?" + base64 + "?=" is at most 75 characters: 63 of base64,
  // that is 45 bytes of text (rounded down to whole characters).
  constexpr std::size_t kBytesPerWord = 45;
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t end = i;
    while (end < text.size()) {
      const auto n = sequence_length(static_cast<unsigned char>(text[end]));
      if (end + n - i > kBytesPerWord) break;
      end += n;
    }
    if (end == i) end = std::min(text.size(), i + sequence_length(static_cast<unsigned char>(text[i])));
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64(text.substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

EncodedBody encode_body(std::string_view body) {
  const auto lines = lines_of(body);
  bool plain = true;
  for (const auto line : lines) {
    if (line.size() > 998) plain = false;
    for (const char c : line) {
      const auto u = static_cast<unsigned char>(c);
      if (u >= 0x80 || u == 0) plain = false;
    }
  }
  EncodedBody out;
  out.encoding = plain ? "7bit" : "quoted-printable";
  for (const auto line : lines) {
    out.text += plain ? std::string(line) : quoted_printable_line(line);
    out.text += "\r\n";
  }
  return out;
}

std::string rfc5322_date(std::chrono::system_clock::time_point at) {
  static const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t t = std::chrono::system_clock::to_time_t(at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
                tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buffer;
}

std::string compose(const Message& message, const std::string& from,
                    const std::string& message_id, std::chrono::system_clock::time_point date) {
  auto join = [](const std::vector<std::string>& addresses) {
    std::string out;
    for (const auto& a : addresses) out += (out.empty() ? "" : ",\r\n ") + a;
    return out;
  };
  const auto body = encode_body(message.body);
  std::string out;
  out += "Date: " + rfc5322_date(date) + "\r\n";
  out += "From: " + from + "\r\n";
  out += "To: " + join(message.to) + "\r\n";
  if (!message.cc.empty()) out += "Cc: " + join(message.cc) + "\r\n";
  if (message.reply_to) out += "Reply-To: " + *message.reply_to + "\r\n";
  out += "Subject: " + encode_header_text(message.subject) + "\r\n";
  out += "Message-ID: " + message_id + "\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\n";
  out += "Content-Transfer-Encoding: " + body.encoding + "\r\n";
  out += "\r\n";
  out += body.text;
  return out;
}

std::string message_id_of(std::int64_t job_id, std::chrono::system_clock::time_point created,
                          const std::string& domain) {
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(created.time_since_epoch()).count();
  return "<jobrunner-mail-" + std::to_string(job_id) + "-" + std::to_string(us) + "@" + domain +
         ">";
}

}  // namespace jobrunner::mail
