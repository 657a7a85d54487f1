#include "bare_sql.hpp"

#include <unistd.h>

#include "failure.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "noop/noop_job.hpp"

namespace jobrunner::bench {
namespace {

// job_claim of sql/queries/job.sql, returning only what the finish needs.
constexpr std::string_view kClaim = R"sql(
WITH ready AS (
    SELECT id FROM job
    WHERE job_type = $1 AND status = 0
      AND (lease_expires IS NULL OR lease_expires <= now())
      AND (scheduled_start IS NULL OR scheduled_start <= now())
    ORDER BY priority, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE job AS j
SET status = 1, date_started = now(), date_finished = NULL,
    attempt_count = j.attempt_count + 1,
    lease_owner = $3, lease_token = gen_random_uuid(),
    lease_expires = now() + $4::bigint * interval '1 millisecond'
FROM ready
WHERE j.id = ready.id
RETURNING j.id, j.lease_token::text AS lease_token
)sql";

// job_complete_many of sql/queries/job.sql, with one log line for all.
constexpr std::string_view kComplete = R"sql(
UPDATE job AS j
SET status = 2, date_finished = now(),
    lease_expires = NULL, lease_owner = NULL, lease_token = NULL,
    log = job_log_append(j.log, $3::text, $4::integer)
FROM unnest($1::bigint[], $2::uuid[]) AS done(id, token)
WHERE j.id = done.id AND j.status = 1 AND j.lease_token = done.token
RETURNING j.id
)sql";

constexpr std::string_view kInsertReady = R"sql(
INSERT INTO job (job_type) SELECT $1 FROM generate_series(1, $2::bigint)
)sql";

constexpr std::string_view kInsertFinished = R"sql(
WITH line AS (SELECT job_log_append(NULL, $3::text, $4::integer) AS log)
INSERT INTO job (job_type, status, attempt_count, date_created, date_started, date_finished, log)
SELECT $1, 2, 1, now(), now(), now(), line.log FROM line, generate_series(1, $2::bigint)
)sql";

constexpr std::string_view kCompletedLine = "attempt 1: completed";

const std::string& job_type() { return noop::noop_job_type().spec.name; }

}  // namespace

ClaimedJobs claim_jobs(pg::Transaction& tx, int limit) {
  static const std::string owner = "jobrunner-bench:" + std::to_string(getpid());
  const auto lease = noop::noop_job_type().spec.lease;
  ClaimedJobs claimed;
  for (const auto& row : tx.exec(kClaim, job_type(), limit, owner, lease.count())) {
    claimed.ids.push_back(row.integer("id"));
    claimed.tokens.push_back(row.text("lease_token"));
  }
  return claimed;
}

void complete_jobs(pg::Transaction& tx, const ClaimedJobs& jobs) {
  const auto done = tx.exec(kComplete, pg::to_array_param(jobs.ids),
                            pg::to_array_param(jobs.tokens), kCompletedLine, pg::kJobLogLimit);
  if (done.size() != jobs.size()) {
    throw MeasureFailed("completed " + std::to_string(done.size()) + " of " +
                        std::to_string(jobs.size()) + " claimed jobs: a lease was lost");
  }
}

void insert_ready_jobs(pg::Connection& conn, std::int64_t count) {
  auto tx = conn.begin();
  tx.exec(kInsertReady, job_type(), count);
  tx.commit();
}

void insert_finished_jobs(pg::Connection& conn, std::int64_t count) {
  auto tx = conn.begin();
  tx.exec(kInsertFinished, job_type(), count, kCompletedLine, pg::kJobLogLimit);
  tx.commit();
}

}  // namespace jobrunner::bench
