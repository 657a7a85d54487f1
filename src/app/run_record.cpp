#include "run_record.hpp"

#include <spdlog/spdlog.h>

#include "jobrunner/pg/job_store.hpp"

namespace jobrunner::app {

RunRecord::RunRecord(std::string conninfo, const JobTypeSpec& spec, std::string hostname, int pid)
    : conninfo_(std::move(conninfo)),
      // The record needs only the type's name (runner_run, the cron lock):
      // a spec whose tables are wrong is refused later, with exit 78, by
      // check_job_type_spec() inside the run.
      store_(JobTypeSpec{.name = spec.name, .display_name = spec.display_name}),
      hostname_(std::move(hostname)),
      pid_(pid) {}

void RunRecord::start(pg::Connection& conn, std::optional<std::string> type_lock_token) {
  auto tx = conn.begin();
  const auto id = pg::start_runner_run(tx, store_.spec().name, hostname_, pid_);
  tx.commit();
  std::lock_guard lock(mutex_);
  id_ = id;
  type_lock_token_ = std::move(type_lock_token);
}

std::optional<std::int64_t> RunRecord::id() const {
  std::lock_guard lock(mutex_);
  return id_;
}

void RunRecord::write(pg::Connection& conn, int exit_code, const RunStats& stats) const {
  auto tx = conn.begin();
  pg::finish_runner_run(tx, *id_, stats.completed, stats.not_completed, exit_code);
  if (type_lock_token_) store_.release_type_lock(tx, *type_lock_token_);
  tx.commit();
}

std::exception_ptr RunRecord::finish(int exit_code, const RunStats& stats,
                                     pg::Connection* conn) noexcept {
  std::lock_guard lock(mutex_);
  if (!id_ || finished_) return nullptr;
  std::exception_ptr error;
  // The runner's connection is used while it is open. One that the server
  // closed (the cause of a 75) is not: libpqxx 6.4 would reconnect it
  // silently, a second connect on top of the one below. A daemon's
  // connection with notifications waiting also counts as not idle: a new
  // connection is then all it costs.
  if (conn != nullptr && conn->idle_and_open()) {
    try {
      write(*conn, exit_code, stats);
      finished_ = true;
      return nullptr;
    } catch (...) {
      error = std::current_exception();
    }
  }
  // The runner's connection may be what failed (exit 75) while the database
  // still answers a new one.
  try {
    auto fresh = pg::Connection::open(conninfo_);
    write(fresh, exit_code, stats);
    finished_ = true;
    spdlog::info("recorded the end of run {} (exit code {}) on a new connection", *id_,
                 exit_code);
    return nullptr;
  } catch (...) {
    error = std::current_exception();
  }
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    spdlog::error("cannot record the end of run {} (exit code {}) in runner_run, also on a new "
                  "connection: {}; the run stays without date_finished",
                  *id_, exit_code, e.what());
  } catch (...) {
    spdlog::error("cannot record the end of run {} (exit code {}) in runner_run", *id_,
                  exit_code);
  }
  return error;
}

}  // namespace jobrunner::app
