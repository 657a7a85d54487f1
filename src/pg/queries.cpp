#include "jobrunner/pg/queries.hpp"

#include <map>

#include "embedded_sql.hpp"
#include "jobrunner/core/errors.hpp"

namespace jobrunner::pg {
namespace {

constexpr std::string_view kNameMarker = "-- name: ";

std::map<std::string, std::string, std::less<>> parse_blocks() {
  std::map<std::string, std::string, std::less<>> blocks;
  for (const auto& file : embedded::queries()) {
    std::string current;
    std::string_view rest = file.text;
    while (!rest.empty()) {
      auto eol = rest.find('\n');
      std::string_view line = rest.substr(0, eol);
      rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
      if (line.starts_with(kNameMarker)) {
        current = std::string(line.substr(kNameMarker.size()));
        blocks[current];
      } else if (!current.empty() && !line.starts_with("--")) {
        blocks[current].append(line).push_back('\n');
      }
    }
  }
  const std::string columns = blocks["job_columns"];
  const std::string placeholder = "{{job_columns}}";
  for (auto& [name, text] : blocks) {
    for (auto pos = text.find(placeholder); pos != std::string::npos; pos = text.find(placeholder)) {
      text.replace(pos, placeholder.size(), columns);
    }
  }
  return blocks;
}

}  // namespace

const std::string& query(std::string_view name) {
  static const auto blocks = parse_blocks();
  auto it = blocks.find(name);
  if (it == blocks.end()) throw Error("internal error: no SQL block named '" + std::string(name) + "'");
  return it->second;
}

}  // namespace jobrunner::pg
