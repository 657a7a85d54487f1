#pragma once
// Reads a Job from a row of the job_columns block (sql/queries/job.sql), and
// an ErrorReport from a row of error_report_find or error_report_get
// (sql/queries/admin.sql); and the nullable integer columns of other rows.

#include <optional>
#include <string_view>

#include "jobrunner/core/job.hpp"
#include "jobrunner/pg/connection.hpp"
#include "jobrunner/pg/job_store.hpp"

namespace jobrunner::pg {

Job job_from_row(const Row& row);
ErrorReport error_report_from_row(const Row& row);

// A nullable integer column that fits an int (exit codes, counts, priority).
inline std::optional<int> opt_int32(const Row& row, std::string_view column) {
  const auto value = row.opt_int(column);
  if (!value) return std::nullopt;
  return static_cast<int>(*value);
}

}  // namespace jobrunner::pg
