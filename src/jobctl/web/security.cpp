#include "security.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include <spdlog/spdlog.h>

#include "jobrunner/core/errors.hpp"
#include "jobrunner/runtime/config_file.hpp"

namespace jobrunner::jobctl::web {

bool equal_in_constant_time(std::string_view a, std::string_view b) noexcept {
  const std::size_t n = std::max(a.size(), b.size());
  unsigned diff = a.size() == b.size() ? 0U : 1U;
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0U;
    const auto y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0U;
    diff |= x ^ y;
  }
  return diff == 0;
}

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  std::size_t got = 0;
  while (got < bytes) {
    const auto n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0) throw Error("cannot read random bytes from the kernel (getrandom)");
    got += static_cast<std::size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : raw) {
    const auto u = static_cast<unsigned char>(c);
    out += kHex[u >> 4];
    out += kHex[u & 15];
  }
  return out;
}

namespace {

std::string trim(std::string_view s) {
  const auto not_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) == 0; };
  const auto b = std::find_if(s.begin(), s.end(), not_space);
  const auto e = std::find_if(s.rbegin(), s.rend(), not_space).base();
  return b < e ? std::string(b, e) : std::string();
}

}  // namespace

std::vector<Token> parse_tokens(std::string_view text, const std::string& source) {
  std::vector<Token> out;
  std::set<std::string> names;
  std::istringstream in{std::string(text)};
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const auto t = trim(line);
    if (t.empty() || t.front() == '#') continue;
    const auto where = source + " line " + std::to_string(number);
    Token token;
    if (const auto colon = t.find(':'); colon != std::string::npos) {
      token.name = trim(std::string_view(t).substr(0, colon));
      token.secret = trim(std::string_view(t).substr(colon + 1));
      if (token.name.empty()) throw ConfigError(where + ": a token without a name before ':'");
    } else {
      token.name = "token";
      token.secret = t;
    }
    if (token.secret.size() < 16) {
      throw ConfigError(where + ": the token of '" + token.name +
                        "' is shorter than 16 characters (make one with: openssl rand -hex 32)");
    }
    if (!names.insert(token.name).second) {
      throw ConfigError(where + ": the name '" + token.name + "' is used twice");
    }
    out.push_back(std::move(token));
  }
  if (out.empty()) {
    throw ConfigError(source + " holds no token (lines 'name:token' or one token)");
  }
  return out;
}

std::vector<Token> read_token_file(const std::string& path) {
  std::string text;
  try {
    text = read_config_file(path, "--token-file");
  } catch (const ConfigError& e) {
    throw ConfigError(std::string(e.what()) + " (lines 'name:token' or one token)");
  }
  // Tokens are secrets: one that any user may read is said, as for every
  // file of secrets a runner reads.
  for (const auto& warning : loose_mode_warnings(path, true)) spdlog::warn("web: {}", warning);
  return parse_tokens(text, "--token-file " + path);
}

std::optional<std::string> match_token(const std::vector<Token>& tokens,
                                       std::string_view presented) {
  std::optional<std::string> found;
  // Every token is compared, so the time does not tell which one matched.
  for (const auto& t : tokens) {
    if (equal_in_constant_time(t.secret, presented) && !found) found = t.name;
  }
  return found;
}

std::optional<std::string> bearer_of(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) {
      return std::nullopt;
    }
  }
  auto value = trim(authorization.substr(kScheme.size()));
  if (value.empty()) return std::nullopt;
  return value;
}

std::optional<std::string> cookie_of(std::string_view header, std::string_view name) {
  std::size_t pos = 0;
  while (pos <= header.size()) {
    auto end = header.find(';', pos);
    if (end == std::string_view::npos) end = header.size();
    const auto pair = trim(header.substr(pos, end - pos));
    const auto eq = pair.find('=');
    if (eq != std::string::npos && std::string_view(pair).substr(0, eq) == name) {
      return pair.substr(eq + 1);
    }
    pos = end + 1;
  }
  return std::nullopt;
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  return host.starts_with("127.") &&
         std::all_of(host.begin(), host.end(),
                     [](char c) { return c == '.' || (c >= '0' && c <= '9'); });
}

}  // namespace jobrunner::jobctl::web
