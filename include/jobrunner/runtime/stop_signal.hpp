#pragma once
// Graceful shutdown on SIGTERM and SIGINT. The first signal asks the runner
// to stop: it claims nothing more, lets the running job finish within its
// grace period, then gives back what is left. A second signal ends the
// process at once with 128 + the signal number; leases then expire and the
// jobs are rescued by the next runner.

namespace jobrunner {

// Installs the handlers (idempotent).
void install_stop_handlers();

// True once a stop was requested by a signal or request_stop().
bool stop_requested() noexcept;

// The isolated job's process (0: none), killed with SIGKILL by a second
// signal so that no orphan keeps running.
void set_running_child(int pid) noexcept;

// As if a signal had arrived (for tests and embedding applications).
void request_stop() noexcept;

}  // namespace jobrunner
