#include "child_process.hpp"

#include <sys/wait.h>

#include <cstring>

#include "child_worker.hpp"

namespace jobrunner {

// One child that serves one request: body() runs in it, its return value is
// the reply.
ChildResult run_in_child(const std::function<std::string()>& body, const ChildLimits& limits,
                         const std::function<void(pid_t)>& started,
                         const std::function<void(std::string_view)>& on_stderr_line) {
  ChildWorker child([&body](const std::string&) { return ChildWorker::Reply{body(), true}; },
                    limits.memory_limit, 1);
  return child.run({}, limits, started, on_stderr_line);
}

}  // namespace jobrunner
