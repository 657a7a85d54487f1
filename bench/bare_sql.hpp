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

// Claims and completes every ready job, `batch` at a time, the claim and the
// finish each in its own transaction (as a runner must: the claim commits at
// once so that its lease is visible). The claim's commit waits for the WAL
// flush only when `durable_claims`; the finish always does, as a job's own
// transaction does. Throws MeasureFailed unless `expected` jobs were done.
// Returns the seconds it took.
double claim_and_finish_all(pg::Connection& conn, int batch, bool durable_claims,
                            std::int64_t expected);

// Bulk inserts of bare NoopJob rows (job only, INSERT ... SELECT
// generate_series, one statement): WAITING and ready now, or COMPLETED
// long ago (no log line: a success leaves none).
void insert_ready_jobs(pg::Connection& conn, std::int64_t count);
void insert_finished_jobs(pg::Connection& conn, std::int64_t count);

}  // namespace jobrunner::bench
