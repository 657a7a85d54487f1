#include "conninfo.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <memory>
#include <string_view>
#include <utility>

#include "jobrunner/core/errors.hpp"

namespace jobrunner::pg {
namespace {

constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kNetworkDefaults{{
    {"keepalives_idle", "5"},
    {"keepalives_interval", "2"},
    {"keepalives_count", "3"},
    {"tcp_user_timeout", "10000"},
}};

// libpq's integer options (parse_int_param: an optional sign, digits and
// surrounding blanks).
constexpr std::array<std::string_view, 6> kIntegerOptions{
    "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
    "keepalives_count", "tcp_user_timeout"};

struct Choices {
  std::string_view option;
  std::string_view allowed;  // space-separated, as the message lists them
};
constexpr std::array<Choices, 4> kEnumOptions{{
    {"sslmode", "disable allow prefer require verify-ca verify-full"},
    {"gssencmode", "disable prefer require"},
    {"channel_binding", "disable prefer require"},
    {"target_session_attrs", "any read-write read-only primary standby prefer-standby"},
}};

bool is_integer(std::string_view text) {
  const std::string copy(text);
  const char* begin = copy.c_str();
  char* end = nullptr;
  errno = 0;
  std::strtol(begin, &end, 10);
  if (end == begin || errno == ERANGE) return false;
  while (*end == ' ' || *end == '\t' || *end == '\n') ++end;
  return *end == '\0';
}

bool has_word(std::string_view words, std::string_view word) {
  while (!words.empty()) {
    const auto space = words.find(' ');
    if (words.substr(0, space) == word) return true;
    if (space == std::string_view::npos) break;
    words.remove_prefix(space + 1);
  }
  return false;
}

std::size_t count_items(std::string_view list) {
  return static_cast<std::size_t>(std::count(list.begin(), list.end(), ',')) + 1;
}

[[noreturn]] void refuse(const std::string& why) {
  throw ConfigError("the connection string is invalid: " + why +
                    " (libpq would refuse it before connecting; fix --db, DATABASE_URL or the "
                    "PG* variables)");
}

// `value` in single quotes for a key=value string, with ' and \ escaped.
std::string quoted(std::string_view value) {
  std::string out = "'";
  for (const char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

using Options = std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)>;

Options parse(const std::string& conninfo) {
  char* error = nullptr;
  Options options(PQconninfoParse(conninfo.c_str(), &error), &PQconninfoFree);
  if (options) return options;
  std::string message = error != nullptr ? error : "out of memory";
  PQfreemem(error);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  // libpq quotes the part it could not parse, which may hold a password.
  const bool may_hold_secret = conninfo.find("password") != std::string::npos ||
                               conninfo.find('@') != std::string::npos;
  refuse(may_hold_secret ? "it cannot be parsed (libpq's message is not shown: it could quote a "
                           "password)"
                         : message);
}

}  // namespace

std::string conninfo_with_defaults(const std::string& conninfo) {
  const auto options = parse(conninfo);
  std::map<std::string, std::string, std::less<>> given;
  for (auto* o = options.get(); o->keyword != nullptr; ++o) {
    if (o->val != nullptr) given.emplace(o->keyword, o->val);
  }
  auto value_of = [&](std::string_view key) -> const std::string* {
    auto it = given.find(key);
    return it == given.end() || it->second.empty() ? nullptr : &it->second;
  };

  for (const auto key : kIntegerOptions) {
    if (const auto* value = value_of(key); value != nullptr && !is_integer(*value)) {
      refuse(std::string(key) + " must be an integer, not " + quoted(*value));
    }
  }
  if (const auto* ports = value_of("port")) {
    std::string_view rest(*ports);
    for (;;) {
      const auto comma = rest.find(',');
      const auto port = rest.substr(0, comma);
      if (!port.empty() && !is_integer(port)) refuse("port must be a number, not " + quoted(port));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    const auto* hosts = value_of("host");
    if (hosts == nullptr) hosts = value_of("hostaddr");
    const auto host_count = hosts ? count_items(*hosts) : 1;
    const auto port_count = count_items(*ports);
    if (port_count != 1 && port_count != host_count) {
      refuse("it names " + std::to_string(port_count) + " ports for " +
             std::to_string(host_count) + " hosts");
    }
  }
  for (const auto& [key, allowed] : kEnumOptions) {
    if (const auto* value = value_of(key); value != nullptr && !has_word(allowed, *value)) {
      refuse(std::string(key) + " must be one of: " + std::string(allowed) + "; not " + quoted(*value));
    }
  }

  for (const auto& [key, value] : kNetworkDefaults) {
    if (value_of(key) == nullptr) given.insert_or_assign(std::string(key), std::string(value));
  }
  std::string out;
  for (const auto& [key, value] : given) {
    if (!out.empty()) out += ' ';
    out += key + "=" + quoted(value);
  }
  return out;
}

}  // namespace jobrunner::pg
