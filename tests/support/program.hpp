#pragma once
// Test support for tests that start the real executables and wait for state.

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "test_database.hpp"

namespace jobrunner::testing {

// Polls `condition` every 50 ms until it holds or `timeout` passes; true if
// it held. Tests wait for state this way, never with a fixed sleep.
template <typename Condition>
bool eventually(Condition condition,
                std::chrono::steady_clock::duration timeout = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// A started program, killed and reaped even when an assertion ends the test
// early.
class Program {
 public:
  explicit Program(const std::vector<std::string>& argv,
                   const std::map<std::string, std::optional<std::string>>& env = {})
      : pid_(start_program(argv, env)) {}
  ~Program() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      wait_program(pid_);
    }
  }
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;

  int pid() const { return pid_; }
  void signal(int signal_number) const { kill(pid_, signal_number); }
  // True once the program has ended (it is left to wait() to reap).
  bool exited_within(std::chrono::steady_clock::duration timeout) const {
    return eventually(
        [&] {
          siginfo_t info{};
          return waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                 info.si_pid == pid_;
        },
        timeout);
  }
  // True once the program's stderr holds `text` (a log line it flushed).
  bool logged_within(const std::string& text,
                     std::chrono::steady_clock::duration timeout = std::chrono::seconds(60)) const {
    return eventually([&] { return testing::stderr_so_far(pid_).find(text) != std::string::npos; },
                      timeout);
  }
  std::string stderr_so_far() const { return testing::stderr_so_far(pid_); }
  ProcessResult wait() {
    auto result = wait_program(pid_);
    pid_ = -1;
    return result;
  }

 private:
  int pid_;
};

}  // namespace jobrunner::testing
