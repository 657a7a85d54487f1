#pragma once
// The bench's bare SQL on the job table, with no runner around it: the claim
// of sql/queries/job.sql (job_claim) and the batched completion the runner
// writes (job_complete_many), over NoopJob rows. Measures (a) and (f) time
// these; they are the bench's own strings, not a production path.

#include <cstdint>
#include <string>
#include <vector>

#include "jobrunner/pg/connection.hpp"

namespace jobrunner::bench {

struct ClaimedJobs {
  std::vector<std::int64_t> ids;
  std::vector<std::string> tokens;  // lease tokens, as the finish must quote them
  std::size_t size() const noexcept { return ids.size(); }
};

// Claims up to `limit` ready NoopJobs in one statement (FOR UPDATE SKIP
// LOCKED + UPDATE ... RETURNING): RUNNING, a fresh lease token.
ClaimedJobs claim_jobs(pg::Transaction& tx, int limit);

// Records COMPLETED for all of `jobs` in one UPDATE over unnest(ids, tokens),
// fenced by RUNNING and the token as the runner's is. Throws MeasureFailed
// if any of them was not completed.
void complete_jobs(pg::Transaction& tx, const ClaimedJobs& jobs);

// Bulk inserts of bare NoopJob rows (job only, INSERT ... SELECT
// generate_series, one statement): WAITING and ready now, or COMPLETED
// long ago with the log line a runner leaves.
void insert_ready_jobs(pg::Connection& conn, std::int64_t count);
void insert_finished_jobs(pg::Connection& conn, std::int64_t count);

}  // namespace jobrunner::bench
