#pragma once
// Reads a Job from a row of the job_columns block (sql/queries/job.sql).

#include "jobrunner/core/job.hpp"
#include "jobrunner/pg/connection.hpp"

namespace jobrunner::pg {

Job job_from_row(const Row& row);

}  // namespace jobrunner::pg
