#include "worker_pool.hpp"

#include <spdlog/spdlog.h>

#include "child_process.hpp"
#include "child_signals.hpp"
#include "job_codec.hpp"
#include "job_log.hpp"
#include "jobrunner/runtime/stop_signal.hpp"
#include "lease_keeper.hpp"
#include "outcome_of.hpp"

namespace jobrunner {
namespace {

// How often an idle worker looks whether the run is halted.
constexpr Duration kTick{50};

// What an isolated child tells its parent, one JSON object.
constexpr std::string_view kDatabaseUnavailable = "database_unavailable";

// The runner's side of RunnableJob::deadline() and stop_requested().
class Control : public AttemptControl {
 public:
  Control(std::optional<Duration> timeout, const LeaseKeeper* keeper, std::int64_t job_id)
      : keeper_(keeper), job_id_(job_id) {
    if (timeout) deadline_ = std::chrono::steady_clock::now() + *timeout;
  }
  std::optional<SteadyTime> deadline() const override { return deadline_; }
  bool stop_requested() const override {
    return jobrunner::stop_requested() ||
           (deadline_ && std::chrono::steady_clock::now() >= *deadline_) ||
           (keeper_ != nullptr && keeper_->abandoned(job_id_));
  }

 private:
  std::optional<SteadyTime> deadline_;
  const LeaseKeeper* keeper_;
  std::int64_t job_id_;
};

// The attempt of a job whose connection failed while it ran (or as its
// worker connected): it may or may not have done its work, so it is
// recorded as a rescue would record it, but at once.
AttemptEnd lost_with_connection(const Job& job, const DatabaseUnavailable& e) {
  return {job, AttemptEnd::Kind::failed,
          {Outcome::Kind::lease_expired, "ConnectionLost",
           "the runner's database connection failed while it held the job: " +
               std::string(e.what())},
          {}};
}

}  // namespace

WorkerPool::WorkerPool(const JobType& type, const RunnerOptions& options, Completer& completer,
                       LeaseKeeper* keeper)
    : type_(type),
      options_(options),
      completer_(completer),
      keeper_(keeper),
      isolated_(options.isolate.value_or(type.spec.isolate)) {}

WorkerPool::~WorkerPool() { close_and_join(); }

bool WorkerPool::halted() const {
  return stop_requested() || (keeper_ != nullptr && keeper_->type_lock_lost());
}

void WorkerPool::start(int threads) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this, i] { worker_main(i); });
}

void WorkerPool::submit(std::vector<Job> jobs) {
  {
    std::lock_guard lock(mutex_);
    for (auto& job : jobs) queue_.push_back(std::move(job));
  }
  work_ready_.notify_all();
}

int WorkerPool::queued() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(queue_.size());
}

int WorkerPool::busy() const {
  std::lock_guard lock(mutex_);
  return busy_;
}

std::vector<Job> WorkerPool::take_queued() {
  std::lock_guard lock(mutex_);
  std::vector<Job> jobs(std::make_move_iterator(queue_.begin()),
                        std::make_move_iterator(queue_.end()));
  queue_.clear();
  return jobs;
}

void WorkerPool::close_and_join() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  work_ready_.notify_all();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

void WorkerPool::run_here(pg::Connection& conn, const Job& job) {
  const JobLogScope about_the_job(job);
  const auto started = std::chrono::steady_clock::now();
  try {
    auto end = attempt(&conn, job);
    end.ran_for = std::chrono::steady_clock::now() - started;
    completer_.report(std::move(end));
  } catch (const DatabaseUnavailable& e) {
    auto end = lost_with_connection(job, e);
    end.ran_for = std::chrono::steady_clock::now() - started;
    completer_.report(std::move(end));
    throw;
  }
}

void WorkerPool::worker_main(int index) {
  std::optional<pg::Connection> conn;
  // Created and destroyed on this thread: the child dies with the thread
  // that forked it (child_worker.hpp).
  std::optional<ChildWorker> child;
  std::unique_lock lock(mutex_);
  for (;;) {
    // A queued job is not started once the run is stopping or has lost its
    // cron lock: the dispatcher gives it back. (Looked at every tick: the
    // flags are set by a signal and by the keeper's thread.)
    const auto startable = [this] { return !queue_.empty() && !halted(); };
    while (!work_ready_.wait_for(lock, kTick, [&] { return closing_ || startable(); })) {
    }
    if (!startable()) return;  // closing, and nothing left to run
    const Job job = std::move(queue_.front());
    queue_.pop_front();
    ++busy_;
    lock.unlock();
    AttemptEnd end{job, AttemptEnd::Kind::left, {}, {}};
    const auto started = std::chrono::steady_clock::now();
    bool ran = true;
    std::optional<JobLogScope> about_the_job(job);
    try {
      if (keeper_ != nullptr && keeper_->abandoned(job.id)) {
        end = {job, AttemptEnd::Kind::abandoned, {},
               "its lease expired while it waited to run (it could not be extended); not run"};
        ran = false;
      } else if (isolated_) {
        log_start(job);
        end = attempt_in_child(child, job);
      } else if (type_.spec.batch_completions) {
        end = attempt(nullptr, job);  // needs no connection
      } else {
        if (conn && !conn->idle_and_open()) {
          spdlog::warn("worker {}: the server closed its idle connection; opening a new one",
                       index);
          conn.reset();
        }
        if (!conn) conn = pg::Connection::open(*options_.conninfo);
        end = attempt(&*conn, job);
      }
    } catch (const DatabaseUnavailable& e) {
      conn.reset();  // opened again for the next job
      log_job(spdlog::level::err, job,
              fmt::format("lost its database connection (worker {}): {}", index, e.what()));
      end = lost_with_connection(job, e);
    } catch (const std::exception& e) {
      end.detail = e.what();
    } catch (...) {
      end.detail = "an unknown exception";
    }
    if (ran) end.ran_for = std::chrono::steady_clock::now() - started;
    about_the_job.reset();
    lock.lock();
    --busy_;
    lock.unlock();
    // After the count: the report wakes the dispatcher, which must see the
    // worker free.
    completer_.report(std::move(end));
    lock.lock();
  }
}

std::optional<Duration> WorkerPool::job_timeout() const {
  return options_.job_timeout ? options_.job_timeout : type_.spec.job_timeout;
}

void WorkerPool::log_start(const Job& job) const {
  log_job(spdlog::level::info, job,
          fmt::format("running {} (attempt {} of {}{})", type_.spec.display_name,
                      job.attempt_count, job.max_retries + 1, isolated_ ? ", isolated" : ""));
}

AttemptEnd WorkerPool::attempt(pg::Connection* conn, const Job& job) {
  if (isolated_) throw ConfigError("isolated jobs need RunnerOptions::conninfo");
  log_start(job);
  if (conn == nullptr && !type_.spec.batch_completions) {
    throw ConfigError("internal error: a transactional job needs a connection");
  }
  return attempt_in_process(conn, keeper_, job);
}

// Runs the job in this process: its work and its COMPLETED status commit
// together on `conn`, or neither does. A job of a type with batch
// completions gets no transaction (`conn` may be null); its COMPLETED is
// the completer's to write. `keeper` (may be null) tells the job when its
// lease is lost.
AttemptEnd WorkerPool::attempt_in_process(pg::Connection* conn, const LeaseKeeper* keeper,
                                          const Job& job) const {
  using Kind = AttemptEnd::Kind;
  // Outlives the try: what the job gave back is written whatever its outcome.
  std::unique_ptr<RunnableJob> runnable;
  try {
    runnable = type_.make(job);
    const Control control(job_timeout(), keeper, job.id);
    runnable->set_control(&control);
    if (type_.spec.batch_completions) {
      auto* outside = dynamic_cast<NonTransactionalJob*>(runnable.get());
      if (outside == nullptr) {
        throw ConfigError("job type '" + type_.spec.name +
                          "' sets batch_completions, so its jobs must be NonTransactionalJobs");
      }
      outside->perform();
      return {job, Kind::ran, {}, {}, runnable->output()};
    }
    auto tx = conn->begin();
    pg::Statements db(tx);
    runnable->run(db);
    if (!completer_.complete_in(tx, job, runnable->output())) return {job, Kind::refused, {}, {}};
    tx.commit();
    return {job, Kind::committed, {}, {}};
  } catch (...) {
    AttemptEnd end{job, Kind::failed, outcome_of(std::current_exception()), {}};
    if (runnable) end.output = runnable->output();
    return end;
  }
}

// Runs the job in this worker's child process (forked on the first job,
// again after a child was lost or served --max-jobs-per-child), on the
// child's own connection, which it keeps from job to job. The child records
// COMPLETED itself (the one transaction rule); anything else it reports back.
AttemptEnd WorkerPool::attempt_in_child(std::optional<ChildWorker>& child, const Job& job) {
  using Kind = AttemptEnd::Kind;
  if (!options_.conninfo) throw ConfigError("isolated jobs need RunnerOptions::conninfo");
  if (!child) {
    const auto memory_limit =
        options_.memory_limit ? options_.memory_limit : type_.spec.memory_limit;
    child.emplace(serve_in_child(), memory_limit, options_.max_jobs_per_child);
  }
  ChildLimits limits;
  limits.timeout = job_timeout();
  limits.abandon = [this, id = job.id] { return keeper_ != nullptr && keeper_->abandoned(id); };
  const auto result = child->run(job_to_json(job).dump(), limits, {}, [&](std::string_view line) {
    log_job(spdlog::level::info, job, fmt::format("stderr: {}", line));
  });

  if (result.abandoned) return {job, Kind::abandoned, {}, {}};
  const std::string detail =
      result.stderr_tail.empty() ? "" : "\nstderr (tail):\n" + result.stderr_tail;
  // A report wins over a timeout: a child that committed COMPLETED just as
  // the deadline passed did complete.
  if (!result.report && result.timed_out) {
    return {job, Kind::failed,
            {Outcome::Kind::timeout, "JobTimeout",
             "job ran too long: killed after " + format_duration(*limits.timeout)},
            detail};
  }
  if (!result.report) {
    return {job, Kind::failed,
            {Outcome::Kind::unexpected, "ChildCrashed",
             "the job's process " + describe_wait_status(result.wait_status)},
            detail};
  }
  const auto report = nlohmann::json::parse(*result.report);
  if (report.contains("error")) throw DatabaseUnavailable(report.value("message", ""));
  Outcome outcome{static_cast<Outcome::Kind>(report.at("outcome").get<int>()),
                  report.at("error_type").get<std::string>(),
                  report.at("message").get<std::string>()};
  if (report.contains("min_delay_ms")) {
    outcome.min_delay = Duration(report.at("min_delay_ms").get<Duration::rep>());
  }
  AttemptEnd end{job, static_cast<Kind>(report.at("kind").get<int>()), std::move(outcome), detail};
  // What the job gave back, unless the child wrote it with COMPLETED.
  if (end.kind != Kind::committed) {
    if (const auto& given = report.at("result"); !given.is_null()) end.output.result = given;
    end.output.log = report.at("log").get<std::string>();
  }
  return end;
}

// What a worker's child does with each job it is sent. Its connection is
// its own, opened on its first transactional job and kept; a child whose
// connection failed, or whose job ran out of memory (RLIMIT_AS), retires so
// that the next job gets a fresh process.
ChildWorker::Serve WorkerPool::serve_in_child() const {
  auto conn = std::make_shared<std::optional<pg::Connection>>();
  return [this, conn](const std::string& request) -> ChildWorker::Reply {
    // SIGTERM (a timeout) asks the job to stop (RunnableJob::stop_requested);
    // SIGKILL follows after the grace period.
    install_child_stop_handler();
    nlohmann::json report;
    bool retire = false;
    try {
      const auto job = job_from_json(nlohmann::json::parse(request));
      if (!type_.spec.batch_completions && !(*conn && (*conn)->idle_and_open())) {
        conn->reset();
        *conn = pg::Connection::open(*options_.conninfo);
      }
      // No keeper here: its lock may have been held by its thread at fork().
      const auto end = attempt_in_process(*conn ? &**conn : nullptr, nullptr, job);
      retire = end.outcome.error_type == "std::bad_alloc";
      report = {{"kind", static_cast<int>(end.kind)},
                {"outcome", static_cast<int>(end.outcome.kind)},
                {"error_type", end.outcome.error_type},
                {"message", end.outcome.message},
                {"result", end.output.result ? *end.output.result : nlohmann::json()},
                {"log", end.output.log}};
      if (end.outcome.min_delay) report["min_delay_ms"] = end.outcome.min_delay->count();
    } catch (const DatabaseUnavailable& e) {
      report = {{"error", kDatabaseUnavailable}, {"message", e.what()}};
      retire = true;
    }
    // A program's output in the log text may be any bytes: sent as U+FFFD.
    return {report.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), retire};
  };
}

}  // namespace jobrunner
