#pragma once
// Runs a piece of work in a forked child process (isolation): its stderr is
// streamed back line by line, a timeout kills it (SIGTERM, then SIGKILL after
// a grace), RLIMIT_AS limits its memory, and whatever happens to it (a crash,
// an abort, an early exit) is reported to the parent instead of killing it.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "jobrunner/core/duration.hpp"

namespace jobrunner {

struct ChildLimits {
  std::optional<Duration> timeout;
  std::optional<std::uint64_t> memory_limit;  // bytes of address space
  Duration kill_grace = std::chrono::seconds(3);  // from SIGTERM to SIGKILL
  // Asked every 50 ms; when it returns true the child is killed at once
  // (SIGKILL): its work is no longer wanted (the job's lease was lost).
  std::function<bool()> abandon;
};

struct ChildResult {
  std::optional<std::string> report;  // what body() returned, if it returned
  int wait_status = 0;                // as from waitpid()
  bool timed_out = false;
  bool abandoned = false;             // killed because limits.abandon said so
  std::string stderr_tail;            // the last few KiB the child wrote
};

// Forks. The child, in a process group of its own so a terminal's Ctrl-C
// reaches only the runner, runs body() and sends its return value back.
// Only the calling thread exists in the child: the locks it may need (the
// logger's, connecting to the database) are held by no other thread at
// fork(); body() must not wait for others. The parent calls started(pid)
// once (e.g. to note the child for signals), then on_stderr_line for each
// line the child writes to stderr, until the child ends.
ChildResult run_in_child(const std::function<std::string()>& body, const ChildLimits& limits,
                         const std::function<void(pid_t)>& started,
                         const std::function<void(std::string_view)>& on_stderr_line);

// "killed by signal 11 (Segmentation fault)", "exited with status 3".
std::string describe_wait_status(int wait_status);

}  // namespace jobrunner
