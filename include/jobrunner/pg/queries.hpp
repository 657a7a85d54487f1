#pragma once
// The named statements of sql/queries/*.sql. A C++ method and the SQL block it
// runs share a name, so a reader can go from one to the other. Public so that
// jobrunner-bench times the very statements the runner runs.

#include <string>
#include <string_view>

namespace jobrunner::pg {

// The statement named `name`, with {{job_columns}} expanded. Throws Error for
// an unknown name (a programming error, caught by the test suite).
const std::string& query(std::string_view name);

}  // namespace jobrunner::pg
