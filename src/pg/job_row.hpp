#pragma once
// Reads a Job from a row of the job_columns block (sql/queries/job.sql), and
// an ErrorReport from a row of error_report_find or error_report_get
// (sql/queries/admin.sql).

#include "jobrunner/core/job.hpp"
#include "jobrunner/pg/connection.hpp"
#include "jobrunner/pg/job_store.hpp"

namespace jobrunner::pg {

Job job_from_row(const Row& row);
ErrorReport error_report_from_row(const Row& row);

}  // namespace jobrunner::pg
