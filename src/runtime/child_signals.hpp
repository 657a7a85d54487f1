#pragma once
// The runtime's side of stop_signal.hpp, private to the runtime library: the
// processes of isolated jobs that a second stop signal kills, and the stop
// handler of such a child process. Implemented in stop_signal.cpp, which owns
// the signal handlers.

#include "jobrunner/runtime/runner.hpp"

namespace jobrunner {

// In an isolated job's child process: SIGTERM (sent on a timeout) only asks
// the job to stop (stop_requested()); the parent kills it after a grace.
void install_child_stop_handler();

// The processes of isolated jobs, killed with SIGKILL by a second signal (or
// a give-back after the grace period) so that no orphan keeps running; a
// negative number is a process group (-pgid: a program that a job runs,
// subprocess.hpp), killed whole. Async-signal-safe; at most
// kMaxRunningChildren are tracked at once: one slot per worker of the largest
// --concurrency (a worker has either an isolated child or a program).
inline constexpr int kMaxRunningChildren = kMaxConcurrency;
void add_running_child(int pid) noexcept;
void remove_running_child(int pid) noexcept;
void kill_running_children() noexcept;

}  // namespace jobrunner
