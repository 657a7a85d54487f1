#include "bench_database.hpp"

#include <spdlog/spdlog.h>

#include "jobrunner/pg/migrations.hpp"

namespace jobrunner::bench {
namespace {

// The maintenance database the server always has, for CREATE/DROP DATABASE.
constexpr std::string_view kAdminDatabase = "postgres";

}  // namespace

std::string with_dbname(const std::string& conninfo, std::string_view dbname) {
  // libpq lets a later dbname win: a key=value string takes a second
  // keyword, a URI a query parameter (which overrides its path).
  const bool uri = conninfo.starts_with("postgresql://") || conninfo.starts_with("postgres://");
  if (!uri) return conninfo + (conninfo.empty() ? "" : " ") + "dbname=" + std::string(dbname);
  const char separator = conninfo.find('?') == std::string::npos ? '?' : '&';
  return conninfo + separator + "dbname=" + std::string(dbname);
}

BenchDatabase::BenchDatabase(std::string server_conninfo)
    : server_conninfo_(std::move(server_conninfo)),
      conninfo_(with_dbname(server_conninfo_, kName)) {
  drop();
  {
    auto admin = pg::Connection::open(with_dbname(server_conninfo_, kAdminDatabase));
    // A constant identifier: CREATE DATABASE takes no parameters.
    admin.exec_outside_transaction("CREATE DATABASE " + std::string(kName));
  }
  auto conn = connect();
  pg::upgrade(conn, pg::embedded_patches());
  auto tx = conn.begin();
  foo_id_ = tx.exec("INSERT INTO foo (name) VALUES ($1) RETURNING id", "jobrunner-bench")
                .at(0)
                .integer("id");
  tx.commit();
}

BenchDatabase::~BenchDatabase() {
  try {
    drop();
  } catch (const std::exception& e) {
    spdlog::warn("could not drop database {}: {}", kName, e.what());
  }
}

void BenchDatabase::drop() const {
  auto admin = pg::Connection::open(with_dbname(server_conninfo_, kAdminDatabase));
  // FORCE ends the sessions of runners a failed measure may have left.
  admin.exec_outside_transaction("DROP DATABASE IF EXISTS " + std::string(kName) +
                                 " WITH (FORCE)");
}

void BenchDatabase::clear_jobs(pg::Connection& conn) {
  auto tx = conn.begin();
  tx.exec("TRUNCATE job CASCADE");
  tx.commit();
}

void BenchDatabase::vacuum_analyze(pg::Connection& conn) {
  conn.exec_outside_transaction("VACUUM ANALYZE job");
}

}  // namespace jobrunner::bench
