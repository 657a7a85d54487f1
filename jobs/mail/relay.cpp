#include "relay.hpp"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/config_fields.hpp"
#include "jobrunner/core/errors.hpp"
#include "jobrunner/runtime/config_file.hpp"
#include "message.hpp"

namespace jobrunner::mail {
namespace {

using nlohmann::json;

const std::vector<std::string> kFields = {"url",      "from",     "starttls",
                                          "username", "password", "password_file",
                                          "timeout",  "message_id_domain", "ca_file"};

std::string string_field(const json& doc, const char* field, const std::string& origin) {
  const auto& value = doc[field];
  if (!value.is_string() || value.get<std::string>().empty()) {
    throw ConfigError(origin + ": \"" + field + "\" must be a non-empty string, not " +
                      value.dump());
  }
  return value.get<std::string>();
}

using config_fields::resolve;

bool has_control(const std::string& text) {
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

// The password of a password file: its first line, without its line end.
std::string read_password_file(const std::filesystem::path& path, const std::string& origin) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError(origin + ": \"password_file\": cannot read '" + path.string() +
                      "' (it must exist and be readable by the runner's user)");
  }
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) throw ConfigError(origin + ": \"password_file\" '" + path.string() + "' is empty");
  return line;
}

}  // namespace

std::vector<std::string> check_secret_file_mode(const std::filesystem::path& file,
                                                const std::string& what) {
  struct stat st {};
  if (stat(file.c_str(), &st) != 0) return {};
  if ((st.st_mode & 0007) != 0) {
    throw ConfigError(what + " '" + file.string() + "' holds a password and others can access it (mode " +
                      [&] {
                        std::ostringstream m;
                        m << std::oct << (st.st_mode & 0777);
                        return m.str();
                      }() +
                      "); make it readable by the runner's user only: chmod 0600");
  }
  if ((st.st_mode & 0070) != 0) {
    return {what + " '" + file.string() +
            "' holds a password and its group can read it; chmod 0600 unless the group is the "
            "runner's own"};
  }
  return {};
}

Relay parse_relay(const std::string& text, const std::string& origin,
                  const std::filesystem::path& base_dir) {
  const json doc = parse_config_json(text, origin);
  if (!doc.is_object()) {
    throw ConfigError(origin + ": expected an object ({\"url\": \"smtp://host:587\", \"from\": "
                      "\"jobs@example.com\", ...})");
  }
  config_fields::refuse_unknown(doc, kFields, origin);
  Relay r;
  if (!doc.contains("url")) throw ConfigError(origin + ": no \"url\" (smtp://host:port or smtps://host:port)");
  r.url = string_field(doc, "url", origin);
  const bool smtps = r.url.rfind("smtps://", 0) == 0;
  if ((!smtps && r.url.rfind("smtp://", 0) != 0) || r.url.size() <= (smtps ? 8U : 7U) ||
      has_control(r.url) || r.url.find(' ') != std::string::npos) {
    throw ConfigError(origin + ": \"url\" must be smtp://host[:port] or smtps://host[:port], not '" +
                      r.url + "'");
  }
  if (!doc.contains("from")) throw ConfigError(origin + ": no \"from\" (the sender's address)");
  r.from = string_field(doc, "from", origin);
  if (!is_address(r.from)) {
    throw ConfigError(origin + ": \"from\" must be a plain address (local@domain), not '" +
                      r.from + "'");
  }
  if (doc.contains("starttls")) {
    if (!doc["starttls"].is_boolean()) throw ConfigError(origin + ": \"starttls\" must be true or false");
    r.starttls = doc["starttls"].get<bool>();
    if (r.starttls && smtps) {
      throw ConfigError(origin + ": \"starttls\" applies to smtp:// only; smtps:// is TLS from "
                        "the start");
    }
  }
  const bool has_password = doc.contains("password") || doc.contains("password_file");
  if (doc.contains("password") && doc.contains("password_file")) {
    throw ConfigError(origin + ": give \"password\" or \"password_file\", not both");
  }
  if (doc.contains("username")) {
    r.username = string_field(doc, "username", origin);
    if (has_control(r.username)) throw ConfigError(origin + ": \"username\" has a control character");
    if (!has_password) {
      throw ConfigError(origin + ": \"username\" needs \"password\" or \"password_file\"");
    }
    if (doc.contains("password")) {
      r.password = string_field(doc, "password", origin);
      r.inline_password = true;
    } else {
      const auto path = resolve(base_dir, string_field(doc, "password_file", origin));
      r.password = read_password_file(path, origin);
      auto warnings = check_secret_file_mode(path, origin + ": \"password_file\"");
      r.warnings.insert(r.warnings.end(), warnings.begin(), warnings.end());
    }
    if (!smtps && !r.starttls) {
      throw ConfigError(origin + ": \"username\" with smtp:// needs \"starttls\": true (the "
                        "password would cross the network in clear)");
    }
  } else if (has_password) {
    throw ConfigError(origin + ": a password without \"username\"");
  }
  if (doc.contains("timeout")) {
    r.timeout = config_fields::duration(doc["timeout"], origin + ": \"timeout\"", kMinTimeout,
                                        kMaxTimeout);
  }
  r.message_id_domain = r.from.substr(r.from.find('@') + 1);
  if (doc.contains("message_id_domain")) {
    r.message_id_domain = string_field(doc, "message_id_domain", origin);
    if (!is_domain(r.message_id_domain)) {
      throw ConfigError(origin + ": \"message_id_domain\" must be a domain name, not '" +
                        r.message_id_domain + "'");
    }
  }
  if (doc.contains("ca_file")) r.ca_file = config_fields::ca_file(base_dir, doc["ca_file"], origin);
  return r;
}

Relay load_relay(const std::filesystem::path& file) {
  const std::string origin = "relay file '" + file.string() + "'";
  std::string text;
  try {
    text = read_config_file(file.string(), "relay file");
  } catch (const ConfigError& e) {
    throw ConfigError(std::string(e.what()) +
                      " (give the SMTP relay with --relay FILE; see docs/mail-jobs.md)");
  }
  auto relay = parse_relay(text, origin, file.parent_path());
  // Anyone may write it: a warning, as for every type's file (whoever
  // changes it decides where the mail goes).
  for (auto& warning : loose_mode_warnings(file.string(), false)) {
    relay.warnings.push_back(std::move(warning));
  }
  if (relay.inline_password) {
    auto warnings = check_secret_file_mode(file, "relay file");
    relay.warnings.insert(relay.warnings.end(), warnings.begin(), warnings.end());
  }
  return relay;
}

}  // namespace jobrunner::mail
