#pragma once
// The NoopJob queue as the drain and latency measures fill and watch it.

#include <cstdint>

#include "jobrunner/pg/connection.hpp"

namespace jobrunner::bench {

// When enqueue_noop_jobs commits: once at the end (every job becomes ready,
// and daemons are notified, at the same moment), or after every batch.
enum class Commit { once, per_batch };

// Enqueues `count` NoopJobs about `foo_id` with JobStore::enqueue_many,
// `batch` at a time; returns once the last commit returned.
void enqueue_noop_jobs(pg::Connection& conn, std::int64_t foo_id, int count, int batch,
                       Commit commit);

// Whether any NoopJob is WAITING or RUNNING. Two EXISTS on the partial
// indexes of those statuses, so polling it every 20 ms costs the runner under
// measurement next to nothing (a count over the whole table would not).
bool any_unfinished(pg::Connection& conn);

// How many NoopJobs are WAITING or RUNNING: the progress of a drain.
std::int64_t count_unfinished(pg::Connection& conn);

// Throws MeasureFailed, naming the statuses found, unless there are exactly
// `expected` NoopJobs and all of them are COMPLETED.
void check_all_completed(pg::Connection& conn, std::int64_t expected);

}  // namespace jobrunner::bench
