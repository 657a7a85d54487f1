#include "endpoints.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "common/config_fields.hpp"
#include "jobrunner/core/errors.hpp"

namespace jobrunner::webhook {
namespace {

using nlohmann::json;

const std::vector<std::string> kFields = {"url",         "method",  "headers",
                                          "secret",      "secrets", "secret_file",
                                          "timeout",     "allow_redirects", "ca_file"};
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

using config_fields::resolve;

// The secrets of a secret file: one per line (two during a rotation, the
// new one first); blank lines and lines starting with # are skipped.
std::vector<std::string> read_secret_file(const std::filesystem::path& path,
                                          const std::string& where) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError(where + ": cannot read secret file '" + path.string() +
                      "' (it must exist and be readable by the runner's user)");
  }
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    const auto last = line.find_last_not_of(" \t");
    out.push_back(line.substr(first, last - first + 1));
  }
  return out;
}

std::string string_field(const json& value, const std::string& where) {
  if (!value.is_string()) throw ConfigError(where + " must be a string, not " + value.dump());
  return value.get<std::string>();
}

Endpoint parse_endpoint(const std::string& name, const json& spec, const std::string& origin,
                        const std::filesystem::path& base_dir) {
  const std::string at = origin + ": endpoint '" + name + "'";
  if (!spec.is_object()) throw ConfigError(at + " must be an object");
  config_fields::refuse_unknown(spec, kFields, at);
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
    e.secrets = read_secret_file(path, at);
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
    e.timeout = config_fields::duration(spec["timeout"], at + ": \"timeout\"", kMinTimeout,
                                        kMaxTimeout);
  }
  if (spec.contains("allow_redirects")) {
    if (!spec["allow_redirects"].is_boolean()) {
      throw ConfigError(at + ": \"allow_redirects\" must be true or false");
    }
    e.allow_redirects = spec["allow_redirects"].get<bool>();
  }
  if (spec.contains("ca_file")) e.ca_file = config_fields::ca_file(base_dir, spec["ca_file"], at);
  return e;
}

}  // namespace

Endpoints parse_endpoints(const std::string& text, const std::string& origin,
                          const std::filesystem::path& base_dir) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    throw ConfigError(origin + ": not valid JSON: " + e.what());
  }
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
    out.emplace(name, parse_endpoint(name, spec, origin, base_dir));
  }
  return out;
}

Endpoints load_endpoints(const std::filesystem::path& file) {
  const std::string origin = "endpoints file '" + file.string() + "'";
  const auto text = config_fields::read_file(
      file, origin,
      "give the allowlist of webhook endpoints with --endpoints FILE; see docs/webhook-jobs.md");
  return parse_endpoints(text, origin, file.parent_path());
}

}  // namespace jobrunner::webhook
