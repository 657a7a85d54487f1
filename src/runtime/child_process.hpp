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
#include "jobrunner/runtime/subprocess.hpp"  // describe_wait_status

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
  std::optional<std::string> report;  // what body() returned (the reply), if it returned
  int wait_status = 0;                // as from waitpid(), if the child ended
  bool timed_out = false;
  bool abandoned = false;             // killed because limits.abandon said so
  std::string stderr_tail;            // the last 4 KiB the child wrote (for this request)
};

// Forks a child that runs body() and sends its return value back, then ends:
// a ChildWorker (child_worker.hpp, which states what the child is and may do)
// that serves one request. The parent calls started(pid) once, then
// on_stderr_line for each line the child writes to stderr, until the child
// ends. The child is registered with add_running_child() while it lives.
ChildResult run_in_child(const std::function<std::string()>& body, const ChildLimits& limits,
                         const std::function<void(pid_t)>& started,
                         const std::function<void(std::string_view)>& on_stderr_line);

}  // namespace jobrunner
