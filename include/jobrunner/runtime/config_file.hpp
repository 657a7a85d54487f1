#pragma once
// The configuration files a job type reads on its runner's host at start (an
// allowlist of commands, of webhook endpoints, a mail relay, the secrets they
// name), read and checked in one way: a file that cannot be used is a
// ConfigError (the runner exits 78 naming it), and a loose mode is said.

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace jobrunner {

// The whole text of `path`. ConfigError "<what> <path>: <why>" when it does
// not exist, is not a regular file or cannot be read.
std::string read_config_file(const std::string& path, std::string_view what);

// `text` as JSON. ConfigError "<origin>: is not valid JSON: ..." for a syntax error, and for a
// key given twice in one object: nlohmann keeps the last silently, and a
// stale copy further down must not win unseen.
nlohmann::json parse_config_json(const std::string& text, const std::string& origin);

// What is loose about the mode of `path` (an existing file), one sentence
// each: anyone may write it (whoever changes it decides what the runner
// does); with `holds_secrets`, also any user may read it (a group may: the
// docs install such files 0640 for the runner's group). None when the mode
// is tight or the file cannot be stat'ed.
std::vector<std::string> loose_mode_warnings(const std::string& path, bool holds_secrets);

}  // namespace jobrunner
