#pragma once
// The worker pool: runs the claimed jobs the dispatcher hands it, in claim
// order, and reports how each attempt ended to the completer.
//  - Threads, each with a database connection of its own (opened on first
//    use, again after it failed); the job's work and its COMPLETED commit in
//    the job's transaction on that connection.
//  - With isolation, each thread drives a long-lived child process of its
//    own (ChildWorker), pre-forked at its first job, which runs the jobs
//    (and commits them) on the child's own connection; a child that crashed,
//    timed out, ran out of memory or served --max-jobs-per-child is replaced.
//  - Without RunnerOptions::conninfo there are no threads: run_here() runs
//    a job on the caller's thread and connection (a library user's runner
//    on one connection).
// Jobs wait in a local queue (the prefetched ones) until a worker is free;
// a queued job whose lease the keeper gave up is not run.

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "child_worker.hpp"
#include "completer.hpp"
#include "jobrunner/runtime/runner.hpp"

namespace jobrunner {

class LeaseKeeper;

class WorkerPool {
 public:
  WorkerPool(const JobType& type, const RunnerOptions& options, Completer& completer,
             LeaseKeeper* keeper);
  ~WorkerPool();  // close_and_join()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Starts `threads` workers (0: run_here() only).
  void start(int threads);
  // Appends claimed jobs to the local queue, in their order.
  void submit(std::vector<Job> jobs);
  // Runs one job now, on this thread and `conn`.
  void run_here(pg::Connection& conn, const Job& job);

  int queued() const;
  int busy() const;
  // Empties the local queue: the jobs no worker has started (for a give-back).
  std::vector<Job> take_queued();
  // No more jobs: the workers finish the one they run and end; joins them.
  void close_and_join();

 private:
  void worker_main(int index);
  // Stopping, or the cron lock is lost: start no queued job.
  bool halted() const;
  // Runs the attempt; DatabaseUnavailable when the connection failed.
  AttemptEnd attempt(pg::Connection* conn, const Job& job);
  AttemptEnd attempt_in_process(pg::Connection* conn, const LeaseKeeper* keeper,
                                const Job& job) const;
  AttemptEnd attempt_in_child(std::optional<ChildWorker>& child, const Job& job);
  ChildWorker::Serve serve_in_child() const;
  void log_start(const Job& job) const;
  std::optional<Duration> job_timeout() const;

  const JobType& type_;
  const RunnerOptions& options_;
  Completer& completer_;
  LeaseKeeper* const keeper_;
  const bool isolated_;

  mutable std::mutex mutex_;
  std::condition_variable work_ready_;  // workers wait for jobs
  std::deque<Job> queue_;
  int busy_ = 0;
  bool closing_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace jobrunner
