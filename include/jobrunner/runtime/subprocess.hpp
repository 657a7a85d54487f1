#pragma once
// Runs a program in a child process of its own process group, without a
// shell, and waits for it: the building block of job types that run external
// programs (jobs/command/, docs/command-jobs.md). Blocking; call it from the
// job's thread (a worker, or an isolated job's child process).
//
// What the program gets, and nothing else:
// - execve(spec.executable, spec.argv, spec.environment): no shell, no PATH
//   search, each argv element passed as it is (a NUL inside one would end it
//   early, so run_process refuses it: std::invalid_argument);
// - the environment of spec.environment only: nothing of the runner's is
//   inherited;
// - stdin from /dev/null; stdout and stderr to pipes that this process
//   reads with poll(2), keeping the last spec.tail_bytes of each; no other
//   descriptor (the runner's database sockets are closed in the child);
// - a process group of its own (setpgid), so a terminal's Ctrl-C or the
//   runner's own signals do not reach it, and the whole group can be killed;
// - every signal at its default action and none blocked;
// - with spec.credentials (the runner must be root): the supplementary
//   groups, group and user given (setgroups, setgid, setuid, in that order;
//   the groups are computed before the fork, since initgroups() is not
//   async-signal-safe), then spec.working_directory as that user;
// - RLIMIT_AS = spec.memory_limit, if given;
// - PR_SET_PDEATHSIG SIGKILL: it dies if the thread that started it ends (the
//   runner killed with SIGKILL);
// - registered while it runs with the runtime's running children, so a
//   second stop signal, or the end of the runner's grace period, kills its
//   group.
//
// How it ends:
// - past spec.timeout, or once spec.stop() returns true (asked every 50
//   ms), the group gets SIGTERM, then SIGKILL spec.kill_grace later;
// - when the program itself has ended (for any reason), whatever is left in
//   its group (its children, grandchildren, ...) gets SIGKILL before the
//   program is reaped, so nothing it started outlives it. A process that
//   left the group (setsid, setpgid) escapes this; its copies of the output
//   pipes are read for at most kOutputGrace more.
// - when the program could not be started (a bad working directory, a
//   failed setuid, an executable that execve refuses), start_error says
//   which step failed and why, and wait_status is the child's exit (127).
// Throws std::runtime_error only when no child can be started at all (pipe,
// fork), std::invalid_argument for a spec that cannot be run (an empty or
// relative executable, an empty argv, a NUL in a string).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "jobrunner/core/duration.hpp"

namespace jobrunner {

struct ProcessCredentials {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // the supplementary groups (getgrouplist)
};

struct ProcessSpec {
  std::string executable;                // an absolute path
  std::vector<std::string> argv;         // argv[0] first
  std::vector<std::string> environment;  // "NAME=value", the whole environment
  std::string working_directory = "/";
  std::optional<ProcessCredentials> credentials;
  std::optional<std::uint64_t> memory_limit;  // bytes of address space
  std::optional<Duration> timeout;
  Duration kill_grace = std::chrono::seconds(3);  // from SIGTERM to SIGKILL
  std::size_t tail_bytes = 4096;                  // kept of stdout and of stderr
  std::function<bool()> stop;                     // may be empty
};

struct ProcessRun {
  pid_t pid = -1;
  int wait_status = 0;  // as from waitpid()
  bool timed_out = false;
  bool stopped = false;  // ended because spec.stop() said so
  std::optional<std::string> start_error;  // e.g. "chdir /srv/x: No such file or directory"
  std::string stdout_tail;  // the last tail_bytes bytes written to stdout
  std::string stderr_tail;
  std::uint64_t stdout_bytes = 0;  // how many were written in all
  std::uint64_t stderr_bytes = 0;
};

// How long the output pipes are read after the program and its group ended,
// for a process that left the group and still holds them.
inline constexpr Duration kOutputGrace = std::chrono::seconds(1);

ProcessRun run_process(const ProcessSpec& spec);

// "killed by signal 11 (Segmentation fault)", "exited with status 3".
std::string describe_wait_status(int wait_status);

}  // namespace jobrunner
