#include "bare_sql.hpp"

#include <unistd.h>

#include <string>
#include <vector>

#include "failure.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "noop/noop_job.hpp"
#include "pg/queries.hpp"
#include "stats.hpp"

namespace jobrunner::bench {
namespace {

constexpr std::string_view kInsertReady = R"sql(
INSERT INTO job (job_type) SELECT $1 FROM generate_series(1, $2::bigint)
)sql";

// A success leaves no log line (migration 0009).
constexpr std::string_view kInsertFinished = R"sql(
INSERT INTO job (job_type, status, attempt_count, date_created, date_started, date_finished)
SELECT $1, 2, 1, now(), now(), now() FROM generate_series(1, $2::bigint)
)sql";

const std::string& job_type() { return noop::noop_job_type().spec.name; }

}  // namespace

ClaimedJobs claim_jobs(pg::Transaction& tx, int limit) {
  static const std::string owner = "jobrunner-bench:" + std::to_string(getpid());
  const auto lease = noop::noop_job_type().spec.lease;
  ClaimedJobs claimed;
  for (const auto& row : tx.exec(pg::query("job_claim"), job_type(), limit, owner, lease.count())) {
    claimed.ids.push_back(row.integer("id"));
    claimed.tokens.push_back(row.text("lease_token"));
  }
  return claimed;
}

void complete_jobs(pg::Transaction& tx, const ClaimedJobs& jobs) {
  const auto done = tx.exec(pg::query("job_complete_many"), pg::to_array_param(jobs.ids),
                            pg::to_array_param(jobs.tokens));
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
  tx.exec(kInsertFinished, job_type(), count);
  tx.commit();
}

double claim_and_finish_all(pg::Connection& conn, int batch, bool durable_claims,
                            std::int64_t expected) {
  std::int64_t done = 0;
  Stopwatch watch;
  for (;;) {
    auto claim_tx = conn.begin();
    const auto claimed = claim_jobs(claim_tx, batch);
    if (durable_claims) {
      claim_tx.commit();
    } else {
      claim_tx.commit_without_flush_wait();
    }
    if (claimed.size() == 0) break;
    auto finish_tx = conn.begin();
    complete_jobs(finish_tx, claimed);
    finish_tx.commit();
    done += static_cast<std::int64_t>(claimed.size());
  }
  const double seconds = watch.seconds();
  if (done != expected) {
    throw MeasureFailed("claimed " + std::to_string(done) + " of " + std::to_string(expected) +
                        " ready jobs");
  }
  return seconds;
}

}  // namespace jobrunner::bench
