#pragma once
// (r) Row costs: what each ingredient of a job row and of its hot statements
// costs, against a schema-free table (docs/performance.md, "Cheaper rows").
// The figures, and their two views (the report's table and the JSON).

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace jobrunner::bench {

// One variant at one number of connections: the median over the rounds.
struct RowCostRow {
  std::string what;  // "schema-free job(id, status)", "0008 without the success log line"
  int connections = 1;
  int jobs = 0;  // per round
  std::optional<std::string> error;
  double jobs_per_s = 0;          // claim(batch) + complete(batch), each its own transaction
  double server_cpu_us_per_job = 0;  // CPU of the loop's server processes, per job
  double claim_ms_p50 = 0;        // the claim statement alone, per batch
  double complete_ms_p50 = 0;     // the completion statement alone, per batch
  double wal_bytes_per_job = 0;   // pg_current_wal_lsn() moved, per job (claim + complete)
  double hot_share = 0;           // n_tup_hot_upd / n_tup_upd of the table meanwhile
  double heartbeat_ms_p50 = -1;   // heartbeat of `batch` held jobs; < 0: not measured
  double heartbeat_hot_share = 0;
};

struct RowCosts {
  int batch = 0;
  int rounds = 0;
  std::vector<RowCostRow> rows;  // in variant order, 1 connection then 8
};

void print_row_costs(std::ostream& out, const RowCosts& r);
nlohmann::ordered_json row_costs_json(const RowCosts& r);

}  // namespace jobrunner::bench
