#include "endpoints.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "jobrunner/core/errors.hpp"
#include "jobrunner/runtime/config_file.hpp"

namespace jobrunner::webhook {
namespace {

using nlohmann::json;

const std::set<std::string> kFields = {"url",     "method",          "headers",
                                       "secret",  "secrets",         "secret_file",
                                       "timeout", "allow_redirects", "ca_file"};
// Set by the runner on every request; an endpoint may not override them.
const std::set<std::string> kReservedHeaders = {"content-type", "webhook-signature",
                                                "idempotency-key", "content-length", "host"};
const std::set<std::string> kMethods = {"POST", "PUT", "PATCH"};

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// RFC 9110 token characters.
bool is_header_name(const std::string& name) {
  static const std::string extra = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || extra.find(static_cast<char>(c)) != std::string::npos;
  });
}

bool is_header_value(const std::string& value) {
  return std::none_of(value.begin(), value.end(), [](unsigned char c) {
    return (c < 0x20 && c != '\t') || c == 0x7f;
  });
}

// A secret is used as the HMAC key; whitespace around it is a copy-and-paste
// accident, so it is refused rather than silently part of the key.
void check_secret(const std::string& secret, const std::string& where) {
  if (secret.empty()) throw ConfigError(where + " is empty");
  if (std::isspace(static_cast<unsigned char>(secret.front())) ||
      std::isspace(static_cast<unsigned char>(secret.back()))) {
    throw ConfigError(where + " begins or ends with white space");
  }
}

std::filesystem::path resolve(const std::filesystem::path& base, const std::string& path) {
  const std::filesystem::path p(path);
  return p.is_absolute() || base.empty() ? p : base / p;
}

// The secrets of a secret file: one per line (two during a rotation, the
// new one first); blank lines and lines starting with # are skipped. A line
// with white space around its secret is refused, as an inline secret is
// (a CRLF line too): it would silently be part of the key, or not.
std::vector<std::string> read_secret_file(const std::filesystem::path& path,
                                          const std::string& where,
                                          std::vector<std::string>* warnings) {
  std::string text;
  try {
    text = read_config_file(path.string(), "secret file");
  } catch (const ConfigError& e) {
    throw ConfigError(where + ": " + e.what() + " (it must be readable by the runner's user)");
  }
  if (warnings != nullptr) {
    for (auto& warning : loose_mode_warnings(path.string(), true)) {
      warnings->push_back(std::move(warning));
    }
  }
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    check_secret(line, where + ": secret file " + path.string() + ", line " + std::to_string(number));
    out.push_back(line);
  }
  return out;
}

std::string string_field(const json& value, const std::string& where) {
  if (!value.is_string()) throw ConfigError(where + " must be a string, not " + value.dump());
  return value.get<std::string>();
}

Endpoint parse_endpoint(const std::string& name, const json& spec, const std::string& origin,
                        const std::filesystem::path& base_dir,
                        std::vector<std::string>* warnings) {
  const std::string at = origin + ": endpoint '" + name + "'";
  if (!spec.is_object()) throw ConfigError(at + " must be an object");
  for (const auto& [field, value] : spec.items()) {
    (void)value;
    if (!kFields.contains(field)) {
      throw ConfigError(at + ": unknown field '" + field +
                        "' (known: url, method, headers, secret, secrets, secret_file, timeout, "
                        "allow_redirects, ca_file)");
    }
  }
  Endpoint e;
  e.name = name;
  if (!spec.contains("url")) throw ConfigError(at + ": no \"url\"");
  e.url = string_field(spec["url"], at + ": \"url\"");
  const auto scheme_end = e.url.find("://");
  const auto scheme = scheme_end == std::string::npos ? "" : lower(e.url.substr(0, scheme_end));
  if ((scheme != "http" && scheme != "https") || e.url.size() <= scheme_end + 3 ||
      !is_header_value(e.url) || e.url.find(' ') != std::string::npos) {
    throw ConfigError(at + ": \"url\" must be an http:// or https:// URL without spaces, not '" +
                      e.url + "'");
  }
  if (spec.contains("method")) {
    e.method = string_field(spec["method"], at + ": \"method\"");
    if (!kMethods.contains(e.method)) {
      throw ConfigError(at + ": \"method\" must be POST, PUT or PATCH, not '" + e.method + "'");
    }
  }
  if (spec.contains("headers")) {
    const auto& headers = spec["headers"];
    if (!headers.is_object()) throw ConfigError(at + ": \"headers\" must be an object");
    for (const auto& [header, value] : headers.items()) {
      const auto where = at + ": header '" + header + "'";
      if (!is_header_name(header)) throw ConfigError(where + " is not a valid header name");
      if (kReservedHeaders.contains(lower(header))) {
        throw ConfigError(where + " is set by the runner itself and cannot be configured");
      }
      const auto text = string_field(value, where);
      if (!is_header_value(text)) throw ConfigError(where + " has a control character");
      e.headers.emplace_back(header, text);
    }
  }
  const int given = static_cast<int>(spec.contains("secret")) +
                    static_cast<int>(spec.contains("secrets")) +
                    static_cast<int>(spec.contains("secret_file"));
  if (given != 1) {
    throw ConfigError(at + ": give exactly one of \"secret\", \"secrets\" (two during a "
                      "rotation) or \"secret_file\"" +
                      (given == 0 ? ": every request is signed" : ""));
  }
  if (spec.contains("secret")) {
    e.secrets.push_back(string_field(spec["secret"], at + ": \"secret\""));
  } else if (spec.contains("secrets")) {
    const auto& list = spec["secrets"];
    if (!list.is_array()) throw ConfigError(at + ": \"secrets\" must be an array of strings");
    for (const auto& s : list) e.secrets.push_back(string_field(s, at + ": each of \"secrets\""));
  } else {
    const auto path = resolve(base_dir, string_field(spec["secret_file"], at + ": \"secret_file\""));
    e.secrets = read_secret_file(path, at, warnings);
  }
  if (e.secrets.empty() || e.secrets.size() > kMaxSecrets) {
    throw ConfigError(at + ": has " + std::to_string(e.secrets.size()) +
                      " secrets; give one, or two during a rotation (the new one first)");
  }
  for (std::size_t i = 0; i < e.secrets.size(); ++i) {
    check_secret(e.secrets[i], at + ": secret " + std::to_string(i + 1));
  }
  if (e.secrets.size() == 2 && e.secrets[0] == e.secrets[1]) {
    throw ConfigError(at + ": its two secrets are the same");
  }
  if (spec.contains("timeout")) {
    const auto text = string_field(spec["timeout"], at + ": \"timeout\"");
    try {
      e.timeout = parse_duration(text);
    } catch (const BadInput& error) {
      throw ConfigError(at + ": \"timeout\": " + error.what());
    }
    if (e.timeout < kMinTimeout || e.timeout > kMaxTimeout) {
      throw ConfigError(at + ": \"timeout\" must be from " + format_duration(kMinTimeout) +
                        " to " + format_duration(kMaxTimeout) + ", not " + text);
    }
  }
  if (spec.contains("allow_redirects")) {
    if (!spec["allow_redirects"].is_boolean()) {
      throw ConfigError(at + ": \"allow_redirects\" must be true or false");
    }
    e.allow_redirects = spec["allow_redirects"].get<bool>();
  }
  if (spec.contains("ca_file")) {
    const auto path = resolve(base_dir, string_field(spec["ca_file"], at + ": \"ca_file\""));
    const auto pem = read_config_file(path.string(), at + ": CA file");
    // libcurl reads it only at the first request: a wrong file would show
    // as TLS failures, retried, instead of at start.
    if (pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      throw ConfigError(at + ": CA file " + path.string() +
                        " holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
    }
    e.ca_file = path.string();
  }
  return e;
}

}  // namespace

Endpoints parse_endpoints(const std::string& text, const std::string& origin,
                          const std::filesystem::path& base_dir,
                          std::vector<std::string>* warnings) {
  json doc = parse_config_json(text, origin);
  if (!doc.is_object() || !doc.contains("endpoints") || !doc["endpoints"].is_object()) {
    throw ConfigError(origin + ": expected an object with an \"endpoints\" object "
                      "({\"endpoints\": {\"name\": {\"url\": ..., \"secret\": ...}}})");
  }
  for (const auto& [key, value] : doc.items()) {
    (void)value;
    if (key != "endpoints") throw ConfigError(origin + ": unknown top-level field '" + key + "'");
  }
  Endpoints out;
  for (const auto& [name, spec] : doc["endpoints"].items()) {
    if (name.empty() || name.size() > 100 ||
        !std::all_of(name.begin(), name.end(), [](unsigned char c) {
          return std::isalnum(c) || c == '_' || c == '-' || c == '.';
        })) {
      throw ConfigError(origin + ": endpoint name '" + name +
                        "' must be 1 to 100 letters, digits, '_', '-' or '.'");
    }
    out.emplace(name, parse_endpoint(name, spec, origin, base_dir, warnings));
  }
  if (out.empty() && warnings != nullptr) {
    warnings->push_back(origin + " names no endpoint: every webhook job this runner claims "
                                 "fails as a user error (unknown endpoint)");
  }
  return out;
}

Endpoints load_endpoints(const std::filesystem::path& file, std::vector<std::string>* warnings) {
  std::string text;
  try {
    text = read_config_file(file.string(), "endpoints file");
  } catch (const ConfigError& e) {
    throw ConfigError(std::string(e.what()) + " (give the allowlist of webhook endpoints with "
                      "--endpoints FILE; see docs/webhook-jobs.md)");
  }
  if (warnings != nullptr) {
    for (auto& warning : loose_mode_warnings(file.string(), true)) {
      warnings->push_back(std::move(warning));
    }
  }
  return parse_endpoints(text, "endpoints file " + file.string(), file.parent_path(), warnings);
}

}  // namespace jobrunner::webhook
