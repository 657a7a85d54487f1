// (c) Enqueue rate: what an application can insert, in bulk and one job per
// transaction.
#include <spdlog/spdlog.h>

#include "jobrunner/pg/job_store.hpp"
#include "measures.hpp"
#include "noop/noop_job.hpp"
#include "queue.hpp"

namespace jobrunner::bench {
namespace {

constexpr int kBatch = 1000;

}  // namespace

EnqueueRate measure_enqueue(MeasureContext& ctx) {
  auto& conn = ctx.conn;
  EnqueueRate result{.bulk_jobs = ctx.options.jobs,
                     .bulk_batch = kBatch,
                     .single_jobs = ctx.options.single_enqueue_jobs};

  spdlog::info("(c) enqueue: {} jobs with enqueue_many, {} per transaction", result.bulk_jobs,
               kBatch);
  BenchDatabase::clear_jobs(conn);
  Stopwatch bulk;
  enqueue_noop_jobs(conn, ctx.db.foo_id(), result.bulk_jobs, kBatch, Commit::per_batch);
  result.bulk_jobs_per_s = per_second(result.bulk_jobs, bulk.seconds());

  spdlog::info("(c) enqueue: {} jobs with enqueue, one per transaction", result.single_jobs);
  BenchDatabase::clear_jobs(conn);
  const pg::JobStore store(noop::noop_job_type().spec);
  const pg::EnqueueRequest request{.target_id = ctx.db.foo_id()};
  Stopwatch single;
  for (int i = 0; i < result.single_jobs; ++i) {
    auto tx = conn.begin();
    (void)store.enqueue(tx, request);  // timed: the id is not needed
    tx.commit();
  }
  result.single_jobs_per_s = per_second(result.single_jobs, single.seconds());
  return result;
}

}  // namespace jobrunner::bench
