#include "jobrunner/core/job_type_spec.hpp"

#include "jobrunner/core/errors.hpp"

namespace jobrunner {
namespace {

std::string shown(const std::string& value) { return value.empty() ? "none" : "'" + value + "'"; }

}  // namespace

void check_table_fields(const JobTypeSpec& spec) {
  const bool table = !spec.table.empty();
  if (table != !spec.target_column.empty() || table != !spec.target_table.empty() ||
      (!table && spec.type_code != 0)) {
    throw ConfigError("job type '" + spec.name + "': give its table, target column and target " +
                      "table together (a type with a table of its own), or none of them and " +
                      "type code 0 (a type without one); given table " + shown(spec.table) +
                      ", target column " + shown(spec.target_column) + ", target table " +
                      shown(spec.target_table) + ", type code " + std::to_string(spec.type_code));
  }
}

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
