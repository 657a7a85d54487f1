#include "config_fields.hpp"

#include <algorithm>
#include <fstream>

#include "jobrunner/core/errors.hpp"

namespace jobrunner::config_fields {
namespace {

std::string text_of(const nlohmann::json& value, const std::string& where) {
  if (!value.is_string()) throw ConfigError(where + " must be a string, not " + value.dump());
  return value.get<std::string>();
}

}  // namespace

void refuse_unknown(const nlohmann::json& object, const std::vector<std::string>& known,
                    const std::string& where) {
  for (const auto& [field, value] : object.items()) {
    (void)value;
    if (std::find(known.begin(), known.end(), field) != known.end()) continue;
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    throw ConfigError(where + ": unknown field '" + field + "' (known: " + list + ")");
  }
}

std::filesystem::path resolve(const std::filesystem::path& base_dir, const std::string& path) {
  const std::filesystem::path p(path);
  return p.is_absolute() || base_dir.empty() ? p : base_dir / p;
}

Duration duration(const nlohmann::json& value, const std::string& where, Duration min,
                  Duration max) {
  const auto text = text_of(value, where);
  Duration d{};
  try {
    d = parse_duration(text);
  } catch (const BadInput& error) {
    throw ConfigError(where + ": " + error.what());
  }
  if (d < min || d > max) {
    throw ConfigError(where + " must be from " + format_duration(min) + " to " +
                      format_duration(max) + ", not " + text);
  }
  return d;
}

std::string ca_file(const std::filesystem::path& base_dir, const nlohmann::json& value,
                    const std::string& where) {
  const auto path = resolve(base_dir, text_of(value, where + ": \"ca_file\""));
  std::ifstream probe(path);
  if (!probe) throw ConfigError(where + ": cannot read CA file '" + path.string() + "'");
  return path.string();
}

}  // namespace jobrunner::config_fields
