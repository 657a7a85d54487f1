// jobctl stats reads indexes, not the whole job table: on a table of a
// million finished jobs, the plan of every statement of pg::queue_stats
// (EXPLAIN, FORMAT JSON) has no Seq Scan on job and uses the index meant for
// it: the partial indexes of WAITING, RUNNING and SUSPENDED jobs, and
// job__date_finished__idx for the jobs finished within the window. Plans, not
// timings, so the test holds on a slow machine.
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobrunner/pg/admin.hpp"
#include "pg/queries.hpp"
#include "test_database.hpp"

namespace jobrunner {
namespace {

using namespace std::chrono_literals;

struct PlanNode {
  std::string type;      // "Seq Scan", "Index Scan", ...
  std::string relation;  // empty when the node reads no table
  std::string index;     // empty when the node reads no index
};

void collect(const nlohmann::json& plan, std::vector<PlanNode>& out) {
  out.push_back({plan.value("Node Type", ""), plan.value("Relation Name", ""),
                 plan.value("Index Name", "")});
  if (plan.contains("Plans")) {
    for (const auto& child : plan["Plans"]) collect(child, out);
  }
}

std::string describe(const std::vector<PlanNode>& nodes) {
  std::string out;
  for (const auto& n : nodes) {
    out += "  " + n.type;
    if (!n.relation.empty()) out += " on " + n.relation;
    if (!n.index.empty()) out += " using " + n.index;
    out += '\n';
  }
  return out;
}

class StatsPlanTest : public testing::DatabaseTest {
 protected:
  // 1,000,000 finished jobs (COMPLETED, FAILED, CANCELLED; one in ten noop,
  // the rest foo), one finishing every 3 s over the last 35 days, so the
  // last 24 hours hold about 3% of them; plus 1000 WAITING, 100 RUNNING and
  // 100 SUSPENDED foo jobs. Then ANALYZE, as autovacuum would.
  void SetUp() override {
    db.sql("INSERT INTO job (job_type, status, attempt_count, date_created, date_started, "
           "                 date_finished) "
           "SELECT CASE WHEN i % 10 = 0 THEN 'noop' ELSE 'foo' END, "
           "       (ARRAY[2, 2, 2, 3, 5])[1 + (i / 7) % 5]::smallint, 1, "
           "       now() - i * interval '3 seconds' - interval '1 minute', "
           "       now() - i * interval '3 seconds' - interval '30 seconds', "
           "       now() - i * interval '3 seconds' "
           "FROM generate_series(1, 1000000) AS i");
    db.sql("INSERT INTO job (job_type, status) "
           "SELECT 'foo', CASE WHEN i <= 1000 THEN 0 ELSE 4 END::smallint "
           "FROM generate_series(1, 1100) AS i");
    db.sql("INSERT INTO job (job_type, status, attempt_count, date_started, lease_token, "
           "                 lease_expires, lease_owner) "
           "SELECT 'foo', 1, 1, now(), nextval('job_lease_token_seq'), now() + interval '5 minutes', 'h:1' "
           "FROM generate_series(1, 100)");
    db.sql("ANALYZE job");
  }

  // The plan of the named statement of sql/queries with these parameters.
  template <typename... Args>
  std::vector<PlanNode> plan_of(std::string_view name, Args&&... args) {
    auto conn = db.connect();
    auto tx = conn.begin();
    const auto rows = tx.exec("EXPLAIN (FORMAT JSON) " + pg::query(name),
                              std::forward<Args>(args)...);
    tx.commit();
    std::vector<PlanNode> nodes;
    collect(nlohmann::json::parse(rows.at(0).text("QUERY PLAN")).at(0).at("Plan"), nodes);
    return nodes;
  }

  std::string since(std::chrono::milliseconds ago) {
    auto conn = db.connect();
    auto tx = conn.begin();
    return pg::time_from_now(tx, -ago);
  }

  // No Seq Scan on job, and every index of `expected` is read.
  void expect_indexes_only(const std::vector<PlanNode>& nodes,
                           const std::set<std::string>& expected) {
    std::set<std::string> used;
    for (const auto& n : nodes) {
      if (n.relation == "job") {
        EXPECT_NE(n.type, "Seq Scan") << describe(nodes);
      }
      if (!n.index.empty()) used.insert(n.index);
    }
    for (const auto& index : expected) {
      EXPECT_EQ(used.count(index), 1u) << index << " is not used:\n" << describe(nodes);
    }
  }

  const std::optional<std::string> all_types;
  const std::optional<std::string> foo = std::string("foo");
};

TEST_F(StatsPlanTest, stats_on_a_million_finished_jobs_read_only_the_indexes_meant_for_them) {
  const std::int64_t hour_ms = 60LL * 60 * 1000;
  for (const auto& type : {all_types, foo}) {
    SCOPED_TRACE(type.value_or("(all types)"));
    // Unfinished jobs: their partial indexes.
    expect_indexes_only(plan_of("job_stats_depths", type),
                        {"job__ready__idx", "job__running__idx",
                         "job__suspended__idx"});
    expect_indexes_only(plan_of("job_stats_ready", type), {"job__ready__idx"});
    expect_indexes_only(plan_of("job_running", type, 50), {"job__running__idx"});
    // Finished jobs: within the window, through date_finished.
    expect_indexes_only(plan_of("job_stats_finished_since", type, since(24h)),
                        {"job__date_finished__idx"});
    expect_indexes_only(plan_of("job_stats_failed_recently", type, hour_ms),
                        {"job__date_finished__idx"});
  }
  // The estimate of all rows reads no row of job.
  for (const auto& n : plan_of("job_stats_rows_estimate")) EXPECT_NE(n.relation, "job");

  // And they count what the table holds.
  auto conn = db.connect();
  auto tx = conn.begin();
  const auto stats = pg::queue_stats(tx, std::nullopt, {"foo", "noop"}, 24h);
  tx.commit();
  ASSERT_EQ(stats.types.size(), 2u);
  const auto& f = stats.types[0];
  EXPECT_EQ(f.job_type, "foo");
  EXPECT_EQ(f.counts.at(JobStatus::waiting), 1000);
  EXPECT_EQ(f.counts.at(JobStatus::running), 100);
  EXPECT_EQ(f.counts.at(JobStatus::suspended), 100);
  EXPECT_EQ(f.counts.count(JobStatus::completed), 0u) << "finished jobs count in the window";
  // One job finished every 3 s: 28,800 in 24 hours, nine in ten of them foo
  // (fewer if the clock moved on since the fill).
  std::int64_t in_window = 0;
  for (const auto& [status, n] : f.finished_in_window) in_window += n;
  EXPECT_LE(in_window, 25920);
  EXPECT_GE(in_window, 20000);
  EXPECT_EQ(stats.running_total, 100);
  ASSERT_TRUE(stats.job_rows_estimate.has_value());
  EXPECT_NEAR(static_cast<double>(*stats.job_rows_estimate), 1001200, 50000);
}

}  // namespace
}  // namespace jobrunner
