// (r) Row costs: the batched claim + complete loop of (a) on a schema-free
// table, on the job table with the statements of schema 0008 (before
// "Cheaper rows"), with each of their ingredients taken out one at a time,
// and with the store as built (JobStore::claim + JobStore::complete_many),
// at 1 and 8 connections. docs/performance.md ("Cheaper rows") reads the
// figures; each change to the job row is justified by one of them.
//
// The 0008 statements are frozen copies here, so the "before" side can be
// measured again after the schema moved on: each variant's setup script
// brings the (empty) table to the shape it needs and its teardown undoes it.
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <fstream>
#include <iterator>
#include <string>
#include <sstream>
#include <functional>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "failure.hpp"
#include "jobrunner/pg/job_store.hpp"
#include "measures.hpp"
#include "noop/noop_job.hpp"
#include "pg/queries.hpp"
#include "row_costs.hpp"
#include "stats.hpp"
#include "text_table.hpp"

namespace jobrunner::bench {
namespace {

constexpr int kBatch = 100;
constexpr int kMaxJobs = 20000;      // per round and variant
constexpr int kHeartbeats = 200;     // heartbeats of kBatch held jobs, per variant
constexpr std::string_view kSuccessLine = "attempt 1: completed (recorded in a batch)";

const JobTypeSpec& spec() { return noop::noop_job_type().spec; }

struct Claimed {
  std::vector<std::int64_t> ids;
  std::vector<std::string> tokens;
  std::vector<Job> jobs;  // the store variant only
};

// The schema of 0008 where a variant needs it, whatever the migrations
// built: the token a uuid, fillfactor 100, the running index on
// (job_type, lease_expires). Each statement is harmless when the table is
// already so; the table is empty when it runs.
constexpr std::string_view kSchema0008 = R"sql(
ALTER TABLE job ALTER COLUMN lease_token TYPE uuid USING NULL;
ALTER TABLE job RESET (fillfactor);
DROP INDEX IF EXISTS job__running__idx;
CREATE INDEX IF NOT EXISTS job__running__lease_expires__idx ON job (job_type, lease_expires) WHERE status = 1;
)sql";

// What the migrations of this build made of the job table, read before the
// first variant and restored after each (see restore_script()).
struct BuiltSchema {
  std::string token_type;
  std::string reloptions;                     // "" or "fillfactor=90"
  std::vector<std::string> running_indexes;   // CREATE INDEX statements
};

BuiltSchema read_built_schema(pg::Connection& conn) {
  auto tx = conn.begin();
  BuiltSchema s;
  s.token_type = tx.exec("SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute"
                         " WHERE attrelid = 'job'::regclass AND attname = 'lease_token'")
                     .at(0)
                     .text("t");
  s.reloptions = tx.exec("SELECT coalesce(array_to_string(reloptions, ','), '') AS o"
                         " FROM pg_class WHERE oid = 'job'::regclass")
                     .at(0)
                     .text("o");
  for (const auto& row :
       tx.exec("SELECT indexdef FROM pg_indexes WHERE tablename = 'job' AND indexname IN"
               " ('job__running__idx', 'job__running__lease_expires__idx')")) {
    s.running_indexes.push_back(row.text("indexdef"));
  }
  tx.commit();
  return s;
}

std::string restore_script(const BuiltSchema& s) {
  std::string sql =
      "DROP INDEX IF EXISTS job__running__idx; DROP INDEX IF EXISTS "
      "job__running__lease_expires__idx; ALTER TABLE job ALTER COLUMN lease_token TYPE " +
      s.token_type + " USING NULL; ALTER TABLE job RESET (fillfactor);";
  if (!s.reloptions.empty()) sql += " ALTER TABLE job SET (" + s.reloptions + ");";
  for (const auto& def : s.running_indexes) sql += " " + def + ";";
  return sql;
}

// The ingredients of the 0008 statements that a variant may take out.
enum class Token { random_uuid, sequence, xid };
struct Ingredients {
  bool index_joins = false;     // join by id = ANY(ARRAY(...)), not as the planner likes
  bool type_join = true;        // the claim joins the type row (JobStore::claim)
  bool all_columns = true;      // the claim returns {{job_columns}}
  Token token = Token::random_uuid;  // gen_random_uuid() per row, nextval, the claim's xid
  bool success_line = true;     // complete_many appends a log line per job
  std::string extra_setup;      // after kSchema0008 (fillfactor, indexes, triggers)
};

struct Variant {
  std::string what;
  std::string table;  // for pg_stat_user_tables
  std::string setup;  // run on the empty table before the fill
  std::function<Claimed(pg::Transaction&, int)> claim;
  std::function<std::size_t(pg::Transaction&, const Claimed&)> complete;
  std::function<std::size_t(pg::Transaction&, const Claimed&)> heartbeat;  // empty: none
};

Claimed ids_and_tokens(const pg::Rows& rows) {
  Claimed c;
  for (const auto& row : rows) {
    c.ids.push_back(row.integer("id"));
    c.tokens.push_back(row.text("lease_token"));
  }
  return c;
}

const std::string& owner() {
  static const std::string name = "jobrunner-bench:" + std::to_string(getpid());
  return name;
}

Variant schema_free() {
  Variant v{.what = "schema-free job(id, status)", .table = "bare_job"};
  v.setup =
      "CREATE TABLE IF NOT EXISTS bare_job (id bigint PRIMARY KEY, status int NOT NULL);"
      " CREATE INDEX IF NOT EXISTS bare_job__ready__idx ON bare_job (id) WHERE status = 0;"
      " CREATE SEQUENCE IF NOT EXISTS row_costs_token_seq;";
  v.claim = [](pg::Transaction& tx, int limit) {
    Claimed c;
    for (const auto& row : tx.exec(
             "WITH ready AS (SELECT id FROM bare_job WHERE status = 0 ORDER BY id LIMIT $1"
             " FOR UPDATE SKIP LOCKED)"
             " UPDATE bare_job AS b SET status = 1 FROM ready WHERE b.id = ready.id"
             " RETURNING b.id",
             limit)) {
      c.ids.push_back(row.integer("id"));
    }
    return c;
  };
  v.complete = [](pg::Transaction& tx, const Claimed& c) {
    return tx.exec("UPDATE bare_job SET status = 2 WHERE id = ANY($1::bigint[]) RETURNING id",
                   pg::to_array_param(c.ids))
        .size();
  };
  return v;
}

// The 0008 statements (job_claim joined to the type row as JobStore::claim
// does, job_complete_many, job_heartbeat) without the ingredients left out.
Variant job_0008(std::string what, const Ingredients& in) {
  Variant v{.what = std::move(what), .table = "job"};
  v.setup = std::string(kSchema0008) + in.extra_setup;
  if (in.token != Token::random_uuid) {
    v.setup += " ALTER TABLE job ALTER COLUMN lease_token TYPE bigint USING NULL;";
  }
  const std::string token_type = in.token == Token::random_uuid ? "uuid" : "bigint";
  const std::string token = in.token == Token::random_uuid ? "gen_random_uuid()"
                            : in.token == Token::sequence  ? "nextval('row_costs_token_seq')"
                                                           : "pg_current_xact_id()::text::bigint";
  const std::string columns =
      in.all_columns ? pg::query("job_columns")
                     : "j.id, j.lease_token::text AS lease_token, j.attempt_count, j.priority";
  std::string claim = fmt::format(
      "WITH ready AS (SELECT id FROM job WHERE job_type = $1 AND status = 0"
      " AND (lease_expires IS NULL OR lease_expires <= now())"
      " AND (scheduled_start IS NULL OR scheduled_start <= now())"
      " ORDER BY priority, id LIMIT $2 FOR UPDATE SKIP LOCKED)"
      " UPDATE job AS j SET status = 1, date_started = now(), date_finished = NULL,"
      " attempt_count = j.attempt_count + 1, lease_owner = $3, lease_token = {},"
      " lease_expires = now() + $4::bigint * interval '1 millisecond'"
      " {} RETURNING {}",
      token,
      in.index_joins ? "WHERE j.id = ANY(ARRAY(SELECT id FROM ready))"
                     : "FROM ready WHERE j.id = ready.id",
      columns);
  if (in.type_join) {
    claim = "WITH claimed AS (" + claim +
            ") SELECT claimed.*, t.foo AS target_id, t.job_type AS type_code,"
            " t.json_data AS type_json_data FROM claimed LEFT JOIN noopjob AS t"
            " ON t.job = claimed.id" +
            (in.index_joins ? " AND t.job = ANY(ARRAY(SELECT id FROM claimed))" : "");
  }
  const std::string by_id = in.index_joins ? " AND j.id = ANY($1::bigint[])" : "";
  v.claim = [claim](pg::Transaction& tx, int limit) {
    return ids_and_tokens(
        tx.exec(claim, spec().name, limit, owner(), spec().lease.count()));
  };
  const std::string lock = fmt::format(
      "SELECT j.id{} FROM job AS j JOIN unnest($1::bigint[], $2::{}[]{}) AS d(id, token{})"
      " ON j.id = d.id AND j.lease_token = d.token WHERE j.status = 1{} ORDER BY j.id"
      " FOR NO KEY UPDATE OF j",
      in.success_line ? ", d.line" : "", token_type, in.success_line ? ", $3::text[]" : "",
      in.success_line ? ", line" : "", by_id);
  const std::string complete = fmt::format(
      "WITH done AS ({}) UPDATE job AS j SET status = 2, date_finished = now(),"
      " lease_expires = NULL, lease_owner = NULL, lease_token = NULL{}"
      " FROM done WHERE j.id = done.id RETURNING j.id",
      lock, in.success_line ? ", log = job_log_append(j.log, done.line, $4::integer)" : "");
  const bool line = in.success_line;
  v.complete = [complete, line](pg::Transaction& tx, const Claimed& c) {
    if (!line) {
      return tx.exec(complete, pg::to_array_param(c.ids), pg::to_array_param(c.tokens)).size();
    }
    const std::vector<std::string> lines(c.ids.size(), std::string(kSuccessLine));
    return tx
        .exec(complete, pg::to_array_param(c.ids), pg::to_array_param(c.tokens),
              pg::to_array_param(lines), pg::kJobLogLimit)
        .size();
  };
  const std::string heartbeat = fmt::format(
      "WITH held AS (SELECT j.id FROM job AS j JOIN unnest($1::bigint[], $2::{}[]) AS h(id, token)"
      " ON j.id = h.id AND j.lease_token = h.token WHERE j.status = 1{} ORDER BY j.id"
      " FOR NO KEY UPDATE OF j)"
      " UPDATE job AS j SET lease_expires = now() + $3::bigint * interval '1 millisecond'"
      " FROM held WHERE j.id = held.id RETURNING j.id",
      token_type, by_id);
  v.heartbeat = [heartbeat](pg::Transaction& tx, const Claimed& c) {
    return tx
        .exec(heartbeat, pg::to_array_param(c.ids), pg::to_array_param(c.tokens),
              spec().lease.count())
        .size();
  };
  return v;
}

// The store as built: the schema the migrations made, the statements of
// sql/queries/job.sql as JobStore runs them (and parses their rows).
Variant store_as_built(const std::string& restore) {
  Variant v{.what = "job, the store as built", .table = "job", .setup = restore};
  static const pg::JobStore store(spec());
  v.claim = [](pg::Transaction& tx, int limit) {
    Claimed c;
    c.jobs = store.claim(tx, limit, spec().lease, owner());
    for (const auto& job : c.jobs) c.ids.push_back(job.id);
    return c;
  };
  v.complete = [](pg::Transaction& tx, const Claimed& c) {
    return store.complete_many(tx, c.jobs).size();
  };
  v.heartbeat = [](pg::Transaction& tx, const Claimed& c) {
    return store.heartbeat_many(tx, c.jobs, spec().lease).size();
  };
  return v;
}

// Patch 0015's indexes for the filters of the dashboard's jobs list; the
// requester index is partial (the bench's jobs have no requester).
constexpr std::string_view kDropListIndexes =
    " DROP INDEX IF EXISTS job__requester__id__idx;"
    " DROP INDEX IF EXISTS job__finished__job_type__status__id__idx;";

std::vector<Variant> variants(const std::string& restore) {
  constexpr std::string_view kFillfactor = " ALTER TABLE job SET (fillfactor = 80);";
  constexpr std::string_view kRunningIndex =
      " DROP INDEX job__running__lease_expires__idx;"
      " CREATE INDEX job__running__idx ON job (job_type) WHERE status = 1;";
  std::vector<Variant> v;
  v.push_back(schema_free());
  v.push_back(job_0008("job, 0008 statements (before)", {}));
  // Each row below takes one ingredient out of "joins by id" (not cumulative).
  v.push_back(job_0008("0008, joins by id = ANY(...)", {.index_joins = true}));
  const Ingredients base{.index_joins = true};
  auto without = [&](std::string what, auto change) {
    Ingredients in = base;
    change(in);
    v.push_back(job_0008("0008, joins by id, " + what, in));
  };
  without("no success log line", [](Ingredients& in) { in.success_line = false; });
  without("token nextval(), not gen_random_uuid()", [](Ingredients& in) { in.token = Token::sequence; });
  without("token from the claim's xid", [](Ingredients& in) { in.token = Token::xid; });
  without("claim returns 4 columns", [](Ingredients& in) { in.all_columns = false; });
  without("no type-row join", [](Ingredients& in) { in.type_join = false; });
  without("fillfactor 80", [&](Ingredients& in) { in.extra_setup = kFillfactor; });
  without("fillfactor 80, running index on (job_type)", [&](Ingredients& in) {
    in.extra_setup = std::string(kFillfactor) + std::string(kRunningIndex);
  });
  without("no job__date_finished__idx",
          [](Ingredients& in) { in.extra_setup = " DROP INDEX job__date_finished__idx;"; });
  without("no status-change trigger", [](Ingredients& in) {
    in.extra_setup = " ALTER TABLE job DISABLE TRIGGER job__notify_ready__update;";
  });
  v.push_back(store_as_built(restore));
  // What the jobs list's indexes of patch 0015 (the dashboard's filters)
  // cost the loop: the same store without them.
  auto without_list_indexes = store_as_built(restore + std::string(kDropListIndexes));
  without_list_indexes.what = "job, the store as built, without 0015's list indexes";
  v.push_back(std::move(without_list_indexes));
  return v;
}

// What undoes a variant's extra setup that the restore script does not
// (it restores the token type, fillfactor and the running index).
constexpr std::string_view kUndoExtras = R"sql(
CREATE INDEX IF NOT EXISTS job__date_finished__idx ON job (date_finished) WHERE date_finished IS NOT NULL;
CREATE INDEX IF NOT EXISTS job__requester__id__idx ON job (requester, id) WHERE requester IS NOT NULL;
CREATE INDEX IF NOT EXISTS job__finished__job_type__status__id__idx ON job (job_type, status, id) WHERE status IN (2, 3, 5);
ALTER TABLE job ENABLE TRIGGER job__notify_ready__update;
)sql";

void empty_tables(pg::Connection& conn) {
  BenchDatabase::clear_jobs(conn);
  auto tx = conn.begin();
  tx.exec("TRUNCATE bare_job");
  tx.commit();
}

void fill(pg::Connection& conn, const Variant& v, const BenchDatabase& db, int jobs) {
  {
    auto tx = conn.begin();
    if (v.table == "bare_job") {
      tx.exec("INSERT INTO bare_job SELECT g, 0 FROM generate_series(1, $1::bigint) AS g", jobs);
    } else {
      tx.exec("WITH j AS (INSERT INTO job (job_type) SELECT $1 FROM generate_series(1, $2::bigint)"
              " RETURNING id) INSERT INTO noopjob (job, foo, job_type) SELECT id, $3, $4 FROM j",
              spec().name, jobs, db.foo_id(), spec().type_code);
    }
    tx.commit();
  }
  conn.exec_outside_transaction("VACUUM ANALYZE " + v.table);
  if (v.table == "job") conn.exec_outside_transaction("VACUUM ANALYZE noopjob");
}

struct Counters {
  double wal_lsn_bytes = 0;
  double updates = 0;
  double hot_updates = 0;
};

Counters read_counters(pg::Connection& conn, const std::string& table) {
  auto tx = conn.begin();
  const auto row = tx.exec("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8 AS wal,"
                           " n_tup_upd::float8 AS upd, n_tup_hot_upd::float8 AS hot"
                           " FROM pg_stat_user_tables WHERE relname = $1",
                           table)
                       .at(0);
  tx.commit();
  return {std::stod(row.text("wal")), std::stod(row.text("upd")), std::stod(row.text("hot"))};
}

// The statistics of the workers' backends arrive when they exit; waits (at
// most 5 s) until `updates` more updates than `before` are counted.
Counters counters_after(pg::Connection& conn, const std::string& table, const Counters& before,
                        double updates) {
  Counters now = read_counters(conn, table);
  for (int i = 0; i < 100 && now.updates - before.updates < updates; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    now = read_counters(conn, table);
  }
  return now;
}

// CPU time (user + system) the server process `pid` has used, in ms: what
// the statements cost the server, whatever else the machine runs meanwhile
// (wall times on a loaded machine include waiting for a core). 0 when it
// cannot be read (the server on another host).
double backend_cpu_ms(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  const auto end_of_name = stat.rfind(')');
  if (end_of_name == std::string::npos) return 0;
  std::istringstream fields(stat.substr(end_of_name + 1));
  std::vector<std::string> f{std::istream_iterator<std::string>(fields),
                             std::istream_iterator<std::string>()};
  if (f.size() < 13) return 0;  // f[0] is field 3 (state); utime is 14, stime 15
  const double ticks = std::stod(f[11]) + std::stod(f[12]);
  return ticks * 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double backends_cpu_ms(const std::vector<pg::Connection>& conns) {
  double sum = 0;
  for (const auto& c : conns) sum += backend_cpu_ms(c.backend_pid());
  return sum;
}

struct LoopTimes {
  std::int64_t done = 0;
  std::vector<double> claim_ms, complete_ms;
};

LoopTimes claim_and_complete_all(pg::Connection& conn, const Variant& v) {
  LoopTimes t;
  for (;;) {
    auto claim_tx = conn.begin();
    Stopwatch watch;
    const auto claimed = v.claim(claim_tx, kBatch);
    t.claim_ms.push_back(watch.milliseconds());
    claim_tx.commit();
    if (claimed.ids.empty()) break;
    auto complete_tx = conn.begin();
    watch.restart();
    const auto done = v.complete(complete_tx, claimed);
    t.complete_ms.push_back(watch.milliseconds());
    if (done != claimed.ids.size()) {
      throw MeasureFailed(v.what + ": completed " + std::to_string(done) + " of " +
                          std::to_string(claimed.ids.size()) + " claimed jobs");
    }
    complete_tx.commit();
    t.done += static_cast<std::int64_t>(done);
  }
  return t;
}

RowCostRow run_once(MeasureContext& ctx, const Variant& v, int connections, int jobs) {
  RowCostRow row{.what = v.what, .connections = connections, .jobs = jobs};
  empty_tables(ctx.conn);
  fill(ctx.conn, v, ctx.db, jobs);
  ctx.conn.exec_outside_transaction("CHECKPOINT");
  const auto before = read_counters(ctx.conn, v.table);

  std::vector<pg::Connection> conns;
  for (int i = 0; i < connections; ++i) conns.push_back(ctx.db.connect());
  std::vector<LoopTimes> times(static_cast<std::size_t>(connections));
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(connections));
  const double cpu_before = backends_cpu_ms(conns);
  Stopwatch watch;
  {
    std::vector<std::jthread> threads;
    for (std::size_t i = 0; i < conns.size(); ++i) {
      threads.emplace_back([&, i] {
        try {
          times[i] = claim_and_complete_all(conns[i], v);
        } catch (...) {
          errors[i] = std::current_exception();
        }
      });
    }
  }
  const double seconds = watch.seconds();
  const double cpu_ms = backends_cpu_ms(conns) - cpu_before;
  conns.clear();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  std::int64_t done = 0;
  std::vector<double> claim_ms, complete_ms;
  for (const auto& t : times) {
    done += t.done;
    claim_ms.insert(claim_ms.end(), t.claim_ms.begin(), t.claim_ms.end());
    complete_ms.insert(complete_ms.end(), t.complete_ms.begin(), t.complete_ms.end());
  }
  if (done != jobs) {
    throw MeasureFailed(v.what + ": did " + std::to_string(done) + " of " + std::to_string(jobs));
  }
  const auto after = counters_after(ctx.conn, v.table, before, 2.0 * jobs);
  row.jobs_per_s = per_second(static_cast<double>(jobs), seconds);
  row.claim_ms_p50 = summarize(claim_ms).p50;
  row.complete_ms_p50 = summarize(complete_ms).p50;
  row.server_cpu_us_per_job = 1000.0 * cpu_ms / jobs;
  row.wal_bytes_per_job = (after.wal_lsn_bytes - before.wal_lsn_bytes) / jobs;
  const double updates = after.updates - before.updates;
  row.hot_share = updates > 0 ? (after.hot_updates - before.hot_updates) / updates : 0;
  return row;
}

// kHeartbeats heartbeats, each its own transaction, of kBatch jobs claimed
// with the variant's claim on a table like the drain's.
void measure_heartbeat(MeasureContext& ctx, const Variant& v, int jobs, RowCostRow& row) {
  empty_tables(ctx.conn);
  fill(ctx.conn, v, ctx.db, jobs);
  auto claim_tx = ctx.conn.begin();
  const auto held = v.claim(claim_tx, kBatch);
  claim_tx.commit();
  auto other = ctx.db.connect();
  const auto before = read_counters(ctx.conn, v.table);
  std::vector<double> ms;
  for (int i = 0; i < kHeartbeats; ++i) {
    auto tx = other.begin();
    Stopwatch watch;
    const auto extended = v.heartbeat(tx, held);
    ms.push_back(watch.milliseconds());
    if (extended != held.ids.size()) throw MeasureFailed(v.what + ": a heartbeat lost a lease");
    tx.commit();
  }
  other = ctx.db.connect();  // the old backend exits and reports its counts
  const auto after = counters_after(ctx.conn, v.table, before, 1.0 * kHeartbeats * kBatch);
  row.heartbeat_ms_p50 = summarize(ms).p50;
  const double updates = after.updates - before.updates;
  row.heartbeat_hot_share = updates > 0 ? (after.hot_updates - before.hot_updates) / updates : 0;
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

RowCostRow median_row(const std::vector<RowCostRow>& rounds) {
  RowCostRow m = rounds.front();
  auto med = [&](double RowCostRow::*field) {
    std::vector<double> values;
    for (const auto& r : rounds) values.push_back(r.*field);
    return median(values);
  };
  m.jobs_per_s = med(&RowCostRow::jobs_per_s);
  m.claim_ms_p50 = med(&RowCostRow::claim_ms_p50);
  m.complete_ms_p50 = med(&RowCostRow::complete_ms_p50);
  m.wal_bytes_per_job = med(&RowCostRow::wal_bytes_per_job);
  m.server_cpu_us_per_job = med(&RowCostRow::server_cpu_us_per_job);
  m.hot_share = med(&RowCostRow::hot_share);
  return m;
}

void run_script(pg::Connection& conn, const std::string& sql) {
  auto tx = conn.begin();
  tx.exec_script(sql);
  tx.commit();
}

}  // namespace

RowCosts measure_row_costs(MeasureContext& ctx) {
  const int jobs = std::min(ctx.options.jobs, kMaxJobs);
  const int rounds = ctx.options.quick ? 1 : 3;
  RowCosts result{.batch = kBatch, .rounds = rounds};
  const auto built = read_built_schema(ctx.conn);
  const auto restore = restore_script(built);
  const auto all = variants(restore);
  const std::vector<int> connection_counts{1, 8};
  // [variant][connections index] -> one row per round
  std::vector<std::vector<std::vector<RowCostRow>>> measured(
      all.size(), std::vector<std::vector<RowCostRow>>(connection_counts.size()));
  std::vector<std::optional<std::string>> errors(all.size());
  BenchDatabase::clear_jobs(ctx.conn);
  run_script(ctx.conn, schema_free().setup);
  for (int round = 1; round <= rounds; ++round) {
    for (std::size_t i = 0; i < all.size(); ++i) {
      const auto& v = all[i];
      if (errors[i]) continue;
      try {
        empty_tables(ctx.conn);
        if (v.table == "job") run_script(ctx.conn, v.setup);
        for (std::size_t c = 0; c < connection_counts.size(); ++c) {
          spdlog::info("(r) row costs, round {} of {}: {}, {} connection(s), {} jobs", round,
                       rounds, v.what, connection_counts[c], jobs);
          measured[i][c].push_back(run_once(ctx, v, connection_counts[c], jobs));
        }
        if (round == 1 && v.heartbeat) {
          measure_heartbeat(ctx, v, std::max(jobs / 10, kBatch), measured[i][0].back());
        }
      } catch (const std::exception& e) {
        errors[i] = e.what();
        spdlog::error("(r) {}: {}", v.what, e.what());
      }
      empty_tables(ctx.conn);
      run_script(ctx.conn, restore + std::string(kUndoExtras));
    }
  }
  for (std::size_t i = 0; i < all.size(); ++i) {
    for (std::size_t c = 0; c < connection_counts.size(); ++c) {
      RowCostRow row{.what = all[i].what, .connections = connection_counts[c], .jobs = jobs};
      if (!measured[i][c].empty()) {
        row = median_row(measured[i][c]);
        // The heartbeat ran in round 1, at 1 connection.
        row.heartbeat_ms_p50 = measured[i][c].front().heartbeat_ms_p50;
        row.heartbeat_hot_share = measured[i][c].front().heartbeat_hot_share;
      }
      row.error = errors[i];
      result.rows.push_back(row);
    }
  }
  run_script(ctx.conn, "DROP TABLE bare_job; DROP SEQUENCE row_costs_token_seq");
  return result;
}

void print_row_costs(std::ostream& out, const RowCosts& r) {
  out << fmt::format(
      "\n(r) row costs: claim {} + complete {} (each its own transaction), {} jobs per run, "
      "median of {} round(s)\n",
      r.batch, r.batch, r.rows.empty() ? 0 : r.rows.front().jobs, r.rounds);
  TextTable table({"variant", "conns", "jobs/s", "server CPU us/job", "claim ms", "complete ms",
                   "WAL B/job", "HOT", "heartbeat ms", "heartbeat HOT"},
                  "lrrrrrrrrr");
  for (const auto& row : r.rows) {
    if (row.error) {
      table.add({row.what, std::to_string(row.connections), "FAILED (see the end)"});
      continue;
    }
    const bool beat = row.heartbeat_ms_p50 >= 0;
    table.add({row.what, std::to_string(row.connections), fmt::format("{:.0f}", row.jobs_per_s),
               fmt::format("{:.1f}", row.server_cpu_us_per_job),
               fmt::format("{:.2f}", row.claim_ms_p50), fmt::format("{:.2f}", row.complete_ms_p50),
               fmt::format("{:.0f}", row.wal_bytes_per_job),
               fmt::format("{:.0f}%", 100 * row.hot_share),
               beat ? fmt::format("{:.2f}", row.heartbeat_ms_p50) : "",
               beat ? fmt::format("{:.0f}%", 100 * row.heartbeat_hot_share) : ""});
  }
  table.print(out);
  out << "  server CPU: user + system time of the loop's server processes (/proc), per job; "
         "claim / complete / heartbeat ms: p50 wall time of the statement alone, per batch; "
         "HOT: share of the table's updates that were HOT\n";
}

nlohmann::ordered_json row_costs_json(const RowCosts& r) {
  auto rows = nlohmann::ordered_json::array();
  for (const auto& row : r.rows) {
    nlohmann::ordered_json j{{"what", row.what}, {"connections", row.connections},
                             {"jobs", row.jobs}};
    if (row.error) {
      j["error"] = *row.error;
    } else {
      j["jobs_per_s"] = row.jobs_per_s;
      j["claim_ms_p50"] = row.claim_ms_p50;
      j["complete_ms_p50"] = row.complete_ms_p50;
      j["server_cpu_us_per_job"] = row.server_cpu_us_per_job;
      j["wal_bytes_per_job"] = row.wal_bytes_per_job;
      j["hot_share"] = row.hot_share;
      if (row.heartbeat_ms_p50 >= 0) {
        j["heartbeat_ms_p50"] = row.heartbeat_ms_p50;
        j["heartbeat_hot_share"] = row.heartbeat_hot_share;
      }
    }
    rows.push_back(j);
  }
  return {{"batch", r.batch}, {"rounds", r.rounds}, {"rows", rows}};
}

}  // namespace jobrunner::bench
