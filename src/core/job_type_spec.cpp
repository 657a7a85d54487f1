#include "jobrunner/core/job_type_spec.hpp"

namespace jobrunner {
namespace {

std::string shown(const std::string& value) { return value.empty() ? "none" : "'" + value + "'"; }

}  // namespace

std::vector<std::string> spec_differences(const JobTypeSpec& compiled,
                                          const JobTypeSpec& registered) {
  std::vector<std::string> out;
  const auto differ = [&out](const std::string& field, const std::string& ours,
                             const std::string& theirs) {
    if (ours != theirs) {
      out.push_back(field + ": compiled " + shown(ours) + ", registered " + shown(theirs));
    }
  };
  differ("name", compiled.name, registered.name);
  differ("table", compiled.table, registered.table);
  differ("target column", compiled.target_column, registered.target_column);
  if (compiled.type_code != registered.type_code) {
    out.push_back("type code: compiled " + std::to_string(compiled.type_code) + ", registered " +
                  std::to_string(registered.type_code));
  }
  if (compiled.batch_completions != registered.batch_completions) {
    const auto text = [](bool on) { return std::string(on ? "on" : "off"); };
    out.push_back("batch completions: compiled " + text(compiled.batch_completions) +
                  ", registered " + text(registered.batch_completions));
  }
  return out;
}

}  // namespace jobrunner
