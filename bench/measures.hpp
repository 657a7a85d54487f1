#pragma once
// The measures a to h (docs/performance.md says what each one means). Each
// starts from an empty queue and throws MeasureFailed (or a database error)
// when it cannot be made.

#include <vector>

#include "bench_database.hpp"
#include "jobrunner/pg/connection.hpp"
#include "options.hpp"
#include "results.hpp"
#include "runner_under_test.hpp"

namespace jobrunner::bench {

// What every measure works with.
struct MeasureContext {
  const BenchOptions& options;
  const BenchDatabase& db;
  pg::Connection& conn;  // the bench's own connection to the bench database
  RunnerUnderTest& runner;
};

// (a) bare claim + finish SQL on the job table, 1 and 100 jobs at a time.
SqlLimit measure_sql_limit(MeasureContext& ctx);

// (b) drain throughput and peak RSS: cron, then daemons at concurrency 1, 4
// and 16, in-process and isolated; with `all_rows` false only the row (g)
// needs. Never throws for one row: a row that cannot be measured carries
// its error.
std::vector<DrainRow> measure_drain(MeasureContext& ctx, bool all_rows);

// One drain of `jobs` NoopJobs by an in-process daemon, with or without
// --durable-claims, for (h). Never throws: a failed row carries its error.
DrainRow measure_daemon_drain(MeasureContext& ctx, int concurrency, bool durable_claims, int jobs);

// (c) JobStore::enqueue_many in batches of 1000, and JobStore::enqueue one
// at a time.
EnqueueRate measure_enqueue(MeasureContext& ctx);

// (d) latency from enqueue commit to job start, daemon c1 in-process.
Latency measure_latency(MeasureContext& ctx);

// (e) wall time of cron runs that find nothing to do.
IdleTick measure_idle_tick(MeasureContext& ctx);

// (f) claim time with few and with many finished jobs in the table.
ClaimScaling measure_claim_scaling(MeasureContext& ctx);

// (h) what durable claims cost: the bare claim + finish loop at batch 1 and
// 16, and daemons c1 and c16 in-process, each with the claim committed
// without waiting for the WAL flush (as the runner does by default) and
// with waiting (--durable-claims).
ClaimDurability measure_claim_durability(MeasureContext& ctx);

// (r) what each ingredient of a job row costs: the batched claim + complete
// loop on a schema-free table, on the job table with the 0008 statements and
// each ingredient left out, and with the store as built; 1 and 8 connections.
RowCosts measure_row_costs(MeasureContext& ctx);

}  // namespace jobrunner::bench
