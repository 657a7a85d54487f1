#include "queue.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "failure.hpp"
#include "foo/foo_job.hpp"
#include "jobrunner/core/status.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "noop/noop_job.hpp"

namespace jobrunner::bench {
namespace {

// The rows of one statement about the jobs of `job_type` ($1), in a
// transaction of its own.
pg::Rows job_rows(pg::Connection& conn, std::string_view sql, std::string_view job_type) {
  auto tx = conn.begin();
  auto rows = tx.exec(sql, job_type);
  tx.commit();
  return rows;
}

}  // namespace

void enqueue_foo_jobs(pg::Connection& conn, int count, int batch) {
  const pg::JobStore store(foo::foo_job_type().spec);
  auto tx = conn.begin();
  const auto foos = tx.exec(
      "INSERT INTO foo (name) SELECT 'jobrunner-bench ' || g FROM generate_series(1, $1) AS g"
      " RETURNING id",
      count);
  std::vector<pg::EnqueueRequest> requests;
  for (std::size_t i = 0; i < foos.size(); ++i) {
    requests.push_back(pg::EnqueueRequest{.target_id = foos[i].integer("id")});
    if (static_cast<int>(requests.size()) == batch || i + 1 == foos.size()) {
      (void)store.enqueue_many(tx, requests);  // a queue to drain: the ids are not needed
      requests.clear();
    }
  }
  tx.commit();
}

void delete_other_foos(pg::Connection& conn, std::int64_t keep) {
  auto tx = conn.begin();
  tx.exec("DELETE FROM foo WHERE id <> $1", keep);
  tx.commit();
}

void enqueue_noop_jobs(pg::Connection& conn, std::int64_t foo_id, int count, int batch,
                       Commit commit) {
  const pg::JobStore store(noop::noop_job_type().spec);
  const std::vector<pg::EnqueueRequest> full(static_cast<std::size_t>(batch),
                                             pg::EnqueueRequest{.target_id = foo_id});
  std::optional<pg::Transaction> tx;
  for (int done = 0; done < count; done += batch) {
    if (!tx) tx.emplace(conn.begin());
    // Timed: the ids are not needed.
    if (count - done >= batch) {
      (void)store.enqueue_many(*tx, full);
    } else {
      (void)store.enqueue_many(*tx, {full.begin(), full.begin() + (count - done)});
    }
    if (commit == Commit::per_batch) {
      tx->commit();
      tx.reset();
    }
  }
  if (tx) tx->commit();
}

bool any_unfinished(pg::Connection& conn, std::string_view job_type) {
  return job_rows(conn,
                       "SELECT EXISTS (SELECT 1 FROM job WHERE job_type = $1 AND status = 0)"
                       " OR EXISTS (SELECT 1 FROM job WHERE job_type = $1 AND status = 1) AS busy",
                  job_type)
      .at(0)
      .boolean("busy");
}

std::int64_t count_unfinished(pg::Connection& conn, std::string_view job_type) {
  return job_rows(conn,
                       "SELECT (SELECT count(*) FROM job WHERE job_type = $1 AND status = 0)"
                       " + (SELECT count(*) FROM job WHERE job_type = $1 AND status = 1) AS n",
                  job_type)
      .at(0)
      .integer("n");
}

void check_all_completed(pg::Connection& conn, std::int64_t expected, std::string_view job_type) {
  const auto rows = job_rows(
      conn,
      "SELECT status, count(*) AS n FROM job WHERE job_type = $1 GROUP BY status ORDER BY status",
      job_type);
  std::int64_t completed = 0;
  std::string found;
  for (const auto& row : rows) {
    const auto code = static_cast<int>(row.integer("status"));
    const auto n = row.integer("n");
    if (code == static_cast<int>(JobStatus::completed)) completed = n;
    const auto status = status_from_code(code);
    found += (found.empty() ? "" : ", ") + std::to_string(n) + " " +
             (status ? std::string(to_string(*status)) : "status " + std::to_string(code));
  }
  if (completed != expected || rows.size() != (completed > 0 ? 1U : 0U)) {
    throw MeasureFailed("expected " + std::to_string(expected) + " COMPLETED jobs of type " +
                        std::string(job_type) + ", found " +
                        (found.empty() ? "none" : found));
  }
}

}  // namespace jobrunner::bench
