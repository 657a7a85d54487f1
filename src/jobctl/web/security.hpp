#pragma once
// jobctl web's access rules: the bearer tokens of --token-file, the CSRF
// token of the action forms, and comparisons that take the same time
// however many characters match.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobrunner::jobctl::web {

// True when a and b are equal; its time depends on their lengths only.
bool equal_in_constant_time(std::string_view a, std::string_view b) noexcept;

// `bytes` random bytes from the kernel (getrandom), as lower-case hex.
std::string random_hex(std::size_t bytes);

struct Token {
  std::string name;  // who, in the logs and the job's log ("token" if unnamed)
  std::string secret;
};

// The tokens of a --token-file: one a line, "name:token" or a bare token
// (named "token"); blank lines and lines starting with # are skipped.
// ConfigError (exit 78) for a file that cannot be read, holds no token, or
// a token shorter than 16 characters or a name used twice.
std::vector<Token> read_token_file(const std::string& path);
std::vector<Token> parse_tokens(std::string_view text, const std::string& source);

// The name of the token that `presented` is, if any (each compared in
// constant time).
std::optional<std::string> match_token(const std::vector<Token>& tokens,
                                       std::string_view presented);

// "abc" from "Bearer abc" (case-insensitive scheme), else nullopt.
std::optional<std::string> bearer_of(std::string_view authorization);
// The value of cookie `name` in a Cookie header, else nullopt.
std::optional<std::string> cookie_of(std::string_view header, std::string_view name);

// True for an address of the loopback interface: 127.0.0.0/8, ::1,
// localhost.
bool is_loopback_host(std::string_view host);

}  // namespace jobrunner::jobctl::web
