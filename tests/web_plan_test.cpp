// The dashboard's reads use indexes, not the whole job table: on 200,000
// finished jobs, the plan (EXPLAIN, FORMAT JSON) of the jobs list under each
// filter (job_match, newest first, keyset paging) has no Seq Scan on job and
// reads the index of patch 0015 meant for it; the throughput chart reads
// job__date_finished__idx. Plans, not timings, so the test holds on a slow
// machine.
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pg/queries.hpp"
#include "test_database.hpp"

namespace jobrunner {
namespace {

void collect(const nlohmann::json& plan, std::vector<std::pair<std::string, std::string>>& scans,
             std::set<std::string>& indexes) {
  scans.emplace_back(plan.value("Node Type", ""), plan.value("Relation Name", ""));
  if (plan.contains("Index Name")) indexes.insert(plan["Index Name"].get<std::string>());
  if (plan.contains("Plans")) {
    for (const auto& child : plan["Plans"]) collect(child, scans, indexes);
  }
}

class WebPlanTest : public testing::DatabaseTest {
 protected:
  // Ids grow with date_created, as they do: one job every 15 s over 35
  // days. One in a hundred is noop, FAILED, or requested by bob.
  void SetUp() override {
    db.sql("INSERT INTO job (job_type, status, requester, attempt_count, date_created, "
           "                 date_started, date_finished) "
           "SELECT CASE WHEN i % 100 = 0 THEN 'noop' ELSE 'foo' END, "
           "       CASE WHEN i % 100 = 1 THEN 3 ELSE 2 END::smallint, "
           "       CASE WHEN i % 100 = 2 THEN 'bob' WHEN i % 100 = 3 THEN 'alice' END, 1, "
           "       now() - (200001 - i) * interval '15 seconds', "
           "       now() - (200001 - i) * interval '15 seconds', "
           "       now() - (200001 - i) * interval '15 seconds' "
           "FROM generate_series(1, 200000) AS i");
    db.sql("ANALYZE job");
  }

  // The plan of the jobs list (find_jobs: job_match, ORDER BY id DESC,
  // LIMIT) with these criteria; every other one NULL.
  void expect_index(pg::Params params, const std::string& index) {
    params.resize(9);
    params.push_back("51");
    auto conn = db.connect();
    auto tx = conn.begin();
    const auto rows = tx.exec_params(
        "EXPLAIN (FORMAT JSON) " + pg::query("job_match") + "\nORDER BY j.id DESC\nLIMIT $10",
        params);
    std::vector<std::pair<std::string, std::string>> scans;
    std::set<std::string> indexes;
    collect(nlohmann::json::parse(rows.at(0).text("QUERY PLAN")).at(0).at("Plan"), scans, indexes);
    std::string shown;
    for (const auto& [type, relation] : scans) shown += "  " + type + " " + relation + "\n";
    for (const auto& i : indexes) shown += "  index " + i + "\n";
    for (const auto& [type, relation] : scans) {
      EXPECT_FALSE(type == "Seq Scan" && relation == "job") << shown;
    }
    EXPECT_EQ(indexes.count(index), 1u) << index << " is not used:\n" << shown;
  }
};

TEST_F(WebPlanTest, each_filter_of_the_jobs_list_reads_an_index_in_id_order) {
  const pg::Param null;
  // A type alone, a creation time: the primary key, newest first.
  expect_index({null, "noop"}, "job_pkey");
  const auto hour_ago = db.sql("SELECT (now() - interval '1 hour')::text AS t").at(0).text("t");
  expect_index({null, null, null, null, null, hour_ago}, "job_pkey");
  // A finished status, with or without a type: the index over finished jobs.
  expect_index({null, null, "{3}"}, "job__finished__job_type__status__id__idx");
  expect_index({null, "noop", "{3}"}, "job__finished__job_type__status__id__idx");
  expect_index({null, null, null, "bob"}, "job__requester__id__idx");
  // The next page of a filter: the same index, below the last id shown.
  expect_index({null, "noop", "{2}", null, null, null, null, null, "150000"},
               "job__finished__job_type__status__id__idx");
  // That none of them takes the claim's plan from job__ready__idx:
  // JobStoreTest.the_stores_claim_reads_job_and_the_type_table_through_their_indexes.
}

TEST_F(WebPlanTest, the_throughput_chart_reads_an_hour_of_date_finished) {
  auto conn = db.connect();
  auto tx = conn.begin();
  const auto rows = tx.exec("EXPLAIN (FORMAT JSON) " + pg::query("job_throughput"), 60);
  std::vector<std::pair<std::string, std::string>> scans;
  std::set<std::string> indexes;
  collect(nlohmann::json::parse(rows.at(0).text("QUERY PLAN")).at(0).at("Plan"), scans, indexes);
  for (const auto& [type, relation] : scans) EXPECT_FALSE(type == "Seq Scan" && relation == "job");
  EXPECT_EQ(indexes.count("job__date_finished__idx"), 1u);
}

}  // namespace
}  // namespace jobrunner
