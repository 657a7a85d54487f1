// (c) Enqueue rate: what an application can insert, in bulk and one job per
// transaction; and what the rules of jobrunner_enqueue_many() cost against
// a bare INSERT ... SELECT of the same rows (issue 11: >= 80%).
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "jobrunner/pg/job_store.hpp"
#include "measures.hpp"
#include "noop/noop_job.hpp"
#include "queue.hpp"
#include "stats.hpp"

namespace jobrunner::bench {
namespace {

constexpr int kBatch = 1000;
// Rounds of the function against the bare insert: the median of each. One
// call writes some 30 MB of WAL and index pages, and on a shared disk a
// single call's time varies by a third from one call to the next; the best
// of three let one lucky bare insert decide the ratio.
constexpr int kSqlRounds = 7;

// The bare statement an application could write by hand: no rule checked
// but the foreign keys and the unique index, the same rows as the function
// writes (ids drawn in input order, pending_key = the foo).
constexpr const char* kBareInsert =
    "WITH input AS MATERIALIZED ("
    " SELECT nextval(pg_get_serial_sequence('job', 'id')) AS id, r.target, r.n"
    " FROM unnest($1::bigint[]) WITH ORDINALITY AS r(target, n)),"
    " jobs AS (INSERT INTO job (id, job_type, max_retries, pending_key)"
    "  SELECT id, 'foo', 3, target FROM input ORDER BY n),"
    " typed AS (INSERT INTO foojob (job, foo, job_type, json_data)"
    "  SELECT id, target, 0, '{}'::jsonb FROM input ORDER BY n)"
    " SELECT count(*) AS n FROM input";

// One call of `statement` in its own transaction, on an empty job table and
// after a checkpoint (no other statement's dirty pages to write, the same
// full-page images for both inserts); the jobs per second of the call and
// its commit.
template <typename Arg>
double timed_insert(pg::Connection& conn, const char* statement, const Arg& arg, int jobs) {
  BenchDatabase::clear_jobs(conn);
  BenchDatabase::vacuum_analyze(conn);
  conn.exec_outside_transaction("CHECKPOINT");
  Stopwatch watch;
  auto tx = conn.begin();
  tx.exec(statement, arg);
  tx.commit();
  return per_second(jobs, watch.seconds());
}

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

  result.sql_jobs = ctx.options.jobs;
  result.sql_rounds = kSqlRounds;
  spdlog::info("(c) enqueue: {} FooJobs about as many foos, jobrunner_enqueue_many vs a bare "
               "INSERT ... SELECT, median of {} rounds", result.sql_jobs, kSqlRounds);
  std::vector<std::int64_t> foos;
  {
    auto tx = conn.begin();
    for (const auto& row : tx.exec("INSERT INTO foo (name) SELECT 'bench ' || g"
                                   " FROM generate_series(1, $1::integer) AS g RETURNING id",
                                   result.sql_jobs)) {
      foos.push_back(row.integer("id"));
    }
    tx.commit();
  }
  conn.exec_outside_transaction("VACUUM ANALYZE foo");
  nlohmann::json jobs = nlohmann::json::array();
  for (const auto foo : foos) jobs.push_back({{"target", foo}});
  const auto jobs_text = jobs.dump();
  const auto foos_param = pg::to_array_param(foos);
  std::vector<double> function_rates;
  std::vector<double> bare_rates;
  const auto function = [&] {
    function_rates.push_back(
        timed_insert(conn, "SELECT cardinality(jobrunner_enqueue_many('foo', $1::jsonb))",
                     jobs_text, result.sql_jobs));
  };
  const auto bare = [&] {
    bare_rates.push_back(timed_insert(conn, kBareInsert, foos_param, result.sql_jobs));
  };
  for (int round = 0; round < kSqlRounds; ++round) {  // each goes first in every other round
    if (round % 2 == 0) {
      function();
      bare();
    } else {
      bare();
      function();
    }
  }
  result.sql_function_jobs_per_s = summarize(function_rates).p50;
  result.sql_bare_insert_jobs_per_s = summarize(bare_rates).p50;
  std::vector<double> ratios;
  for (int round = 0; round < kSqlRounds; ++round) {
    if (bare_rates[round] > 0) ratios.push_back(function_rates[round] / bare_rates[round]);
  }
  result.sql_ratio = summarize(ratios).p50;
  spdlog::info("(c) enqueue: the rounds' ratios (jobrunner_enqueue_many / bare): {:.3f}",
               fmt::join(ratios, " "));
  BenchDatabase::clear_jobs(conn);
  return result;
}

}  // namespace jobrunner::bench
