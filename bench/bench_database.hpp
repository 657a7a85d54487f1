#pragma once
// The bench's own database, jobrunner_bench, on the server it is given:
// created fresh (a leftover of an interrupted run is dropped first), migrated
// with the patches built into the binary, holding one foo that every NoopJob
// is about, and dropped when the bench ends.

#include <cstdint>
#include <string>
#include <string_view>

#include "jobrunner/pg/connection.hpp"

namespace jobrunner::bench {

// `conninfo` (key=value or postgresql:// URI) pointed at another database.
std::string with_dbname(const std::string& conninfo, std::string_view dbname);

class BenchDatabase {
 public:
  static constexpr std::string_view kName = "jobrunner_bench";

  // Throws DatabaseUnavailable, or SqlError when the role may not create
  // databases.
  explicit BenchDatabase(std::string server_conninfo);
  // Drops the database; a failure is logged, never thrown.
  ~BenchDatabase();
  BenchDatabase(const BenchDatabase&) = delete;
  BenchDatabase& operator=(const BenchDatabase&) = delete;

  const std::string& conninfo() const noexcept { return conninfo_; }
  pg::Connection connect() const { return pg::Connection::open(conninfo_); }
  std::int64_t foo_id() const noexcept { return foo_id_; }

  // Empties job and every table that references it (noopjob, error
  // reports, ...), so each measure starts from an empty queue.
  static void clear_jobs(pg::Connection& conn);
  // VACUUM ANALYZE job after a bulk insert, so the plans and the visibility
  // map are those of a settled table, not of one that just grew.
  static void vacuum_analyze(pg::Connection& conn);

 private:
  void drop() const;
  std::string server_conninfo_;
  std::string conninfo_;
  std::int64_t foo_id_ = 0;
};

}  // namespace jobrunner::bench
