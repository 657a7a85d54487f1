#pragma once
// The named statements of sql/queries/*.sql. A C++ method and the SQL block it
// runs share a name, so a reader can go from one to the other. Private to the
// pg library; jobrunner-bench and the plan tests include it from src/pg to
// time and EXPLAIN the very statements the runner runs.
//
// A block may hold placeholders, {{name}}:
//   - the name of another block ({{job_columns}}, {{job_claim}}): its text,
//     itself expanded;
//   - the name of a status ({{WAITING}}, {{RUNNING}}, ...; core/status.hpp):
//     its code, so that the numbers are written in one place. Literals,
//     unlike parameters, let the planner match the partial indexes;
//   - a job type's tables ({{type_table}}, {{target_column}},
//     {{target_table}}): the type's quoted identifiers, filled by
//     type_query() for one JobTypeSpec.
// The first two are expanded when the blocks are loaded (at the first
// query()); any other placeholder, an unterminated one or a loop of blocks
// makes that load throw Error, so the test suite and every executable's
// first statement fail on it.

#include <map>
#include <span>
#include <string>
#include <string_view>

#include "embedded_sql.hpp"
#include "jobrunner/core/job_type_spec.hpp"

namespace jobrunner::pg {

using QueryBlocks = std::map<std::string, std::string, std::less<>>;

// The statement named `name`. Throws Error for an unknown name, or for a
// block that names a job type's tables (run those through type_query()):
// programming errors, caught by the test suite.
[[nodiscard]] const std::string& query(std::string_view name);

// The statement named `name` for the job type `spec`: {{type_table}},
// {{target_column}} and {{target_table}} become spec.table,
// spec.target_column and spec.target_table as quoted identifiers. Those are
// code constants or registry rows (job_type, whose constraints allow only
// such names), never user input; they are still checked
// ([a-z_][a-z0-9_]*, else ConfigError) because they cannot be statement
// parameters. Throws Error for an unknown name.
[[nodiscard]] std::string type_query(std::string_view name, const JobTypeSpec& spec);

// Reads the blocks of `files` (each block starts with a line "-- name: X";
// other lines starting with "--" are comments) and expands their load-time
// placeholders, leaving a type's. Throws Error naming the file or block of a
// duplicate name, an unknown or unterminated placeholder, or a loop.
// query() runs it once over the embedded sql/queries/*.sql.
[[nodiscard]] QueryBlocks load_query_blocks(std::span<const embedded::File> files);

}  // namespace jobrunner::pg
