#pragma once
// Graceful shutdown on SIGTERM and SIGINT. The first signal asks the runner
// to stop: it claims nothing more, gives back the jobs it prefetched at once,
// lets the running jobs finish within the grace period, then gives back what
// is left. A second signal ends the
// process at once with 128 + the signal number; leases then expire and the
// jobs are rescued by the next runner. (The runtime kills the processes of
// isolated jobs first, so that none is orphaned: src/runtime/child_signals.hpp.)

namespace jobrunner {

// Installs the handlers (idempotent).
void install_stop_handlers();

// True once a stop was requested by a signal or request_stop().
bool stop_requested() noexcept;

// As if a signal had arrived (for tests and embedding applications).
void request_stop() noexcept;

}  // namespace jobrunner
