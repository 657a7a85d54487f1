#pragma once
// Graceful shutdown on SIGTERM and SIGINT. The first signal asks the runner
// to stop: it claims nothing more, gives back the jobs it prefetched at once,
// lets the running jobs finish within the grace period, then gives back what
// is left. A second signal ends the
// process at once with 128 + the signal number; leases then expire and the
// jobs are rescued by the next runner.

namespace jobrunner {

// Installs the handlers (idempotent).
void install_stop_handlers();

// In an isolated job's child process: SIGTERM (sent on a timeout) only asks
// the job to stop (stop_requested()); the parent kills it after a grace.
void install_child_stop_handler();

// True once a stop was requested by a signal or request_stop().
bool stop_requested() noexcept;

// The processes of isolated jobs, killed with SIGKILL by a second signal (or
// a give-back after the grace period) so that no orphan keeps running.
// Async-signal-safe; at most kMaxRunningChildren are tracked at once.
inline constexpr int kMaxRunningChildren = 256;
void add_running_child(int pid) noexcept;
void remove_running_child(int pid) noexcept;
void kill_running_children() noexcept;

// As if a signal had arrived (for tests and embedding applications).
void request_stop() noexcept;

}  // namespace jobrunner
