// (f) Claim time against table size: the partial index over WAITING rows
// (job__ready__idx) should keep a claim as cheap with a million finished jobs
// as with ten thousand.
#include <spdlog/spdlog.h>

#include "bare_sql.hpp"
#include "failure.hpp"
#include "measures.hpp"

namespace jobrunner::bench {
namespace {

ClaimAtSize claim_time_at(MeasureContext& ctx, std::int64_t finished_rows) {
  auto& conn = ctx.conn;
  const auto& options = ctx.options;
  spdlog::info("(f) claim time: {} finished jobs, {} ready, {} claims", finished_rows,
               options.claim_ready_jobs, options.claim_samples);
  BenchDatabase::clear_jobs(conn);
  insert_finished_jobs(conn, finished_rows);
  BenchDatabase::vacuum_analyze(conn);
  insert_ready_jobs(conn, options.claim_ready_jobs);

  ClaimAtSize result{.finished_rows = finished_rows, .claims = options.claim_samples};
  std::vector<double> ms;
  for (int i = 0; i < options.claim_samples; ++i) {
    auto claim_tx = conn.begin();
    Stopwatch watch;
    const auto claimed = claim_jobs(claim_tx, 1);
    ms.push_back(watch.milliseconds());
    if (claimed.size() != 1) {
      throw MeasureFailed("claim " + std::to_string(i + 1) + " found no job");
    }
    claim_tx.commit();
    auto finish_tx = conn.begin();
    complete_jobs(finish_tx, claimed);
    finish_tx.commit();
  }
  result.ms = summarize(std::move(ms));
  return result;
}

}  // namespace

ClaimScaling measure_claim_scaling(MeasureContext& ctx) {
  ClaimScaling result;
  for (const auto rows : ctx.options.claim_table_sizes) {
    result.sizes.push_back(claim_time_at(ctx, rows));
  }
  const auto& smallest = result.sizes.front().ms;
  const auto& largest = result.sizes.back().ms;
  result.p50_ratio = smallest.p50 > 0 ? largest.p50 / smallest.p50 : 0;
  return result;
}

}  // namespace jobrunner::bench
