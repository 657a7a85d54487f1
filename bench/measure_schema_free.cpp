// (i) The schema-free limit: what PostgreSQL alone allows on this machine
// for a queue with no schema at all, a table job(id bigint primary key,
// status int) with a partial index on the ready rows. A claim takes the
// ready rows in id order with FOR UPDATE SKIP LOCKED and sets them RUNNING
// (status 1) in one transaction; one UPDATE ... WHERE id = ANY($1) then
// completes them (status 2) in another. The same shapes as the pgbench
// figures of issue 10; the targets divide by these rates.
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "failure.hpp"
#include "measures.hpp"

namespace jobrunner::bench {
namespace {

// Its own schema, so the name is exactly job and nothing of jobrunner's
// schema is touched.
constexpr std::string_view kSetup = R"sql(
CREATE SCHEMA IF NOT EXISTS bare;
DROP TABLE IF EXISTS bare.job;
CREATE TABLE bare.job (id bigint PRIMARY KEY, status int);
CREATE INDEX job__ready__idx ON bare.job (id) WHERE status = 0;
)sql";

constexpr std::string_view kFill =
    "INSERT INTO bare.job (id, status) SELECT g, 0 FROM generate_series(1, $1::bigint) AS g";

constexpr std::string_view kClaim = R"sql(
WITH ready AS (
    SELECT id FROM bare.job WHERE status = 0 ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
)
UPDATE bare.job AS j SET status = 1 FROM ready WHERE j.id = ready.id RETURNING j.id
)sql";

constexpr std::string_view kComplete = "UPDATE bare.job SET status = 2 WHERE id = ANY($1::bigint[])";

struct Shape {
  int connections;
  int batch;
};
constexpr Shape kShapes[] = {
    {1, kSchemaFreeBatch}, {kSchemaFreeConnections, kSchemaFreeBatch}, {kSchemaFreeConnections, 1}};

void fill(pg::Connection& conn, int jobs) {
  {
    auto tx = conn.begin();
    tx.exec_script(kSetup);
    tx.exec(kFill, jobs);
    tx.commit();
  }
  conn.exec_outside_transaction("VACUUM ANALYZE bare.job");
}

// Claims and completes until a claim comes back empty; returns the jobs done.
std::int64_t claim_and_complete_all(pg::Connection& conn, int batch) {
  std::int64_t done = 0;
  std::vector<std::int64_t> ids;
  for (;;) {
    ids.clear();
    auto claim = conn.begin();
    for (const auto& row : claim.exec(kClaim, batch)) ids.push_back(row.integer("id"));
    claim.commit();
    if (ids.empty()) return done;
    auto complete = conn.begin();
    complete.exec(kComplete, pg::to_array_param(ids));
    complete.commit();
    done += static_cast<std::int64_t>(ids.size());
  }
}

SchemaFreeRow run_shape(MeasureContext& ctx, const Shape& shape) {
  const int jobs = ctx.options.jobs;
  SchemaFreeRow row{.label = std::to_string(shape.connections) +
                             (shape.connections == 1 ? " connection, " : " connections, ") +
                             (shape.batch == 1 ? "single" : "batched"),
                    .connections = shape.connections,
                    .batch = shape.batch};
  spdlog::info("(i) schema-free limit: {} jobs, {} (claim {} + complete {})", jobs, row.label,
               shape.batch, shape.batch);
  fill(ctx.conn, jobs);

  // Each thread its own connection, opened before the clock starts.
  std::vector<pg::Connection> conns;
  for (int i = 0; i < shape.connections; ++i) conns.push_back(ctx.db.connect());
  std::atomic<std::int64_t> done{0};
  std::mutex failure_mutex;
  std::exception_ptr failure;
  Stopwatch watch;
  {
    std::vector<std::jthread> threads;
    for (auto& conn : conns) {
      threads.emplace_back([&, batch = shape.batch] {
        try {
          done += claim_and_complete_all(conn, batch);
        } catch (...) {
          const std::lock_guard lock(failure_mutex);
          if (!failure) failure = std::current_exception();
        }
      });
    }
  }
  row.seconds = watch.seconds();
  if (failure) std::rethrow_exception(failure);

  auto tx = ctx.conn.begin();
  const auto completed =
      tx.exec("SELECT count(*) FILTER (WHERE status = 2) AS n FROM bare.job").at(0).integer("n");
  tx.commit();
  if (done != jobs || completed != jobs) {
    throw MeasureFailed("claimed " + std::to_string(done.load()) + " and completed " +
                        std::to_string(completed) + " of " + std::to_string(jobs) + " rows");
  }
  row.jobs_per_s = per_second(jobs, row.seconds);
  spdlog::info("(i) schema-free limit: {}: {:.0f} jobs/s", row.label, row.jobs_per_s);
  return row;
}

}  // namespace

SchemaFreeLimit measure_schema_free(MeasureContext& ctx) {
  SchemaFreeLimit result{.jobs = ctx.options.jobs};
  for (const auto& shape : kShapes) result.rows.push_back(run_shape(ctx, shape));
  auto tx = ctx.conn.begin();
  tx.exec("DROP SCHEMA bare CASCADE");
  tx.commit();
  return result;
}

}  // namespace jobrunner::bench
