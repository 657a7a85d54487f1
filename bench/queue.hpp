#pragma once
// The queue as the drain and latency measures fill and watch it: NoopJobs
// about the bench's one foo, or FooJobs about a foo each.

#include <cstdint>
#include <string_view>

#include "jobrunner/pg/connection.hpp"

namespace jobrunner::bench {

// When enqueue_noop_jobs commits: once at the end (every job becomes ready,
// and daemons are notified, at the same moment), or after every batch.
enum class Commit { once, per_batch };

// Enqueues `count` NoopJobs about `foo_id` with JobStore::enqueue_many,
// `batch` at a time; returns once the last commit returned.
void enqueue_noop_jobs(pg::Connection& conn, std::int64_t foo_id, int count, int batch,
                       Commit commit);

// Enqueues `count` FooJobs, each about a foo of its own (FooJob allows one
// pending job per foo), created here; all in one transaction of
// enqueue_many calls, `batch` jobs each. Returns once the commit returned.
void enqueue_foo_jobs(pg::Connection& conn, int count, int batch);

// Deletes every foo but `keep` (the bench's own), once their jobs are gone.
void delete_other_foos(pg::Connection& conn, std::int64_t keep);

// Whether any job of `job_type` is WAITING or RUNNING. Two EXISTS on the
// partial indexes of those statuses, so polling it every 20 ms costs the
// runner under measurement next to nothing (a count over the whole table
// would not).
bool any_unfinished(pg::Connection& conn, std::string_view job_type);

// How many jobs of `job_type` are WAITING or RUNNING: the progress of a drain.
std::int64_t count_unfinished(pg::Connection& conn, std::string_view job_type);

// Throws MeasureFailed, naming the statuses found, unless there are exactly
// `expected` jobs of `job_type` and all of them are COMPLETED.
void check_all_completed(pg::Connection& conn, std::int64_t expected, std::string_view job_type);

}  // namespace jobrunner::bench
