#include "jobrunner/runtime/config_file.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "jobrunner/core/errors.hpp"

namespace jobrunner {
namespace {

std::string mode_text(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

}  // namespace

std::string read_config_file(const std::string& path, std::string_view what) {
  const std::string name = std::string(what) + " " + path;
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    throw ConfigError(name + ": cannot be read: " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) throw ConfigError(name + " is not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(name + ": cannot be read: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(name + ": cannot be read");
  return text.str();
}

nlohmann::json parse_config_json(const std::string& text, const std::string& origin) {
  // The keys seen so far in each object being parsed, innermost last.
  std::vector<std::set<std::string>> open_objects;
  const nlohmann::json::parser_callback_t refuse_duplicates =
      [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        using Event = nlohmann::json::parse_event_t;
        if (event == Event::object_start) {
          open_objects.emplace_back();
        } else if (event == Event::object_end) {
          open_objects.pop_back();
        } else if (event == Event::key && !open_objects.empty()) {
          const auto& key = parsed.get_ref<const std::string&>();
          if (!open_objects.back().insert(key).second) {
            throw ConfigError(origin + ": the key \"" + key +
                              "\" appears twice in one object (which one is meant?)");
          }
        }
        return true;
      };
  try {
    return nlohmann::json::parse(text, refuse_duplicates);
  } catch (const nlohmann::json::parse_error& e) {
    throw ConfigError(origin + ": is not valid JSON: " + e.what());
  }
}

std::vector<std::string> loose_mode_warnings(const std::string& path, bool holds_secrets) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return {};
  std::vector<std::string> out;
  const auto mode = mode_text(st.st_mode);
  if ((st.st_mode & S_IWOTH) != 0) {
    out.push_back(path + " may be written by any user (mode " + mode +
                  "): whoever changes it decides what the runner does; make it 0644 or stricter");
  }
  if (holds_secrets && (st.st_mode & S_IROTH) != 0) {
    out.push_back(path + " holds secrets and may be read by any user (mode " + mode +
                  "); make it 0600, or 0640 with a group of the runner's users only");
  }
  return out;
}

}  // namespace jobrunner
