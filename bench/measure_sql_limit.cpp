// (a) The SQL limit: how fast the job table alone lets jobs be claimed and
// finished, with no runner around the statements. The runner's throughput
// (b) is judged against it.
#include <spdlog/spdlog.h>

#include "bare_sql.hpp"
#include "failure.hpp"
#include "measures.hpp"

namespace jobrunner::bench {
namespace {

constexpr int kBatch = 100;

// Claims and completes every ready job, `batch` at a time, with durable
// claims (the limit of any design). Returns jobs per second.
double drain_rate(MeasureContext& ctx, int batch) {
  auto& conn = ctx.conn;
  BenchDatabase::clear_jobs(conn);
  insert_ready_jobs(conn, ctx.options.jobs);
  BenchDatabase::vacuum_analyze(conn);
  const double seconds = claim_and_finish_all(conn, batch, true, ctx.options.jobs);
  return per_second(static_cast<double>(ctx.options.jobs), seconds);
}

}  // namespace

SqlLimit measure_sql_limit(MeasureContext& ctx) {
  SqlLimit result{.jobs = ctx.options.jobs, .batch = kBatch};
  spdlog::info("(a) SQL limit: {} jobs, claim 1 + finish 1 per job", result.jobs);
  result.single_jobs_per_s = drain_rate(ctx, 1);
  spdlog::info("(a) SQL limit: {} jobs, claim {} + finish {} at a time", result.jobs, kBatch,
               kBatch);
  result.batched_jobs_per_s = drain_rate(ctx, kBatch);
  return result;
}

}  // namespace jobrunner::bench
