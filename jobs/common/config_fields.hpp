#pragma once
// Fields of a runner's configuration file (mail's relay file), beside
// runtime/config_file.hpp (reading the file, its JSON, its mode): unknown
// fields refused, paths read beside the file, durations in a range, files
// that must be readable. Each throws ConfigError with a message that starts
// with `where` (the file, and the entry when it is one's).

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobrunner/core/duration.hpp"

namespace jobrunner::config_fields {

// Refuses a key of `object` that is not in `known` (a typo must not pass
// silently): "<where>: unknown field 'x' (known: a, b, c)".
void refuse_unknown(const nlohmann::json& object, const std::vector<std::string>& known,
                    const std::string& where);

// `path` as written in a file in `base_dir`: itself when absolute, else
// beside the file.
std::filesystem::path resolve(const std::filesystem::path& base_dir, const std::string& path);

// A duration given as a string ("30s"), from `min` to `max`; `where` names
// the field ("<file>: \"timeout\"").
Duration duration(const nlohmann::json& value, const std::string& where, Duration min,
                  Duration max);

// A CA file (PEM) named in a file in `base_dir`, resolved; refused when it
// cannot be read: "<where>: cannot read CA file '<path>'".
std::string ca_file(const std::filesystem::path& base_dir, const nlohmann::json& value,
                    const std::string& where);

}  // namespace jobrunner::config_fields
